// The History API router (docs/WEB.md): the server answers index.html for
// every page path, and this module picks the page from the path in the
// address bar. A link inside the application changes the page without a
// reload (pushState); back and forward redraw it (popstate). Paths outside
// the application (/v1/, /docs, /assets/) are left to the browser.
import { useEffect, useState } from "preact/hooks";

/** @type {Set<() => void>} */
const listeners = new Set();
const OUTSIDE = /^\/(v1\/|v1$|docs($|[/?#])|assets\/|healthz|readyz|metrics)/;

function notify() {
  for (const fn of listeners) fn();
}

/**
 * Goes to a page of the application without a reload.
 * @param {string} to a path on this site, with its query
 * @param {{replace?: boolean}} [opts]
 */
export function navigate(to, opts = {}) {
  if (opts.replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  notify();
}

/** @returns {{path: string, query: URLSearchParams}} */
export function currentLocation() {
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** The current location; the component redraws when it changes. */
export function useLocation() {
  const [loc, setLoc] = useState(currentLocation);
  useEffect(() => {
    const fn = () => setLoc(currentLocation());
    listeners.add(fn);
    return () => {
      listeners.delete(fn);
    };
  }, []);
  return loc;
}

/**
 * Matches a route's pattern ("/bookings/:id", "*" for any) against a path.
 * @param {string} pattern
 * @param {string} path
 * @returns {Record<string, string> | null} the path's parameters, or null
 */
export function match(pattern, path) {
  if (pattern === "*") return {};
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return null;
  /** @type {Record<string, string>} */
  const params = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) {
      try {
        params[want[i].slice(1)] = decodeURIComponent(got[i]);
      } catch (e) {
        return null;
      }
    } else if (want[i] !== got[i]) {
      return null;
    }
  }
  return params;
}

/**
 * Starts listening: back/forward, and clicks on links to pages of the
 * application (a plain left click on a same-site link with no target).
 */
export function startRouter() {
  window.addEventListener("popstate", notify);
  document.addEventListener("click", (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = ev.target instanceof Element ? ev.target.closest("a[href]") : null;
    if (!(a instanceof HTMLAnchorElement) || a.target || a.hasAttribute("download")) return;
    const to = new URL(a.href, location.href);
    if (to.origin !== location.origin || OUTSIDE.test(to.pathname)) return;
    ev.preventDefault();
    if (to.pathname + to.search !== location.pathname + location.search) navigate(to.pathname + to.search + to.hash);
  });
}
