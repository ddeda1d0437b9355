// What the partner admin's and the admin console's pages (issue 18 items 5
// and 6) need beside pages/me/kit.jsx: reads that keep the row's ETag and
// changes sent with If-Match (a partner access's sessions: the booking
// webhook spends them meanwhile, so the API takes the change only against
// the version the admin saw), and files made in the page (a Blob, saved
// through a link with download) or fetched from the API (a report's bytes).
// api.js's call() answers bodies only, so these few calls go to fetch
// themselves, with the same cookie session and X-CSRF-Token.
import { ApiError, cookie, problem } from "../../api.js";

/**
 * @param {string} method
 * @param {string} path
 * @param {{body?: any, ifMatch?: string}} [opts]
 * @returns {Promise<Response>}
 */
async function send(method, path, opts = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.ifMatch) headers["If-Match"] = opts.ifMatch;
  if (method !== "GET") {
    const csrf = cookie("carebase_csrf");
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  } catch (e) {
    throw new ApiError(0, "NETWORK", "The server could not be reached. Check the connection and try again.", []);
  }
  if (!res.ok) throw await problem(res);
  return res;
}

/** One row and its ETag. @param {string} path @returns {Promise<{data: any, etag: string}>} */
export async function readTagged(path) {
  const res = await send("GET", path);
  return { data: await res.json(), etag: res.headers.get("ETag") || "" };
}

/**
 * PATCH against the version read: a 412 means someone (or a booking)
 * changed the row meanwhile, and the page says so rather than overwrite.
 * @param {string} path @param {any} body @param {string} etag
 * @returns {Promise<{data: any, etag: string}>}
 */
export async function patchTagged(path, body, etag) {
  const res = await send("PATCH", path, { body, ifMatch: etag });
  return { data: await res.json(), etag: res.headers.get("ETag") || "" };
}

/** Whether an error is the API's "changed meanwhile" (412). @param {any} e */
export function changedMeanwhile(e) {
  return e instanceof ApiError && e.status === 412;
}

/**
 * Saves bytes as a file: a Blob and a link with download, clicked (the
 * object URL is let go once the browser has it).
 * @param {Blob} blob @param {string} name
 */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** A GET's bytes saved as a file (a report's result). @param {string} path @param {string} name */
export async function download(path, name) {
  const res = await send("GET", path);
  saveBlob(await res.blob(), name);
}

/**
 * CSV text (RFC 4180): every cell quoted when it holds a comma, quote or
 * line break; a cell starting with = + - @ gets a leading ' so that a
 * spreadsheet does not run it as a formula.
 * @param {string[]} header @param {Array<Array<string | number | boolean | null | undefined>>} rows
 */
export function csv(header, rows) {
  /** @param {any} v */
  const cell = (v) => {
    let s = v === null || v === undefined ? "" : String(v);
    if (/^[=+\-@]/.test(s)) s = "'" + s;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}

/** The first 8 characters of an id: enough to tell rows apart on a page. @param {string | null | undefined} id */
export function shortId(id) {
  return id ? id.slice(0, 8) : "";
}

/**
 * The console's table: a focusable region that scrolls sideways on a
 * phone (admin.css) rather than widening the page, its caption, and a
 * header row of column headings (a heading given as {sr} is read by a
 * screen reader only: a column of buttons; false leaves the column out).
 * Each page draws its own rows.
 * @param {{caption: any, head: Array<string | {sr: string} | false | null | undefined>, label?: string, children?: any}} props
 */
export function AdminTable({ caption, head, label = "Table, scrolls sideways", children }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={label}>
      <table class="admin-table">
        <caption>{caption}</caption>
        <thead>
          <tr>
            {head.map((h, i) =>
              h === false || h == null ? null : (
                <th key={i} scope="col">
                  {typeof h === "string" ? h : <span class="sr-only">{h.sr}</span>}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
