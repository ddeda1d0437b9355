// What the therapist's pages (issue 18 item 4) share, on the person's
// pages' kit (../me/kit.jsx: loading states, fields with the problem's
// errors, confirmation) and the shell: who the therapist is (their
// profile), the clients they lead, a textarea and a select that show their
// field's error as kit's Field does, and local calendar arithmetic.
//
// Times: the API's are UTC; the pages show and take them in the person's
// zone (time.js: the browser's, as the profile holds none yet), so a day of
// the calendar is a local day and a time typed is a local time.
import { api, all, useId, ApiError } from "../me/kit.jsx";

// The therapist, their profile (therapy sessions name it, not the user)
// and the clients they lead: active practitioner_of relationships, each
// with the client's account (names). A client whose account cannot be
// read (erased meanwhile) is left out.
/** @returns {Promise<{me: any, profile: any, clients: any[]}>} */
export async function practice() {
  const me = await api.get("/v1/me");
  const [profiles, rels] = await Promise.all([all("/v1/therapists"), all("/v1/relationships?kind=practitioner_of&status=active")]);
  const profile = profiles.find((p) => p.user_id === me.id) || null;
  const ids = [...new Set(rels.filter((r) => r.lead_id === me.id).map((r) => r.follower_id))];
  const users = await Promise.all(ids.map((id) => api.get(`/v1/users/${encodeURIComponent(id)}`).catch(() => null)));
  const clients = users.filter(Boolean).sort((a, b) => fullName(a).localeCompare(fullName(b)));
  return { me, profile, clients };
}

/** @param {any} u @returns {string} */
export function fullName(u) {
  if (!u) return "A client";
  return [u.first_name, u.last_name].filter(Boolean).join(" ") || u.email || "A client";
}

export const STATUS = { scheduled: "Scheduled", completed: "Completed", cancelled: "Cancelled", rescheduled: "Moved", no_show: "No-show" };
/** @type {Array<[string, string]>} */
export const TYPES = [
  ["regular", "Regular"],
  ["initial", "Initial"],
  ["follow_up", "Follow-up"],
  ["emergency", "Emergency"],
];
/** @type {Array<[string, string]>} */
export const FORMATS = [
  ["video", "Video"],
  ["audio", "Audio"],
  ["chat", "Chat"],
  ["in_person", "In person"],
  ["hybrid", "Hybrid"],
];

// A labelled control with its error under it, as kit's Field (the
// API's field name; aria-describedby names the error).
/**
 * @param {{label: string, name: string, errors?: Record<string, string> | null, hint?: string,
 *   value?: any, onInput: (v: string) => void, options?: Array<[string, string]>, rows?: number,
 *   [attr: string]: any}} props
 */
export function Control({ label, name, errors, hint, value, onInput, options, rows, ...rest }) {
  const id = useId("p-" + name.replace(/[^a-z0-9]/gi, "-"));
  const err = errors && errors[name];
  const described = [hint && `${id}-hint`, err && `${id}-err`].filter(Boolean).join(" ") || undefined;
  /** @type {any} */
  const common = {
    id,
    name,
    "aria-invalid": err ? "true" : undefined,
    "aria-describedby": described,
    ...rest,
  };
  return (
    <div class={"field" + (err ? " field-bad" : "")}>
      <label for={id}>{label}</label>
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
      {options ? (
        <select {...common} value={value ?? ""} onChange={(e) => onInput(e.currentTarget.value)}>
          {options.map(([v, text]) => (
            <option key={v} value={v}>
              {text}
            </option>
          ))}
        </select>
      ) : (
        <textarea {...common} rows={rows || 5} value={value ?? ""} onInput={(e) => onInput(e.currentTarget.value)} />
      )}
      {err && (
        <small id={`${id}-err`} class="field-error">
          {err}
        </small>
      )}
    </div>
  );
}

// -- local calendar days ---------------------------------------------------

const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");

/** @param {Date} d @returns {string} the local day "YYYY-MM-DD" */
export function dayKey(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** @param {Date} d @returns {string} the local time "HH:MM" */
export function timeKey(d) {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** @param {string} day "YYYY-MM-DD" @returns {Date} its local midnight */
export function parseDay(day) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day || "");
  if (!m) return new Date(NaN);
  return new Date(+m[1], +m[2] - 1, +m[3]);
}

/** @param {Date} d @param {number} n @returns {Date} n local days on (a day is not always 24 h) */
export function addDays(d, n) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + n);
}

/** @param {Date} d @returns {Date} the local midnight of the Monday of d's week */
export function weekStart(d) {
  return addDays(d, -((d.getDay() + 6) % 7));
}

// A local day and time typed into the page as the API's UTC time, or null
// when either does not parse.
/** @param {string} day "YYYY-MM-DD" @param {string} time "HH:MM" @returns {Date | null} */
export function localTime(day, time) {
  const d = parseDay(day);
  const m = /^(\d{2}):(\d{2})/.exec(time || "");
  if (isNaN(d.getTime()) || !m) return null;
  d.setHours(+m[1], +m[2], 0, 0);
  return d;
}

// A mistake the page finds itself (a day that does not parse), shown as the
// API's own would be: beside its field.
/** @param {string} field @param {string} detail @returns {ApiError} */
export function localError(field, detail) {
  return new ApiError(0, "VALIDATION_FAILED", "One field needs a change.", [{ field, code: "invalid", detail }]);
}
