// /practice/recordings/:id: a client's recording (a practitioner sees
// their clients' recordings) charted as the person's own page charts it:
// the channel picked, zoomed by choosing a time range (the points route's
// from/to with buckets), pages/me/recordings.jsx's Channels.
import { api, useLoad, Loaded, Page, Time, Empty } from "../me/kit.jsx";
import { Channels } from "../me/recordings.jsx";

export function ClientRecording({ params }) {
  const id = encodeURIComponent(params.id);
  const load = useLoad(async () => {
    const [rec, ch] = await Promise.all([api.get(`/v1/recordings/${id}`), api.get(`/v1/recordings/${id}/channels`)]);
    return { rec, ch };
  }, [id]);
  return (
    <Page title="Client's recording">
      <Loaded load={load} what="the recording">
        {({ rec, ch }) => (
          <>
            <p>
              <a href={`/practice/clients/${rec.user_id}`}>Back to the client</a>
            </p>
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
            {ch.channels.length === 0 ? <Empty>This recording has no points.</Empty> : <Channels id={id} ch={ch} />}
          </>
        )}
      </Loaded>
    </Page>
  );
}
