-- Back to 0012's formats, json and csv. This down REFUSES while a run in
-- xlsx or pdf is kept (it converts nothing: such a run's result is an
-- XLSX or PDF file, not a JSON or CSV answer): delete those runs first,
--	DELETE FROM report_runs WHERE format IN ('xlsx', 'pdf');
-- or wait for the report_runs.prune job (report_run_retention_days).
-- SQLite's RAISE works only in a trigger: a temporary one refuses.
CREATE TEMP TABLE migration_0034_down (kept INTEGER NOT NULL);
CREATE TEMP TRIGGER migration_0034_down BEFORE INSERT ON migration_0034_down
WHEN NEW.kept > 0
BEGIN
	SELECT RAISE(ABORT, 'report runs in xlsx or pdf are kept: delete them first (DELETE FROM report_runs WHERE format IN (''xlsx'', ''pdf''))');
END;
INSERT INTO migration_0034_down
	SELECT count(*) FROM report_runs WHERE format IN ('xlsx', 'pdf');
DROP TABLE migration_0034_down;

PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql,
	'CHECK (format IN (''json'', ''csv'', ''xlsx'', ''pdf''))',
	'CHECK (format IN (''json'', ''csv''))')
	WHERE type = 'table' AND name = 'report_runs';
PRAGMA writable_schema = RESET;

DROP INDEX report_runs_status;
CREATE INDEX report_runs_status ON report_runs (status);
