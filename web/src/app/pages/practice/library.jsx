// /practice/library: the therapist's resources (worksheets, links,
// recordings: /v1/resources, their own), a form that adds one, a form that
// assigns one to a client they lead, and every assignment of theirs with
// its client and status (a therapist sees the assignments of their own
// resources only). The client page uses AssignForm and Assignments too.
import { useState } from "preact/hooks";
import { api, all, useLoad, Loaded, Page, Time, Empty, Field, useSubmit, FormError } from "../me/kit.jsx";
import { practice, fullName, Control } from "./kit.jsx";

/** @type {Array<[string, string]>} */
const KINDS = [
  ["link", "Link"],
  ["pdf", "PDF"],
  ["video", "Video"],
  ["audio", "Audio"],
  ["image", "Image"],
  ["text", "Text"],
  ["other", "Other"],
];
const STATUS = { assigned: "Not opened yet", viewed: "Opened", completed: "Done" };

export function Library() {
  const load = useLoad(async () => {
    const [p, library, assigned] = await Promise.all([practice(), all("/v1/resources"), all("/v1/resource-assignments")]);
    return { ...p, library, assigned };
  }, []);
  return (
    <Page title="Your library">
      <Loaded load={load} what="your library">
        {(d) => (
          <>
            <section aria-labelledby="h-lib" class="card">
              <h2 id="h-lib">Resources</h2>
              {d.library.length === 0 ? (
                <Empty>Your library is empty: add a resource below.</Empty>
              ) : (
                <ul class="rows">
                  {d.library.map((r) => (
                    <li key={r.id} data-resource={r.id}>
                      <span>
                        <strong>{r.title}</strong>
                        <span class="tag">{r.type}</span>
                        {r.is_public && <span class="tag">public</span>}
                        <br />
                        <small>{r.description || r.url}</small>
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </section>
            <NewResource onDone={load.reload} />
            <section aria-labelledby="h-assign" class="card">
              <h2 id="h-assign">Assignments</h2>
              <Assignments rows={d.assigned} library={d.library} clients={d.clients} />
              <AssignForm library={d.library} clients={d.clients} onDone={load.reload} />
            </section>
          </>
        )}
      </Loaded>
    </Page>
  );
}

/** @param {{onDone: () => void}} props */
function NewResource({ onDone }) {
  const blank = { title: "", type: "link", url: "", description: "" };
  const [v, setV] = useState(blank);
  const [made, setMade] = useState(/** @type {string | null} */ (null));
  const set = (/** @type {string} */ k) => (/** @type {string} */ x) => setV({ ...v, [k]: x });
  const form = useSubmit(
    () => {
      setMade(null);
      return api.post("/v1/resources", { title: v.title, type: v.type, url: v.url, description: v.description.trim() || null });
    },
    (r) => {
      setMade(r.title);
      setV(blank);
      onDone();
    },
  );
  return (
    <section aria-labelledby="h-new" class="card">
      <h2 id="h-new">Add a resource</h2>
      <form onSubmit={form.onSubmit} noValidate aria-labelledby="h-new">
        <Field label="Title" name="title" errors={form.fields} value={v.title} onInput={set("title")} maxLength={200} required />
        <Control label="Kind" name="type" errors={form.fields} value={v.type} onInput={set("type")} options={KINDS} />
        <Field label="Link" name="url" type="url" hint="https://… or a path on this site (/…)" errors={form.fields} value={v.url} onInput={set("url")} required />
        <Control label="Description (optional)" name="description" rows={3} errors={form.fields} value={v.description} onInput={set("description")} />
        <FormError error={form.error} />
        <p class="buttons">
          <button type="submit" disabled={form.busy}>
            {form.busy ? "Adding…" : "Add to the library"}
          </button>
          {made && (
            <span class="ok" role="status">
              “{made}” added.
            </span>
          )}
        </p>
      </form>
    </section>
  );
}

/** @param {{library: any[], clients: any[], onDone: () => void}} props */
export function AssignForm({ library, clients, onDone }) {
  const [v, setV] = useState({ resource_id: library.length ? library[0].id : "", client_id: clients.length ? clients[0].id : "", due_date: "", notes: "" });
  const [done, setDone] = useState(/** @type {string | null} */ (null));
  const set = (/** @type {string} */ k) => (/** @type {string} */ x) => setV({ ...v, [k]: x });
  const form = useSubmit(
    () => {
      setDone(null);
      // due_date is a time: the end of the chosen day in the person's zone.
      const due = v.due_date ? new Date(`${v.due_date}T23:59:00`) : null;
      return api.post("/v1/resource-assignments", {
        resource_id: v.resource_id,
        client_id: v.client_id,
        due_date: due && !isNaN(due.getTime()) ? due.toISOString() : null,
        notes: v.notes.trim() || null,
      });
    },
    () => {
      const r = library.find((x) => x.id === v.resource_id);
      const c = clients.find((x) => x.id === v.client_id);
      setDone(`“${r ? r.title : "The resource"}” assigned to ${fullName(c)}.`);
      setV({ ...v, due_date: "", notes: "" });
      onDone();
    },
  );
  if (library.length === 0 || clients.length === 0)
    return <Empty>{library.length === 0 ? "Add a resource to your library to assign it." : "You lead no clients to assign to."}</Empty>;
  return (
    <form onSubmit={form.onSubmit} noValidate aria-label="Assign a resource" class="assign">
      <h3>Assign a resource</h3>
      <Control label="Resource" name="resource_id" errors={form.fields} value={v.resource_id} onInput={set("resource_id")} options={library.map((r) => [r.id, r.title])} />
      {clients.length > 1 ? (
        <Control label="Client" name="client_id" errors={form.fields} value={v.client_id} onInput={set("client_id")} options={clients.map((c) => [c.id, fullName(c)])} />
      ) : (
        <p>
          To <strong>{fullName(clients[0])}</strong>
        </p>
      )}
      <Field label="Due by (optional)" name="due_date" type="date" errors={form.fields} value={v.due_date} onInput={set("due_date")} />
      <Control label="A note for the client (optional)" name="notes" rows={2} errors={form.fields} value={v.notes} onInput={set("notes")} />
      <FormError error={form.error} />
      <p class="buttons">
        <button type="submit" disabled={form.busy}>
          {form.busy ? "Assigning…" : "Assign"}
        </button>
        {done && (
          <span class="ok" role="status">
            {done}
          </span>
        )}
      </p>
    </form>
  );
}

/** @param {{rows: any[], library: any[], clients: any[]}} props */
export function Assignments({ rows, library, clients }) {
  if (rows.length === 0) return <Empty>Nothing assigned yet.</Empty>;
  const res = new Map(library.map((r) => [r.id, r.title]));
  const who = new Map(clients.map((c) => [c.id, fullName(c)]));
  const sorted = [...rows].sort((a, b) => (a.assigned_at < b.assigned_at ? 1 : -1));
  return (
    // Focusable: a phone scrolls the table sideways with the keyboard.
    <div class="table-wrap" tabIndex={0} role="region" aria-label="Assigned resources">
      <table>
        <caption class="sr-only">Assigned resources</caption>
        <thead>
          <tr>
            <th scope="col">Resource</th>
            <th scope="col">Client</th>
            <th scope="col">Assigned</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((a) => (
            <tr key={a.id} data-assignment={a.id}>
              <td>{res.get(a.resource_id) || "A resource"}</td>
              <td>{who.get(a.client_id) || "A client"}</td>
              <td>
                <Time iso={a.assigned_at} date />
                {a.due_date && (
                  <>
                    , due <Time iso={a.due_date} date />
                  </>
                )}
              </td>
              <td>{STATUS[a.status] || a.status}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
