// /admin/users (issue 18 item 6): people found by address (GET /v1/users
// ?email=, the blind index: the whole address, as the API compares it) or
// by role; staff made with an invitation mail (POST /v1/users with a staff
// role: the server mails the link to choose a password); a role changed
// (the person's sessions end), an account deactivated (is_active false:
// sessions and mailed links end) after a confirmation, and erased (POST
// /v1/users/{id}/erase: the data key goes, for good) only after the word
// "erase" is typed.
import { useState } from "preact/hooks";
import { api, all, useLoad, Loaded, Field, useSubmit, FormError, ConfirmDialog, Time, Page } from "../me/kit.jsx";

// The people the list shows at most: a search by address or role narrows it.
const LIST_MAX = 200;
const ROLES = ["member", "therapist", "instructor", "partner_admin", "admin"];
const STAFF = ROLES.filter((r) => r !== "member");
const LABEL = { member: "Member", therapist: "Therapist", instructor: "Instructor", partner_admin: "Partner admin", admin: "Admin" };

/** @param {any} u */
function nameOf(u) {
  const n = [u.first_name, u.last_name].filter(Boolean).join(" ");
  return n || u.email || u.id;
}

export function Users() {
  const [q, setQ] = useState({ email: "", role: "", inactive: false });
  const [asked, setAsked] = useState(q);
  const load = useLoad(() => {
    const p = new URLSearchParams();
    if (asked.email.trim()) p.set("email", asked.email.trim());
    if (asked.role) p.set("role", asked.role);
    if (!asked.inactive) p.set("is_active", "true");
    return all(`/v1/users?${p}`, LIST_MAX);
  }, [asked]);
  const [made, setMade] = useState(/** @type {string | null} */ (null));
  // What was last done to whom: kept here, as the row may leave the list.
  const [msg, setMsg] = useState("");
  return (
    <Page title="Users">
      <form
        class="card toolbar"
        role="search"
        aria-label="Find people"
        onSubmit={(e) => {
          e.preventDefault();
          setAsked({ ...q });
        }}
      >
        <div class="field">
          <label for="f-search-email">Email address</label>
          <small id="f-search-email-hint" class="hint">
            The whole address: addresses are kept sealed, so only an exact match is found.
          </small>
          <input id="f-search-email" type="email" value={q.email} aria-describedby="f-search-email-hint" onInput={(e) => setQ({ ...q, email: e.currentTarget.value })} maxLength={320} />
        </div>
        <div class="field">
          <label for="f-search-role">Role</label>
          <select id="f-search-role" value={q.role} onChange={(e) => setQ({ ...q, role: e.currentTarget.value })}>
            <option value="">Any role</option>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {LABEL[r]}
              </option>
            ))}
          </select>
        </div>
        <div class="field check">
          <label class="choice">
            <input type="checkbox" checked={q.inactive} onChange={(e) => setQ({ ...q, inactive: e.currentTarget.checked })} />
            Include deactivated
          </label>
        </div>
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      <section aria-labelledby="h-found">
        <h2 id="h-found">People</h2>
        <p role="status" class="ok">
          {msg}
        </p>
        <Loaded load={load} what="people" empty={(d) => d.length === 0} emptyText="No one matches.">
          {(rows) => <UserList rows={rows} onChange={load.reload} setMsg={setMsg} />}
        </Loaded>
      </section>
      <NewStaff
        onMade={(email) => {
          setMade(email);
          load.reload();
        }}
      />
      {made && (
        <p role="status" class="ok">
          {`${made} was made and sent an invitation to choose a password.`}
        </p>
      )}
    </Page>
  );
}

function UserList({ rows, onChange, setMsg }) {
  const [act, setAct] = useState(/** @type {{kind: string, user: any} | null} */ (null));
  const [roles, setRoles] = useState(/** @type {Record<string, string>} */ ({}));
  const f = useSubmit(
    async () => {
      if (!act) return;
      const id = encodeURIComponent(act.user.id);
      if (act.kind === "role") return api.patch(`/v1/users/${id}`, { role: roles[act.user.id] });
      if (act.kind === "deactivate") return api.patch(`/v1/users/${id}`, { is_active: false });
      if (act.kind === "activate") return api.patch(`/v1/users/${id}`, { is_active: true });
      if (act.kind === "erase") return api.post(`/v1/users/${id}/erase`);
    },
    () => {
      const done = { role: "Role changed", deactivate: "Deactivated", activate: "Activated", erase: "Erased" };
      setMsg(act ? `${done[act.kind]}: ${nameOf(act.user)}.` : "");
      setAct(null);
      onChange();
    },
  );
  const start = (kind, user) => {
    f.setError(null);
    setMsg("");
    setAct({ kind, user });
  };
  const titles = {
    role: "Change this person's role?",
    deactivate: "Deactivate this account?",
    activate: "Activate this account again?",
    erase: "Erase this person for good?",
  };
  return (
    <>
      {rows.length >= LIST_MAX && <p class="meta">{`The first ${rows.length} are shown: search by address or role to find others.`}</p>}
      <ul class="rows users">
        {rows.map((u) => {
          const sel = roles[u.id] || u.role;
          return (
            <li key={u.id} data-user={u.id}>
              <span>
                <strong>{nameOf(u)}</strong> <span class="tag">{LABEL[u.role] || u.role}</span>
                {!u.is_active && <span class="tag">deactivated</span>}
                <br />
                <small>
                  {u.email} · since <Time iso={u.created_at} date />
                  {u.last_active_at && (
                    <>
                      {" "}
                      · last active <Time iso={u.last_active_at} />
                    </>
                  )}
                </small>
              </span>
              <span class="buttons">
                <label class="sr-only" for={`role-${u.id}`}>{`Role of ${nameOf(u)}`}</label>
                <select id={`role-${u.id}`} value={sel} onChange={(e) => setRoles({ ...roles, [u.id]: e.currentTarget.value })}>
                  {ROLES.map((r) => (
                    <option key={r} value={r}>
                      {LABEL[r]}
                    </option>
                  ))}
                </select>
                <button type="button" disabled={sel === u.role} onClick={() => start("role", u)}>
                  Change role
                </button>
                {u.is_active ? (
                  <button type="button" onClick={() => start("deactivate", u)} aria-label={`Deactivate ${nameOf(u)}`}>
                    Deactivate
                  </button>
                ) : (
                  <button type="button" onClick={() => start("activate", u)} aria-label={`Activate ${nameOf(u)}`}>
                    Activate
                  </button>
                )}
                <button type="button" class="danger" onClick={() => start("erase", u)} aria-label={`Erase ${nameOf(u)}`}>
                  Erase
                </button>
              </span>
            </li>
          );
        })}
      </ul>
      <ConfirmDialog
        open={act != null}
        title={act ? titles[act.kind] : ""}
        confirmLabel={act ? { role: "Change role", deactivate: "Deactivate", activate: "Activate", erase: "Erase" }[act.kind] : ""}
        word={act && act.kind === "erase" ? "erase" : undefined}
        busy={f.busy}
        error={f.error}
        onConfirm={f.onSubmit}
        onCancel={() => setAct(null)}
      >
        {act && act.kind === "role" && <p>{`${nameOf(act.user)} becomes ${LABEL[roles[act.user.id]]}. Their sessions end: they sign in again.`}</p>}
        {act && act.kind === "deactivate" && <p>{`${nameOf(act.user)} is signed out everywhere and cannot sign in until activated again. Links mailed to them stop working.`}</p>}
        {act && act.kind === "activate" && <p>{`${nameOf(act.user)} may sign in again.`}</p>}
        {act && act.kind === "erase" && <p>{`Everything held about ${nameOf(act.user)} becomes unreadable for good, and their address is freed. This cannot be undone.`}</p>}
      </ConfirmDialog>
    </>
  );
}

function NewStaff({ onMade }) {
  const [v, setV] = useState({ email: "", first_name: "", last_name: "", role: "therapist" });
  const f = useSubmit(
    () => api.post("/v1/users", { email: v.email.trim(), first_name: v.first_name || null, last_name: v.last_name || null, role: v.role }),
    () => {
      onMade(v.email.trim());
      setV({ email: "", first_name: "", last_name: "", role: v.role });
    },
  );
  const set = (k) => (x) => setV({ ...v, [k]: x });
  return (
    <form class="card" onSubmit={f.onSubmit} aria-labelledby="h-new-staff" noValidate>
      <h2 id="h-new-staff">New staff member</h2>
      <p class="meta">They are mailed a link to choose their password.</p>
      <FormError error={f.error} />
      <Field label="Email address" name="email" type="email" required value={v.email} onInput={set("email")} errors={f.fields} autocomplete="off" />
      <Field label="First name" name="first_name" value={v.first_name} onInput={set("first_name")} errors={f.fields} />
      <Field label="Last name" name="last_name" value={v.last_name} onInput={set("last_name")} errors={f.fields} />
      <div class={"field" + (f.fields.role ? " field-bad" : "")}>
        <label for="f-new-role">Role</label>
        <select id="f-new-role" name="role" value={v.role} onChange={(e) => set("role")(e.currentTarget.value)}>
          {STAFF.map((r) => (
            <option key={r} value={r}>
              {LABEL[r]}
            </option>
          ))}
        </select>
        {f.fields.role && <small class="field-error">{f.fields.role}</small>}
      </div>
      <button type="submit" class="primary" disabled={f.busy}>
        {f.busy ? "Making…" : "Make and invite"}
      </button>
    </form>
  );
}
