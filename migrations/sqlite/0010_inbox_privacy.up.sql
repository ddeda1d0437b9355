-- Privacy of the webhook inbox (issue 6 follow-up).
--
-- webhook_inbox: a body may now be removed (NULL) while the row's outcome
-- stays. user_id is the user the handler resolved the body to (the booking
-- webhook: by user_id or client_email); email_index the keyed blind index
-- of the address the body names (client_email), kept even when no user
-- had it. Erasing a person removes the body of every row tied to them by
-- either (body_erased_at says when) and clears email_index. Rows older
-- than webhook_inbox_retention_days are deleted by the webhooks.prune job.
-- SQLite cannot drop NOT NULL in place: the table is rebuilt (nothing
-- refers to it).
CREATE TABLE webhook_inbox_new (
	id			TEXT PRIMARY KEY,
	source			TEXT NOT NULL,
	received_at		BIGINT NOT NULL,
	request_id		TEXT,
	headers			TEXT NOT NULL DEFAULT '{}',	-- JSON object
	body			BLOB,				-- sealed; NULL once erased
	body_bytes		BIGINT NOT NULL,		-- length as received
	body_erased_at		BIGINT,				-- the person's erasure removed it
	user_id			TEXT,				-- the user the body concerns
	email_index		TEXT,				-- blind index of the address it names
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
INSERT INTO webhook_inbox_new (id, source, received_at, request_id, headers,
	body, body_bytes, signature_ok, outcome, http_status, error,
	processed_at, attempts, created_at, updated_at)
	SELECT id, source, received_at, request_id, headers, body, body_bytes,
	signature_ok, outcome, http_status, error, processed_at, attempts,
	created_at, updated_at FROM webhook_inbox;
DROP TABLE webhook_inbox;
ALTER TABLE webhook_inbox_new RENAME TO webhook_inbox;
CREATE INDEX webhook_inbox_outcome ON webhook_inbox (outcome, received_at);
CREATE INDEX webhook_inbox_source ON webhook_inbox (source, received_at);
CREATE INDEX webhook_inbox_received_at ON webhook_inbox (received_at);
CREATE INDEX webhook_inbox_user ON webhook_inbox (user_id);
CREATE INDEX webhook_inbox_email_index ON webhook_inbox (email_index);
