-- Queued report runs in XLSX and PDF (issue 17): a run keeps any format
-- GET /v1/reports/{name} answers (json, csv, xlsx, pdf), its result the
-- same bytes, at most report_run_max_bytes (src/reports/report_runs.c).
-- Every stored row is in the new list already.
ALTER TABLE report_runs DROP CONSTRAINT report_runs_format_check;
ALTER TABLE report_runs ADD CONSTRAINT report_runs_format_check
	CHECK (format IN ('json', 'csv', 'xlsx', 'pdf'));
