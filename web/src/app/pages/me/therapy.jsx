// /therapy: the therapy sessions the person's partner access still gives
// (/v1/me/partner-access: the allowance) and their bookings made in the
// booking system (/v1/me/therapy-bookings), each cancellable before it
// starts (POST /v1/therapy-bookings/{id}/cancel gives the session back).
import { useState } from "preact/hooks";
import { formatDateTime } from "../../time.js";
import { api, all, useLoad, Loaded, ConfirmDialog, useSubmit, Time, Page } from "./kit.jsx";

export function Therapy() {
  const access = useLoad(() => all("/v1/me/partner-access"), []);
  const bookings = useLoad(() => all("/v1/me/therapy-bookings"), []);
  const reload = () => (access.reload(), bookings.reload());
  return (
    <Page title="Your therapy">
      <section aria-labelledby="h-allowance" class="card">
        <h2 id="h-allowance">Sessions you may book</h2>
        <Loaded
          load={access}
          what="your allowance"
          empty={(d) => !d.some((a) => a.is_active && a.feature_therapy)}
          emptyText="No partner gives you therapy sessions. An access code from a partner organisation gives you some."
        >
          {(rows) => <Allowance rows={rows.filter((a) => a.is_active && a.feature_therapy)} />}
        </Loaded>
      </section>
      <section aria-labelledby="h-bookings" class="card">
        <h2 id="h-bookings">Your bookings</h2>
        <Loaded load={bookings} what="your bookings" empty={(d) => d.length === 0} emptyText="You have no bookings.">
          {(rows) => <Bookings rows={rows} onChange={reload} />}
        </Loaded>
      </section>
    </Page>
  );
}

function Allowance({ rows }) {
  const left = rows.reduce((n, a) => n + (a.therapy_sessions_remaining || 0), 0);
  return (
    <>
      <p class="big" data-allowance={left}>
        <strong>{left}</strong> {left === 1 ? "session" : "sessions"} left
      </p>
      <ul class="meta-list">
        {rows.map((a) => (
          <li key={a.id}>
            {a.partner_name}: {a.therapy_sessions_remaining} left, {a.therapy_sessions_redeemed} used
          </li>
        ))}
      </ul>
    </>
  );
}

function Bookings({ rows, onChange }) {
  const [cancel, setCancel] = useState(/** @type {any} */ (null));
  const f = useSubmit(
    () => api.post(`/v1/therapy-bookings/${cancel && cancel.id}/cancel`),
    () => {
      setCancel(null);
      onChange();
    },
  );
  const sorted = [...rows].sort((a, b) => (a.start_date_time < b.start_date_time ? 1 : -1));
  const now = Date.now();
  return (
    <>
      <ul class="rows">
        {sorted.map((b) => {
          const open = b.status !== "cancelled" && !b.cancelled_at && !b.completed_at && new Date(b.start_date_time).getTime() > now;
          return (
            <li key={b.id} data-booking={b.booking_code}>
              <span>
                <strong>{b.service_name || "Therapy session"}</strong>
                {b.service_provider_name && ` with ${b.service_provider_name}`}
                <br />
                <small>
                  <Time iso={b.start_date_time} /> · <span class="tag">{b.status}</span>
                </small>
              </span>
              {open && (
                <button type="button" onClick={() => (f.setError(null), setCancel(b))} aria-label={`Cancel: ${b.service_name || "therapy session"}, ${formatDateTime(b.start_date_time)}`}>
                  Cancel
                </button>
              )}
            </li>
          );
        })}
      </ul>
      <ConfirmDialog
        open={cancel != null}
        title="Cancel this booking?"
        confirmLabel="Cancel the booking"
        busy={f.busy}
        error={f.error}
        onConfirm={f.onSubmit}
        onCancel={() => setCancel(null)}
      >
        {cancel && (
          <p>
            {cancel.service_name || "Therapy session"} on <Time iso={cancel.start_date_time} />. The session goes back to
            your allowance.
          </p>
        )}
      </ConfirmDialog>
    </>
  );
}
