-- Webhook calls refused for their credentials (issue 14: refused webhooks
-- filled the database without credentials). Anyone can make such a call,
-- so only its metadata is kept: time, source, bytes received, status and
-- reason, and the client address (client_addr as seen, client_key the
-- address's limit key: IPv4, or an IPv6 /64). At most
-- webhook_refused_max_per_address such rows (signature_ok = 0) per
-- client_key are kept at a time (src/ops/inbox_refused.c). Bodies of
-- refused calls stored before this migration are dropped here.
ALTER TABLE webhook_inbox ADD COLUMN client_addr TEXT;
ALTER TABLE webhook_inbox ADD COLUMN client_key TEXT;
CREATE INDEX webhook_inbox_refused_client ON webhook_inbox (client_key)
	WHERE signature_ok = 0;
UPDATE webhook_inbox SET body = NULL, email_index = NULL
	WHERE signature_ok = 0 AND body IS NOT NULL;
