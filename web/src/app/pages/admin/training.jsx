// /admin/training (issue 18 item 6, training administration): a new
// course schedule (course, venue, trainer, start and end typed in the
// person's zone, capacity; the API's refusals beside their fields), the
// schedules with the moves the API allows from each status (confirm,
// start, complete, cancel: each confirmed first), a schedule's attendance
// sheet (each attendee of a confirmed booking marked present, absent, late,
// partial or excused, with the assessment, once the schedule has started:
// POST /v1/attendance-records, then PATCH; the API refuses before the
// start), a certificate issued by hand to an eligible attendee of a
// completed schedule (POST /v1/certificates, confirmed first), a
// schedule's venue, trainer, times and capacity changed while it is
// scheduled or confirmed (PATCH with If-Match, each refusal beside its
// field: a capacity below the seats booked among them), a pending booking
// confirmed as paid offline and a booking cancelled (each confirmed
// first), refunds waiting for approval (approve, or reject with a reason),
// a manual refund (a booking paid offline) recorded as paid back with a
// note of how, and certificates with their expiry (revoke with a reason,
// the PDF downloaded).
import { useState } from "preact/hooks";
import { ApiError, api, all, useLoad, Loaded, Field, ConfirmDialog, useSubmit, FormError, Time, Page } from "../me/kit.jsx";
import { Control, localError } from "../practice/kit.jsx";
import { download, shortId, readTagged, patchTagged, changedMeanwhile, AdminTable } from "./kit.jsx";
import { timeZone, zonedTime, zonedParts, formatDateTime } from "../../time.js";

// What an attendee's attendance may be (the API's enum).
const ATTENDANCE = ["present", "absent", "late", "partial", "excused"];

// The moves of a schedule by status (README: Training).
const MOVES = {
  scheduled: ["confirm", "start", "cancel"],
  confirmed: ["start", "cancel"],
  in_progress: ["complete"],
};
// Whose venue, trainer, times and capacity may change (the API's
// SCHEDULE_CLOSED after).
const EDITABLE = ["scheduled", "confirmed"];
const MOVE_LABEL = { confirm: "Confirm", start: "Start", complete: "Complete", cancel: "Cancel" };
const MOVE_TEXT = {
  confirm: "The schedule is confirmed to go ahead.",
  start: "The course is under way: bookings close.",
  complete: "The course is over: its confirmed bookings are completed and attendees may get certificates.",
  cancel: "The schedule is cancelled: its bookings are cancelled and paid ones refunded.",
};

// What staff may do to a booking by status (the API's moves): confirm a
// pending one as paid offline, cancel a pending or confirmed one.
const BOOKING_MOVES = { pending: ["confirm", "cancel"], confirmed: ["cancel"] };
const BOOKING_TEXT = {
  confirm: "It is confirmed as paid offline (an invoice, cash or a bank transfer): its seats are kept and the booker is told.",
  cancel:
    "It is cancelled and its seats freed. A paid booking is refunded in full: through Stripe, or, paid offline, as a manual refund to record below once paid back.",
};

/** @param {number} minor @param {string} currency */
function money(minor, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "GBP" }).format(minor / 100);
  } catch (e) {
    return `${(minor / 100).toFixed(2)} ${currency}`;
  }
}

// A change in the schedules' part (a schedule cancelled or completed, a
// booking cancelled, a certificate issued) may make refunds and
// certificates: their lists are read again (rev).
export function TrainingAdmin() {
  const [rev, setRev] = useState(0);
  const changed = () => setRev((r) => r + 1);
  return (
    <Page title="Training">
      <Schedules onChanged={changed} />
      <Refunds rev={rev} />
      <Certificates rev={rev} />
    </Page>
  );
}

function Schedules({ onChanged }) {
  const load = useLoad(async () => {
    const [schedules, courses] = await Promise.all([all("/v1/course-schedules?sort=start_time", 500), all("/v1/training-courses", 500)]);
    return { schedules, courses };
  }, []);
  const [move, setMove] = useState(/** @type {{kind: string, s: any} | null} */ (null));
  const [open, setOpen] = useState(/** @type {string | null} */ (null));
  const [editing, setEditing] = useState(/** @type {string | null} */ (null));
  const f = useSubmit(
    () => (move ? api.post(`/v1/course-schedules/${encodeURIComponent(move.s.id)}/${move.kind}`) : Promise.resolve()),
    () => (setMove(null), load.reload(), onChanged()),
  );
  return (
    <section class="card" aria-labelledby="h-schedules">
      <h2 id="h-schedules">Course schedules</h2>
      <NewSchedule onMade={load.reload} />
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
                    {EDITABLE.includes(s.status) && (
                      <button
                        type="button"
                        aria-expanded={editing === s.id}
                        aria-label={`${editing === s.id ? "Close the change of" : "Edit"} ${name(s.course_id)}, ${formatDateTime(s.start_time)}`}
                        onClick={() => setEditing(editing === s.id ? null : s.id)}
                      >
                        {editing === s.id ? "Close" : "Edit"}
                      </button>
                    )}
                    {(MOVES[s.status] || []).map((m) => (
                      <button key={m} type="button" class={m === "cancel" ? "danger" : undefined} onClick={() => (f.setError(null), setMove({ kind: m, s }))}>
                        {MOVE_LABEL[m]}
                      </button>
                    ))}
                  </span>
                  {editing === s.id && EDITABLE.includes(s.status) && (
                    <EditSchedule schedule={s} name={name(s.course_id)} onSaved={() => (setEditing(null), load.reload())} />
                  )}
                  {open === s.id && <ScheduleBookings key={s.status} schedule={s} onChanged={() => (load.reload(), onChanged())} />}
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

// A new schedule. The day and times are the person's (their zone: time.js),
// sent as UTC; without a capacity the API takes the least its venue, course
// and trainer allow. Each refusal of the API (an end before the start, a
// capacity past a limit, the trainer teaching elsewhere then) is shown
// beside its field.
function NewSchedule({ onMade }) {
  const opts = useLoad(async () => {
    const [courses, venues, trainers] = await Promise.all([
      all("/v1/training-courses?is_active=true", 500),
      all("/v1/venues?is_active=true", 500),
      all("/v1/trainers?is_active=true", 500),
    ]);
    return { courses, venues, trainers };
  }, []);
  const blank = { course_id: "", venue_id: "", trainer_id: "", start_day: "", start_time: "09:00", end_day: "", end_time: "16:00", capacity: "" };
  const [v, setV] = useState(blank);
  const [made, setMade] = useState(/** @type {any} */ (null));
  const f = useSubmit(
    () => {
      if (!v.start_day) return Promise.reject(localError("start_day", "Choose the start day."));
      const start = zonedTime(v.start_day, v.start_time);
      const end = zonedTime(v.end_day || v.start_day, v.end_time);
      if (!start) return Promise.reject(localError("start_time", "Choose a start time."));
      if (!end) return Promise.reject(localError("end_time", "Choose an end time."));
      /** @type {any} */
      const body = { course_id: v.course_id, venue_id: v.venue_id, trainer_id: v.trainer_id, start_time: start.toISOString(), end_time: end.toISOString() };
      if (v.capacity !== "") body.capacity = Number(v.capacity);
      return api.post("/v1/course-schedules", body);
    },
    (row) => (setMade(row), setV(blank), onMade()),
  );
  const set = (k) => (x) => setV({ ...v, [k]: x });
  return (
    <details class="new-schedule">
      <summary>New schedule</summary>
      <Loaded load={opts} what="the courses, venues and trainers">
        {({ courses, venues, trainers }) => (
          <form onSubmit={f.onSubmit} aria-labelledby="h-new-schedule" noValidate>
            <h3 id="h-new-schedule">New schedule</h3>
            <FormError error={f.error} />
            <Control label="Course" name="course_id" value={v.course_id} onInput={set("course_id")} errors={f.fields} options={[["", "Choose a course"], ...courses.map((c) => [c.id, c.name])]} />
            <Control label="Venue" name="venue_id" value={v.venue_id} onInput={set("venue_id")} errors={f.fields} options={[["", "Choose a venue"], ...venues.map((x) => [x.id, x.city ? `${x.name}, ${x.city}` : x.name])]} />
            <Control
              label="Trainer"
              name="trainer_id"
              value={v.trainer_id}
              onInput={set("trainer_id")}
              errors={f.fields}
              options={[["", "Choose a trainer"], ...trainers.map((t) => [t.id, `${t.trainer_code}${t.specializations && t.specializations.length ? " (" + t.specializations.join(", ") + ")" : ""}`])]}
            />
            <Field label="Start day" name="start_day" type="date" value={v.start_day} onInput={set("start_day")} errors={f.fields} />
            <Field label="Start time" name="start_time" type="time" hint={`In ${timeZone()}`} value={v.start_time} onInput={set("start_time")} errors={f.fields} />
            <Field label="End day" name="end_day" type="date" hint="Leave empty for the start day" value={v.end_day} onInput={set("end_day")} errors={f.fields} />
            <Field label="End time" name="end_time" type="time" hint={`In ${timeZone()}`} value={v.end_time} onInput={set("end_time")} errors={f.fields} />
            <Field label="Capacity" name="capacity" type="number" min="1" inputMode="numeric" hint="Leave empty for the most the venue, course and trainer allow" value={v.capacity} onInput={set("capacity")} errors={f.fields} />
            <button type="submit" class="primary" disabled={f.busy}>
              {f.busy ? "Making…" : "Make the schedule"}
            </button>
          </form>
        )}
      </Loaded>
      <div role="status">{made && <p data-made-schedule={made.id}>The schedule was made: it starts <Time iso={made.start_time} />.</p>}</div>
    </details>
  );
}

// A schedule changed while it is scheduled or confirmed: its venue,
// trainer, times (the person's, sent as UTC) and capacity, read with its
// ETag and sent with If-Match, only the fields changed (a capacity alone is
// not checked against the trainer's other schedules). The API's refusals
// show beside their fields: a capacity below the seats booked or held, or
// past the venue's, course's or trainer's limit; an end before the start;
// the trainer teaching elsewhere then. A 412 (a booking or another admin
// changed it meanwhile) reloads the form with the new values.
function EditSchedule({ schedule, name, onSaved }) {
  const id = schedule.id;
  const path = `/v1/course-schedules/${encodeURIComponent(id)}`;
  const [seq, setSeq] = useState(0);
  const load = useLoad(async () => {
    const [row, venues, trainers] = await Promise.all([readTagged(path), all("/v1/venues?is_active=true", 500), all("/v1/trainers?is_active=true", 500)]);
    return { ...row, venues, trainers };
  }, [id, seq]);
  return (
    <div class="edit-schedule">
      <Loaded load={load} what="the schedule">
        {(d) => <EditForm key={d.etag} id={id} name={name} path={path} tagged={d} onSaved={onSaved} onStale={() => setSeq(seq + 1)} />}
      </Loaded>
    </div>
  );
}

// The choices, with the schedule's own first when it is no longer active
// (kept unless changed).
/** @param {[string, string][]} opts @param {string} id @returns {[string, string][]} */
function keep(opts, id) {
  return opts.some((o) => o[0] === id) ? opts : [[id, `${shortId(id)} (inactive)`], ...opts];
}

function EditForm({ id, name, path, tagged, onSaved, onStale }) {
  const row = tagged.data;
  const start = zonedParts(row.start_time);
  const end = zonedParts(row.end_time);
  const was = {
    venue_id: row.venue_id,
    trainer_id: row.trainer_id,
    start_day: start.day,
    start_time: start.time,
    end_day: end.day,
    end_time: end.time,
    capacity: String(row.capacity),
  };
  const [v, setV] = useState(was);
  const [stale, setStale] = useState(false);
  const f = useSubmit(
    async () => {
      /** @type {any} */
      const body = {};
      if (v.venue_id !== was.venue_id) body.venue_id = v.venue_id;
      if (v.trainer_id !== was.trainer_id) body.trainer_id = v.trainer_id;
      if (v.start_day !== was.start_day || v.start_time !== was.start_time) {
        const t = zonedTime(v.start_day, v.start_time);
        if (!t) throw localError(v.start_day ? "start_time" : "start_day", "Choose the start day and time.");
        body.start_time = t.toISOString();
      }
      if (v.end_day !== was.end_day || v.end_time !== was.end_time) {
        const t = zonedTime(v.end_day, v.end_time);
        if (!t) throw localError(v.end_day ? "end_time" : "end_day", "Choose the end day and time.");
        body.end_time = t.toISOString();
      }
      if (v.capacity !== was.capacity) {
        if (!/^[0-9]{1,4}$/.test(v.capacity.trim())) throw localError("capacity", "A whole number of learners.");
        body.capacity = Number(v.capacity.trim());
      }
      if (Object.keys(body).length === 0) throw new ApiError(0, "NOTHING_CHANGED", "Nothing was changed.", []);
      try {
        return await patchTagged(path, body, tagged.etag);
      } catch (e) {
        if (changedMeanwhile(e)) setStale(true);
        throw e;
      }
    },
    () => onSaved(),
  );
  const set = (k) => (x) => setV({ ...v, [k]: x });
  const hid = `h-edit-${id}`;
  return (
    <form onSubmit={f.onSubmit} aria-labelledby={hid} noValidate data-edit-schedule={id}>
      <h3 id={hid}>{`Change ${name}`}</h3>
      {stale ? (
        <p class="form-error" role="alert">
          {"Someone else changed this schedule meanwhile (its status or details); reading it again replaces what you typed here: "}
          <button type="button" onClick={onStale}>
            Read it again
          </button>
        </p>
      ) : (
        <FormError error={f.error} />
      )}
      <Control label="Venue" name="venue_id" value={v.venue_id} onInput={set("venue_id")} errors={f.fields} options={keep(tagged.venues.map((x) => /** @type {[string, string]} */ ([x.id, x.city ? `${x.name}, ${x.city}` : x.name])), row.venue_id)} />
      <Control label="Trainer" name="trainer_id" value={v.trainer_id} onInput={set("trainer_id")} errors={f.fields} options={keep(tagged.trainers.map((t) => /** @type {[string, string]} */ ([t.id, t.trainer_code])), row.trainer_id)} />
      <Field label="Start day" name="start_day" type="date" value={v.start_day} onInput={set("start_day")} errors={f.fields} />
      <Field label="Start time" name="start_time" type="time" hint={`In ${timeZone()}`} value={v.start_time} onInput={set("start_time")} errors={f.fields} />
      <Field label="End day" name="end_day" type="date" value={v.end_day} onInput={set("end_day")} errors={f.fields} />
      <Field label="End time" name="end_time" type="time" hint={`In ${timeZone()}`} value={v.end_time} onInput={set("end_time")} errors={f.fields} />
      <Field
        label="Capacity"
        name="capacity"
        type="number"
        min="1"
        inputMode="numeric"
        hint={`${row.capacity - row.free_seats} seats are booked or held`}
        value={v.capacity}
        onInput={set("capacity")}
        errors={f.fields}
      />
      <button type="submit" class="primary" disabled={f.busy}>
        {f.busy ? "Saving…" : "Save the changes"}
      </button>
    </form>
  );
}

// A schedule's attendance sheet: its bookings with their attendees, each
// attendee's record marked or changed (the API takes marks once the
// schedule has started, from staff after its completion too), and, once
// the schedule is completed, a certificate issued by hand to an eligible
// attendee who has none.
function ScheduleBookings({ schedule, onChanged }) {
  const id = schedule.id;
  const load = useLoad(async () => {
    const [bookings, attendance, certificates] = await Promise.all([
      api.get(`/v1/course-schedules/${encodeURIComponent(id)}/bookings`),
      all(`/v1/attendance-records?schedule_id=${encodeURIComponent(id)}`, 1000),
      all(`/v1/certificates?schedule_id=${encodeURIComponent(id)}`, 1000),
    ]);
    return { bookings: bookings.data, truncated: bookings.truncated, attendance, certificates };
  }, [id]);
  const [issue, setIssue] = useState(/** @type {any} */ (null));
  const [dlError, setDlError] = useState(/** @type {any} */ (null));
  const fi = useSubmit(
    () => (issue ? api.post("/v1/certificates", { attendee_id: issue.id }) : Promise.resolve()),
    () => (setIssue(null), load.reload(), onChanged()),
  );
  const [act, setAct] = useState(/** @type {{kind: string, b: any} | null} */ (null));
  const fb = useSubmit(
    () => (act ? api.post(`/v1/training-bookings/${encodeURIComponent(act.b.id)}/${act.kind}`) : Promise.resolve()),
    () => (setAct(null), load.reload(), onChanged()),
  );
  const started = Date.parse(schedule.start_time) <= Date.now();
  const open = schedule.status !== "cancelled" && started;
  return (
    <div class="sheet">
      {!started && schedule.status !== "cancelled" && <p class="meta">Attendance is marked once the schedule has started.</p>}
      <FormError error={dlError} />
      <Loaded load={load} what="the bookings" empty={(d) => d.bookings.length === 0} emptyText="No one has booked yet.">
        {({ bookings, truncated, attendance, certificates }) => (
          <AdminTable label="Attendance sheet, scrolls sideways" caption={`Attendance sheet: ${bookings.length} bookings${truncated ? " (the first only)" : ""}`} head={["Booking", "Status", "Attendee", "Attendance", "Certificate"]}>
            {bookings.flatMap((b) =>
              (b.attendees.length ? b.attendees : [null]).map((a, i) => {
                const rec = a && attendance.find((r) => r.attendee_id === a.id);
                const cert = a && certificates.find((c) => c.attendee_id === a.id && c.status !== "revoked");
                const markable = a && open && ["confirmed", "completed", "no_show"].includes(b.status);
                const who = a ? a.name || a.email || shortId(a.id) : "—";
                return (
                  <tr key={`${b.id}-${i}`} data-attendee={a ? a.id : undefined}>
                    <td>{i === 0 ? b.booking_reference || shortId(b.id) : ""}</td>
                    <td data-booking={i === 0 ? b.id : undefined} data-status={i === 0 ? b.status : undefined}>
                      {i === 0 && (
                        <>
                          {b.status}
                          {b.payment_status && <small class="meta">{` (${b.payment_status})`}</small>}
                          {BOOKING_MOVES[b.status] && (
                            <span class="buttons">
                              {BOOKING_MOVES[b.status].map((m) => (
                                <button
                                  key={m}
                                  type="button"
                                  class={m === "cancel" ? "danger" : undefined}
                                  aria-label={`${MOVE_LABEL[m]} booking ${b.booking_reference || shortId(b.id)}`}
                                  onClick={() => (fb.setError(null), setAct({ kind: m, b }))}
                                >
                                  {MOVE_LABEL[m]}
                                </button>
                              ))}
                            </span>
                          )}
                        </>
                      )}
                    </td>
                    <td>{who}</td>
                    <td>{markable ? <Mark attendee={a} who={who} rec={rec} onSaved={load.reload} /> : rec ? rec.status : "not marked"}</td>
                    <td>
                      {cert ? (
                        <button
                          type="button"
                          data-certificate-pdf={cert.id}
                          aria-label={`PDF of ${cert.certificate_number}, ${who}`}
                          onClick={() => (setDlError(null), download(`/v1/certificates/${encodeURIComponent(cert.id)}/pdf`, `${cert.certificate_number}.pdf`).catch(setDlError))}
                        >
                          {cert.certificate_number} (PDF)
                        </button>
                      ) : schedule.status === "completed" && rec && rec.certificate_eligible ? (
                        <button type="button" onClick={() => (fi.setError(null), setIssue({ id: a.id, who }))} aria-label={`Issue a certificate to ${who}`}>
                          Issue certificate
                        </button>
                      ) : (
                        <span class="meta">{rec && !rec.certificate_eligible ? "not eligible" : "—"}</span>
                      )}
                    </td>
                  </tr>
                );
              }),
            )}
          </AdminTable>
        )}
      </Loaded>
      <ConfirmDialog
        open={act != null}
        title={act ? `${MOVE_LABEL[act.kind]} booking ${act.b.booking_reference || shortId(act.b.id)}?` : ""}
        confirmLabel={act ? `${MOVE_LABEL[act.kind]} the booking` : ""}
        busy={fb.busy}
        error={fb.error}
        onConfirm={fb.onSubmit}
        onCancel={() => setAct(null)}
      >
        {act && <p>{BOOKING_TEXT[act.kind]}</p>}
      </ConfirmDialog>
      <ConfirmDialog open={issue != null} title="Issue a certificate?" confirmLabel="Issue" busy={fi.busy} error={fi.error} onConfirm={fi.onSubmit} onCancel={() => setIssue(null)}>
        {issue && <p>{`${issue.who} gets a certificate of this course, dated the day it ended. It can be revoked later, not deleted.`}</p>}
      </ConfirmDialog>
    </div>
  );
}

// One attendee's mark: the status and the assessment, saved as a new record
// or as a change of theirs. The API's refusal (not started yet, locked by
// a certificate) is shown beside the mark.
function Mark({ attendee, who, rec, onSaved }) {
  const [status, setStatus] = useState(rec ? rec.status : "present");
  const [passed, setPassed] = useState(rec ? !!rec.passed_assessment : true);
  const f = useSubmit(
    () =>
      rec
        ? api.patch(`/v1/attendance-records/${encodeURIComponent(rec.id)}`, { status, passed_assessment: passed })
        : api.post("/v1/attendance-records", { attendee_id: attendee.id, status, passed_assessment: passed }),
    onSaved,
  );
  const err = f.error && (f.error.fields.attendee_id || f.error.fields.status || f.error.detail);
  const errId = `mark-err-${attendee.id}`;
  return (
    <form class="mark" onSubmit={f.onSubmit} aria-label={`Attendance of ${who}`} noValidate data-marked={rec ? rec.status : ""}>
      <label class="sr-only" for={`mark-${attendee.id}`}>
        {`Attendance of ${who}`}
      </label>
      <select id={`mark-${attendee.id}`} name="status" value={status} onChange={(e) => setStatus(e.currentTarget.value)} aria-invalid={err ? "true" : undefined} aria-describedby={err ? errId : undefined}>
        {ATTENDANCE.map((x) => (
          <option key={x} value={x}>
            {x}
          </option>
        ))}
      </select>
      <label class="choice">
        <input type="checkbox" name="passed_assessment" checked={passed} onChange={(e) => setPassed(e.currentTarget.checked)} aria-label={`${who} passed the assessment`} />
        passed
      </label>
      <button type="submit" disabled={f.busy}>
        {f.busy ? "Saving…" : rec ? "Change" : "Mark"}
      </button>
      {rec && <small class="meta">{rec.certificate_eligible ? " eligible" : " not eligible"}</small>}
      {err && (
        <small id={errId} class="field-error" role="alert">
          {err}
        </small>
      )}
    </form>
  );
}

// Refunds waiting for a decision (approve, or reject with a reason), and
// manual ones (a booking paid offline) approved and waiting to be paid
// back: recorded as paid back with a note of how (POST .../complete).
function Refunds({ rev }) {
  const load = useLoad(async () => {
    const [pending, manual] = await Promise.all([api.get("/v1/refunds?status=pending&limit=100"), api.get("/v1/refunds?status=approved&method=manual&limit=100")]);
    return { pending: pending.data, manual: manual.data };
  }, [rev]);
  const [act, setAct] = useState(/** @type {{kind: string, r: any} | null} */ (null));
  const [reason, setReason] = useState("");
  const f = useSubmit(
    () => {
      if (!act) return Promise.resolve();
      const id = encodeURIComponent(act.r.id);
      if (act.kind === "complete") {
        if (!reason.trim()) return Promise.reject(localError("note", "Say how it was paid back."));
        return api.post(`/v1/refunds/${id}/complete`, { note: reason.trim() });
      }
      return act.kind === "approve" ? api.post(`/v1/refunds/${id}/approve`) : api.post(`/v1/refunds/${id}/reject`, reason.trim() ? { reason: reason.trim() } : {});
    },
    () => (setAct(null), load.reload()),
  );
  const ask = (kind, r) => (f.setError(null), setReason(""), setAct({ kind, r }));
  /** @param {any} r */
  const what = (r) => (
    <span>
      <strong>{money(r.net_refund_minor, r.currency)}</strong> {r.refund_reference} <span class="tag">{r.cause}</span>
      {r.method === "manual" && <span class="tag">paid offline</span>}
      <br />
      <small>
        asked <Time iso={r.requested_at} />
        {r.reason && ` · ${r.reason}`}
      </small>
    </span>
  );
  const ACT = {
    approve: { title: "Approve this refund?", label: "Approve" },
    reject: { title: "Reject this refund?", label: "Reject" },
    complete: { title: "Record this refund as paid back?", label: "Record as paid back" },
  };
  return (
    <section class="card" aria-labelledby="h-refunds">
      <h2 id="h-refunds">Refunds waiting for approval</h2>
      <Loaded load={load} what="the refunds">
        {(d) => (
          <>
            {d.pending.length === 0 ? (
              <p class="meta">No refund is waiting.</p>
            ) : (
              <ul class="rows">
                {d.pending.map((r) => (
                  <li key={r.id} data-refund={r.id}>
                    {what(r)}
                    <span class="buttons">
                      <button type="button" onClick={() => ask("approve", r)}>
                        Approve
                      </button>
                      <button type="button" class="danger" onClick={() => ask("reject", r)}>
                        Reject
                      </button>
                    </span>
                  </li>
                ))}
              </ul>
            )}
            <h3 id="h-manual">Approved, to pay back by hand</h3>
            {d.manual.length === 0 ? (
              <p class="meta">No manual refund is waiting to be paid back.</p>
            ) : (
              <ul class="rows" aria-labelledby="h-manual">
                {d.manual.map((r) => (
                  <li key={r.id} data-manual-refund={r.id}>
                    {what(r)}
                    <span class="buttons">
                      <button type="button" onClick={() => ask("complete", r)}>
                        Paid back
                      </button>
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
      </Loaded>
      <ConfirmDialog
        open={act != null}
        title={act ? ACT[act.kind].title : ""}
        confirmLabel={act ? ACT[act.kind].label : ""}
        busy={f.busy}
        error={f.error}
        onConfirm={f.onSubmit}
        onCancel={() => setAct(null)}
      >
        {act && act.kind === "approve" && (
          <p>{act.r.method === "manual" ? `${money(act.r.net_refund_minor, act.r.currency)} is owed back: record it below once paid.` : `${money(act.r.net_refund_minor, act.r.currency)} is paid back through Stripe.`}</p>
        )}
        {act && act.kind === "reject" && <Field label="Reason (told to the booker)" name="reason" value={reason} onInput={setReason} errors={f.fields} maxLength={2000} />}
        {act && act.kind === "complete" && (
          <>
            <p>{`${money(act.r.net_refund_minor, act.r.currency)} was paid back to the booker.`}</p>
            <Field label="How it was paid back" name="note" required hint="A bank transfer's reference, say" value={reason} onInput={setReason} errors={f.fields} maxLength={2000} />
          </>
        )}
      </ConfirmDialog>
    </section>
  );
}

function Certificates({ rev }) {
  const load = useLoad(() => api.get("/v1/certificates?limit=100&sort=-created_at"), [rev]);
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
