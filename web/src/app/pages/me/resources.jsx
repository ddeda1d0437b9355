// /resources: what the person's therapists assigned them
// (/v1/resource-assignments), each with its resource from the library
// they may read (/v1/resource-library), opened (the assignment marked
// viewed) and marked done.
import { useState } from "preact/hooks";
import { api, all, useLoad, Loaded, FormError, Time, Page } from "./kit.jsx";

export function Resources() {
  const load = useLoad(async () => {
    const [assigned, library] = await Promise.all([all("/v1/resource-assignments"), all("/v1/resource-library")]);
    const byId = new Map(library.map((r) => [r.id, r]));
    return assigned.map((a) => ({ ...a, resource: byId.get(a.resource_id) || null }));
  }, []);
  return (
    <Page title="Resources for you">
      <Loaded load={load} what="your resources" empty={(d) => d.length === 0} emptyText="Nothing is assigned to you yet.">
        {(rows) => (
          <ul class="cards">
            {rows.map((a) => (
              <Assignment key={a.id} a={a} onChange={load.reload} />
            ))}
          </ul>
        )}
      </Loaded>
    </Page>
  );
}

// Only http(s) links are followed: a resource's url is the therapist's
// text, and a javascript: link must not run in the person's page.
function safeUrl(u) {
  try {
    const x = new URL(u, window.location.href);
    return x.protocol === "https:" || x.protocol === "http:" ? x.href : null;
  } catch (e) {
    return null;
  }
}

function Assignment({ a, onChange }) {
  const [error, setError] = useState(/** @type {any} */ (null));
  const [busy, setBusy] = useState(false);
  const r = a.resource;
  const title = (r && r.title) || "A resource";
  const url = r && r.url && safeUrl(r.url);
  const act = async (verb) => {
    setBusy(true);
    setError(null);
    try {
      await api.post(`/v1/resource-assignments/${a.id}/${verb}`);
      onChange();
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };
  return (
    <li class="card">
      <h2>{title}</h2>
      {r && r.description && <p>{r.description}</p>}
      {a.notes && <p class="notes">{a.notes}</p>}
      <p class="meta">
        <span class="tag">{a.status}</span> · assigned <Time iso={a.assigned_at} />
        {a.due_date && (
          <>
            {" "}
            · due <Time iso={a.due_date} date />
          </>
        )}
      </p>
      <p class="buttons">
        {url && (
          <a href={url} target="_blank" rel="noopener noreferrer" onClick={() => a.status === "assigned" && act("open")}>
            Open “{title}”<span class="sr-only"> (in a new tab)</span>
          </a>
        )}
        {a.status !== "completed" && (
          <button type="button" disabled={busy} onClick={() => act("complete")} aria-label={`Mark done: ${title}`}>
            Mark done
          </button>
        )}
      </p>
      <FormError error={error} />
    </li>
  );
}
