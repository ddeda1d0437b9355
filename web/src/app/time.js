// Dates and times as the person reads them: in their time zone (the
// profile's when it holds one, else the browser's), with Intl. The API's
// times are UTC ISO 8601; a date alone ("2026-05-01") is a calendar day,
// shown as it is, without a zone.

/** @type {string | undefined} */
let zone;

/** @param {string | null | undefined} tz an IANA zone ("Europe/London"); null: the browser's */
export function setTimeZone(tz) {
  zone = undefined;
  if (!tz) return;
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: tz });
    zone = tz;
  } catch (e) {
    zone = undefined; // an unknown zone: the browser's
  }
}

/** @returns {string} the zone times are shown in */
export function timeZone() {
  return zone || Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** @param {string | null | undefined} iso a UTC time @returns {string} */
export function formatDateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: zone }).format(d);
}

/** @param {string | null | undefined} day "YYYY-MM-DD", or a UTC time @returns {string} */
export function formatDate(day) {
  if (!day) return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (m) {
    // A calendar day: the same day in every zone.
    const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
    return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" }).format(d);
  }
  const d = new Date(day);
  if (isNaN(d.getTime())) return day;
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: zone }).format(d);
}

// The UTC time of a wall-clock time in a zone (the person's by default):
// "2026-05-01" at "09:00" in Europe/London is 08:00Z. The zone's offset is
// read with Intl at a first guess, then again at the answer (a change of
// offset between the two: summer time).
/** @param {string} day "YYYY-MM-DD" @param {string} time "HH:MM" @param {string} [tz] @returns {Date | null} */
export function zonedTime(day, time, tz = timeZone()) {
  const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day || "");
  const t = /^(\d{2}):(\d{2})/.exec(time || "");
  if (!d || !t) return null;
  const wall = Date.UTC(+d[1], +d[2] - 1, +d[3], +t[1], +t[2]);
  if (isNaN(wall)) return null;
  let at = wall - offset(wall, tz);
  at = wall - offset(at, tz);
  return new Date(at);
}

// The zone's offset from UTC at ms, in ms (Europe/London in summer: 3600000).
/** @param {number} ms @param {string} tz @returns {number} */
function offset(ms, tz) {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(ms));
  /** @type {Record<string, number>} */
  const p = {};
  for (const x of parts) if (x.type !== "literal") p[x.type] = +x.value;
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
}

// The wall-clock day and time of a UTC time in a zone (the person's by
// default): zonedTime's inverse, to fill a form with a time read from the
// API. 08:00Z on 2026-05-01 in Europe/London is "2026-05-01" at "09:00".
/** @param {string} iso @param {string} [tz] @returns {{day: string, time: string}} */
export function zonedParts(iso, tz = timeZone()) {
  const ms = Date.parse(iso || "");
  if (isNaN(ms)) return { day: "", time: "" };
  const w = new Date(Math.floor(ms / 1000) * 1000 + offset(ms, tz)).toISOString();
  return { day: w.slice(0, 10), time: w.slice(11, 16) };
}
