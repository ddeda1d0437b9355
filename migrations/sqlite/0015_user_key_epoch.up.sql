-- The data keys' epoch (issue 14: erasure seen by every process at once).
-- Each process keeps unwrapped data keys in memory for a few seconds
-- (src/resource/seal.c). Every destruction of a key (erasure) adds one to
-- epoch in its own transaction; a cached key is used only while the epoch
-- read in the request's transaction is the one it was loaded under, so
-- an erasure made through any process is seen by all at their next
-- transaction. One row, read by primary key.
CREATE TABLE user_key_epoch (
	id		INTEGER PRIMARY KEY CHECK (id = 1),
	epoch		BIGINT NOT NULL
);
INSERT INTO user_key_epoch (id, epoch) VALUES (1, 0);
