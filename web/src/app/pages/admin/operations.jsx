// The admin console's operations (issue 18 item 6): the webhook inbox with
// replay and the failed jobs with retry, over the routes that do what
// `carebase webhooks replay` and `carebase jobs retry` do (src/ops/console.c).
// Neither list shows a webhook's body or a job's payload: the API keeps them.
// Every replay and retry is confirmed first, and audited by the API.
import { useState } from "preact/hooks";
import { api, useLoad, Loaded, useSubmit, ConfirmDialog, Time, Page } from "../me/kit.jsx";
import { shortId, AdminTable } from "./kit.jsx";

const OUTCOMES = ["failed", "refused", "pending", "processed"];

export function WebhookInbox() {
  const [outcome, setOutcome] = useState("failed");
  const load = useLoad(() => api.get(`/v1/webhook-inbox?limit=100${outcome ? "&outcome=" + outcome : ""}`), [outcome]);
  const [row, setRow] = useState(/** @type {any} */ (null));
  const [force, setForce] = useState(false);
  const [done, setDone] = useState(/** @type {any} */ (null));
  const f = useSubmit(
    () => api.post(`/v1/webhook-inbox/${encodeURIComponent(row.id)}/replay`, { force }),
    (r) => (setDone(r), setRow(null), load.reload()),
  );
  const ask = (r) => (f.setError(null), setForce(r.outcome === "processed"), setRow(r));
  return (
    <Page title="Webhook inbox">
      <p class="meta">
        Every webhook the CMS and the booking system sent, with how it went. A failed one can be run again once its cause is mended; one
        processed already only on purpose. The bodies stay sealed in the database and are not shown.
      </p>
      <div class="field">
        <label for="f-inbox-outcome">Outcome</label>
        <select id="f-inbox-outcome" value={outcome} onChange={(e) => setOutcome(e.currentTarget.value)}>
          <option value="">Any</option>
          {OUTCOMES.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      </div>
      <div role="status" class="chain-result">
        {done && (
          <p class={done.outcome === "processed" ? "ok" : "field-error"} data-replayed={done.outcome}>
            {done.outcome === "processed" ? "Replayed: processed." : `Replayed: ${done.outcome} again (${done.code}): ${done.error}`}
          </p>
        )}
      </div>
      <Loaded load={load} what="the webhook inbox" empty={(d) => d.data.length === 0} emptyText="No webhook matches.">
        {(d) => (
          <AdminTable caption={"The latest 100 webhooks"} head={["Received", "Source", "Outcome", "Attempts", "Error", { sr: "Actions" }]}>
            {d.data.map((r) => (
              <tr key={r.id} data-webhook={r.id}>
                <td>
                  <Time iso={r.received_at} /> <code title={r.id}>{shortId(r.id)}</code>
                </td>
                <td>{r.source}</td>
                <td>
                  {r.outcome}
                  {r.http_status ? ` (${r.http_status})` : ""}
                </td>
                <td>{r.attempts}</td>
                <td>{r.error || "—"}</td>
                <td class="buttons">
                  {r.signature_ok && r.body === "kept" && (
                    <button type="button" onClick={() => ask(r)}>
                      Replay
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </AdminTable>
        )}
      </Loaded>
      <ConfirmDialog
        open={row != null}
        title="Run this webhook again?"
        confirmLabel="Replay"
        busy={f.busy}
        error={f.error}
        onConfirm={f.onSubmit}
        onCancel={() => setRow(null)}
      >
        {row && (
          <p>
            The {row.source} webhook received <Time iso={row.received_at} /> runs through its handler again
            {row.outcome === "processed" ? ", although it was processed already: its changes are applied a second time." : "."}
          </p>
        )}
      </ConfirmDialog>
    </Page>
  );
}

export function FailedJobs() {
  const [kind, setKind] = useState("");
  const load = useLoad(() => api.get(`/v1/failed-jobs?limit=100${kind ? "&kind=" + encodeURIComponent(kind) : ""}`), [kind]);
  const [job, setJob] = useState(/** @type {any} */ (null));
  const [done, setDone] = useState(/** @type {any} */ (null));
  const f = useSubmit(
    () => api.post(`/v1/failed-jobs/${encodeURIComponent(job.id)}/retry`),
    (r) => (setDone(r), setJob(null), load.reload()),
  );
  return (
    <Page title="Failed jobs">
      <p class="meta">Jobs that gave up after their last attempt. Retrying one queues it again with fresh attempts.</p>
      <div class="field">
        <label for="f-jobs-kind">Kind</label>
        <input id="f-jobs-kind" value={kind} maxLength={64} onChange={(e) => setKind(e.currentTarget.value.trim())} />
      </div>
      <div role="status" class="chain-result">
        {done && (
          <p class="ok" data-retried={done.id}>
            Queued again as job <code title={done.job_id}>{shortId(done.job_id)}</code>.
          </p>
        )}
      </div>
      <Loaded load={load} what="the failed jobs" empty={(d) => d.data.length === 0} emptyText="No failed job.">
        {(d) => (
          <AdminTable caption={"The latest 100 failed jobs"} head={["Failed", "Kind", "Attempts", "Error", { sr: "Actions" }]}>
            {d.data.map((j) => (
              <tr key={j.id} data-failed-job={j.id}>
                <td>
                  <Time iso={j.failed_at} />
                </td>
                <td>{j.kind}</td>
                <td>{j.attempts}</td>
                <td>{j.error}</td>
                <td class="buttons">
                  <button type="button" onClick={() => (f.setError(null), setJob(j))}>
                    Retry
                  </button>
                </td>
              </tr>
            ))}
          </AdminTable>
        )}
      </Loaded>
      <ConfirmDialog
        open={job != null}
        title="Retry this job?"
        confirmLabel="Retry"
        busy={f.busy}
        error={f.error}
        onConfirm={f.onSubmit}
        onCancel={() => setJob(null)}
      >
        {job && <p>The {job.kind} job is queued again and runs as soon as a worker takes it.</p>}
      </ConfirmDialog>
    </Page>
  );
}
