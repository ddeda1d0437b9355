-- Live courses (issue 15, item 13; seed 002: "for public users, this 1-1
-- chat feature is available on live courses only").
--
-- courses.live: the CMS story's content.live (a Course's boolean field).
-- 0: not live (every course before this migration, until the CMS
-- publishes it again).
ALTER TABLE courses ADD COLUMN live INTEGER NOT NULL DEFAULT 0;
