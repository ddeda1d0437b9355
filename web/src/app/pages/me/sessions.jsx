// /therapy/sessions and /therapy/sessions/:id: the person's appointments
// with their therapist and the notes the therapist SHARED with them
// (shared_notes of /v1/therapy-sessions). The private notes are the
// therapist's: this page never asks for /private-notes, so the client's
// browser never receives them (tests/api/test_web_me.py checks the
// network log).
import { api, all, useLoad, Loaded, Time, Page, Empty } from "./kit.jsx";

const STATUS = { scheduled: "Upcoming", completed: "Held", cancelled: "Cancelled", no_show: "Missed" };

export function TherapySessions() {
  const load = useLoad(() => all("/v1/therapy-sessions"), []);
  return (
    <Page title="Your therapy sessions">
      <Loaded load={load} what="your sessions" empty={(d) => d.length === 0} emptyText="You have no therapy sessions.">
        {(rows) => (
          <ul class="rows">
            {[...rows]
              .sort((a, b) => (a.start_time < b.start_time ? 1 : -1))
              .map((s) => (
                <li key={s.id}>
                  <span>
                    <a href={`/therapy/sessions/${s.id}`}>
                      <Time iso={s.start_time} />
                    </a>{" "}
                    <span class="tag">{STATUS[s.status] || s.status}</span>
                    <br />
                    <small>
                      {s.type} · {s.format}
                      {s.shared_notes ? " · notes shared with you" : ""}
                    </small>
                  </span>
                </li>
              ))}
          </ul>
        )}
      </Loaded>
    </Page>
  );
}

export function TherapySession({ params }) {
  const load = useLoad(() => api.get(`/v1/therapy-sessions/${encodeURIComponent(params.id)}`), [params.id]);
  return (
    <Page title="Therapy session">
      <p>
        <a href="/therapy/sessions">All sessions</a>
      </p>
      <Loaded load={load} what="the session">
        {(s) => (
          <>
            <dl class="facts">
              <dt>When</dt>
              <dd>
                <Time iso={s.start_time} /> to <Time iso={s.end_time} />
              </dd>
              <dt>Status</dt>
              <dd>{STATUS[s.status] || s.status}</dd>
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
            </dl>
            <section aria-labelledby="h-notes" class="card">
              <h2 id="h-notes">Notes from your therapist</h2>
              {s.shared_notes ? (
                <p class="notes">{s.shared_notes}</p>
              ) : (
                <Empty>Your therapist has shared no notes for this session.</Empty>
              )}
            </section>
          </>
        )}
      </Loaded>
    </Page>
  );
}
