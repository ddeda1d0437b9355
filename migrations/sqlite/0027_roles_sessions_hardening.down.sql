-- Back to 0026: the mail log's indexes go.
DROP INDEX email_log_status;
DROP INDEX email_log_sent_at;
