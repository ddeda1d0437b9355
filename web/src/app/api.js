// Every call of the web application to the API goes through call() here
// (docs/WEB.md). The browser's session is a pair of cookies the server sets
// at sign-in (carebase_session, HttpOnly, and carebase_csrf, readable):
// requests carry them by themselves (credentials "same-origin"), and every
// write echoes carebase_csrf in X-CSRF-Token, which a page of another site
// cannot read. The page never sees a token (sign-in with X-Carebase-Client:
// web answers none), and keeps nothing in localStorage or sessionStorage.
//
// A problem document (application/problem+json: code, detail, and for
// validation errors: [{field, code, detail}]) becomes an ApiError, which
// ui.jsx's Form shows: each field's error beside its field, the rest above.

/** @typedef {import("./api-types").paths} Paths */
/** @typedef {import("./api-ops").Method} Method */
/** @typedef {import("./api-ops").Problem} Problem */

const CSRF_COOKIE = "carebase_csrf";
// Bounds what a page may hold of a problem's text (the server's are short).
const DETAIL_MAX = 500;

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code stable UPPER_SNAKE code of the problem
   * @param {string} detail
   * @param {Array<{field: string, code: string, detail: string}>} errors
   */
  constructor(status, code, detail, errors) {
    super(detail);
    this.status = status;
    this.code = code;
    this.detail = detail;
    /** @type {Record<string, string>} field -> what is wrong with it */
    this.fields = {};
    for (const e of errors) {
      if (e && typeof e.field === "string" && !(e.field in this.fields))
        this.fields[e.field] = String(e.detail || e.code || "is not valid").slice(0, DETAIL_MAX);
    }
  }
}

/** @param {string} name @returns {string | null} */
export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name)
      return decodeURIComponent(part.slice(i + 1).trim());
  }
  return null;
}

/**
 * @param {string} template "/v1/partners/{id}"
 * @param {Record<string, unknown> | undefined} params
 * @param {Record<string, unknown> | undefined} query
 */
function url(template, params, query) {
  let path = template.replace(/\{([a-z_]+)\}/g, (_, name) => {
    const v = params && params[name];
    if (v === undefined || v === null) throw new Error(`${template}: no ${name}`);
    return encodeURIComponent(String(v));
  });
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query))
      if (v !== undefined && v !== null) q.append(k, String(v));
    const s = q.toString();
    if (s) path += "?" + s;
  }
  return path;
}

/**
 * The ApiError of a response that is not ok, from its problem document
 * (the admin kit's own fetches read theirs here too).
 * @param {Response} res
 * @returns {Promise<ApiError>}
 */
export async function problem(res) {
  /** @type {any} */
  let p = null;
  try {
    p = await res.json();
  } catch (e) {
    p = null;
  }
  if (!p || typeof p !== "object") p = {};
  const code = typeof p.code === "string" ? p.code : `HTTP_${res.status}`;
  const detail =
    typeof p.detail === "string" && p.detail ? p.detail.slice(0, DETAIL_MAX) : res.statusText || "The request failed.";
  return new ApiError(res.status, code, detail, Array.isArray(p.errors) ? p.errors : []);
}

/**
 * Calls one operation of the API: its path as the document names it, with
 * its parameters, query and body; answers the operation's success body.
 * Throws ApiError for a problem (and for a network failure: NETWORK).
 * @template {keyof Paths} P
 * @template {Method} M
 * @param {M} method
 * @param {P & import("./api-ops").PathsWith<M>} path
 * @param {import("./api-ops").Options<P, M>} [opts]
 * @returns {Promise<import("./api-ops").Ok<P, M>>}
 */
export async function call(method, path, opts = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.signIn) headers["X-Carebase-Client"] = "web";
  if (method !== "get") {
    const csrf = cookie(CSRF_COOKIE);
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  let res;
  try {
    res = await fetch(url(path, /** @type {any} */ (opts.params), /** @type {any} */ (opts.query)), {
      method: method.toUpperCase(),
      headers,
      credentials: "same-origin",
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  } catch (e) {
    throw new ApiError(0, "NETWORK", "The server could not be reached. Check the connection and try again.", []);
  }
  if (!res.ok) throw await problem(res);
  if (res.status === 204) return /** @type {any} */ (undefined);
  const type = res.headers.get("Content-Type") || "";
  return type.includes("json") ? res.json() : /** @type {any} */ (undefined);
}
