-- Who has a chat profile (issue 15, items 4 and 13; seed 002: "users who
-- have access to 1-1 chat also have a profile on Crisp"; "for public
-- users, this 1-1 chat feature is available on live courses only").
--
-- courses.live: the CMS story's content.live (a Course's boolean field):
-- a public user (no active partner access) who starts a live course has
-- chat access while it is published and live. 0: not live (every course
-- before this migration, until the CMS publishes it again).
--
-- chat_profile_sync.recheck: 1 for a row whose profile the chat sync must
-- look at again. Every row this migration finds is marked: until now any
-- person a change touched was pushed, chat access or not. When carebase
-- next starts with chat_sync_url set, it queues a chat.profile_sync job
-- for each marked row and clears the mark (src/ops/chatsync.c); the job
-- pushes the profile of a person with chat access and erases, at the
-- provider, that of a person without.
ALTER TABLE courses ADD COLUMN live INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chat_profile_sync ADD COLUMN recheck INTEGER NOT NULL DEFAULT 0;
UPDATE chat_profile_sync SET recheck = 1;
