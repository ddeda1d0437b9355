// /account (the mails link here, src/core/pages.c): the person's details,
// password, signed-in devices, their data as a file, and erasing the
// account. Every change goes through /v1/me and its sub-routes.
import { useState } from "preact/hooks";
import { refresh } from "../../session.js";
import { timeZone } from "../../time.js";
import { api, all, useLoad, Loaded, Field, useSubmit, FormError, ConfirmDialog, Time, Page } from "./kit.jsx";

export function Account() {
  const me = useLoad(() => api.get("/v1/me"), []);
  return (
    <Page title="Your account">
      <Loaded load={me} what="your details">
        {(user) => (
          <>
            <Profile user={user} onSaved={me.reload} />
            <Password />
            <Sessions />
            <Export />
            <Erase email={user.email} />
          </>
        )}
      </Loaded>
    </Page>
  );
}

function Profile({ user, onSaved }) {
  const [v, setV] = useState({
    first_name: user.first_name || "",
    last_name: user.last_name || "",
    email: user.email || "",
    current_password: "",
    time_zone: user.time_zone || "",
  });
  // Absent while the server's database lacks it (migration 0053 pending):
  // no select, and not sent (a write naming it is 503 FIELD_UNAVAILABLE).
  const zoned = "time_zone" in user;
  const [saved, setSaved] = useState(false);
  const set = (k) => (x) => (setSaved(false), setV({ ...v, [k]: x }));
  const emailChanged = v.email.trim() !== (user.email || "");
  const f = useSubmit(
    () => {
      /** @type {Record<string, string | null>} */
      const body = {
        first_name: v.first_name.trim() || null,
        last_name: v.last_name.trim() || null,
      };
      if (zoned) body.time_zone = v.time_zone || null;
      if (emailChanged) {
        body.email = v.email.trim();
        body.current_password = v.current_password;
      }
      return api.patch("/v1/me", body);
    },
    () => {
      setSaved(true);
      onSaved();
      refresh(); // the header's idea of who is signed in
    },
  );
  return (
    <section aria-labelledby="h-profile" class="card">
      <h2 id="h-profile">Your details</h2>
      <form onSubmit={f.onSubmit} noValidate>
        <Field label="First name" name="first_name" value={v.first_name} onInput={set("first_name")} errors={f.fields} autocomplete="given-name" maxLength={100} />
        <Field label="Last name" name="last_name" value={v.last_name} onInput={set("last_name")} errors={f.fields} autocomplete="family-name" maxLength={100} />
        <Field label="Email" name="email" type="email" value={v.email} onInput={set("email")} errors={f.fields} autocomplete="email" maxLength={320} />
        {emailChanged && (
          <Field
            label="Current password"
            hint="Needed to change the address you sign in with."
            name="current_password"
            type="password"
            value={v.current_password}
            onInput={set("current_password")}
            errors={f.fields}
            autocomplete="current-password"
          />
        )}
        {zoned && <ZoneSelect value={v.time_zone} onChange={set("time_zone")} errors={f.fields} />}
        {user.country && (
          <p class="meta">
            Country: {user.country}
            {user.locale ? ` · language ${user.locale}` : ""} · times are shown in{" "}
            {timeZone()}
          </p>
        )}
        <FormError error={f.error} />
        {saved && (
          <p role="status" class="ok">
            Saved.
          </p>
        )}
        <button type="submit" disabled={f.busy}>
          {f.busy ? "Saving…" : "Save details"}
        </button>
      </form>
    </section>
  );
}

/**
 * The zones the browser knows (Intl), the browser's own first; "" is "as
 * this browser" (time_zone null). A saved zone the list lacks stays a
 * choice.
 * @param {string} saved
 */
function zones(saved) {
  const here = Intl.DateTimeFormat().resolvedOptions().timeZone;
  /** @type {string[]} */
  let list = [];
  try {
    // ES2022's Intl.supportedValuesOf, which the TypeScript lib set here lacks.
    list = /** @type {any} */ (Intl).supportedValuesOf("timeZone");
  } catch (e) {
    list = [];
  }
  const rest = list.filter((z) => z !== here && z !== saved);
  return [here, ...(saved && saved !== here ? [saved] : []), ...rest];
}

/** @param {{value: string, onChange: (v: string) => void, errors: any}} props */
function ZoneSelect({ value, onChange, errors }) {
  const here = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const err = errors && errors.time_zone;
  return (
    <div class={"field" + (err ? " field-bad" : "")}>
      <label for="f-time_zone">Time zone</label>
      <small id="f-time_zone-hint" class="hint">
        Times are shown in this zone wherever you sign in.
      </small>
      <select
        id="f-time_zone"
        name="time_zone"
        value={value}
        onChange={(e) => onChange(e.currentTarget.value)}
        aria-invalid={err ? "true" : undefined}
        aria-describedby={"f-time_zone-hint" + (err ? " f-time_zone-err" : "")}
      >
        <option value="">{`This browser's (${here})`}</option>
        {zones(value).map((z) => (
          <option key={z} value={z}>
            {z === here ? `${z} (suggested: this browser's)` : z}
          </option>
        ))}
      </select>
      {err && (
        <small id="f-time_zone-err" class="field-error">
          {err}
        </small>
      )}
    </div>
  );
}

function Password() {
  const [v, setV] = useState({ current_password: "", new_password: "" });
  const [done, setDone] = useState(false);
  const f = useSubmit(
    () => api.post("/v1/me/password", v),
    () => {
      setV({ current_password: "", new_password: "" });
      setDone(true);
    },
  );
  const set = (k) => (x) => (setDone(false), setV({ ...v, [k]: x }));
  return (
    <section aria-labelledby="h-password" class="card">
      <h2 id="h-password">Password</h2>
      <form onSubmit={f.onSubmit} noValidate>
        <Field label="Current password" name="current_password" type="password" value={v.current_password} onInput={set("current_password")} errors={f.fields} autocomplete="current-password" />
        <Field label="New password" hint="At least 12 characters." name="new_password" type="password" value={v.new_password} onInput={set("new_password")} errors={f.fields} autocomplete="new-password" minLength={12} maxLength={256} />
        <FormError error={f.error} />
        {done && (
          <p role="status" class="ok">
            Your password is changed.
          </p>
        )}
        <button type="submit" disabled={f.busy}>
          {f.busy ? "Changing…" : "Change password"}
        </button>
      </form>
    </section>
  );
}

function Sessions() {
  const list = useLoad(() => all("/v1/me/sessions"), []);
  const [msg, setMsg] = useState(/** @type {string | null} */ (null));
  const others = useSubmit(
    () => api.post("/v1/me/sessions/end-others"),
    (out) => {
      setMsg(`Signed out of ${out.ended} other ${out.ended === 1 ? "device" : "devices"}.`);
      list.reload();
    },
  );
  const end = async (id) => {
    setMsg(null);
    try {
      await api.del(`/v1/me/sessions/${id}`);
      setMsg("Signed out of that device.");
    } catch (e) {
      setMsg(e.detail || "That device could not be signed out.");
    }
    list.reload();
  };
  return (
    <section aria-labelledby="h-sessions" class="card">
      <h2 id="h-sessions">Where you are signed in</h2>
      <Loaded load={list} what="your sessions" empty={(d) => d.length === 0} emptyText="You are signed in nowhere else.">
        {(rows) => (
          <ul class="rows">
            {rows.map((s) => (
              <li key={s.id}>
                <span>
                  <strong>{s.user_agent || "an unknown device"}</strong>
                  {s.current && <span class="tag">this device</span>}
                  <br />
                  <small>
                    {s.ip} · last used <Time iso={s.last_activity_at} />
                  </small>
                </span>
                {!s.current && (
                  <button type="button" onClick={() => end(s.id)} aria-label={`Sign out: ${s.user_agent || "that device"}`}>
                    Sign out
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </Loaded>
      <FormError error={others.error} />
      {msg && <p role="status">{msg}</p>}
      <button type="button" onClick={others.onSubmit} disabled={others.busy}>
        Sign out everywhere else
      </button>
    </section>
  );
}

// The export is fetched and handed to the browser as a file, so that a
// failure is shown on the page instead of a broken download.
function Export() {
  const f = useSubmit(async () => {
    const data = await api.get("/v1/me/export");
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `carebase-export-${new Date().toISOString().slice(0, 10)}.json`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  });
  return (
    <section aria-labelledby="h-export" class="card">
      <h2 id="h-export">Your data</h2>
      <p>Everything carebase holds about you, as one JSON file.</p>
      <FormError error={f.error} />
      <button type="button" onClick={f.onSubmit} disabled={f.busy}>
        {f.busy ? "Preparing…" : "Download my data"}
      </button>
    </section>
  );
}

const ERASE_WORD = "delete my account";

function Erase({ email }) {
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState("");
  const f = useSubmit(
    () => api.del("/v1/me", { password }),
    () => {
      setOpen(false);
      window.location.assign("/");
    },
  );
  return (
    <section aria-labelledby="h-erase" class="card danger-zone">
      <h2 id="h-erase">Delete your account</h2>
      <p>
        Your account and everything carebase holds about you are erased for good. This cannot be
        undone.
      </p>
      <button type="button" class="danger" onClick={() => (f.setError(null), setOpen(true))}>
        Delete my account…
      </button>
      <ConfirmDialog
        open={open}
        title="Delete your account?"
        confirmLabel="Delete my account"
        word={ERASE_WORD}
        busy={f.busy}
        error={f.error}
        onConfirm={f.onSubmit}
        onCancel={() => setOpen(false)}
      >
        <p>
          The account <strong>{email}</strong> and its data are erased at once.
        </p>
        <Field label="Your password" name="password" type="password" value={password} onInput={setPassword} errors={f.fields} autocomplete="current-password" />
      </ConfirmDialog>
    </section>
  );
}
