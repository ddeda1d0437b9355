// /partner/reports (issue 18): the reports open to partners (the
// catalogue's for_partners: sign-ups, codes redeemed, therapy sessions
// booked and cancelled against the allowance; not course progress), run at once
// (GET /v1/reports/{name}) and shown as a table with the totals of the
// range, or saved as the CSV file the API makes (format=csv). A partner
// admin gets their own partner's figures whatever the page sends: the API
// takes the partner from who they are. An admin chooses a partner (the
// same figures a partner admin of it gets) or every partner.
import { useEffect, useRef, useState } from "preact/hooks";
import { useSession } from "../../session.js";
import { ApiError, Empty, useLoad, Loaded, Field, useSubmit, FormError, Page, all, api } from "../me/kit.jsx";
import { Control } from "../practice/kit.jsx";
import { download, AdminTable } from "./kit.jsx";

/** @type {Array<[string, string]>} */
const PERIODS = [
  ["month", "Month"],
  ["week", "Week (from Monday)"],
  ["day", "Day"],
];

// A column's heading from its name: "sessions_started" -> "Sessions started".
/** @param {string} c */
function heading(c) {
  const s = c.replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** @param {any} v */
function cell(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number" && !Number.isInteger(v)) return v.toFixed(2);
  return String(v);
}

/** The query of a run: the form's values. @param {any} v @param {string} [format] */
function query(v, format) {
  const q = new URLSearchParams({ from: v.from, to: v.to, period: v.period });
  if (v.partner_id) q.set("partner_id", v.partner_id);
  if (format) q.set("format", format);
  return q.toString();
}

export function PartnerReports() {
  const session = useSession();
  const isAdmin = !!(session.user && session.user.role === "admin");
  const catalogue = useLoad(async () => {
    const [reports, partners] = await Promise.all([all("/v1/reports"), isAdmin ? all("/v1/partners?is_active=true") : Promise.resolve([])]);
    return { reports: reports.filter((r) => r.for_partners), partners };
  }, [isAdmin]);
  const year = new Date().getFullYear();
  const [v, setV] = useState({ report: "", from: `${year}-01-01`, to: `${year + 1}-01-01`, period: "month", partner_id: "" });
  const [shown, setShown] = useState(/** @type {any} */ (null));
  const [dlError, setDlError] = useState(/** @type {any} */ (null));
  const f = useSubmit(
    () => {
      // The old answer goes at once: never shown under the new query.
      setShown(null);
      if (!v.report) return Promise.reject(noReport());
      return api.get(`/v1/reports/${encodeURIComponent(v.report)}?${query(v)}`);
    },
    (out) => setShown({ body: out, asked: { ...v } }),
  );
  const set = (k) => (x) => setV({ ...v, [k]: x });
  const saveCsv = () => {
    const a = shown.asked;
    setDlError(null);
    download(`/v1/reports/${encodeURIComponent(a.report)}?${query(a, "csv")}`, `${a.report}_${a.from}_${a.to}_${a.period}.csv`).catch(setDlError);
  };

  return (
    <Page title="Partner reports">
      <p class="meta">
        {isAdmin
          ? "The reports partners see: one partner's figures, as its partner admins get them, or every partner's."
          : "Your partner's figures: counts by period, never a row about a person."}
      </p>
      <Loaded load={catalogue} what="the reports" empty={(d) => d.reports.length === 0} emptyText="No report is open to partners.">
        {({ reports, partners }) => {
          const rep = reports.find((r) => r.name === v.report);
          return (
            <form class="card" onSubmit={f.onSubmit} aria-labelledby="h-partner-run" noValidate>
              <h2 id="h-partner-run">Run a report</h2>
              <FormError error={f.error} />
              <Control label="Report" name="report" value={v.report} onInput={set("report")} errors={f.fields} options={[["", "Choose a report"], ...reports.map((r) => [r.name, r.title])]} />
              {rep && <p class="meta">{rep.description}</p>}
              {isAdmin && (
                <Control label="Partner" name="partner_id" value={v.partner_id} onInput={set("partner_id")} errors={f.fields} options={[["", "Every partner"], ...partners.map((p) => [p.id, p.name])]} />
              )}
              <Field
                label="From (inclusive)"
                name="from"
                type="date"
                hint={[rep && rep.time_zone === "UTC" ? "Days are UTC days." : "", isAdmin ? "" : "From and to start a period: a Monday for weeks, the 1st for months."].filter(Boolean).join(" ") || undefined}
                value={v.from}
                onInput={set("from")}
                errors={f.fields}
              />
              <Field label="To (exclusive)" name="to" type="date" value={v.to} onInput={set("to")} errors={f.fields} />
              <Control label="Period" name="period" value={v.period} onInput={set("period")} errors={f.fields} options={PERIODS} />
              <button type="submit" class="primary" disabled={f.busy}>
                {f.busy ? "Running…" : "Show"}
              </button>
            </form>
          );
        }}
      </Loaded>
      {shown && <Result body={shown.body} onCsv={saveCsv} dlError={dlError} />}
    </Page>
  );
}

// Shown as the API's own field errors are: beside the field.
function noReport() {
  return new ApiError(0, "VALIDATION_FAILED", "The form needs a change.", [{ field: "report", code: "required", detail: "Choose a report." }]);
}

// The answer: its rows by period and group, and the totals of the range.
// Its heading takes the focus when it comes, so that a screen reader says
// the new answer. A partner admin's small counts come withheld (null, with
// withheld_below): shown as "withheld", not as "<5": a week's or month's
// count is withheld too when a day of it is, whatever its own size.
function Result({ body, onCsv, dlError }) {
  const head = useRef(/** @type {HTMLHeadingElement | null} */ (null));
  useEffect(() => {
    if (head.current) head.current.focus();
  }, [body]);
  const under = body.withheld_below;
  const show = (v) => (v === null && under ? "withheld" : cell(v));
  const cols = body.columns.filter((c) => !c.endsWith("_id") && c !== "period_start");
  const measures = cols.filter((c) => c !== "period" && !(c in { partner: 1, course: 1, schedule: 1, trainer: 1, currency: 1 }));
  return (
    <section class="card" aria-labelledby="h-partner-result" data-report={body.report}>
      <h2 id="h-partner-result" tabIndex={-1} ref={head}>
        {body.title || body.report}
      </h2>
      <p class="meta">
        {body.from.slice(0, 10)} to {body.to.slice(0, 10)} (exclusive), by {body.period}; days are {body.time_zone === "UTC" ? "UTC" : body.time_zone} days.
      </p>
      {under && <p class="meta" data-withheld={under}>{`Counts from 1 to ${under - 1} are withheld, and so is a week's or month's count with such a day in it and a total with one: they could name people.`}</p>}
      <button type="button" onClick={onCsv}>
        Download as CSV
      </button>
      <FormError error={dlError} />
      {body.rows.length === 0 ? (
        <Empty>Nothing happened in this range.</Empty>
      ) : (
        <AdminTable label="Report table, scrolls sideways" caption={`${body.rows.length} ${body.rows.length === 1 ? "row" : "rows"}`} head={cols.map(heading)}>
          {body.rows.map((r, i) => (
            <tr key={i} data-row={r.period}>
              {cols.map((c) => (
                <td key={c} data-col={c}>
                  {show(r[c])}
                </td>
              ))}
            </tr>
          ))}
        </AdminTable>
      )}
      <p data-totals="">
        <strong>Totals:</strong> {measures.map((m) => `${heading(m).toLowerCase()} ${show(body.totals[m])}`).join(", ")}
      </p>
    </section>
  );
}
