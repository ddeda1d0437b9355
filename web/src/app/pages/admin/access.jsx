// A partner's access codes and members (issue 18 item 5): /partner/codes
// makes codes, one or many (one POST /v1/partner-access each: the API
// makes one at a time), shows them once, as the API answers the code only
// then, and offers them as a CSV file made in the page; /partner/members
// lists the accesses redeemed (a partner admin's partner's; an admin's,
// every partner's) with the sessions each has left, changed with If-Match
// (a booking may spend one meanwhile: 412, "changed meanwhile, reload").
// The API lets only admins change the sessions of an existing access; a
// partner admin may end one (is_active).
import { useState } from "preact/hooks";
import { useSession } from "../../session.js";
import { formatDateTime } from "../../time.js";
import { ApiError, api, all, useLoad, Loaded, Field, useSubmit, FormError, ConfirmDialog, Time, Page } from "../me/kit.jsx";
import { readTagged, patchTagged, changedMeanwhile, saveBlob, csv, shortId, AdminTable } from "./kit.jsx";

// One form makes at most this many codes (one request each).
const CODES_MAX = 50;

export function AccessCodes() {
  const session = useSession();
  const isAdmin = session.user && session.user.role === "admin";
  const partners = useLoad(() => (isAdmin ? all("/v1/partners?is_active=true") : Promise.resolve([])), [isAdmin]);
  const [v, setV] = useState({ count: "1", sessions: "6", therapy: true, chat: true, partner_id: "" });
  const [made, setMade] = useState(/** @type {any[]} */ ([]));
  const f = useSubmit(async () => {
    const n = Number(v.count);
    if (!Number.isInteger(n) || n < 1 || n > CODES_MAX)
      throw new ApiError(422, "INVALID_COUNT", "The form needs a change.", [{ field: "count", code: "out_of_range", detail: `A whole number from 1 to ${CODES_MAX}.` }]);
    /** @type {any} */
    const body = {
      feature_therapy: v.therapy,
      feature_live_chat: v.chat,
      therapy_sessions_remaining: v.sessions === "" ? 0 : Number(v.sessions),
    };
    if (isAdmin) body.partner_id = v.partner_id;
    const out = [];
    try {
      for (let i = 0; i < n; i++) out.push(await api.post("/v1/partner-access", body));
    } finally {
      // Those made before a failure are shown too: their codes are not shown again.
      setMade(out);
    }
    return out;
  });
  const set = (k) => (x) => setV({ ...v, [k]: x });

  const saveCsv = () => {
    const text = csv(
      ["code", "partner", "live_chat", "therapy", "therapy_sessions", "created_at"],
      made.map((a) => [a.code, a.partner_name, a.feature_live_chat, a.feature_therapy, a.therapy_sessions_remaining, a.created_at]),
    );
    saveBlob(new Blob([text], { type: "text/csv" }), `access-codes-${new Date().toISOString().slice(0, 10)}.csv`);
  };

  return (
    <Page title="Access codes">
      <p class="meta">
        Each code gives one person the features below when they register with it or enter it in the app. A code is shown only
        here, once, when it is made: download them or copy them before leaving the page.
      </p>
      <form class="card" onSubmit={f.onSubmit} aria-labelledby="h-make" noValidate>
        <h2 id="h-make">Make codes</h2>
        <FormError error={f.error} />
        {isAdmin && (
          <Loaded load={partners} what="the partners" empty={(d) => d.length === 0} emptyText="There is no active partner.">
            {(rows) => (
              <div class={"field" + (f.fields.partner_id ? " field-bad" : "")}>
                <label for="f-partner">Partner</label>
                <select id="f-partner" name="partner_id" value={v.partner_id} onChange={(e) => set("partner_id")(e.currentTarget.value)} aria-invalid={f.fields.partner_id ? "true" : undefined} aria-describedby={f.fields.partner_id ? "f-partner-err" : undefined}>
                  <option value="">Choose a partner</option>
                  {rows.map((p) => (
                    <option key={p.id} value={p.id}>
                      {p.name}
                    </option>
                  ))}
                </select>
                {f.fields.partner_id && (
                  <small id="f-partner-err" class="field-error">
                    {f.fields.partner_id}
                  </small>
                )}
              </div>
            )}
          </Loaded>
        )}
        <Field label="How many codes" name="count" type="number" min="1" max={CODES_MAX} inputMode="numeric" value={v.count} onInput={set("count")} errors={f.fields} />
        <Field label="Therapy sessions each" name="therapy_sessions_remaining" type="number" min="0" max="6" hint="0 to 6" value={v.sessions} onInput={set("sessions")} errors={f.fields} />
        <div class="field check">
          <label class="choice">
            <input type="checkbox" name="feature_therapy" checked={v.therapy} onChange={(e) => set("therapy")(e.currentTarget.checked)} />
            Therapy
          </label>
          <label class="choice">
            <input type="checkbox" name="feature_live_chat" checked={v.chat} onChange={(e) => set("chat")(e.currentTarget.checked)} />
            Live chat
          </label>
        </div>
        <button type="submit" class="primary" disabled={f.busy}>
          {f.busy ? "Making…" : "Make codes"}
        </button>
      </form>
      {made.length > 0 && (
        <section class="card" aria-labelledby="h-made">
          <h2 id="h-made">{made.length === 1 ? "Your new code" : `Your ${made.length} new codes`}</h2>
          <p role="status">Shown this once. Download them now: they cannot be shown again.</p>
          <button type="button" onClick={saveCsv}>
            Download as CSV
          </button>
          <ul class="rows codes">
            {made.map((a) => (
              <li key={a.id} data-code={a.code}>
                <code>{a.code}</code>
                <small>
                  {a.therapy_sessions_remaining} sessions{a.feature_live_chat ? ", live chat" : ""} · {a.partner_name}
                </small>
              </li>
            ))}
          </ul>
        </section>
      )}
    </Page>
  );
}

export function Members() {
  const session = useSession();
  const isAdmin = session.user && session.user.role === "admin";
  const [showAll, setShowAll] = useState(false);
  const load = useLoad(() => all(`/v1/partner-access${showAll ? "" : "?redeemed=true"}`, 1000), [showAll]);
  const [edit, setEdit] = useState(/** @type {any} */ (null));
  return (
    <Page title="Members and their sessions">
      <p class="meta">
        {isAdmin
          ? "Every partner's accesses. Change the sessions someone has left with Edit."
          : "The people who redeemed your partner's codes, and the therapy sessions each has left. Only an admin changes the sessions of an access; you may end one."}
      </p>
      <div class="field check">
        <label class="choice">
          <input type="checkbox" checked={showAll} onChange={(e) => setShowAll(e.currentTarget.checked)} />
          Show codes not redeemed yet
        </label>
      </div>
      <Loaded load={load} what="the members" empty={(d) => d.length === 0} emptyText={showAll ? "No code has been made yet." : "No one has redeemed a code yet."}>
        {(rows) => (
          <AdminTable caption={`${rows.length} ${rows.length === 1 ? "access" : "accesses"}`} head={["Member", isAdmin && "Partner", "Redeemed", "Sessions left", "Used", "Active", { sr: "Actions" }]}>
            {rows.map((a) => (
              <tr key={a.id} data-access={a.id}>
                <td>{a.user_id ? <code title={a.user_id}>{shortId(a.user_id)}</code> : <span class="meta">not redeemed</span>}</td>
                {isAdmin && <td>{a.partner_name}</td>}
                <td>{a.activated_at ? <Time iso={a.activated_at} /> : "—"}</td>
                <td data-left={a.therapy_sessions_remaining}>{a.therapy_sessions_remaining}</td>
                <td>{a.therapy_sessions_redeemed}</td>
                <td>{a.is_active ? "yes" : "no"}</td>
                <td>
                  <button type="button" onClick={() => setEdit(a)} aria-label={`Edit the access of ${a.user_id ? "member " + shortId(a.user_id) : "code " + shortId(a.id)}`}>
                    Edit
                  </button>
                </td>
              </tr>
            ))}
          </AdminTable>
        )}
      </Loaded>
      {edit && <EditAccess key={edit.id} id={edit.id} isAdmin={!!isAdmin} onClose={() => setEdit(null)} onSaved={load.reload} />}
    </Page>
  );
}

// One access, read with its ETag and changed against it.
function EditAccess({ id, isAdmin, onClose, onSaved }) {
  const path = `/v1/partner-access/${encodeURIComponent(id)}`;
  const row = useLoad(() => readTagged(path), [id]);
  const [v, setV] = useState(/** @type {any} */ (null));
  const [confirmEnd, setConfirmEnd] = useState(false);
  const cur = row.data && row.data.data;
  const vals = v || (cur ? { sessions: String(cur.therapy_sessions_remaining), active: cur.is_active } : null);
  const f = useSubmit(
    async () => {
      /** @type {any} */
      const body = {};
      if (isAdmin && vals.sessions !== String(cur.therapy_sessions_remaining)) body.therapy_sessions_remaining = vals.sessions === "" ? null : Number(vals.sessions);
      if (vals.active !== cur.is_active) body.is_active = vals.active;
      if (Object.keys(body).length === 0) return null;
      return patchTagged(path, body, row.data.etag);
    },
    (out) => {
      setConfirmEnd(false);
      if (out) onSaved();
      onClose();
    },
  );
  const save = (e) => {
    if (e) e.preventDefault();
    // Ending an access stops its code and its grant: asked first.
    if (cur && cur.is_active && vals && !vals.active && !confirmEnd) return setConfirmEnd(true);
    f.onSubmit();
  };
  const stale = changedMeanwhile(f.error);
  return (
    <section class="card" aria-labelledby="h-edit">
      <h2 id="h-edit">Edit access {shortId(id)}</h2>
      <Loaded load={row} what="the access">
        {() => (
          <form onSubmit={save} noValidate>
            {stale ? (
              <div class="form-error" role="alert">
                <p>This access changed meanwhile (a booking may have spent a session). Reload it to see the sessions now left, then change them again.</p>
                <button type="button" onClick={() => (setV(null), f.setError(null), row.reload())}>
                  Reload
                </button>
              </div>
            ) : (
              <FormError error={f.error} />
            )}
            <p class="meta">
              Used: {cur.therapy_sessions_redeemed}. Last changed <Time iso={cur.updated_at} />.
            </p>
            {isAdmin ? (
              <Field label="Sessions left" name="therapy_sessions_remaining" type="number" min="0" max="50" hint="0 to 50" value={vals.sessions} onInput={(x) => setV({ ...vals, sessions: x })} errors={f.fields} />
            ) : (
              <p>
                Sessions left: <strong>{cur.therapy_sessions_remaining}</strong>
              </p>
            )}
            <div class="field check">
              <label class="choice">
                <input type="checkbox" name="is_active" checked={vals.active} onChange={(e) => setV({ ...vals, active: e.currentTarget.checked })} />
                Active (the code works and the grant holds)
              </label>
            </div>
            <div class="buttons">
              <button type="submit" class="primary" disabled={f.busy}>
                {f.busy ? "Saving…" : "Save"}
              </button>
              <button type="button" onClick={onClose}>
                Close
              </button>
            </div>
            <ConfirmDialog
              open={confirmEnd}
              title="End this access?"
              confirmLabel="End the access"
              busy={f.busy}
              error={f.error}
              onConfirm={() => f.onSubmit()}
              onCancel={() => setConfirmEnd(false)}
            >
              <p>Its code stops working and the member loses what it granted, from {formatDateTime(new Date().toISOString())}.</p>
            </ConfirmDialog>
          </form>
        )}
      </Loaded>
    </section>
  );
}
