DROP INDEX failed_jobs_job_id;
DROP TABLE report_runs;
