// The API reference at /docs: Swagger UI over this server's own
// /v1/openapi.json (docs/WEB.md says why Swagger UI). This file is the
// page's only script: the page holds none inline, as its
// Content-Security-Policy allows none.
import SwaggerUI from "swagger-ui-dist/swagger-ui-es-bundle.js";
import "swagger-ui-dist/swagger-ui.css";
import "./docs.css";

// The search box: Swagger UI's own filter matches tag names only; this one
// matches every word typed against an operation's tag, method, path,
// summary, description and operationId.
function searchPlugin() {
  return {
    fn: {
      opsFilter(taggedOps, phrase) {
        const words = String(phrase).toLowerCase().split(/\s+/).filter(Boolean);
        if (words.length === 0) return taggedOps;
        return taggedOps
          .map((tagObj, tag) =>
            tagObj.set(
              "operations",
              tagObj.get("operations").filter((op) => {
                const o = op.get("operation");
                const text = [tag, op.get("method"), op.get("path"), o.get("summary"),
                  o.get("description"), o.get("operationId")].join(" ").toLowerCase();
                return words.every((w) => text.includes(w));
              }),
            ),
          )
          .filter((tagObj) => tagObj.get("operations").size > 0);
      },
    },
  };
}

function start(spec) {
  // "Try it out" goes to the server that served this page, whatever
  // public_url the document names: the page's policy allows no other.
  spec.servers = [{ url: window.location.origin, description: "this server" }];
  SwaggerUI({
    dom_id: "#swagger-ui",
    spec,
    layout: "BaseLayout",
    deepLinking: true,
    filter: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    showCommonExtensions: true,
    tryItOutEnabled: false,
    // No call to the public validator service (and none is allowed).
    validatorUrl: null,
    plugins: [searchPlugin],
  });
}

function fail(why) {
  const root = document.getElementById("swagger-ui");
  root.textContent = `The API description could not be read (${why}).`;
}

fetch("/v1/openapi.json", { headers: { Accept: "application/json" } })
  .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
  .then(start, (e) => fail(e.message));
