DROP INDEX therapy_sessions_client;
CREATE INDEX therapy_sessions_client ON therapy_sessions (client_id, start_time);
DROP INDEX therapy_sessions_therapist;
CREATE INDEX therapy_sessions_therapist ON therapy_sessions (therapist_id, start_time);
DROP INDEX therapy_sessions_therapist_created;
CREATE INDEX therapy_sessions_therapist_created ON therapy_sessions (therapist_id, created_at);
DROP INDEX therapy_sessions_client_created;
CREATE INDEX therapy_sessions_client_created ON therapy_sessions (client_id, created_at);
