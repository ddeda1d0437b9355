// The frame of every page: a skip link, the header with the navigation
// (the routes this person may use, by their role), the main landmark the
// page is drawn in, and the footer. After a move to another page, focus
// goes to its heading, so a screen reader announces the new page.
import { useEffect, useRef } from "preact/hooks";
import { routes } from "./routes.js";
import { allowed, signOut, useSession } from "./session.js";
import { navigate } from "./router.js";

/** @param {{path: string, title: string, children: import("preact").ComponentChildren}} props */
export function Layout({ path, title, children }) {
  const { user } = useSession();
  const main = useRef(/** @type {HTMLElement | null} */ (null));
  const first = useRef(true);

  useEffect(() => {
    document.title = `${title} · carebase`;
    if (first.current) {
      first.current = false;
      return;
    }
    const h1 = main.current && main.current.querySelector("h1");
    if (h1 instanceof HTMLElement) {
      h1.tabIndex = -1;
      h1.focus();
    }
  }, [path, title]);

  const links = routes.filter((r) => r.nav && allowed(user, r.access) && !(user && r.signedOutOnly));
  return (
    <div class="layout">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/">
          carebase
        </a>
        <nav aria-label="Main">
          <ul>
            {links.map((r) => (
              <li key={r.path}>
                <a href={r.path} aria-current={r.path === path ? "page" : undefined}>
                  {r.nav}
                </a>
              </li>
            ))}
            {user && (
              <li>
                <button
                  type="button"
                  class="link"
                  onClick={async () => {
                    await signOut();
                    navigate("/sign-in");
                  }}
                >
                  Sign out
                </button>
              </li>
            )}
          </ul>
        </nav>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {children}
      </main>
      <footer class="bottom">
        <p>
          carebase · <a href="/docs">API reference</a>
        </p>
      </footer>
    </div>
  );
}
