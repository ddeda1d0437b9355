// The web application's entry point: the shell that later pages plug
// into (docs/WEB.md). The server answers index.html for every page path
// (GET, Accept: text/html, not under /v1/), so the path in the address bar
// picks the page here, in the browser. No page is built yet: every path
// shows where the pages will go and the way to the API reference.
import { render } from "preact";
import "./app.css";

// path -> component; the pages of issue 18 are added here.
const pages = {};

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
  const path = window.location.pathname;
  const Page = pages[path] || NoPage;
  return <Page path={path} />;
}

render(<App />, document.getElementById("app"));
