-- Who has a chat profile (issue 15, items 4 and 13; seed 002: "users who
-- have access to 1-1 chat also have a profile on Crisp"; "for public
-- users, this 1-1 chat feature is available on live courses only").
--
-- courses.live: the CMS story's content.live (a Course's boolean field):
-- a public user (PARTNERS_PUBLIC_USER, src/partners/partners.h) who
-- starts a live course included for them has chat access while it is
-- published and live. Courses stored before this migration are taken as
-- live (1) until the CMS publishes them again and says: before it every
-- learner touched was pushed, so their public learners have profiles at
-- the provider, and marking those courses not live would erase every one
-- of them at the first start-up (the recheck below) although the CMS
-- never said so. A course the CMS publishes afterwards gets its story's
-- value; one that is not live then takes its public learners' chat
-- access (the job learning.course_chat).
--
-- chat_profile_sync.recheck: 1 for a row whose profile the chat sync must
-- look at again. Every row this migration finds is marked: until now any
-- person a change touched was pushed, chat access or not. When carebase
-- next starts with chat_sync_url set, it queues a chat.profile_sync job
-- for each marked row (src/ops/chatsync.c); the job pushes the profile of
-- a person with chat access and erases, at the provider, that of a person
-- without, and only then clears the mark. A change made, or a job run,
-- while the sync is off marks the row too.
ALTER TABLE courses ADD COLUMN live INTEGER NOT NULL DEFAULT 0;
UPDATE courses SET live = 1;
ALTER TABLE chat_profile_sync ADD COLUMN recheck INTEGER NOT NULL DEFAULT 0;
UPDATE chat_profile_sync SET recheck = 1;
