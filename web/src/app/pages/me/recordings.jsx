// /recordings and /recordings/:id: the person's biometric recordings and
// a chart of one channel drawn here as SVG from the points route's buckets
// (min, max and mean per bucket: GET /v1/recordings/{id}/points?buckets=N
// reads only the blocks in the window), zoomed by choosing a time range.
import { useState } from "preact/hooks";
import { api, all, useLoad, Loaded, Time, Page, useId, Empty } from "./kit.jsx";

export function Recordings() {
  const load = useLoad(async () => {
    const [recs, exercises, types] = await Promise.all([all("/v1/recordings"), all("/v1/exercises"), all("/v1/data-types")]);
    const ex = new Map(exercises.map((e) => [e.id, e.name]));
    const ty = new Map(types.map((t) => [t.id, t.name]));
    return recs.map((r) => ({ ...r, exercise: ex.get(r.exercise_id), type: ty.get(r.data_type_id) }));
  }, []);
  return (
    <Page title="Your recordings">
      <Loaded load={load} what="your recordings" empty={(d) => d.length === 0} emptyText="You have no recordings.">
        {(rows) => (
          <ul class="rows">
            {[...rows]
              .sort((a, b) => (a.started_at < b.started_at ? 1 : -1))
              .map((r) => (
                <li key={r.id}>
                  <span>
                    <a href={`/recordings/${r.id}`}>
                      {r.type || "Recording"}
                      {r.exercise ? `: ${r.exercise}` : ""}
                    </a>
                    <br />
                    <small>
                      <Time iso={r.started_at} /> · {r.points} points · <span class="tag">{r.status}</span>
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

export function Recording({ params }) {
  const id = encodeURIComponent(params.id);
  const load = useLoad(async () => {
    const [rec, ch] = await Promise.all([api.get(`/v1/recordings/${id}`), api.get(`/v1/recordings/${id}/channels`)]);
    return { rec, ch };
  }, [id]);
  return (
    <Page title="Recording">
      <p>
        <a href="/recordings">All recordings</a>
      </p>
      <Loaded load={load} what="the recording">
        {({ rec, ch }) => (
          <>
            <p class="meta">
              {ch.data_type} · <Time iso={rec.started_at} />
              {rec.ended_at && (
                <>
                  {" "}
                  to <Time iso={rec.ended_at} />
                </>
              )}{" "}
              · <span class="tag">{rec.status}</span>
            </p>
            {ch.channels.length === 0 ? (
              <Empty>This recording has no points.</Empty>
            ) : (
              <Channels id={id} ch={ch} />
            )}
          </>
        )}
      </Loaded>
    </Page>
  );
}

// <input type="datetime-local"> speaks local time without a zone.
function toLocal(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
function fromLocal(s) {
  const t = new Date(s).getTime();
  return isNaN(t) ? null : t;
}

const BUCKETS = 240;

export function Channels({ id, ch }) {
  const [name, setName] = useState(ch.channels[0].name);
  const c = ch.channels.find((x) => x.name === name) || ch.channels[0];
  // The window asked for: [from, to), ms; the whole channel at first.
  const [win, setWin] = useState({ from: c.from, to: c.to + 1 });
  const [draft, setDraft] = useState({ from: toLocal(c.from), to: toLocal(c.to + 1000) });
  const [bad, setBad] = useState(/** @type {string | null} */ (null));
  const selId = useId("channel");
  const points = useLoad(
    () => api.get(`/v1/recordings/${id}/points?channel=${encodeURIComponent(c.name)}&from=${win.from}&to=${win.to}&buckets=${BUCKETS}`),
    [id, c.name, win.from, win.to],
  );
  const go = (from, to) => {
    setBad(null);
    setWin({ from, to });
    setDraft({ from: toLocal(from), to: toLocal(to) });
  };
  const apply = (e) => {
    e.preventDefault();
    const from = fromLocal(draft.from);
    const to = fromLocal(draft.to);
    if (from == null || to == null || to <= from) {
      setBad("Choose a start before the end.");
      return;
    }
    go(from, to);
  };
  const span = win.to - win.from;
  const mid = win.from + span / 2;
  return (
    <section aria-labelledby="h-chart" class="card">
      <h2 id="h-chart">Chart</h2>
      {ch.channels.length > 1 && (
        <div class="field">
          <label for={selId}>Channel</label>
          <select
            id={selId}
            value={c.name}
            onChange={(e) => {
              const n = ch.channels.find((x) => x.name === e.currentTarget.value);
              setName(n.name);
              go(n.from, n.to + 1);
            }}
          >
            {ch.channels.map((x) => (
              <option key={x.name} value={x.name}>
                {x.name}
              </option>
            ))}
          </select>
        </div>
      )}
      <form class="range" onSubmit={apply} noValidate aria-label="Time range">
        <div class="field">
          <label for="range-from">From</label>
          <input id="range-from" type="datetime-local" step="1" value={draft.from} onInput={(e) => setDraft({ ...draft, from: e.currentTarget.value })} />
        </div>
        <div class="field">
          <label for="range-to">To</label>
          <input id="range-to" type="datetime-local" step="1" value={draft.to} onInput={(e) => setDraft({ ...draft, to: e.currentTarget.value })} />
        </div>
        <button type="submit">Show this range</button>
        {bad && (
          <p class="field-error" role="alert">
            {bad}
          </p>
        )}
      </form>
      <p class="buttons">
        <button type="button" onClick={() => go(c.from, c.to + 1)}>
          Whole recording
        </button>
        <button type="button" onClick={() => go(win.from, Math.ceil(mid))}>
          First half
        </button>
        <button type="button" onClick={() => go(Math.floor(mid), win.to)}>
          Second half
        </button>
      </p>
      <Loaded load={points} what="the points" empty={(p) => !p.t || p.t.length === 0} emptyText="No points in this range.">
        {(p) => <Chart p={p} win={win} />}
      </Loaded>
    </section>
  );
}

const W = 640;
const H = 240;
const PAD = { l: 48, r: 8, t: 8, b: 28 };

function Chart({ p, win }) {
  const k = p.scale ?? 1;
  const o = p.offset ?? 0;
  const v = (n) => o + k * n;
  const idx = p.t.map((_, i) => i).filter((i) => p.count[i] > 0);
  if (idx.length === 0) return <Empty>No points in this range.</Empty>;
  let lo = Infinity;
  let hi = -Infinity;
  for (const i of idx) {
    lo = Math.min(lo, v(p.min[i]), v(p.max[i]));
    hi = Math.max(hi, v(p.min[i]), v(p.max[i]));
  }
  if (hi === lo) (hi += 1), (lo -= 1);
  const x = (t) => PAD.l + ((t - win.from) / (win.to - win.from)) * (W - PAD.l - PAD.r);
  const y = (val) => PAD.t + (1 - (val - lo) / (hi - lo)) * (H - PAD.t - PAD.b);
  const mid = (i) => p.t[i] + (p.bucket_ms || 0) / 2;
  const line = idx.map((i) => `${x(mid(i)).toFixed(1)},${y(v(p.mean[i])).toFixed(1)}`).join(" ");
  const band =
    idx.map((i) => `${x(mid(i)).toFixed(1)},${y(v(p.max[i])).toFixed(1)}`).join(" ") +
    " " +
    [...idx]
      .reverse()
      .map((i) => `${x(mid(i)).toFixed(1)},${y(v(p.min[i])).toFixed(1)}`)
      .join(" ");
  const fmt = (n) => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2));
  const tf = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
  const n = idx.reduce((s, i) => s + p.count[i], 0);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="chart-title chart-desc" data-buckets={idx.length}>
        <title id="chart-title">
          {p.data_type} {p.channel} ({p.unit})
        </title>
        <desc id="chart-desc">
          {n} points from {tf.format(new Date(win.from))} to {tf.format(new Date(win.to))}, between {fmt(lo)} and {fmt(hi)} {p.unit}.
        </desc>
        <rect class="chart-bg" x={PAD.l} y={PAD.t} width={W - PAD.l - PAD.r} height={H - PAD.t - PAD.b} />
        {[lo, (lo + hi) / 2, hi].map((val) => (
          <g key={val}>
            <line class="chart-grid" x1={PAD.l} x2={W - PAD.r} y1={y(val)} y2={y(val)} />
            <text class="chart-label" x={PAD.l - 4} y={y(val) + 4} text-anchor="end">
              {fmt(val)}
            </text>
          </g>
        ))}
        <polygon class="chart-band" points={band} />
        <polyline class="chart-line" points={line} />
        <text class="chart-label" x={PAD.l} y={H - 8}>
          {tf.format(new Date(win.from))}
        </text>
        <text class="chart-label" x={W - PAD.r} y={H - 8} text-anchor="end">
          {tf.format(new Date(win.to))}
        </text>
      </svg>
      <figcaption>
        {p.channel} in {p.unit}: the line is the mean of each of {idx.length} slices, the band their lowest and highest.
      </figcaption>
    </figure>
  );
}
