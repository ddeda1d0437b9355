// Who is signed in: GET /v1/me, read once at start and again after sign-in
// and sign-out; every component that calls useSession() redraws then.
import { useEffect, useState } from "preact/hooks";
import { ApiError, call } from "./api.js";
import { setTimeZone } from "./time.js";

/** @typedef {import("./api-ops").Me} Me */
/** @typedef {{loading: boolean, user: Me | null}} Session */

/** @type {Session} */
let state = { loading: true, user: null };
/** @type {Set<(s: Session) => void>} */
const listeners = new Set();

/** @param {Session} next */
function set(next) {
  state = next;
  // Times are shown in the person's zone when their profile holds one.
  setTimeZone(next.user && next.user.time_zone);
  for (const fn of listeners) fn(state);
}

/** Reads the signed-in person again (null when nobody is). */
export async function refresh() {
  try {
    set({ loading: false, user: await call("get", "/v1/me") });
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) console.warn("carebase: /v1/me", e);
    set({ loading: false, user: null });
  }
  return state.user;
}

/**
 * Signs in; throws ApiError (wrong password: 401 with its problem).
 * @param {string} email
 * @param {string} password
 */
export async function signIn(email, password) {
  // The answer sets the session's cookies (api.js); it holds no token.
  await call("post", "/v1/auth/login", { body: { email, password }, signIn: true });
  return refresh();
}

export async function signOut() {
  try {
    await call("post", "/v1/auth/logout");
  } catch (e) {
    // Signed out already, or the session ended: the page forgets it anyway.
  }
  set({ loading: false, user: null });
}

/** @returns {Session} */
export function useSession() {
  const [s, setS] = useState(state);
  useEffect(() => {
    listeners.add(setS);
    setS(state);
    return () => {
      listeners.delete(setS);
    };
  }, []);
  return s;
}

/** @param {Me | null} user @param {import("./routes.js").Access} access */
export function allowed(user, access) {
  if (access === "public") return true;
  if (!user) return false;
  if (access === "signed-in") return true;
  return access.includes(/** @type {any} */ (user.role || "member"));
}
