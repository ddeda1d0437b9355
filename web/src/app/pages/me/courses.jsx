// /courses and /courses/:id: the self-guided courses (Bloom) and the
// person's progress in each: /v1/courses for what there is,
// /v1/me/courses for what they started, and a course page listing its
// sessions (lessons) with start / complete / not done.
import { useState } from "preact/hooks";
import { api, all, useLoad, Loaded, FormError, Page, Empty } from "./kit.jsx";

function done(c) {
  const n = c.sessions.filter((s) => s.completed).length;
  return { n, of: c.sessions.length };
}

export function Courses() {
  const load = useLoad(async () => {
    const [courses, mine] = await Promise.all([all("/v1/courses"), all("/v1/me/courses")]);
    const byId = new Map(mine.map((m) => [m.course.id, m]));
    return courses.map((c) => ({ ...c, mine: byId.get(c.id) || null }));
  }, []);
  return (
    <Page title="Your courses">
      <Loaded load={load} what="courses" empty={(d) => d.length === 0} emptyText="There are no courses for you yet.">
        {(rows) => (
          <ul class="cards">
            {rows.map((c) => {
              const p = c.mine && done(c.mine);
              return (
                <li key={c.id} class="card">
                  <h2>
                    <a href={`/courses/${c.id}`}>{c.name}</a>
                  </h2>
                  {c.description && <p>{c.description}</p>}
                  {p ? (
                    <>
                      <progress max={p.of || 1} value={p.n} aria-label={`${c.name}: progress`} />
                      <p class="meta">
                        {c.mine.completed ? "Completed" : `${p.n} of ${p.of} sessions done`}
                      </p>
                    </>
                  ) : (
                    <p class="meta">Not started</p>
                  )}
                </li>
              );
            })}
          </ul>
        )}
      </Loaded>
    </Page>
  );
}

export function Course({ params }) {
  const id = params.id;
  const load = useLoad(async () => {
    const [course, sessions, mine] = await Promise.all([
      api.get(`/v1/courses/${encodeURIComponent(id)}`),
      all(`/v1/course-sessions?course_id=${encodeURIComponent(id)}`),
      all("/v1/me/courses"),
    ]);
    const progress = mine.find((m) => m.course.id === id) || null;
    const byId = new Map(((progress && progress.sessions) || []).map((s) => [s.id, s]));
    return { course, progress, sessions: sessions.map((s) => ({ ...s, p: byId.get(s.id) || null })) };
  }, [id]);
  return (
    <Loaded load={load} what="the course">
      {({ course, progress, sessions }) => (
        <Page title={course.name}>
          <p>
            <a href="/courses">All courses</a>
          </p>
          {course.description && <p>{course.description}</p>}
          {progress && progress.completed && (
            <p class="ok" role="status">
              You completed this course.
            </p>
          )}
          {sessions.length === 0 ? (
            <Empty>This course has no sessions yet.</Empty>
          ) : (
            <ol class="rows">
              {sessions.map((s) => (
                <Lesson key={s.id} s={s} onChange={load.reload} />
              ))}
            </ol>
          )}
        </Page>
      )}
    </Loaded>
  );
}

function Lesson({ s, onChange }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(/** @type {any} */ (null));
  const state = s.p && s.p.completed ? "completed" : s.p && s.p.started_at ? "started" : "not started";
  const act = async (verb) => {
    setBusy(true);
    setError(null);
    try {
      await api.post(`/v1/course-sessions/${s.id}/${verb}`);
      onChange();
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };
  return (
    <li data-session={s.id}>
      <span>
        <strong>{s.name}</strong> <span class={`tag tag-${state.replace(" ", "-")}`}>{state}</span>
      </span>
      <span class="buttons">
        {state === "not started" && (
          <button type="button" disabled={busy} onClick={() => act("start")} aria-label={`Start: ${s.name}`}>
            Start
          </button>
        )}
        {state !== "completed" && (
          <button type="button" disabled={busy} onClick={() => act("complete")} aria-label={`Mark done: ${s.name}`}>
            Mark done
          </button>
        )}
        {state === "completed" && (
          <button type="button" disabled={busy} onClick={() => act("incomplete")} aria-label={`Not done yet: ${s.name}`}>
            Not done yet
          </button>
        )}
      </span>
      <FormError error={error} />
    </li>
  );
}
