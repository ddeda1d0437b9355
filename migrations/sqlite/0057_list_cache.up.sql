-- Writes told to the lists each serving process keeps read
-- (src/resource/list_cache.c, store.h "Writes told"). Every write
-- transaction carebase commits (but the audit writer's appends of read
-- audit rows) adds one to n inside it, whatever process it runs in; a
-- kept list is answered again only while n is what it was before the
-- list was read. A change made by hand, outside carebase, does not move
-- it: a kept list is answered list_cache_ttl_ms at most.
CREATE TABLE data_changes (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n INTEGER NOT NULL
);
-- n starts at the microseconds since 1970, past any count an earlier
-- time this table was made could have reached: a page a process kept
-- then is never taken for one of now.
INSERT INTO data_changes (id, n)
VALUES (1, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER));
