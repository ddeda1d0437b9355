// The web application's entry point (docs/WEB.md). The server answers
// index.html for every page path (GET, Accept: text/html, not under /v1/),
// so the path in the address bar picks the page here, from routes.js.
import { render } from "preact";
import "./app.css";
import { routes } from "./routes.js";
import { match, startRouter, useLocation } from "./router.js";
import { allowed, refresh, useSession } from "./session.js";
import { Layout } from "./layout.jsx";
import { SignIn } from "./pages/sign-in.jsx";
import { NotAllowed } from "./pages/not-found.jsx";

function App() {
  const { path, query } = useLocation();
  const session = useSession();
  let params = {};
  let route = routes[routes.length - 1];
  for (const r of routes) {
    const m = match(r.path, path);
    if (m) {
      route = r;
      params = m;
      break;
    }
  }
  // Nothing is drawn until the session is known. The navigation offers a
  // signed-in person the pages of their role: drawn for a visitor first, it
  // would grow when the session came (to three lines on a phone) and move
  // the whole page down, a layout shift (Lighthouse: CLS 0.14 on /courses
  // at 390 px), and show "Sign in" to someone signed in.
  if (session.loading) return null;
  let page;
  if (allowed(session.user, route.access)) {
    const Page = route.page;
    page = <Page key={path} params={params} query={query} path={path} />;
  } else if (!session.user) {
    page = <SignIn query={new URLSearchParams({ next: path })} />;
  } else {
    page = <NotAllowed />;
  }
  return (
    <Layout path={path} title={route.title}>
      {page}
    </Layout>
  );
}

startRouter();
refresh();
const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
