-- Back to 0015 (the bodies dropped by 0016 stay dropped).
DROP INDEX webhook_inbox_refused_client;
ALTER TABLE webhook_inbox DROP COLUMN client_key;
ALTER TABLE webhook_inbox DROP COLUMN client_addr;
