// The web application's entry point: the shell that later pages plug
// into (docs/WEB.md). The server answers index.html for every page path
// (GET, Accept: text/html, not under /v1/), so the path in the address bar
// picks the page here, in the browser. Interim router until w18c's shell
// is merged: a path matches a route of routes.js (":id" segments become
// params), links inside the application move with the History API.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { routes } from "./routes.js";
import "./app.css";

function match(path) {
  const parts = path.replace(/\/+$/, "").split("/");
  for (const r of routes) {
    const want = r.path.split("/");
    if (want.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < want.length && ok; i++) {
      if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(parts[i]);
      else ok = want[i] === parts[i];
    }
    if (ok) return { route: r, params };
  }
  return null;
}

function NoPage({ path }) {
  return (
    <main class="shell">
      <h1>carebase</h1>
      <p>
        There is no page at <code>{path}</code> yet. The API and its
        reference are at <a href="/docs">/docs</a>.
      </p>
    </main>
  );
}

function App() {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const onPop = () => setPath(window.location.pathname);
    const onClick = (e) => {
      const a = e.target.closest && e.target.closest("a[href]");
      if (!a || a.target || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
      const u = new URL(a.href, window.location.href);
      if (u.origin !== window.location.origin || !match(u.pathname)) return;
      e.preventDefault();
      window.history.pushState(null, "", u.pathname + u.search);
      setPath(u.pathname);
      window.scrollTo(0, 0);
    };
    window.addEventListener("popstate", onPop);
    document.addEventListener("click", onClick);
    return () => {
      window.removeEventListener("popstate", onPop);
      document.removeEventListener("click", onClick);
    };
  }, []);
  const m = match(path);
  if (!m) return <NoPage path={path} />;
  const Page = m.route.page;
  return (
    <>
      <nav aria-label="Your pages" class="shell">
        {routes
          .filter((r) => r.nav)
          .map((r) => (
            <a key={r.path} href={r.path} aria-current={r.path === path ? "page" : undefined}>
              {r.nav}{" "}
            </a>
          ))}
      </nav>
      <main>
        <Page key={path} params={m.params} path={path} />
      </main>
    </>
  );
}

render(<App />, document.getElementById("app"));
