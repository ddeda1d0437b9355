-- Training payments and refunds, second review of issue 16:
--   - a Stripe event that is not carebase's is kept with why it was
--     ignored (stripe_events.reason), as one that did not match is;
--   - a payment that did not pay its booking (the booking was paid
--     already, or its amount, currency or booking was not the one the
--     intent was made for) says so (payment_transactions.
--     unapplied_reason) and is refunded in full (cause payment_mismatch
--     for a mismatch);
--   - a booking paid offline (invoice, cash) is refunded by a manual
--     refund (method manual, no payment transaction): staff pay it back
--     and mark it completed with a note (sealed) and who did it.

ALTER TABLE stripe_events ADD COLUMN reason TEXT;

ALTER TABLE payment_transactions ADD COLUMN unapplied_reason TEXT
	CHECK (unapplied_reason IN ('duplicate', 'amount', 'currency', 'booking'));

ALTER TABLE refunds ALTER COLUMN payment_transaction_id DROP NOT NULL;
ALTER TABLE refunds DROP CONSTRAINT refunds_cause_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_cause_check CHECK (cause IN ('request',
	'schedule_cancelled', 'staff_cancelled', 'booker_cancelled', 'late_payment', 'duplicate_payment',
	'payment_mismatch'));
-- stripe: sent by the training.refund job; manual: paid back by staff.
ALTER TABLE refunds ADD COLUMN method TEXT NOT NULL DEFAULT 'stripe'
	CHECK (method IN ('stripe', 'manual'));
ALTER TABLE refunds ADD COLUMN note BYTEA;		-- sealed: how a manual refund was paid back
ALTER TABLE refunds ADD COLUMN completed_by TEXT;	-- the staff member who marked it completed
ALTER TABLE refunds ADD CONSTRAINT refunds_method_payment
	CHECK ((method = 'stripe') = (payment_transaction_id IS NOT NULL));

UPDATE permissions SET description = 'approve or reject refunds, and mark manual ones paid back'
	WHERE name = 'refunds:approve:all';
