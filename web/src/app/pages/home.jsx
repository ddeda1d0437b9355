// /: for a signed-in person, who they are and what they can use (the
// navigation's pages for their role); for a visitor, the ways in.
import { routes } from "../routes.js";
import { allowed, useSession } from "../session.js";
import { Loading } from "../ui.jsx";

const ROLE_NAMES = {
  admin: "administrator",
  partner_admin: "partner administrator",
  therapist: "therapist",
  instructor: "instructor",
  member: "member",
};

export function Home() {
  const { loading, user } = useSession();
  if (loading) return <Loading />;
  if (!user) {
    return (
      <section>
        <h1>Welcome to carebase</h1>
        <p>Courses, therapy and training in one place.</p>
        <ul class="actions-list">
          <li>
            <a class="button primary" href="/sign-in">
              Sign in
            </a>
          </li>
          <li>
            <a class="button" href="/register">
              Create an account
            </a>
          </li>
        </ul>
      </section>
    );
  }
  const role = user.role || "member";
  const pages = routes.filter((r) => r.nav && r.path !== "/" && !r.signedOutOnly && allowed(user, r.access));
  return (
    <section>
      <h1>{user.first_name ? `Hello, ${user.first_name}` : "Hello"}</h1>
      <p class="who">
        {`You are signed in as ${user.email || "(no address)"}, ${ROLE_NAMES[role] ? "a" + (/^[aeiou]/.test(ROLE_NAMES[role]) ? "n " : " ") + ROLE_NAMES[role] : role}.`}
      </p>
      <h2>What you can do here</h2>
      <ul>
        {pages.map((r) => (
          <li key={r.path}>
            <a href={r.path}>{r.nav}</a>
          </li>
        ))}
        <li>
          <a href="/docs">The API reference</a>
        </li>
      </ul>
    </section>
  );
}
