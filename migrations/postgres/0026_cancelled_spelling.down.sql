-- Back to 0020's spelling, "canceled", for therapy sessions and payment
-- transactions (the way in, in reverse: see the up migration).
ALTER TABLE therapy_sessions DROP CONSTRAINT therapy_sessions_no_overlap;
ALTER TABLE therapy_sessions DROP CONSTRAINT therapy_sessions_status_check;
ALTER TABLE payment_transactions DROP CONSTRAINT payment_transactions_status_check;

UPDATE therapy_sessions SET status = 'canceled' WHERE status = 'cancelled';
UPDATE payment_transactions SET status = 'canceled' WHERE status = 'cancelled';

ALTER TABLE therapy_sessions ADD CONSTRAINT therapy_sessions_status_check
	CHECK (status IN ('scheduled', 'completed', 'canceled', 'rescheduled', 'no_show'));
ALTER TABLE therapy_sessions ADD CONSTRAINT therapy_sessions_no_overlap
	EXCLUDE USING gist (therapist_id WITH =, int8range(start_time, end_time) WITH &&)
	WHERE (status NOT IN ('canceled', 'rescheduled'));
ALTER TABLE payment_transactions ADD CONSTRAINT payment_transactions_status_check
	CHECK (status IN ('created', 'processing', 'succeeded', 'failed', 'canceled'));
