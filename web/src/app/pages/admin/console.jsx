// The admin console (issue 18 item 6): a start page and the pages an admin
// reads and acts on through the API: relationships and their consent,
// partners and their features, the CMS's courses (read only: the CMS's
// webhook writes them), the email log, the audit log with the server's
// check of its chain, and reports (run one, list the runs, download a result).
// Every page: loading, empty and error states (pages/me/kit.jsx), times in
// the person's zone, anything that changes data behind a confirmation.
import { useState } from "preact/hooks";
import { api, all, useLoad, Loaded, Field, useSubmit, FormError, ConfirmDialog, Time, Page } from "../me/kit.jsx";
import { download, shortId, AdminTable } from "./kit.jsx";

// The console's pages, for its start page and the navigation.
export const SECTIONS = [
  ["/admin/users", "Users", "find people, make staff, change a role, deactivate, erase"],
  ["/admin/relationships", "Relationships", "guardians and practitioners, and the consent given"],
  ["/admin/partners", "Partners", "partners and the features each offers"],
  ["/partner/members", "Partner members", "every partner's accesses and the sessions left"],
  ["/partner/codes", "Access codes", "make codes for a partner"],
  ["/admin/courses", "Courses", "the courses the CMS published (read only)"],
  ["/admin/email", "Email log", "mail sent and its status"],
  ["/admin/audit", "Audit log", "who did what, and a check of the chain"],
  ["/admin/webhooks", "Webhook inbox", "webhooks received and how they went; replay a failed one"],
  ["/admin/jobs", "Failed jobs", "jobs that gave up; retry one"],
  ["/admin/reports", "Reports", "run a report, download a result"],
  ["/admin/training", "Training", "schedules, bookings and attendance, refunds to approve, certificates"],
];

export function AdminHome() {
  return (
    <Page title="Admin console">
      <ul class="cards">
        {SECTIONS.map(([href, label, what]) => (
          <li key={href} class="card">
            <h2>
              <a href={href}>{label}</a>
            </h2>
            <p>{what}</p>
          </li>
        ))}
      </ul>
    </Page>
  );
}

// -- relationships ---------------------------------------------------------

const KIND = { guardian_of: "guardian of", practitioner_of: "practitioner of" };

export function Relationships() {
  const [status, setStatus] = useState("");
  const load = useLoad(() => all(`/v1/relationships${status ? "?status=" + status : ""}`, 1000), [status]);
  const [act, setAct] = useState(/** @type {{kind: string, rel: any} | null} */ (null));
  const [method, setMethod] = useState("signed_form");
  const f = useSubmit(
    () => {
      if (!act) return Promise.resolve();
      const id = encodeURIComponent(act.rel.id);
      return act.kind === "consent" ? api.post(`/v1/relationships/${id}/consent`, { method }) : api.post(`/v1/relationships/${id}/end`);
    },
    () => (setAct(null), load.reload()),
  );
  return (
    <Page title="Relationships">
      <div class="field">
        <label for="f-rel-status">Status</label>
        <select id="f-rel-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          <option value="">Any</option>
          <option value="pending">Pending consent</option>
          <option value="active">Active</option>
          <option value="ended">Ended</option>
        </select>
      </div>
      <Loaded load={load} what="relationships" empty={(d) => d.length === 0} emptyText="No relationship matches.">
        {(rows) => (
          <AdminTable caption={`${rows.length} relationships`} head={["Lead", "Kind", "Follower", "Status", "Consent", { sr: "Actions" }]}>
            {rows.map((r) => (
              <tr key={r.id} data-relationship={r.id}>
                <td>
                  <code title={r.lead_id}>{shortId(r.lead_id)}</code>
                </td>
                <td>{KIND[r.kind] || r.kind}</td>
                <td>
                  <code title={r.follower_id}>{shortId(r.follower_id)}</code>
                </td>
                <td>{r.status}</td>
                <td>
                  {r.consent_at ? (
                    <>
                      <Time iso={r.consent_at} /> ({r.consent_method})
                    </>
                  ) : (
                    "not given"
                  )}
                </td>
                <td class="buttons">
                  {r.status !== "ended" && !r.consent_at && (
                    <button type="button" onClick={() => (f.setError(null), setAct({ kind: "consent", rel: r }))}>
                      Record consent
                    </button>
                  )}
                  {r.status !== "ended" && (
                    <button type="button" class="danger" onClick={() => (f.setError(null), setAct({ kind: "end", rel: r }))}>
                      End
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </AdminTable>
        )}
      </Loaded>
      <ConfirmDialog
        open={act != null}
        title={act && act.kind === "consent" ? "Record consent?" : "End this relationship?"}
        confirmLabel={act && act.kind === "consent" ? "Record consent" : "End it"}
        busy={f.busy}
        error={f.error}
        onConfirm={f.onSubmit}
        onCancel={() => setAct(null)}
      >
        {act && act.kind === "consent" && (
          <div class="field">
            <label for="f-consent-method">How consent was given</label>
            <select id="f-consent-method" value={method} onChange={(e) => setMethod(e.currentTarget.value)}>
              <option value="signed_form">Signed form</option>
              <option value="email">Email</option>
              <option value="verbal">Verbal</option>
            </select>
          </div>
        )}
        {act && act.kind === "end" && <p>The lead no longer sees the follower's data. A new relationship needs consent again.</p>}
      </ConfirmDialog>
    </Page>
  );
}

// -- partners and features -------------------------------------------------

export function Partners() {
  const load = useLoad(async () => {
    const [partners, features, links] = await Promise.all([all("/v1/partners", 1000), all("/v1/features"), all("/v1/partner-features", 5000)]);
    return { partners, features, links };
  }, []);
  const [busy, setBusy] = useState("");
  const [error, setError] = useState(/** @type {any} */ (null));
  const toggle = async (partner, feature, link) => {
    setBusy(partner.id + feature.id);
    setError(null);
    try {
      if (link) await api.patch(`/v1/partner-features/${encodeURIComponent(link.id)}`, { is_active: !link.is_active });
      else await api.post("/v1/partner-features", { partner_id: partner.id, feature_id: feature.id, is_active: true });
      load.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy("");
    }
  };
  const [v, setV] = useState("");
  const f = useSubmit(
    () => api.post("/v1/partners", { name: v.trim() }),
    () => (setV(""), load.reload()),
  );
  return (
    <Page title="Partners">
      <FormError error={error} />
      <Loaded load={load} what="partners" empty={(d) => d.partners.length === 0} emptyText="No partner yet.">
        {({ partners, features, links }) => (
          <AdminTable caption="Partners and the features each offers (tick to change)" head={["Partner", "Active", ...features.map((ft) => ft.name)]}>
            {partners.map((p) => (
              <tr key={p.id} data-partner={p.name}>
                <th scope="row">
                  <a href={`/partners/${encodeURIComponent(p.name)}`}>{p.name}</a>
                </th>
                <td>{p.is_active ? "yes" : "no"}</td>
                {features.map((ft) => {
                  const link = links.find((l) => l.partner_id === p.id && l.feature_id === ft.id);
                  return (
                    <td key={ft.id}>
                      <input
                        type="checkbox"
                        aria-label={`${p.name}: ${ft.name}`}
                        checked={!!(link && link.is_active)}
                        disabled={busy === p.id + ft.id}
                        onChange={() => toggle(p, ft, link)}
                      />
                    </td>
                  );
                })}
              </tr>
            ))}
          </AdminTable>
        )}
      </Loaded>
      <form class="card" onSubmit={f.onSubmit} aria-labelledby="h-new-partner" noValidate>
        <h2 id="h-new-partner">New partner</h2>
        <FormError error={f.error} />
        <Field label="Name" name="name" required value={v} onInput={setV} errors={f.fields} maxLength={200} />
        <button type="submit" class="primary" disabled={f.busy}>
          Add partner
        </button>
      </form>
    </Page>
  );
}

// -- courses (the CMS's) ---------------------------------------------------

export function AdminCourses() {
  const load = useLoad(() => all("/v1/courses", 1000), []);
  return (
    <Page title="Courses from the CMS">
      <p class="meta">
        Read only: the CMS's webhook writes these. "Last from the CMS" is when its last change arrived.
      </p>
      <Loaded load={load} what="courses" empty={(d) => d.length === 0} emptyText="The CMS has sent no course yet.">
        {(rows) => (
          <AdminTable caption={`${rows.length} courses`} head={["Course", "Status", "For partners", "Last from the CMS"]}>
            {[...rows]
              .sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1))
              .map((c) => (
                <tr key={c.id}>
                  <th scope="row">{c.name}</th>
                  <td>{c.status}</td>
                  <td>{(c.included_for_partners || []).join(", ") || "everyone"}</td>
                  <td>
                    <Time iso={c.updated_at} />
                  </td>
                </tr>
              ))}
          </AdminTable>
        )}
      </Loaded>
    </Page>
  );
}

// -- email log -------------------------------------------------------------

export function EmailLog() {
  const [status, setStatus] = useState("");
  const load = useLoad(() => api.get(`/v1/email-log?limit=100&sort=-created_at${status ? "&status=" + status : ""}`), [status]);
  return (
    <Page title="Email log">
      <div class="field">
        <label for="f-mail-status">Status</label>
        <select id="f-mail-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          <option value="">Any</option>
          <option value="queued">Queued</option>
          <option value="sent">Sent</option>
          <option value="failed">Failed</option>
        </select>
      </div>
      <Loaded load={load} what="the email log" empty={(d) => d.data.length === 0} emptyText="No mail matches.">
        {(d) => (
          <AdminTable caption={"The latest 100"} head={["Made", "To", "Template", "Status", "Sent"]}>
            {d.data.map((m) => (
              <tr key={m.id}>
                <td>
                  <Time iso={m.created_at} />
                </td>
                <td>{m.recipient}</td>
                <td>{m.template}</td>
                <td>{m.status}</td>
                <td>
                  <Time iso={m.sent_at} />
                </td>
              </tr>
            ))}
          </AdminTable>
        )}
      </Loaded>
    </Page>
  );
}

// -- audit log -------------------------------------------------------------

export function AuditLog() {
  const [q, setQ] = useState({ entity_type: "", action: "" });
  const [asked, setAsked] = useState(q);
  const load = useLoad(() => {
    const p = new URLSearchParams({ limit: "100" });
    if (asked.entity_type.trim()) p.set("entity_type", asked.entity_type.trim());
    if (asked.action.trim()) p.set("action", asked.action.trim());
    return api.get(`/v1/audit-log?${p}`);
  }, [asked]);
  const [check, setCheck] = useState(/** @type {any} */ (null));
  const runCheck = async () => {
    setCheck({ running: true });
    try {
      setCheck({ running: false, ...(await api.post("/v1/audit-log/verify")) });
    } catch (e) {
      setCheck({ running: false, error: e });
    }
  };
  return (
    <Page title="Audit log">
      <section class="card" aria-labelledby="h-chain">
        <h2 id="h-chain">Chain check</h2>
        <p class="meta">
          Each row's hash covers its own fields and the hash of the row before it. The server walks the whole log from its first row,
          recomputing every hash (as <code>carebase audit verify</code> does), and names the first row that does not match. A log cut
          short at its end or rewritten whole still holds together: keep the head it reports somewhere else to compare later.
        </p>
        <button type="button" onClick={runCheck} disabled={check && check.running}>
          {check && check.running ? "Checking…" : "Check the chain"}
        </button>
        <div role="status" class="chain-result">
          {check && check.error && <FormError error={check.error} />}
          {check && !check.running && !check.error && (
            <p
              class={check.ok ? "ok" : check.first_broken_seq == null ? "meta" : "field-error"}
              data-chain={check.ok ? "ok" : check.first_broken_seq == null ? "stopped" : "broken"}
            >
              {check.ok
                ? `The chain holds: ${check.rows} rows, head ${check.head}.`
                : check.first_broken_seq == null
                  ? `Stopped at the time limit: the first ${check.rows} rows hold (to ${check.checked_to}). ` +
                    "carebase audit verify walks the whole log."
                  : `Broken at row ${check.first_broken_seq}: ${check.detail}. ${check.rows} rows hold their links and hashes.`}
            </p>
          )}
        </div>
      </section>
      <form
        class="card toolbar"
        role="search"
        aria-label="Filter the audit log"
        onSubmit={(e) => {
          e.preventDefault();
          setAsked({ ...q });
        }}
      >
        <div class="field">
          <label for="f-audit-type">Entity type</label>
          <input id="f-audit-type" value={q.entity_type} maxLength={64} onInput={(e) => setQ({ ...q, entity_type: e.currentTarget.value })} />
        </div>
        <div class="field">
          <label for="f-audit-action">Action</label>
          <input id="f-audit-action" value={q.action} maxLength={64} onInput={(e) => setQ({ ...q, action: e.currentTarget.value })} />
        </div>
        <button type="submit" class="primary">
          Filter
        </button>
      </form>
      <Loaded load={load} what="the audit log" empty={(d) => d.data.length === 0} emptyText="No entry matches.">
        {(d) => (
          <AdminTable caption={"The latest 100 entries"} head={["Row", "When", "Who", "Action", "Entity"]}>
            {d.data.map((r) => (
              <tr key={r.id}>
                <td>{r.seq}</td>
                <td>
                  <Time iso={r.at} />
                </td>
                <td>
                  {r.actor_role || "—"} <code title={r.actor_ref || ""}>{shortId(r.actor_ref)}</code>
                </td>
                <td>{r.action}</td>
                <td>
                  {r.entity_type} <code title={r.entity_id || ""}>{shortId(r.entity_id)}</code>
                </td>
              </tr>
            ))}
          </AdminTable>
        )}
      </Loaded>
    </Page>
  );
}

// -- reports ---------------------------------------------------------------

const EXT = { json: "json", csv: "csv", xlsx: "xlsx", pdf: "pdf" };

export function Reports() {
  const catalogue = useLoad(() => all("/v1/reports"), []);
  const runs = useLoad(() => api.get("/v1/report-runs?limit=50"), []);
  const year = new Date().getUTCFullYear();
  const [v, setV] = useState({ report: "", from: `${year}-01-01`, to: `${year + 1}-01-01`, period: "month", format: "csv" });
  const f = useSubmit(
    () => api.post("/v1/report-runs", { report: v.report, from: v.from, to: v.to, period: v.period, format: v.format }),
    () => runs.reload(),
  );
  const [dlError, setDlError] = useState(/** @type {any} */ (null));
  const set = (k) => (x) => setV({ ...v, [k]: x });
  const pending = runs.data && runs.data.data.some((r) => r.status === "queued" || r.status === "running");
  return (
    <Page title="Reports">
      <form class="card" onSubmit={f.onSubmit} aria-labelledby="h-run" noValidate>
        <h2 id="h-run">Run a report</h2>
        <FormError error={f.error} />
        <Loaded load={catalogue} what="the reports" empty={(d) => d.length === 0} emptyText="No report is offered.">
          {(rows) => (
            <div class={"field" + (f.fields.report ? " field-bad" : "")}>
              <label for="f-report">Report</label>
              <select id="f-report" value={v.report} onChange={(e) => set("report")(e.currentTarget.value)} aria-describedby={f.fields.report ? "f-report-err" : undefined} aria-invalid={f.fields.report ? "true" : undefined}>
                <option value="">Choose a report</option>
                {rows.map((r) => (
                  <option key={r.name} value={r.name}>
                    {r.title}
                  </option>
                ))}
              </select>
              {f.fields.report && (
                <small id="f-report-err" class="field-error">
                  {f.fields.report}
                </small>
              )}
            </div>
          )}
        </Loaded>
        <Field label="From (inclusive)" name="from" type="date" value={v.from} onInput={set("from")} errors={f.fields} />
        <Field label="To (exclusive)" name="to" type="date" value={v.to} onInput={set("to")} errors={f.fields} />
        <div class="field">
          <label for="f-period">Period</label>
          <select id="f-period" value={v.period} onChange={(e) => set("period")(e.currentTarget.value)}>
            <option value="day">Day</option>
            <option value="week">Week</option>
            <option value="month">Month</option>
          </select>
        </div>
        <div class="field">
          <label for="f-format">Format</label>
          <select id="f-format" value={v.format} onChange={(e) => set("format")(e.currentTarget.value)}>
            <option value="csv">CSV</option>
            <option value="xlsx">Excel (XLSX)</option>
            <option value="pdf">PDF</option>
            <option value="json">JSON</option>
          </select>
        </div>
        <button type="submit" class="primary" disabled={f.busy}>
          {f.busy ? "Queuing…" : "Run"}
        </button>
      </form>
      <section aria-labelledby="h-runs">
        <h2 id="h-runs">Runs</h2>
        <button type="button" onClick={runs.reload}>
          {pending ? "Refresh (some still running)" : "Refresh"}
        </button>
        <FormError error={dlError} />
        <Loaded load={runs} what="the runs" empty={(d) => d.data.length === 0} emptyText="No report has been run yet.">
          {(d) => (
            <ul class="rows">
              {d.data.map((r) => (
                <li key={r.id} data-run={r.id} data-status={r.status}>
                  <span>
                    <strong>{r.report}</strong> <span class="tag">{r.status}</span>
                    <br />
                    <small>
                      <Time iso={r.from} date /> to <Time iso={r.to} date /> by {r.period}, {r.format} · asked <Time iso={r.created_at} />
                      {r.error && ` · ${r.error}`}
                    </small>
                  </span>
                  {r.status === "succeeded" && (
                    <button
                      type="button"
                      aria-label={`Download ${r.report}, ${r.format}`}
                      onClick={() => {
                        setDlError(null);
                        download(`/v1/report-runs/${encodeURIComponent(r.id)}/result`, `${r.report}-${r.id.slice(0, 8)}.${EXT[r.format] || "bin"}`).catch(setDlError);
                      }}
                    >
                      Download
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )}
        </Loaded>
      </section>
    </Page>
  );
}
