// /practice/sessions/:id: one of the therapist's sessions. Its actions
// are offered as the API allows them (src/therapy/sessions.c): before the
// start, move it (reschedule: a new session at the new times, the old one
// kept as moved) or cancel it; from the start on, mark it completed or a
// no-show, or cancel it with a reason (required then). Each asks first.
// The shared notes (the client and their guardians read them) and the
// PRIVATE notes (only the therapist and admins: /private-notes, a route
// the client's pages never call) are written here.
import { useState } from "preact/hooks";
import { call } from "../../api.js";
import { navigate } from "../../router.js";
import { api, useLoad, Loaded, Page, Time, Field, useSubmit, FormError, ConfirmDialog } from "../me/kit.jsx";
import { practice, fullName, STATUS, Control, localError, dayKey, timeKey, localTime } from "./kit.jsx";

export function PracticeSession({ params }) {
  const id = params.id;
  const load = useLoad(async () => {
    const [s, p, priv] = await Promise.all([
      api.get(`/v1/therapy-sessions/${encodeURIComponent(id)}`),
      practice(),
      call("get", "/v1/therapy-sessions/{id}/private-notes", { params: { id } }),
    ]);
    const client = p.clients.find((c) => c.id === s.client_id) || null;
    return { s, client, priv: priv.private_notes || "" };
  }, [id]);
  return (
    <Page title="Session">
      <p>
        <a href="/practice">Your calendar</a>
      </p>
      <Loaded load={load} what="the session">
        {({ s, client, priv }) => (
          <div data-session={s.id}>
            <dl class="facts">
              <dt>Client</dt>
              <dd>{client ? <a href={`/practice/clients/${client.id}`}>{fullName(client)}</a> : "A client you no longer lead"}</dd>
              <dt>When</dt>
              <dd>
                <Time iso={s.start_time} /> to <Time iso={s.end_time} />
              </dd>
              <dt>Status</dt>
              <dd data-status={s.status}>{STATUS[s.status] || s.status}</dd>
              <dt>Kind</dt>
              <dd>
                {s.type}, {s.format}
              </dd>
              {s.cancel_reason && (
                <>
                  <dt>Why it was cancelled</dt>
                  <dd>{s.cancel_reason}</dd>
                </>
              )}
              {s.rescheduled_from_id && (
                <>
                  <dt>Moved from</dt>
                  <dd>
                    <a href={`/practice/sessions/${s.rescheduled_from_id}`}>the session it replaces</a>
                  </dd>
                </>
              )}
            </dl>
            {s.status === "scheduled" && <Actions s={s} onChange={load.reload} />}
            <SharedNotes s={s} onSaved={load.reload} />
            <PrivateNotes id={s.id} text={priv} />
          </div>
        )}
      </Loaded>
    </Page>
  );
}

// What may be done now: before the start, move or cancel; from it on,
// complete, no-show or cancel with a reason.
/** @param {{s: any, onChange: () => void}} props */
function Actions({ s, onChange }) {
  const started = Date.now() >= new Date(s.start_time).getTime();
  const [ask, setAsk] = useState(/** @type {null | "complete" | "no-show" | "cancel"} */ (null));
  const [reason, setReason] = useState("");
  const act = useSubmit(
    () => api.post(`/v1/therapy-sessions/${encodeURIComponent(s.id)}/${ask}`, ask === "cancel" && reason.trim() ? { reason } : undefined),
    () => {
      setAsk(null);
      onChange();
    },
  );
  const open = (/** @type {any} */ what) => {
    act.setError(null);
    setReason("");
    setAsk(what);
  };
  const titles = {
    complete: "Mark this session completed?",
    "no-show": "Mark this session a no-show?",
    cancel: "Cancel this session?",
  };
  return (
    <section aria-labelledby="h-actions" class="card">
      <h2 id="h-actions">{started ? "The session has started" : "Before the session"}</h2>
      <p class="buttons">
        {started && (
          <>
            <button type="button" onClick={() => open("complete")}>
              Mark completed
            </button>
            <button type="button" onClick={() => open("no-show")}>
              Mark no-show
            </button>
          </>
        )}
        <button type="button" class="danger" onClick={() => open("cancel")}>
          Cancel session
        </button>
      </p>
      {!started && <Move s={s} />}
      <ConfirmDialog
        open={ask !== null}
        title={ask ? titles[ask] : ""}
        confirmLabel={ask === "cancel" ? "Cancel the session" : ask === "no-show" ? "Mark no-show" : "Mark completed"}
        busy={act.busy}
        error={act.error}
        onConfirm={() => act.onSubmit(null)}
        onCancel={() => setAsk(null)}
      >
        <p>
          <Time iso={s.start_time} />. This cannot be undone.
        </p>
        {ask === "cancel" && (
          <Control
            label={started ? "Why it is cancelled (required now it has started)" : "Why it is cancelled (optional)"}
            name="reason"
            rows={3}
            maxLength={500}
            errors={act.fields}
            value={reason}
            onInput={setReason}
          />
        )}
      </ConfirmDialog>
    </section>
  );
}

// Reschedule: the same length at another day and time. The API books a
// new session and keeps this one as moved; the page goes to the new one.
/** @param {{s: any}} props */
function Move({ s }) {
  const start = new Date(s.start_time);
  const length = new Date(s.end_time).getTime() - start.getTime();
  const [v, setV] = useState({ start_date: dayKey(start), start_time: timeKey(start) });
  const form = useSubmit(
    async () => {
      const at = localTime(v.start_date, v.start_time);
      if (!at) throw localError("start_time", "Choose a day and a time.");
      return api.post(`/v1/therapy-sessions/${encodeURIComponent(s.id)}/reschedule`, {
        start_time: at.toISOString(),
        end_time: new Date(at.getTime() + length).toISOString(),
      });
    },
    (moved) => navigate(`/practice/sessions/${moved.id}`),
  );
  return (
    <form onSubmit={form.onSubmit} noValidate aria-labelledby="h-move" class="range">
      <h3 id="h-move" class="full">
        Move to another time
      </h3>
      <Field label="New day" name="start_date" type="date" errors={form.fields} value={v.start_date} onInput={(x) => setV({ ...v, start_date: x })} />
      <Field label="New start" name="start_time" type="time" errors={form.fields} value={v.start_time} onInput={(x) => setV({ ...v, start_time: x })} />
      <button type="submit" disabled={form.busy}>
        {form.busy ? "Moving…" : "Move the session"}
      </button>
      <FormError error={form.error} />
    </form>
  );
}

/** @param {{s: any, onSaved: () => void}} props */
function SharedNotes({ s, onSaved }) {
  const [text, setText] = useState(s.shared_notes || "");
  const [saved, setSaved] = useState(false);
  const form = useSubmit(
    () => {
      setSaved(false);
      return api.patch(`/v1/therapy-sessions/${encodeURIComponent(s.id)}`, { shared_notes: text.trim() ? text : null });
    },
    () => {
      setSaved(true);
      onSaved();
    },
  );
  return (
    <section aria-labelledby="h-shared" class="card">
      <h2 id="h-shared">Shared notes</h2>
      <p class="hint">The client (and their guardians) read these on their session page.</p>
      <form onSubmit={form.onSubmit} noValidate aria-labelledby="h-shared">
        <Control label="Notes shared with the client" name="shared_notes" errors={form.fields} value={text} onInput={(x) => (setText(x), setSaved(false))} />
        <FormError error={form.error} />
        <p class="buttons">
          <button type="submit" disabled={form.busy}>
            {form.busy ? "Saving…" : "Save shared notes"}
          </button>
          {saved && (
            <span class="ok" role="status">
              Shared notes saved.
            </span>
          )}
        </p>
      </form>
    </section>
  );
}

/** @param {{id: string, text: string}} props */
function PrivateNotes({ id, text: first }) {
  const [text, setText] = useState(first);
  const [saved, setSaved] = useState(false);
  const form = useSubmit(
    () => {
      setSaved(false);
      return call("put", "/v1/therapy-sessions/{id}/private-notes", { params: { id }, body: { private_notes: text.trim() ? text : null } });
    },
    () => setSaved(true),
  );
  return (
    <section aria-labelledby="h-private" class="card private">
      <h2 id="h-private">
        Private notes <span class="tag private-tag">private</span>
      </h2>
      <p class="hint">Only you and admins read these: never the client, nor their guardians, nor an export.</p>
      <form onSubmit={form.onSubmit} noValidate aria-labelledby="h-private">
        <Control label="Private notes (never shown to the client)" name="private_notes" errors={form.fields} value={text} onInput={(x) => (setText(x), setSaved(false))} />
        <FormError error={form.error} />
        <p class="buttons">
          <button type="submit" disabled={form.busy}>
            {form.busy ? "Saving…" : "Save private notes"}
          </button>
          {saved && (
            <span class="ok" role="status">
              Private notes saved.
            </span>
          )}
        </p>
      </form>
    </section>
  );
}
