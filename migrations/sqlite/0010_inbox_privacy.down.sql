-- Back to 0009: erased inbox bodies come back empty.
CREATE TABLE webhook_inbox_old (
	id			TEXT PRIMARY KEY,
	source			TEXT NOT NULL,
	received_at		BIGINT NOT NULL,
	request_id		TEXT,
	headers			TEXT NOT NULL DEFAULT '{}',	-- JSON object
	body			BLOB NOT NULL,			-- sealed, at most webhook_body_limit bytes
	body_bytes		BIGINT NOT NULL,		-- length as received
	signature_ok		INTEGER NOT NULL DEFAULT 0,
	outcome			TEXT NOT NULL DEFAULT 'pending' CHECK (outcome IN
				('pending', 'processed', 'refused', 'failed')),
	http_status		INTEGER,			-- last answer (replays too)
	error			TEXT,				-- why refused or failed
	processed_at		BIGINT,				-- last attempt's end
	attempts		INTEGER NOT NULL DEFAULT 0,
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL
);
INSERT INTO webhook_inbox_old (id, source, received_at, request_id, headers,
	body, body_bytes, signature_ok, outcome, http_status, error,
	processed_at, attempts, created_at, updated_at)
	SELECT id, source, received_at, request_id, headers,
	COALESCE(body, X''), body_bytes, signature_ok, outcome, http_status,
	error, processed_at, attempts, created_at, updated_at
	FROM webhook_inbox;
DROP TABLE webhook_inbox;
ALTER TABLE webhook_inbox_old RENAME TO webhook_inbox;
CREATE INDEX webhook_inbox_outcome ON webhook_inbox (outcome, received_at);
CREATE INDEX webhook_inbox_source ON webhook_inbox (source, received_at);
