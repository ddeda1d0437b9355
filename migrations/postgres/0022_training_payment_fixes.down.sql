-- Back to the tables as 0021 left them: manual refunds and refunds of
-- mismatched payments have no place in them and are dropped; the reasons
-- go.
UPDATE permissions SET description = 'approve or reject refunds'
	WHERE name = 'refunds:approve:all';
DELETE FROM refunds WHERE method <> 'stripe' OR cause = 'payment_mismatch';
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
