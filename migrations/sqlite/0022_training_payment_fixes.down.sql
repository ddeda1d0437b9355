-- Back to the tables as 0021 left them, the reasons gone. Refused while a
-- manual refund or a refund of a mismatched payment exists: 0021's tables
-- have no place for them, and dropping them would leave the payments and
-- bookings they refunded counting refunds that are gone (their
-- refund_committed_minor, refunded_minor and payment_status). SQLite has
-- no RAISE outside a trigger: a temporary one refuses the insert that
-- finds such a row, and the migration's transaction with it.
CREATE TEMP TABLE m0022_down_guard (n INTEGER);
CREATE TEMP TRIGGER m0022_down_guard BEFORE INSERT ON m0022_down_guard
BEGIN
	SELECT RAISE(ABORT, 'migration 0022 down refused: manual or payment_mismatch refunds exist, which 0021 has no place for and their payments count; it runs only once no such refund row is left (completing or rejecting them does not make way)');
END;
INSERT INTO m0022_down_guard SELECT 1 WHERE EXISTS (SELECT 1 FROM refunds
	WHERE method <> 'stripe' OR cause = 'payment_mismatch');
DROP TRIGGER temp.m0022_down_guard;
DROP TABLE temp.m0022_down_guard;
UPDATE permissions SET description = 'approve or reject refunds'
	WHERE name = 'refunds:approve:all';
CREATE TABLE refunds_0019 (
	id			TEXT PRIMARY KEY,
	booking_id		TEXT NOT NULL REFERENCES training_bookings (id),
	user_id			TEXT NOT NULL REFERENCES users (id),	-- the booker
	payment_transaction_id	TEXT NOT NULL REFERENCES payment_transactions (id),
	refund_reference	TEXT NOT NULL UNIQUE,
	amount_minor		BIGINT NOT NULL CHECK (amount_minor > 0),
	processing_fee_minor	BIGINT NOT NULL DEFAULT 0 CHECK (processing_fee_minor >= 0),
	currency		TEXT NOT NULL CHECK (length(currency) = 3),
	cause			TEXT NOT NULL CHECK (cause IN ('request', 'schedule_cancelled',
				'staff_cancelled', 'booker_cancelled', 'late_payment', 'duplicate_payment')),
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
	CHECK (processing_fee_minor <= amount_minor)
);
INSERT INTO refunds_0019 (id, booking_id, user_id, payment_transaction_id,
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
	created_by, updated_by FROM refunds
	WHERE method = 'stripe' AND cause <> 'payment_mismatch';
DROP TABLE refunds;
ALTER TABLE refunds_0019 RENAME TO refunds;
CREATE INDEX refunds_booking ON refunds (booking_id, status);
CREATE INDEX refunds_user ON refunds (user_id);
CREATE INDEX refunds_transaction ON refunds (payment_transaction_id);
ALTER TABLE payment_transactions DROP COLUMN unapplied_reason;
ALTER TABLE stripe_events DROP COLUMN reason;
