// /family: for a guardian, their children and the consent they gave for
// each (/v1/relationships, guardian_of led by them; the child's account
// from /v1/users/{id}, which their guardian may read), invitations waiting
// for their answer (consent in_app, or decline), and a child's account
// made (POST /v1/me/family/children).
import { useState } from "preact/hooks";
import { api, all, useLoad, Loaded, Field, useSubmit, FormError, Time, Page, Empty } from "./kit.jsx";

const METHOD = { in_app: "in the app", signed_form: "on a signed form", email: "by email", verbal: "in person" };

export function Family() {
  const load = useLoad(async () => {
    const [me, rels] = await Promise.all([api.get("/v1/me"), all("/v1/relationships")]);
    const mine = rels.filter((r) => r.kind === "guardian_of" && r.status !== "ended");
    const children = mine.filter((r) => r.lead_id === me.id);
    const people = await Promise.all(
      children.map((r) => api.get(`/v1/users/${r.follower_id}`).catch(() => null)),
    );
    return {
      me,
      children: children.map((r, i) => ({ rel: r, child: people[i] })),
      // Asked of me: a pending guardian_of I follow (an adult accepts it alone).
      asked: mine.filter((r) => r.follower_id === me.id && r.status === "pending"),
    };
  }, []);
  return (
    <Page title="Your family">
      <Loaded load={load} what="your family">
        {(d) => (
          <>
            {d.asked.length > 0 && <Asked rows={d.asked} onChange={load.reload} />}
            <section aria-labelledby="h-children" class="card">
              <h2 id="h-children">Your children</h2>
              {d.children.length === 0 ? (
                <Empty>No child's account is linked to yours.</Empty>
              ) : (
                <ul class="rows">
                  {d.children.map(({ rel, child }) => (
                    <li key={rel.id} data-relationship={rel.id}>
                      <span>
                        <strong>{child ? [child.first_name, child.last_name].filter(Boolean).join(" ") : "A child"}</strong>
                        {child && child.date_of_birth && (
                          <small>
                            {" "}
                            · born <Time iso={child.date_of_birth} date />
                          </small>
                        )}
                        <br />
                        <small>
                          {rel.status === "active" && rel.consent_at ? (
                            <>
                              You gave consent <Time iso={rel.consent_at} />
                              {rel.consent_method ? ` ${METHOD[rel.consent_method] || rel.consent_method}` : ""}.
                            </>
                          ) : (
                            <>Waiting for consent: not yet active.</>
                          )}
                        </small>
                      </span>
                      <span class="tag">{rel.status}</span>
                    </li>
                  ))}
                </ul>
              )}
            </section>
            <AddChild me={d.me} onDone={load.reload} />
          </>
        )}
      </Loaded>
    </Page>
  );
}

function Asked({ rows, onChange }) {
  const [error, setError] = useState(/** @type {any} */ (null));
  const act = async (id, verb) => {
    setError(null);
    try {
      await api.post(`/v1/relationships/${id}/${verb}`, verb === "consent" ? { method: "in_app" } : undefined);
      onChange();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-labelledby="h-asked" class="card">
      <h2 id="h-asked">Asked of you</h2>
      <ul class="rows">
        {rows.map((r) => (
          <li key={r.id}>
            <span>
              Someone asks to be your guardian (asked <Time iso={r.created_at} />).
            </span>
            <span class="buttons">
              <button type="button" onClick={() => act(r.id, "consent")}>
                Accept
              </button>
              <button type="button" onClick={() => act(r.id, "end")}>
                Decline
              </button>
            </span>
          </li>
        ))}
      </ul>
      <FormError error={error} />
    </section>
  );
}

function AddChild({ me, onDone }) {
  const empty = { first_name: "", last_name: "", date_of_birth: "", email: "" };
  const [v, setV] = useState(empty);
  const [made, setMade] = useState(false);
  const f = useSubmit(
    () => {
      const body = { first_name: v.first_name.trim(), date_of_birth: v.date_of_birth };
      if (v.last_name.trim()) body.last_name = v.last_name.trim();
      if (v.email.trim()) body.email = v.email.trim();
      return api.post("/v1/me/family/children", body);
    },
    () => {
      setV(empty);
      setMade(true);
      onDone();
    },
  );
  const set = (k) => (x) => (setMade(false), setV({ ...v, [k]: x }));
  return (
    <section aria-labelledby="h-add-child" class="card">
      <h2 id="h-add-child">Add a child</h2>
      <p>
        Make an account for a child under the age of digital consent; your consent as their guardian is recorded
        with it.
      </p>
      <form onSubmit={f.onSubmit} noValidate>
        <Field label="First name" name="first_name" value={v.first_name} onInput={set("first_name")} errors={f.fields} maxLength={100} required />
        <Field label="Last name (optional)" name="last_name" value={v.last_name} onInput={set("last_name")} errors={f.fields} maxLength={100} />
        <Field label="Date of birth" name="date_of_birth" type="date" value={v.date_of_birth} onInput={set("date_of_birth")} errors={f.fields} required />
        <Field label="Their email (optional)" hint="They are sent a link to choose a password." name="email" type="email" value={v.email} onInput={set("email")} errors={f.fields} maxLength={320} />
        <FormError error={f.error} />
        {made && (
          <p role="status" class="ok">
            The child's account is made.
          </p>
        )}
        <button type="submit" disabled={f.busy}>
          {f.busy ? "Adding…" : "Add the child"}
        </button>
      </form>
    </section>
  );
}
