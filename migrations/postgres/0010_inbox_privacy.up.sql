-- Privacy of the webhook inbox (issue 6 follow-up).
--
-- webhook_inbox: a body may now be removed (NULL) while the row's outcome
-- stays. user_id is the user the handler resolved the body to (the booking
-- webhook: by user_id or client_email); email_index the keyed blind index
-- of the address the body names (client_email), kept even when no user
-- had it. Erasing a person removes the body of every row tied to them by
-- either (body_erased_at says when) and clears email_index. Rows older
-- than webhook_inbox_retention_days are deleted by the webhooks.prune job.
ALTER TABLE webhook_inbox ALTER COLUMN body DROP NOT NULL;
ALTER TABLE webhook_inbox ADD COLUMN body_erased_at BIGINT;
ALTER TABLE webhook_inbox ADD COLUMN user_id TEXT;
ALTER TABLE webhook_inbox ADD COLUMN email_index TEXT;
CREATE INDEX webhook_inbox_received_at ON webhook_inbox (received_at);
CREATE INDEX webhook_inbox_user ON webhook_inbox (user_id);
CREATE INDEX webhook_inbox_email_index ON webhook_inbox (email_index);
