-- Chat profile sync (issue 6, part 6; src/ops/chatsync.c): one row per
-- user whose profile the chat provider has been or is about to be sent.
-- job_id names the chat.profile_sync job that will push the user's next
-- change (NULL: none, or it is gone from the queue), so changes made while
-- it waits coalesce into it; dirty says a change committed after that job
-- began reading, so it queues a follow-up. digest is a keyed BLAKE2b-256
-- (hex) of the people id and profile last pushed, to skip pushing an
-- unchanged profile; no personal data is kept here. Times are BIGINT ms.
CREATE TABLE chat_profile_sync (
	user_id		TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	job_id		TEXT,
	dirty		INTEGER NOT NULL DEFAULT 0,
	digest		TEXT,
	pushed_at	BIGINT,
	created_at	BIGINT NOT NULL,
	updated_at	BIGINT NOT NULL
);
