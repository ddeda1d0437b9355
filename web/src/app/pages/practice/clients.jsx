// /practice/clients and /practice/clients/:id: the people the therapist
// leads (active practitioner_of relationships) and one client's page:
// their sessions with this therapist, their scored form answers over time
// (a line chart per form, drawn here as SVG, with the same figures in a
// table), sending them a form, what is assigned to them from the
// library, and their recordings.
//
// Sending a form: carebase keeps no record of a form "sent" (a client may
// answer any active form), so a form is sent as the library does
// everything else: a link resource to the form's page (/forms/{id}, made
// once per form in the therapist's library) assigned to the client, which
// shows on their /resources page with the therapist's note.
import { useState } from "preact/hooks";
import { api, all, useLoad, Loaded, Page, Time, Empty, useSubmit, FormError } from "../me/kit.jsx";
import { formatDate } from "../../time.js";
import { practice, fullName, STATUS, Control } from "./kit.jsx";
import { AssignForm, Assignments } from "./library.jsx";

export function Clients() {
  const load = useLoad(practice, []);
  return (
    <Page title="Your clients">
      <Loaded load={load} what="your clients" empty={(d) => d.clients.length === 0} emptyText="You lead no clients yet.">
        {(d) => (
          <ul class="rows">
            {d.clients.map((c) => (
              <li key={c.id}>
                <span>
                  <a href={`/practice/clients/${c.id}`} data-client={c.id}>
                    {fullName(c)}
                  </a>
                  <br />
                  <small>{c.email}</small>
                </span>
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </Page>
  );
}

export function Client({ params }) {
  const id = params.id;
  const q = encodeURIComponent(id);
  const load = useLoad(async () => {
    const p = await practice();
    const client = p.clients.find((c) => c.id === id);
    if (!client) return { p, client: null };
    const [sessions, responses, forms, assigned, library, recordings] = await Promise.all([
      p.profile ? all(`/v1/therapy-sessions?client_id=${q}&therapist_id=${encodeURIComponent(p.profile.id)}&sort=-start_time`, 200) : [],
      all(`/v1/form-responses?client_id=${q}&sort=submitted_at`, 1000),
      all("/v1/forms?is_active=true"),
      all(`/v1/resource-assignments?client_id=${q}`),
      all("/v1/resources"),
      all(`/v1/recordings?user_id=${q}`),
    ]);
    return { p, client, sessions, responses, forms, assigned, library, recordings };
  }, [id]);
  return (
    <Page title="Client">
      <p>
        <a href="/practice/clients">All your clients</a>
      </p>
      <Loaded load={load} what="the client" empty={(d) => !d.client} emptyText="You do not lead this person (or no longer do).">
        {(d) => (
          <>
            <h2 class="client-name">{fullName(d.client)}</h2>
            <p class="meta">{d.client.email}</p>
            <Sessions rows={d.sessions} />
            <Scores responses={d.responses} forms={d.forms} />
            <SendForm client={d.client} forms={d.forms} library={d.library} onSent={load.reload} />
            <section aria-labelledby="h-assigned" class="card">
              <h2 id="h-assigned">Assigned resources</h2>
              <Assignments rows={d.assigned} library={d.library} clients={[d.client]} />
              <AssignForm library={d.library} clients={[d.client]} onDone={load.reload} />
            </section>
            <Recordings rows={d.recordings} />
          </>
        )}
      </Loaded>
    </Page>
  );
}

/** @param {{rows: any[]}} props */
function Sessions({ rows }) {
  return (
    <section aria-labelledby="h-sessions" class="card">
      <h2 id="h-sessions">Sessions with you</h2>
      {rows.length === 0 ? (
        <Empty>No sessions yet: book one in your calendar.</Empty>
      ) : (
        <ul class="rows">
          {rows.slice(0, 20).map((s) => (
            <li key={s.id}>
              <a href={`/practice/sessions/${s.id}`}>
                <Time iso={s.start_time} />
              </a>
              <span class="tag">{STATUS[s.status] || s.status}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

// Scores over time, one chart per scored form the client answered.
/** @param {{responses: any[], forms: any[]}} props */
function Scores({ responses, forms }) {
  const scored = responses.filter((r) => r.score && typeof r.score.total === "number");
  const byForm = new Map();
  for (const r of scored) {
    if (!byForm.has(r.form_id)) byForm.set(r.form_id, []);
    byForm.get(r.form_id).push(r);
  }
  const title = new Map(forms.map((f) => [f.id, f.title]));
  return (
    <section aria-labelledby="h-scores" class="card">
      <h2 id="h-scores">Form scores over time</h2>
      {byForm.size === 0 ? (
        <Empty>No scored answers yet (PHQ-9 and GAD-7 are scored).</Empty>
      ) : (
        [...byForm.entries()].map(([fid, rows]) => <ScoreChart key={fid} id={fid} title={title.get(fid) || "A form"} rows={rows} />)
      )}
    </section>
  );
}

const W = 560;
const H = 200;
const PAD = { l: 36, r: 12, t: 12, b: 28 };

// A small line chart of one form's totals: the x axis the answers'
// times, the y axis 0 to the form's maximum. Drawn with attributes only
// (the policy allows no style attribute); the table under it holds the
// same figures for whoever does not see the chart.
/** @param {{id: string, title: string, rows: any[]}} props */
function ScoreChart({ id, title, rows }) {
  const pts = [...rows].sort((a, b) => (a.submitted_at < b.submitted_at ? -1 : 1));
  const max = Math.max(1, ...pts.map((r) => Number(r.score.max) || 0), ...pts.map((r) => r.score.total));
  const t0 = new Date(pts[0].submitted_at).getTime();
  const t1 = new Date(pts[pts.length - 1].submitted_at).getTime();
  const x = (/** @type {number} */ t) => (t1 === t0 ? (PAD.l + W - PAD.r) / 2 : PAD.l + ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r));
  const y = (/** @type {number} */ v) => PAD.t + (1 - v / max) * (H - PAD.t - PAD.b);
  const xy = pts.map((r) => [x(new Date(r.submitted_at).getTime()), y(r.score.total)]);
  const titleId = `score-${id}-title`;
  const last = pts[pts.length - 1];
  return (
    <figure class="chart score-chart" data-form={id}>
      <h3>{title}</h3>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={titleId} data-points={pts.length}>
        <title id={titleId}>
          {title} scores: {pts.length} answer{pts.length > 1 ? "s" : ""}, the latest {last.score.total} of {max}
          {last.score.severity ? ` (${last.score.severity})` : ""}.
        </title>
        <rect class="chart-bg" x={PAD.l} y={PAD.t} width={W - PAD.l - PAD.r} height={H - PAD.t - PAD.b} />
        {[0, max / 2, max].map((v) => (
          <g key={v}>
            <line class="chart-grid" x1={PAD.l} x2={W - PAD.r} y1={y(v)} y2={y(v)} />
            <text class="chart-label" x={PAD.l - 4} y={y(v) + 4} text-anchor="end">
              {Math.round(v)}
            </text>
          </g>
        ))}
        <polyline class="chart-line" points={xy.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" ")} />
        {xy.map(([a, b], i) => (
          <circle key={pts[i].id} class="chart-dot" cx={a.toFixed(1)} cy={b.toFixed(1)} r="4" />
        ))}
        <text class="chart-label" x={PAD.l} y={H - 8}>
          {formatDate(pts[0].submitted_at)}
        </text>
        {pts.length > 1 && (
          <text class="chart-label" x={W - PAD.r} y={H - 8} text-anchor="end">
            {formatDate(last.submitted_at)}
          </text>
        )}
      </svg>
      {/* Focusable: a phone scrolls the table sideways with the keyboard. */}
      <div class="table-wrap" tabIndex={0} role="region" aria-label={`${title}: every answer`}>
        <table>
          <caption>{title}: every answer</caption>
          <thead>
            <tr>
              <th scope="col">Answered</th>
              <th scope="col">Score</th>
              <th scope="col">Band</th>
            </tr>
          </thead>
          <tbody>
            {pts.map((r) => (
              <tr key={r.id} data-score={r.score.total}>
                <td>
                  <Time iso={r.submitted_at} />
                </td>
                <td>
                  {r.score.total} of {r.score.max ?? max}
                </td>
                <td>{r.score.severity || ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}

// A form's page as a resource of the therapist's library: the one made
// before for this form, else a new one; then assigned to the client.
/** @param {{client: any, forms: any[], library: any[], onSent: () => void}} props */
function SendForm({ client, forms, library, onSent }) {
  const [v, setV] = useState({ form_id: forms.length ? forms[0].id : "", notes: "" });
  const [sent, setSent] = useState(/** @type {string | null} */ (null));
  const form = useSubmit(
    async () => {
      setSent(null);
      const f = forms.find((x) => x.id === v.form_id);
      if (!f) return null;
      const url = `/forms/${f.id}`;
      let res = library.find((r) => r.url === url);
      if (!res)
        res = await api.post("/v1/resources", {
          title: f.title,
          description: f.description || `The ${f.title} form, to fill in on this site.`,
          type: "link",
          url,
          tags: ["form"],
        });
      await api.post("/v1/resource-assignments", { resource_id: res.id, client_id: client.id, notes: v.notes.trim() || null });
      return f.title;
    },
    (title) => {
      setSent(title);
      setV({ ...v, notes: "" });
      onSent();
    },
  );
  if (forms.length === 0) return null;
  return (
    <section aria-labelledby="h-send" class="card">
      <h2 id="h-send">Send a form</h2>
      <p class="hint">It shows on the client's resources with a link to fill it in; their answers come here.</p>
      <form onSubmit={form.onSubmit} noValidate aria-labelledby="h-send">
        <Control label="Form" name="form_id" errors={form.fields} value={v.form_id} onInput={(x) => setV({ ...v, form_id: x })} options={forms.map((f) => [f.id, f.title])} />
        <Control label="A note for the client (optional)" name="notes" rows={2} errors={form.fields} value={v.notes} onInput={(x) => setV({ ...v, notes: x })} />
        <FormError error={form.error} />
        <p class="buttons">
          <button type="submit" disabled={form.busy}>
            {form.busy ? "Sending…" : "Send the form"}
          </button>
          {sent && (
            <span class="ok" role="status">
              {sent} sent to {fullName(client)}.
            </span>
          )}
        </p>
      </form>
    </section>
  );
}

/** @param {{rows: any[]}} props */
function Recordings({ rows }) {
  const sorted = [...rows].sort((a, b) => (a.started_at < b.started_at ? 1 : -1));
  return (
    <section aria-labelledby="h-recordings" class="card">
      <h2 id="h-recordings">Recordings</h2>
      {sorted.length === 0 ? (
        <Empty>No recordings.</Empty>
      ) : (
        <ul class="rows">
          {sorted.map((r) => (
            <li key={r.id}>
              <span>
                <a href={`/practice/recordings/${r.id}`}>
                  <Time iso={r.started_at} />
                </a>
                <span class="tag">{r.status}</span>
                <br />
                <small>{r.points} points</small>
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
