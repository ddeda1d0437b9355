-- Back to the tables as 0021 left them, the reasons gone. Refused while a
-- manual refund or a refund of a mismatched payment exists: 0021's tables
-- have no place for them, and dropping them would leave the payments and
-- bookings they refunded counting refunds that are gone (their
-- refund_committed_minor, refunded_minor and payment_status).
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM refunds WHERE method <> 'stripe' OR cause = 'payment_mismatch') THEN
		RAISE EXCEPTION 'migration 0022 down refused: manual or payment_mismatch refunds exist, which 0021 has no place for and their payments count; it runs only once no such refund row is left (completing or rejecting them does not make way)';
	END IF;
END
$$;
UPDATE permissions SET description = 'approve or reject refunds'
	WHERE name = 'refunds:approve:all';
ALTER TABLE refunds DROP CONSTRAINT refunds_method_payment;
ALTER TABLE refunds DROP COLUMN completed_by;
ALTER TABLE refunds DROP COLUMN note;
ALTER TABLE refunds DROP COLUMN method;
ALTER TABLE refunds DROP CONSTRAINT refunds_cause_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_cause_check CHECK (cause IN ('request',
	'schedule_cancelled', 'staff_cancelled', 'booker_cancelled', 'late_payment', 'duplicate_payment'));
ALTER TABLE refunds ALTER COLUMN payment_transaction_id SET NOT NULL;
ALTER TABLE payment_transactions DROP COLUMN unapplied_reason;
ALTER TABLE stripe_events DROP COLUMN reason;
