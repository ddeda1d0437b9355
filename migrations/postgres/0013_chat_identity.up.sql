-- Chat profile identities (issue 6, chat profiles; src/ops/chatsync.c).
-- The provider keys a profile by the person's email, so the sync row
-- remembers which addresses the provider may hold a profile under, each
-- sealed under the user's data key (bound to
-- "chat_profile_sync.identity:<user id>", either column: a pending one
-- becomes the pushed one), never in clear:
--	pushed_identity		the address of the last push that landed
--	pending_identity	the address of a push under way or failed,
--				which may have made a profile there
-- A push deletes the profiles under the ones that are not the current
-- address first, and erasure queues their deletion. Rows pushed before
-- this migration have neither (pushed_at says they were pushed).
ALTER TABLE chat_profile_sync ADD COLUMN pushed_identity BYTEA;
ALTER TABLE chat_profile_sync ADD COLUMN pending_identity BYTEA;
