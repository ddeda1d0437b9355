-- Queued report runs in XLSX and PDF (issue 17): a run keeps any format
-- GET /v1/reports/{name} answers (json, csv, xlsx, pdf), its result the
-- same bytes, at most report_run_max_bytes (src/reports/report_runs.c).
--
-- SQLite cannot alter a CHECK, and rebuilding report_runs would drop any
-- column a later migration adds to it. So the CHECK's text is edited in
-- place, as 0026 does (SQLite's "Making Other Kinds Of Table Schema
-- Changes", lang_altertable.html): only the list of formats changes, and
-- every stored row is in it already. RESET reloads this connection's
-- schema; the index made again below bumps the schema cookie so every
-- other connection reloads it too.
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql,
	'CHECK (format IN (''json'', ''csv''))',
	'CHECK (format IN (''json'', ''csv'', ''xlsx'', ''pdf''))')
	WHERE type = 'table' AND name = 'report_runs';
PRAGMA writable_schema = RESET;

DROP INDEX report_runs_status;
CREATE INDEX report_runs_status ON report_runs (status);
