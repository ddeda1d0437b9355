// /sign-in: email and password; a wrong pair shows the server's message at
// the top of the form. Afterwards, the page asked for (?next=) or home.
import { navigate } from "../router.js";
import { signIn } from "../session.js";
import { Field, Form } from "../ui.jsx";

/** A path on this site only: never another origin ("//x", "/\\x"). @param {string | null} next */
export function safeNext(next) {
  return next && /^\/(?![/\\])/.test(next) ? next : "/";
}

/** @param {{query: URLSearchParams}} props */
export function SignIn({ query }) {
  return (
    <section class="narrow">
      <h1>Sign in</h1>
      <Form
        label="Sign in"
        submit="Sign in"
        onSubmit={async (v) => {
          await signIn(v.email, v.password);
          navigate(safeNext(query.get("next")), { replace: true });
        }}
      >
        <Field name="email" label="Email address" type="email" autoComplete="username" required />
        <Field name="password" label="Password" type="password" autoComplete="current-password" required />
      </Form>
      <p>
        <a href="/forgot-password">Forgotten your password?</a>
      </p>
      <p>
        New here? <a href="/register">Create an account</a>
      </p>
    </section>
  );
}
