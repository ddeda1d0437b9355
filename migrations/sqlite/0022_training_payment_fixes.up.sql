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
-- SQLite cannot change a CHECK or drop a NOT NULL in place: refunds is
-- made again with the same columns, these added last (as PostgreSQL's
-- ALTER TABLE adds them), and its rows copied.

ALTER TABLE stripe_events ADD COLUMN reason TEXT;

ALTER TABLE payment_transactions ADD COLUMN unapplied_reason TEXT
	CHECK (unapplied_reason IN ('duplicate', 'amount', 'currency', 'booking'));

CREATE TABLE refunds_0022 (
	id			TEXT PRIMARY KEY,
	booking_id		TEXT NOT NULL REFERENCES training_bookings (id),
	user_id			TEXT NOT NULL REFERENCES users (id),	-- the booker
	-- NULL for a manual refund (a booking paid offline).
	payment_transaction_id	TEXT REFERENCES payment_transactions (id),
	refund_reference	TEXT NOT NULL UNIQUE,
	amount_minor		BIGINT NOT NULL CHECK (amount_minor > 0),
	processing_fee_minor	BIGINT NOT NULL DEFAULT 0 CHECK (processing_fee_minor >= 0),
	currency		TEXT NOT NULL CHECK (length(currency) = 3),
	cause			TEXT NOT NULL CHECK (cause IN ('request', 'schedule_cancelled',
				'staff_cancelled', 'booker_cancelled', 'late_payment', 'duplicate_payment',
				'payment_mismatch')),
	policy			TEXT NOT NULL CHECK (policy IN ('full', 'fee', 'override')),
	reason			BLOB,		-- sealed
	override_reason		BLOB,		-- sealed
	rejection_reason	BLOB,		-- sealed
	cancels_booking		INTEGER NOT NULL DEFAULT 0 CHECK (cancels_booking IN (0, 1)),
	status			TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
				('pending', 'approved', 'rejected', 'processing', 'completed', 'failed')),
	stripe_refund_id	TEXT UNIQUE,
	failure_reason		TEXT,
	requested_by		TEXT,
	requested_at		BIGINT NOT NULL,
	approved_at		BIGINT,
	rejected_at		BIGINT,
	processed_at		BIGINT,		-- sent to the provider
	completed_at		BIGINT,
	failed_at		BIGINT,
	processed_by		TEXT,		-- the staff member who approved or rejected it
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT,
	-- stripe: sent by the training.refund job; manual: paid back by staff.
	method			TEXT NOT NULL DEFAULT 'stripe' CHECK (method IN ('stripe', 'manual')),
	note			BLOB,		-- sealed: how a manual refund was paid back
	completed_by		TEXT,		-- the staff member who marked it completed
	CHECK (processing_fee_minor <= amount_minor),
	CHECK ((method = 'stripe') = (payment_transaction_id IS NOT NULL))
);
INSERT INTO refunds_0022 (id, booking_id, user_id, payment_transaction_id,
	refund_reference, amount_minor, processing_fee_minor, currency, cause, policy,
	reason, override_reason, rejection_reason, cancels_booking, status,
	stripe_refund_id, failure_reason, requested_by, requested_at, approved_at,
	rejected_at, processed_at, completed_at, failed_at, processed_by, created_at,
	updated_at, created_by, updated_by)
	SELECT id, booking_id, user_id, payment_transaction_id, refund_reference,
	amount_minor, processing_fee_minor, currency, cause, policy, reason,
	override_reason, rejection_reason, cancels_booking, status, stripe_refund_id,
	failure_reason, requested_by, requested_at, approved_at, rejected_at,
	processed_at, completed_at, failed_at, processed_by, created_at, updated_at,
	created_by, updated_by FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_0022 RENAME TO refunds;
CREATE INDEX refunds_booking ON refunds (booking_id, status);
CREATE INDEX refunds_user ON refunds (user_id);
CREATE INDEX refunds_transaction ON refunds (payment_transaction_id);

UPDATE permissions SET description = 'approve or reject refunds, and mark manual ones paid back'
	WHERE name = 'refunds:approve:all';
