-- Back to 0020, in the reverse order of the up migration.

-- The refunds the bookers' cancels made are kept, as asked for by the
-- booker (cause request): 0019's causes have no other for them.
CREATE TABLE refunds_new (
	id			TEXT PRIMARY KEY,
	booking_id		TEXT NOT NULL REFERENCES training_bookings (id),
	user_id			TEXT NOT NULL REFERENCES users (id),	-- the booker
	payment_transaction_id	TEXT NOT NULL REFERENCES payment_transactions (id),
	refund_reference	TEXT NOT NULL UNIQUE,
	amount_minor		BIGINT NOT NULL CHECK (amount_minor > 0),
	processing_fee_minor	BIGINT NOT NULL DEFAULT 0 CHECK (processing_fee_minor >= 0),
	currency		TEXT NOT NULL CHECK (length(currency) = 3),
	cause			TEXT NOT NULL CHECK (cause IN ('request', 'schedule_cancelled',
				'staff_cancelled', 'late_payment', 'duplicate_payment')),
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
	-- What goes back (net_refund_minor, computed) is amount less the fee.
	CHECK (processing_fee_minor <= amount_minor)
);
INSERT INTO refunds_new (
	id, booking_id, user_id, payment_transaction_id, refund_reference,
	amount_minor, processing_fee_minor, currency, cause, policy, reason,
	override_reason, rejection_reason, cancels_booking, status,
	stripe_refund_id, failure_reason, requested_by, requested_at,
	approved_at, rejected_at, processed_at, completed_at, failed_at,
	processed_by, created_at, updated_at, created_by, updated_by)
	SELECT
	id, booking_id, user_id, payment_transaction_id, refund_reference,
	amount_minor, processing_fee_minor, currency,
	CASE cause WHEN 'booker_cancelled' THEN 'request' ELSE cause END, policy, reason,
	override_reason, rejection_reason, cancels_booking, status,
	stripe_refund_id, failure_reason, requested_by, requested_at,
	approved_at, rejected_at, processed_at, completed_at, failed_at,
	processed_by, created_at, updated_at, created_by, updated_by
	FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_new RENAME TO refunds;
CREATE INDEX refunds_booking ON refunds (booking_id, status);
CREATE INDEX refunds_user ON refunds (user_id);
CREATE INDEX refunds_transaction ON refunds (payment_transaction_id);
UPDATE permissions SET description = 'cancel your own pending training booking'
	WHERE name = 'training_bookings:cancel:own';

DELETE FROM role_permissions WHERE permission = 'training_bookings:confirm:own';
DELETE FROM permissions WHERE name = 'training_bookings:confirm:own';

-- The requirements' defaults as 0018 made them (shared, not
-- confidential); every row keeps its values.
CREATE TABLE special_requirements_new (
	id			TEXT PRIMARY KEY,
	booking_id		TEXT NOT NULL REFERENCES training_bookings (id) ON DELETE CASCADE,
	user_id			TEXT NOT NULL REFERENCES users (id),	-- the booker
	requirement_type	TEXT NOT NULL CHECK (requirement_type IN
				('dietary', 'accessibility', 'medical', 'language', 'learning', 'other')),
	details			BLOB,		-- sealed
	severity		TEXT NOT NULL DEFAULT 'low' CHECK (severity IN ('low', 'medium', 'high')),
	requires_action		INTEGER NOT NULL DEFAULT 0 CHECK (requires_action IN (0, 1)),
	action_completed	INTEGER NOT NULL DEFAULT 0 CHECK (action_completed IN (0, 1)),
	handled_by		TEXT,
	is_confidential		INTEGER NOT NULL DEFAULT 0 CHECK (is_confidential IN (0, 1)),
	share_with_trainer	INTEGER NOT NULL DEFAULT 1 CHECK (share_with_trainer IN (0, 1)),
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
INSERT INTO special_requirements_new (id, booking_id, user_id, requirement_type,
	details, severity, requires_action, action_completed, handled_by,
	is_confidential, share_with_trainer, created_at, updated_at, created_by,
	updated_by)
	SELECT id, booking_id, user_id, requirement_type, details, severity,
	requires_action, action_completed, handled_by, is_confidential,
	share_with_trainer, created_at, updated_at, created_by, updated_by
	FROM special_requirements;
DROP TABLE special_requirements;
ALTER TABLE special_requirements_new RENAME TO special_requirements;
CREATE INDEX special_requirements_booking ON special_requirements (booking_id);
CREATE INDEX special_requirements_user ON special_requirements (user_id);
