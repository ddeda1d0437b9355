-- Back to 0012's formats, json and csv. This down REFUSES while a run in
-- xlsx or pdf is kept (it converts nothing: such a run's result is an
-- XLSX or PDF file, not a JSON or CSV answer): delete those runs first,
--	DELETE FROM report_runs WHERE format IN ('xlsx', 'pdf');
-- or wait for the report_runs.prune job (report_run_retention_days).
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM report_runs WHERE format IN ('xlsx', 'pdf')) THEN
		RAISE EXCEPTION 'report runs in xlsx or pdf are kept: delete them first (DELETE FROM report_runs WHERE format IN (''xlsx'', ''pdf''))';
	END IF;
END
$$;
ALTER TABLE report_runs DROP CONSTRAINT report_runs_format_check;
ALTER TABLE report_runs ADD CONSTRAINT report_runs_format_check
	CHECK (format IN ('json', 'csv'));
