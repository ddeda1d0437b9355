-- Issue 15, items 8-10 (review): the mail log's filters and sorts.
--
-- GET /v1/email-log filters by status and by sent_at and sorts by
-- sent_at (mail_job.c, email_log_resource): without these each such
-- list read the whole log.
CREATE INDEX email_log_sent_at ON email_log (sent_at);
CREATE INDEX email_log_status ON email_log (status, created_at);
