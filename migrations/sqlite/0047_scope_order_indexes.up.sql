-- A list orders by its sort column and then by id (the page's tie-break,
-- query.c list_sql). An index of (owner or party column, sort column)
-- without id gives the rows in order only up to ties, and PostgreSQL then
-- preferred walking the whole created_at index backwards with a filter
-- (its rows estimated as spread evenly) to an incremental sort of the
-- party's own rows: each branch's index ends with id, so it gives the
-- branch's page in the list's exact order.
DROP INDEX therapy_sessions_client_created;
CREATE INDEX therapy_sessions_client_created ON therapy_sessions (client_id, created_at, id);
DROP INDEX therapy_sessions_therapist_created;
CREATE INDEX therapy_sessions_therapist_created ON therapy_sessions (therapist_id, created_at, id);
DROP INDEX therapy_sessions_therapist;
CREATE INDEX therapy_sessions_therapist ON therapy_sessions (therapist_id, start_time, id);
DROP INDEX therapy_sessions_client;
CREATE INDEX therapy_sessions_client ON therapy_sessions (client_id, start_time, id);
