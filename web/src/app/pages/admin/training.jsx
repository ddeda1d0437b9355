// /admin/training (issue 18 item 6, training administration, in part):
// course schedules with the moves the API allows from each status
// (confirm, start, complete, cancel: each confirmed first), a schedule's
// bookings with their attendees and its attendance sheet (read only),
// refunds waiting for approval (approve, or reject with a reason), and
// certificates (revoke with a reason, the PDF downloaded). Making and
// editing schedules, marking attendance and issuing certificates by hand
// are not here yet.
import { useState } from "preact/hooks";
import { api, all, useLoad, Loaded, Field, ConfirmDialog, useSubmit, FormError, Time, Page } from "../me/kit.jsx";
import { download, shortId } from "./kit.js";

// The moves of a schedule by status (README: Training).
const MOVES = {
  scheduled: ["confirm", "start", "cancel"],
  confirmed: ["start", "cancel"],
  in_progress: ["complete"],
};
const MOVE_LABEL = { confirm: "Confirm", start: "Start", complete: "Complete", cancel: "Cancel" };
const MOVE_TEXT = {
  confirm: "The schedule is confirmed to go ahead.",
  start: "The course is under way: bookings close.",
  complete: "The course is over: its confirmed bookings are completed and attendees may get certificates.",
  cancel: "The schedule is cancelled: its bookings are cancelled and paid ones refunded.",
};

/** @param {number} minor @param {string} currency */
function money(minor, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "GBP" }).format(minor / 100);
  } catch (e) {
    return `${(minor / 100).toFixed(2)} ${currency}`;
  }
}

export function TrainingAdmin() {
  return (
    <Page title="Training">
      <Schedules />
      <Refunds />
      <Certificates />
    </Page>
  );
}

function Schedules() {
  const load = useLoad(async () => {
    const [schedules, courses] = await Promise.all([all("/v1/course-schedules?sort=start_time", 500), all("/v1/training-courses", 500)]);
    return { schedules, courses };
  }, []);
  const [move, setMove] = useState(/** @type {{kind: string, s: any} | null} */ (null));
  const [open, setOpen] = useState(/** @type {string | null} */ (null));
  const f = useSubmit(
    () => (move ? api.post(`/v1/course-schedules/${encodeURIComponent(move.s.id)}/${move.kind}`) : Promise.resolve()),
    () => (setMove(null), load.reload()),
  );
  return (
    <section class="card" aria-labelledby="h-schedules">
      <h2 id="h-schedules">Course schedules</h2>
      <Loaded load={load} what="the schedules" empty={(d) => d.schedules.length === 0} emptyText="No course is scheduled.">
        {({ schedules, courses }) => {
          const name = (id) => (courses.find((c) => c.id === id) || {}).name || shortId(id);
          return (
            <ul class="rows">
              {schedules.map((s) => (
                <li key={s.id} data-schedule={s.id} data-status={s.status}>
                  <span>
                    <strong>{name(s.course_id)}</strong> <span class="tag">{s.status}</span>
                    <br />
                    <small>
                      <Time iso={s.start_time} /> to <Time iso={s.end_time} /> · {s.free_seats} of {s.capacity} seats free
                    </small>
                  </span>
                  <span class="buttons">
                    <button type="button" aria-expanded={open === s.id} onClick={() => setOpen(open === s.id ? null : s.id)}>
                      {open === s.id ? "Hide bookings" : "Bookings"}
                    </button>
                    {(MOVES[s.status] || []).map((m) => (
                      <button key={m} type="button" class={m === "cancel" ? "danger" : undefined} onClick={() => (f.setError(null), setMove({ kind: m, s }))}>
                        {MOVE_LABEL[m]}
                      </button>
                    ))}
                  </span>
                  {open === s.id && <ScheduleBookings id={s.id} />}
                </li>
              ))}
            </ul>
          );
        }}
      </Loaded>
      <ConfirmDialog
        open={move != null}
        title={move ? `${MOVE_LABEL[move.kind]} this schedule?` : ""}
        confirmLabel={move ? MOVE_LABEL[move.kind] : ""}
        busy={f.busy}
        error={f.error}
        onConfirm={f.onSubmit}
        onCancel={() => setMove(null)}
      >
        {move && <p>{MOVE_TEXT[move.kind]}</p>}
      </ConfirmDialog>
    </section>
  );
}

// A schedule's bookings with their attendees, and the attendance sheet.
function ScheduleBookings({ id }) {
  const load = useLoad(async () => {
    const [bookings, attendance] = await Promise.all([
      api.get(`/v1/course-schedules/${encodeURIComponent(id)}/bookings`),
      all(`/v1/attendance-records?schedule_id=${encodeURIComponent(id)}`, 1000),
    ]);
    return { bookings: bookings.data, truncated: bookings.truncated, attendance };
  }, [id]);
  return (
    <div class="sheet">
      <Loaded load={load} what="the bookings" empty={(d) => d.bookings.length === 0} emptyText="No one has booked yet.">
        {({ bookings, truncated, attendance }) => (
          <div class="table-wrap" tabIndex={0} role="region" aria-label="Attendance sheet, scrolls sideways">
            <table class="admin-table">
              <caption>{`Attendance sheet: ${bookings.length} bookings${truncated ? " (the first only)" : ""}`}</caption>
              <thead>
                <tr>
                  <th scope="col">Booking</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attendee</th>
                  <th scope="col">Attendance</th>
                </tr>
              </thead>
              <tbody>
                {bookings.flatMap((b) =>
                  (b.attendees.length ? b.attendees : [null]).map((a, i) => {
                    const rec = a && attendance.find((r) => r.attendee_id === a.id);
                    return (
                      <tr key={`${b.id}-${i}`}>
                        <td>{i === 0 ? b.booking_reference || shortId(b.id) : ""}</td>
                        <td>{i === 0 ? b.status : ""}</td>
                        <td>{a ? a.name || a.email || shortId(a.id) : "—"}</td>
                        <td>{rec ? rec.status : "not marked"}</td>
                      </tr>
                    );
                  }),
                )}
              </tbody>
            </table>
          </div>
        )}
      </Loaded>
    </div>
  );
}

function Refunds() {
  const load = useLoad(() => api.get("/v1/refunds?status=pending&limit=100"), []);
  const [act, setAct] = useState(/** @type {{kind: string, r: any} | null} */ (null));
  const [reason, setReason] = useState("");
  const f = useSubmit(
    () => {
      if (!act) return Promise.resolve();
      const id = encodeURIComponent(act.r.id);
      return act.kind === "approve" ? api.post(`/v1/refunds/${id}/approve`) : api.post(`/v1/refunds/${id}/reject`, reason.trim() ? { reason: reason.trim() } : {});
    },
    () => (setAct(null), load.reload()),
  );
  return (
    <section class="card" aria-labelledby="h-refunds">
      <h2 id="h-refunds">Refunds waiting for approval</h2>
      <Loaded load={load} what="the refunds" empty={(d) => d.data.length === 0} emptyText="No refund is waiting.">
        {(d) => (
          <ul class="rows">
            {d.data.map((r) => (
              <li key={r.id} data-refund={r.id}>
                <span>
                  <strong>{money(r.net_refund_minor, r.currency)}</strong> {r.refund_reference} <span class="tag">{r.cause}</span>
                  <br />
                  <small>
                    asked <Time iso={r.requested_at} />
                    {r.reason && ` · ${r.reason}`}
                  </small>
                </span>
                <span class="buttons">
                  <button type="button" onClick={() => (f.setError(null), setAct({ kind: "approve", r }))}>
                    Approve
                  </button>
                  <button type="button" class="danger" onClick={() => (f.setError(null), setReason(""), setAct({ kind: "reject", r }))}>
                    Reject
                  </button>
                </span>
              </li>
            ))}
          </ul>
        )}
      </Loaded>
      <ConfirmDialog
        open={act != null}
        title={act && act.kind === "approve" ? "Approve this refund?" : "Reject this refund?"}
        confirmLabel={act && act.kind === "approve" ? "Approve" : "Reject"}
        busy={f.busy}
        error={f.error}
        onConfirm={f.onSubmit}
        onCancel={() => setAct(null)}
      >
        {act && act.kind === "approve" && <p>{`${money(act.r.net_refund_minor, act.r.currency)} is paid back.`}</p>}
        {act && act.kind === "reject" && <Field label="Reason (told to the booker)" name="reason" value={reason} onInput={setReason} errors={f.fields} maxLength={2000} />}
      </ConfirmDialog>
    </section>
  );
}

function Certificates() {
  const load = useLoad(() => api.get("/v1/certificates?limit=100&sort=-created_at"), []);
  const [revoke, setRevoke] = useState(/** @type {any} */ (null));
  const [reason, setReason] = useState("");
  const [dlError, setDlError] = useState(/** @type {any} */ (null));
  const f = useSubmit(
    () => (revoke ? api.post(`/v1/certificates/${encodeURIComponent(revoke.id)}/revoke`, { reason: reason.trim() }) : Promise.resolve()),
    () => (setRevoke(null), load.reload()),
  );
  return (
    <section class="card" aria-labelledby="h-certificates">
      <h2 id="h-certificates">Certificates</h2>
      <FormError error={dlError} />
      <Loaded load={load} what="the certificates" empty={(d) => d.data.length === 0} emptyText="No certificate has been issued.">
        {(d) => (
          <ul class="rows">
            {d.data.map((c) => (
              <li key={c.id} data-certificate={c.id}>
                <span>
                  <strong>{c.certificate_number}</strong> {c.holder_name} <span class="tag">{c.status}</span>
                  <br />
                  <small>
                    issued <Time iso={c.issue_date} date />
                    {c.expiry_date && (
                      <>
                        {" "}
                        · expires <Time iso={c.expiry_date} date />
                      </>
                    )}
                  </small>
                </span>
                <span class="buttons">
                  <button
                    type="button"
                    aria-label={`PDF of ${c.certificate_number}`}
                    onClick={() => (setDlError(null), download(`/v1/certificates/${encodeURIComponent(c.id)}/pdf`, `${c.certificate_number}.pdf`).catch(setDlError))}
                  >
                    PDF
                  </button>
                  {c.status !== "revoked" && (
                    <button type="button" class="danger" onClick={() => (f.setError(null), setReason(""), setRevoke(c))} aria-label={`Revoke ${c.certificate_number}`}>
                      Revoke
                    </button>
                  )}
                </span>
              </li>
            ))}
          </ul>
        )}
      </Loaded>
      <ConfirmDialog
        open={revoke != null}
        title="Revoke this certificate?"
        confirmLabel="Revoke"
        busy={f.busy}
        error={f.error}
        onConfirm={f.onSubmit}
        onCancel={() => setRevoke(null)}
      >
        <p>Checking its token then says it is revoked, with the reason.</p>
        <Field label="Reason" name="reason" required value={reason} onInput={setReason} errors={f.fields} maxLength={2000} />
      </ConfirmDialog>
    </section>
  );
}
