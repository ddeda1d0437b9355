-- Issue 16 review: what the training module's first parts got wrong.
--
-- Special requirements (item 1): a new one is confidential and not shared
-- with the trainer unless the booker says otherwise, as the issue asks
-- (0018 had it the other way). The columns' defaults turn; every row
-- keeps its values.
ALTER TABLE special_requirements
	ALTER COLUMN is_confidential SET DEFAULT 1,
	ALTER COLUMN share_with_trainer SET DEFAULT 0;

-- A booking whose server-computed total is 0 (a 100% discount code) has
-- nothing to pay through Stripe: its booker confirms it (item 3), and it
-- is then paid with no payment transaction. Something to pay is refused.
INSERT INTO permissions (name, description) VALUES
	('training_bookings:confirm:own', 'confirm your own training booking that costs nothing');
INSERT INTO role_permissions (role, permission) VALUES
	('member', 'training_bookings:confirm:own');

-- A booker cancels their own confirmed, paid booking (item 2): what was
-- paid through Stripe goes back under the cancellation policy as a
-- refund carebase makes, approved at once, of its own cause
-- booker_cancelled.
ALTER TABLE refunds DROP CONSTRAINT refunds_cause_check,
	ADD CONSTRAINT refunds_cause_check CHECK (cause IN ('request',
	'schedule_cancelled', 'staff_cancelled', 'booker_cancelled', 'late_payment',
	'duplicate_payment'));
UPDATE permissions SET description = 'cancel your own training booking (once paid, under the cancellation policy)'
	WHERE name = 'training_bookings:cancel:own';
