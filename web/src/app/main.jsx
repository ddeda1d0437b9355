// The web application's entry point (docs/WEB.md). The server answers
// index.html for every page path (GET, Accept: text/html, not under /v1/),
// so the path in the address bar picks the page here, from routes.js.
import { render } from "preact";
import "./app.css";
import { routes } from "./routes.js";
import { match, startRouter, useLocation } from "./router.js";
import { allowed, refresh, useSession } from "./session.js";
import { Layout } from "./layout.jsx";
import { Loading } from "./ui.jsx";
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
  let page;
  if (route.access !== "public" && session.loading) {
    page = <Loading />;
  } else if (allowed(session.user, route.access)) {
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
