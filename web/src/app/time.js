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
