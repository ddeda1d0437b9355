-- Back to 0009: erased inbox bodies come back empty.
DROP INDEX webhook_inbox_received_at;
DROP INDEX webhook_inbox_user;
DROP INDEX webhook_inbox_email_index;
ALTER TABLE webhook_inbox DROP COLUMN body_erased_at;
ALTER TABLE webhook_inbox DROP COLUMN user_id;
ALTER TABLE webhook_inbox DROP COLUMN email_index;
UPDATE webhook_inbox SET body = '\x'::bytea WHERE body IS NULL;
ALTER TABLE webhook_inbox ALTER COLUMN body SET NOT NULL;
