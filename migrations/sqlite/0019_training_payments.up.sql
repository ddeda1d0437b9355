-- Training payments and refunds (seed 004, issue 16 part 1c, items 4 and
-- 5): a booking paid through Stripe (a PaymentIntent a booking), the
-- Stripe webhook events already applied (deduplication by event id, in
-- the transaction of the event's effect), and refunds with their staff
-- approval and their state at the provider. Money is integer minor
-- units; times BIGINT ms. The rules are the training module's
-- (src/training/payments.c, stripe_webhook.c, refunds.c); the CHECKs and
-- unique indexes here are backstops for any other path.

-- One row a PaymentIntent: the attempt to pay a booking. Its status
-- follows the intent's webhook events; failed attempts are counted.
CREATE TABLE payment_transactions (
	id			TEXT PRIMARY KEY,
	booking_id		TEXT NOT NULL REFERENCES training_bookings (id),
	user_id			TEXT NOT NULL REFERENCES users (id),	-- the booker
	provider		TEXT NOT NULL DEFAULT 'stripe' CHECK (provider IN ('stripe')),
	-- One PaymentIntent pays at most one booking.
	stripe_payment_intent_id TEXT NOT NULL UNIQUE,
	amount_minor		BIGINT NOT NULL CHECK (amount_minor > 0),
	currency		TEXT NOT NULL CHECK (length(currency) = 3),
	status			TEXT NOT NULL DEFAULT 'created' CHECK (status IN
				('created', 'processing', 'succeeded', 'failed', 'canceled')),
	payment_method		TEXT,		-- the provider's id; cleared on erasure
	failure_code		TEXT,
	failures		INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
	succeeded_at		BIGINT,
	-- Refunds not rejected or failed: never more than was paid.
	refund_committed_minor	BIGINT NOT NULL DEFAULT 0,
	-- What went back: refunds completed at the provider, less fees.
	refunded_minor		BIGINT NOT NULL DEFAULT 0,
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT,
	CHECK (refund_committed_minor >= 0 AND refund_committed_minor <= amount_minor),
	CHECK (refunded_minor >= 0 AND refunded_minor <= refund_committed_minor)
);
CREATE INDEX payment_transactions_booking ON payment_transactions (booking_id);
CREATE INDEX payment_transactions_user ON payment_transactions (user_id);

-- The Stripe events applied, by Stripe's event id: an event delivered
-- again (Stripe retries, at once or days later) finds its row and does
-- nothing twice. Written in the transaction of the event's effect.
CREATE TABLE stripe_events (
	event_id		TEXT PRIMARY KEY,
	event_type		TEXT NOT NULL,
	object_id		TEXT,
	effect			TEXT NOT NULL,
	processed_at		BIGINT NOT NULL
);

-- A refund of a payment, in part or in whole. Requested by the booker or
-- staff (pending until staff approve or reject it), or made approved by
-- carebase itself (a cancelled schedule, staff's cancel of a paid
-- booking, a payment that came too late or twice). Approved refunds are
-- sent to the provider by the training.refund job (processing) and
-- completed or failed by its webhook.
CREATE TABLE refunds (
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
CREATE INDEX refunds_booking ON refunds (booking_id, status);
CREATE INDEX refunds_user ON refunds (user_id);
CREATE INDEX refunds_transaction ON refunds (payment_transaction_id);

-- Admins see every payment and refund and decide refunds; members pay
-- their bookings, see their payments and ask for refunds of them.
INSERT INTO permissions (name, description) VALUES
	('training_bookings:pay:own', 'pay your own training bookings (Stripe)'),
	('payment_transactions:read:all', 'read every training payment'),
	('payment_transactions:read:own', 'read the payments of your bookings'),
	('refunds:read:all', 'read every refund'),
	('refunds:read:own', 'read the refunds of your bookings'),
	('refunds:create:all', 'ask for a refund of any paid booking, overriding the policy'),
	('refunds:create:own', 'ask for a refund of your paid booking'),
	('refunds:approve:all', 'approve or reject refunds');

INSERT INTO role_permissions (role, permission)
	SELECT 'admin', name FROM permissions WHERE (name LIKE 'payment_transactions:%'
	OR name LIKE 'refunds:%') AND name NOT LIKE '%:own';
INSERT INTO role_permissions (role, permission) VALUES
	('member', 'training_bookings:pay:own'), ('member', 'payment_transactions:read:own'),
	('member', 'refunds:read:own'), ('member', 'refunds:create:own');
-- Staff's confirm no longer stands in for payment: it is the offline path.
UPDATE permissions SET description = 'confirm training bookings paid offline (invoice, cash)'
	WHERE name = 'training_bookings:confirm:all';
