DROP TABLE email_log;
DROP TABLE job_schedules;
DROP TABLE failed_jobs;
DROP TABLE jobs;
