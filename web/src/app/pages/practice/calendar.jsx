// /practice: the therapist's week of therapy sessions (Monday to Sunday in
// their zone; previous, next, this week), each a link to its page, and a
// form that books a session with a client they lead. Seven columns on a
// desktop, a list of the days on a phone (practice.css). The list route
// filters by therapist, not by time, so the page reads the therapist's
// sessions (newest first, bounded) and places them by their local day.
import { useState } from "preact/hooks";
import { api, all, useLoad, Loaded, Page, Field, useSubmit, FormError, Empty } from "../me/kit.jsx";
import { formatDate } from "../../time.js";
import { practice, fullName, STATUS, TYPES, FORMATS, Control, localError, dayKey, timeKey, addDays, weekStart, localTime } from "./kit.jsx";

// Sessions read for the calendar, newest first: a practice's years of
// sessions are not drawn, a week is.
const SESSIONS_MAX = 2000;
/** @type {Array<[string, string]>} */
const LENGTHS = [
  ["50", "50 minutes"],
  ["30", "30 minutes"],
  ["60", "1 hour"],
  ["90", "1 hour 30 minutes"],
];

export function Calendar() {
  const [week, setWeek] = useState(() => weekStart(new Date()));
  const [booked, setBooked] = useState(/** @type {any} */ (null));
  const load = useLoad(async () => {
    const p = await practice();
    if (!p.profile) return { ...p, sessions: [] };
    const q = `therapist_id=${encodeURIComponent(p.profile.id)}&sort=-start_time&limit=200`;
    const sessions = await all(`/v1/therapy-sessions?${q}`, SESSIONS_MAX);
    return { ...p, sessions };
  }, []);
  return (
    <Page title="Your calendar">
      <Loaded load={load} what="your calendar">
        {(d) =>
          !d.profile ? (
            <Empty>You have no therapist profile yet: an admin makes it, and then your sessions show here.</Empty>
          ) : (
            <>
              <Week week={week} setWeek={setWeek} sessions={d.sessions} clients={d.clients} />
              <Book
                profile={d.profile}
                clients={d.clients}
                booked={booked}
                onBooked={(s) => {
                  setBooked(s);
                  setWeek(weekStart(new Date(s.start_time)));
                  load.reload();
                }}
              />
            </>
          )
        }
      </Loaded>
    </Page>
  );
}

/** @param {{week: Date, setWeek: (d: Date) => void, sessions: any[], clients: any[]}} props */
function Week({ week, setWeek, sessions, clients }) {
  const names = new Map(clients.map((c) => [c.id, fullName(c)]));
  const days = [0, 1, 2, 3, 4, 5, 6].map((i) => addDays(week, i));
  const today = dayKey(new Date());
  /** @type {Map<string, any[]>} */
  const byDay = new Map(days.map((d) => [dayKey(d), []]));
  for (const s of sessions) {
    const list = byDay.get(dayKey(new Date(s.start_time)));
    if (list) list.push(s);
  }
  const dayName = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "short" });
  const thisWeek = dayKey(week) === dayKey(weekStart(new Date()));
  return (
    <section aria-labelledby="week-title" class="card">
      <h2 id="week-title" aria-live="polite">
        Week of {formatDate(dayKey(week))}
      </h2>
      <p class="buttons">
        <button type="button" onClick={() => setWeek(addDays(week, -7))}>
          Previous week
        </button>
        <button type="button" onClick={() => setWeek(weekStart(new Date()))} disabled={thisWeek}>
          Today
        </button>
        <button type="button" onClick={() => setWeek(addDays(week, 7))}>
          Next week
        </button>
      </p>
      <ol class="week" data-week={dayKey(week)}>
        {days.map((d) => {
          const key = dayKey(d);
          const list = (byDay.get(key) || []).sort((a, b) => (a.start_time < b.start_time ? -1 : 1));
          return (
            <li key={key} class={"day" + (key === today ? " today" : "") + (list.length ? "" : " free")} data-day={key} aria-current={key === today ? "date" : undefined}>
              <h3>
                {dayName.format(d)}
                {key === today && <span class="tag">today</span>}
              </h3>
              {list.length === 0 ? (
                <p class="meta">No sessions</p>
              ) : (
                <ul>
                  {list.map((s) => (
                    <li key={s.id} class={"slot " + s.status}>
                      <a href={`/practice/sessions/${s.id}`} data-session={s.id}>
                        {timeKey(new Date(s.start_time))}–{timeKey(new Date(s.end_time))} {names.get(s.client_id) || "A client"}
                      </a>
                      <span class="tag">{STATUS[s.status] || s.status}</span>
                    </li>
                  ))}
                </ul>
              )}
            </li>
          );
        })}
      </ol>
    </section>
  );
}

/** @param {{profile: any, clients: any[], booked: any, onBooked: (s: any) => void}} props */
function Book({ profile, clients, booked, onBooked }) {
  const [v, setV] = useState(() => ({
    client_id: clients.length ? clients[0].id : "",
    start_date: dayKey(addDays(new Date(), 1)),
    start_time: "10:00",
    length: "50",
    type: "regular",
    format: "video",
  }));
  const set = (/** @type {string} */ k) => (/** @type {string} */ x) => setV({ ...v, [k]: x });
  const form = useSubmit(
    async () => {
      const start = localTime(v.start_date, v.start_time);
      if (!start) throw localError("start_time", "Choose a day and a time.");
      const end = new Date(start.getTime() + Number(v.length) * 60000);
      return api.post("/v1/therapy-sessions", {
        therapist_id: profile.id,
        client_id: v.client_id,
        start_time: start.toISOString(),
        end_time: end.toISOString(),
        type: v.type,
        format: v.format,
      });
    },
    (s) => onBooked(s),
  );
  if (clients.length === 0)
    return (
      <section aria-labelledby="book-title" class="card">
        <h2 id="book-title">Book a session</h2>
        <Empty>You lead no clients yet: a session is booked with a client whose practitioner you are.</Empty>
      </section>
    );
  const names = new Map(clients.map((c) => [c.id, fullName(c)]));
  return (
    <section aria-labelledby="book-title" class="card">
      <h2 id="book-title">Book a session</h2>
      <form onSubmit={form.onSubmit} noValidate aria-labelledby="book-title" class="book">
        <Control label="Client" name="client_id" errors={form.fields} value={v.client_id} onInput={set("client_id")} options={clients.map((c) => [c.id, fullName(c)])} />
        <Field label="Day" name="start_date" type="date" errors={form.fields} value={v.start_date} onInput={set("start_date")} required />
        <Field label="Starts at" name="start_time" type="time" errors={form.fields} value={v.start_time} onInput={set("start_time")} required />
        <Control label="Length" name="end_time" errors={form.fields} value={v.length} onInput={set("length")} options={LENGTHS} />
        <Control label="Kind" name="type" errors={form.fields} value={v.type} onInput={set("type")} options={TYPES} />
        <Control label="How" name="format" errors={form.fields} value={v.format} onInput={set("format")} options={FORMATS} />
        <FormError error={form.error} />
        <p class="buttons">
          <button type="submit" disabled={form.busy}>
            {form.busy ? "Booking…" : "Book the session"}
          </button>
        </p>
      </form>
      {booked && (
        <p class="ok" role="status">
          Booked with {names.get(booked.client_id) || "the client"}:{" "}
          <a href={`/practice/sessions/${booked.id}`}>
            {formatDate(booked.start_time)} at {timeKey(new Date(booked.start_time))}
          </a>
        </p>
      )}
    </section>
  );
}
