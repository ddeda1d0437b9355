// Bundles the web application and the API reference into dist/ (docs/WEB.md):
// dist/index.html and dist/docs.html, the pages, and dist/assets/, every
// script and stylesheet named by its content's hash, so that the server can
// tell browsers to keep them for a year (the Makefile then embeds dist/ in
// the binary). A page names its assets through the placeholders
// {{NAME.js}} and {{NAME.css}}, NAME an entry point below. Assets over
// 1 KiB also get a NAME.gz beside them, served to clients that take gzip.
import * as esbuild from "esbuild";
import fs from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";

const entries = {
  app: "src/app/main.jsx",
  docs: "src/docs/docs.js",
};
const pages = ["src/index.html", "src/docs.html"];
const GZIP_MIN = 1024;

// Built aside and moved into place at the end: a build that fails leaves
// the last good dist/, and two builds at once (make's release and san
// trees) do not write into one folder.
const tmp = `dist.${process.pid}`;
fs.rmSync(tmp, { recursive: true, force: true });

const result = await esbuild.build({
  entryPoints: entries,
  outdir: path.join(tmp, "assets"),
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "eof",
  metafile: true,
  logLevel: "warning",
});

// Entry name -> its script and stylesheet, as served ("/assets/...").
const urls = {};
for (const [out, meta] of Object.entries(result.metafile.outputs)) {
  if (!meta.entryPoint) continue;
  const name = Object.keys(entries).find((k) => entries[k] === meta.entryPoint);
  urls[`${name}.js`] = "/" + path.relative(tmp, out);
  if (meta.cssBundle) urls[`${name}.css`] = "/" + path.relative(tmp, meta.cssBundle);
}

for (const page of pages) {
  const html = fs.readFileSync(page, "utf8").replace(/\{\{([a-z]+\.(?:js|css))\}\}/g, (m, key) => {
    if (!urls[key]) throw new Error(`${page}: no asset ${key}`);
    return urls[key];
  });
  fs.writeFileSync(path.join(tmp, path.basename(page)), html);
}

for (const f of fs.readdirSync(path.join(tmp, "assets"))) {
  const p = path.join(tmp, "assets", f);
  const bytes = fs.readFileSync(p);
  if (bytes.length < GZIP_MIN) continue;
  const gz = gzipSync(bytes, { level: 9 });
  if (gz.length < bytes.length) fs.writeFileSync(p + ".gz", gz);
}

for (let tries = 0; ; tries++) {
  fs.rmSync("dist", { recursive: true, force: true });
  try {
    fs.renameSync(tmp, "dist");
    break;
  } catch (e) {
    // Another build put its dist/ in between: replace it with this one.
    if (tries >= 3) throw e;
  }
}
