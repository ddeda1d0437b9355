// /notifications (the mails link here, src/core/pages.c): the person's
// in-app notifications, newest first, each marked read on its own or all
// at once (POST /v1/me/notifications/read-all).
import { useState } from "preact/hooks";
import { api, all, useLoad, Loaded, FormError, Time, Page } from "./kit.jsx";

// action_url is the server's link into this application (config
// public_url and a page's path): followed only when it is one of this
// origin's pages, as a path.
function localPath(u) {
  if (typeof u !== "string" || u === "") return null;
  try {
    const x = new URL(u, window.location.href);
    return x.origin === window.location.origin ? x.pathname + x.search : null;
  } catch (e) {
    return null;
  }
}

export function Notifications() {
  const load = useLoad(() => all("/v1/me/notifications"), []);
  const [error, setError] = useState(/** @type {any} */ (null));
  const run = async (p) => {
    setError(null);
    try {
      await p;
    } catch (e) {
      setError(e);
    }
    load.reload();
  };
  return (
    <Page title="Notifications">
      <Loaded load={load} what="your notifications" empty={(d) => d.length === 0} emptyText="You have no notifications.">
        {(rows) => {
          const unread = rows.filter((n) => !n.is_read).length;
          return (
            <>
              <p class="meta" role="status">
                {unread === 0 ? "All read." : `${unread} unread.`}
              </p>
              {unread > 0 && (
                <button type="button" onClick={() => run(api.post("/v1/me/notifications/read-all"))}>
                  Mark all read
                </button>
              )}
              <FormError error={error} />
              <ul class="rows">
                {[...rows]
                  .sort((a, b) => (a.created_at < b.created_at ? 1 : -1))
                  .map((n) => (
                    <li key={n.id} class={n.is_read ? "read" : "unread"}>
                      <span>
                        <strong>{n.title}</strong>
                        {!n.is_read && <span class="tag">new</span>}
                        <br />
                        {n.message}
                        <br />
                        <small>
                          <Time iso={n.created_at} />
                          {localPath(n.action_url) && (
                            <>
                              {" "}
                              · <a href={localPath(n.action_url) || undefined}>Open</a>
                            </>
                          )}
                        </small>
                      </span>
                      {!n.is_read && (
                        <button type="button" onClick={() => run(api.patch(`/v1/notifications/${n.id}`, { status: "read" }))} aria-label={`Mark read: ${n.title}`}>
                          Mark read
                        </button>
                      )}
                    </li>
                  ))}
              </ul>
            </>
          );
        }}
      </Loaded>
    </Page>
  );
}
