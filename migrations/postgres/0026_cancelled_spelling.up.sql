-- One spelling across the API (issue 15 item 7): "cancelled", as the
-- training business and the booking system already write it. Therapy
-- sessions and payment transactions said "canceled"; their stored rows,
-- CHECKs and the overlap exclusion now say "cancelled". The API still
-- reads "canceled" on input until the release after 2026-12 (README,
-- Deprecated); it never answers it. The audit log keeps its old entries
-- (therapy_sessions.canceled, payment_transactions.canceled) as written:
-- they are hash-chained and append-only.
--
-- The exclusion goes first: under its old condition a row moved to
-- 'cancelled' would count as live and could collide with another.
ALTER TABLE therapy_sessions DROP CONSTRAINT therapy_sessions_no_overlap;
ALTER TABLE therapy_sessions DROP CONSTRAINT therapy_sessions_status_check;
ALTER TABLE payment_transactions DROP CONSTRAINT payment_transactions_status_check;

UPDATE therapy_sessions SET status = 'cancelled' WHERE status = 'canceled';
UPDATE payment_transactions SET status = 'cancelled' WHERE status = 'canceled';

ALTER TABLE therapy_sessions ADD CONSTRAINT therapy_sessions_status_check
	CHECK (status IN ('scheduled', 'completed', 'cancelled', 'rescheduled', 'no_show'));
ALTER TABLE therapy_sessions ADD CONSTRAINT therapy_sessions_no_overlap
	EXCLUDE USING gist (therapist_id WITH =, int8range(start_time, end_time) WITH &&)
	WHERE (status NOT IN ('cancelled', 'rescheduled'));
ALTER TABLE payment_transactions ADD CONSTRAINT payment_transactions_status_check
	CHECK (status IN ('created', 'processing', 'succeeded', 'failed', 'cancelled'));
