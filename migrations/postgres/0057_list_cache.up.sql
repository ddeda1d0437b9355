-- Writes told to the lists each serving process keeps read
-- (src/resource/list_cache.c, store.h "Writes told"). On PostgreSQL
-- every write transaction carebase commits (but the audit writer's
-- appends of read audit rows) sends NOTIFY carebase_changes with its
-- COMMIT, and each serving process LISTENs: the count below is SQLite's
-- (moved in each write there) and stays 0 here, kept so that both
-- databases hold one schema.
CREATE TABLE data_changes (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n BIGINT NOT NULL
);
INSERT INTO data_changes (id, n) VALUES (1, 0);
