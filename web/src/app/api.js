// Interim stand-in for w18c's fetch wrapper (docs/WEB.md), with the
// interface it was announced with, so the person's pages (pages/me/) can be
// built before the shell is merged; the shell's own file replaces this one.
// Same-origin credentials (the carebase_session cookie), X-CSRF-Token from
// the carebase_csrf cookie on every method but GET, and problem documents
// turned into an ApiError with one message per field.

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.code = (problem && problem.code) || "HTTP_" + status;
    this.problem = problem || null;
    // field -> first message ("responses.q2" -> "is required")
    this.fields = {};
    for (const e of (problem && problem.errors) || []) {
      if (e.field && !this.fields[e.field]) this.fields[e.field] = e.detail || e.code;
    }
  }
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return null;
}

export async function request(method, path, body, opts = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") {
    const csrf = cookie("carebase_csrf");
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) {
    let problem = null;
    try {
      problem = await r.json();
    } catch (e) {
      problem = null;
    }
    throw new ApiError(r.status, problem);
  }
  if (opts.raw) return r;
  if (r.status === 204) return null;
  const type = r.headers.get("Content-Type") || "";
  return type.includes("json") ? r.json() : r.text();
}

export const api = {
  get: (p, o) => request("GET", p, undefined, o),
  post: (p, b, o) => request("POST", p, b, o),
  patch: (p, b, o) => request("PATCH", p, b, o),
  put: (p, b, o) => request("PUT", p, b, o),
  del: (p, b, o) => request("DELETE", p, b, o),
};
