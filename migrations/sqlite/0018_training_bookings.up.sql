-- Training bookings (seed 004, issue 16 part 1b): discount codes, booking
-- inquiries (questions before booking that hold seats for a while),
-- bookings (a hold of seats until paid) and the people each booking names.
-- Money is integer minor units; times BIGINT ms. The rules are the
-- training module's (src/training/bookings.c), checked under the
-- schedule's lock in one write transaction; the CHECKs and unique
-- indexes here are backstops for any other path. Personal fields (names,
-- addresses, questions, notes) are sealed under the booker's data key.

CREATE TABLE discount_codes (
	id			TEXT PRIMARY KEY,
	code			TEXT NOT NULL UNIQUE,		-- upper case
	description		TEXT,
	discount_type		TEXT NOT NULL CHECK (discount_type IN ('percentage', 'fixed')),
	discount_value		BIGINT NOT NULL CHECK (discount_value > 0),
	currency		TEXT NOT NULL DEFAULT 'GBP'
				CHECK (length(currency) = 3 AND upper(currency) = currency),
	valid_from		BIGINT,
	valid_until		BIGINT,
	usage_limit		INTEGER CHECK (usage_limit > 0),
	usage_count		INTEGER NOT NULL DEFAULT 0,
	course_type		TEXT CHECK (course_type IN
				('EFAW', 'FAW', 'Paediatric', 'requalification', 'refresher')),
	min_price_minor		BIGINT CHECK (min_price_minor >= 0),
	is_active		INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT,
	CHECK (discount_type <> 'percentage' OR discount_value <= 100),
	CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from),
	-- Never used more than its limit, whatever wrote it.
	CHECK (usage_count >= 0 AND (usage_limit IS NULL OR usage_count <= usage_limit))
);

CREATE TABLE booking_inquiries (
	id			TEXT PRIMARY KEY,
	user_id			TEXT NOT NULL REFERENCES users (id),
	schedule_id		TEXT NOT NULL REFERENCES course_schedules (id),
	inquiry_reference	TEXT NOT NULL UNIQUE,
	first_name		BLOB,		-- sealed
	last_name		BLOB,		-- sealed
	email			BLOB,		-- sealed
	phone			BLOB,		-- sealed
	questions		BLOB,		-- sealed
	number_of_people	INTEGER NOT NULL CHECK (number_of_people BETWEEN 1 AND 12),
	status			TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
				('pending', 'responded', 'converted', 'expired')),
	hold_expires_at		BIGINT NOT NULL,
	responded_at		BIGINT,
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
CREATE INDEX booking_inquiries_schedule ON booking_inquiries (schedule_id, status);
CREATE INDEX booking_inquiries_user ON booking_inquiries (user_id);
CREATE INDEX booking_inquiries_hold ON booking_inquiries (status, hold_expires_at);

CREATE TABLE training_bookings (
	id			TEXT PRIMARY KEY,
	user_id			TEXT NOT NULL REFERENCES users (id),	-- the booker
	schedule_id		TEXT NOT NULL REFERENCES course_schedules (id),
	booking_reference	TEXT NOT NULL UNIQUE,
	status			TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
				('pending', 'confirmed', 'completed', 'cancelled', 'no_show')),
	payment_status		TEXT NOT NULL DEFAULT 'pending' CHECK (payment_status IN
				('pending', 'paid', 'partially_refunded', 'refunded', 'failed')),
	seats			INTEGER NOT NULL CHECK (seats BETWEEN 1 AND 12),
	unit_price_minor	BIGINT NOT NULL CHECK (unit_price_minor >= 0),
	subtotal_minor		BIGINT NOT NULL CHECK (subtotal_minor >= 0),
	discount_code_id	TEXT REFERENCES discount_codes (id),
	discount_minor		BIGINT NOT NULL DEFAULT 0 CHECK (discount_minor >= 0),
	total_minor		BIGINT NOT NULL CHECK (total_minor >= 0),
	currency		TEXT NOT NULL DEFAULT 'GBP',
	hold_expires_at		BIGINT,		-- while pending
	discount_released_at	BIGINT,		-- its code's use given back
	inquiry_id		TEXT REFERENCES booking_inquiries (id),
	notes			BLOB,		-- sealed
	confirmed_at		BIGINT,
	cancelled_at		BIGINT,
	cancel_reason		TEXT CHECK (cancel_reason IN
				('booker', 'staff', 'hold_expired', 'schedule_cancelled')),
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
CREATE INDEX training_bookings_schedule ON training_bookings (schedule_id, status);
CREATE INDEX training_bookings_user ON training_bookings (user_id);
CREATE INDEX training_bookings_hold ON training_bookings (status, hold_expires_at);
-- One live booking a person a schedule (ALREADY_BOOKED); holds past
-- their time are expired in the booking's own transaction first.
CREATE UNIQUE INDEX training_bookings_one_live ON training_bookings (schedule_id, user_id)
	WHERE status IN ('pending', 'confirmed');
-- One use of a code a person, until the use is given back.
CREATE UNIQUE INDEX training_bookings_one_use ON training_bookings (discount_code_id, user_id)
	WHERE discount_code_id IS NOT NULL AND discount_released_at IS NULL;

CREATE TABLE training_booking_attendees (
	id			TEXT PRIMARY KEY,
	booking_id		TEXT NOT NULL REFERENCES training_bookings (id) ON DELETE CASCADE,
	user_id			TEXT NOT NULL REFERENCES users (id),	-- the booker
	position		INTEGER NOT NULL CHECK (position >= 1),
	name			BLOB,		-- sealed
	email			BLOB,		-- sealed
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT,
	UNIQUE (booking_id, position)
);
CREATE INDEX training_booking_attendees_user ON training_booking_attendees (user_id);

-- A booking's special requirements (seed 004: special_requirements):
-- dietary, accessibility, medical, language, learning or other needs, the
-- details sealed under the booker's key; shared with the trainer unless
-- confidential or not to be shared.
CREATE TABLE special_requirements (
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
CREATE INDEX special_requirements_booking ON special_requirements (booking_id);
CREATE INDEX special_requirements_user ON special_requirements (user_id);

-- Admins run bookings and codes; members book and ask for themselves;
-- instructors read the bookings of the schedules they teach.
INSERT INTO permissions (name, description) VALUES
	('discount_codes:read:all', 'read every discount code'),
	('discount_codes:create:all', 'create discount codes'),
	('discount_codes:update:all', 'update discount codes'),
	('training_bookings:read:all', 'read every training booking'),
	('training_bookings:read:related', 'read the bookings of the schedules you teach'),
	('training_bookings:read:own', 'read your training bookings'),
	('training_bookings:create:all', 'book training courses'),
	('training_bookings:create:own', 'book training courses for yourself'),
	('training_bookings:update:all', 'change any training booking''s notes'),
	('training_bookings:update:own', 'change your training booking''s notes'),
	('training_bookings:confirm:all', 'confirm training bookings (stands in for payment)'),
	('training_bookings:cancel:all', 'cancel any training booking'),
	('training_bookings:cancel:own', 'cancel your own pending training booking'),
	('training_bookings:attend:all', 'mark training bookings completed or no-show'),
	('training_booking_attendees:read:all', 'read every booking''s attendees'),
	('training_booking_attendees:read:related', 'read the attendees of the schedules you teach'),
	('training_booking_attendees:read:own', 'read the attendees of your bookings'),
	('booking_inquiries:read:all', 'read every booking inquiry'),
	('booking_inquiries:read:own', 'read your booking inquiries'),
	('booking_inquiries:create:all', 'make booking inquiries'),
	('booking_inquiries:create:own', 'make booking inquiries for yourself'),
	('booking_inquiries:respond:all', 'mark booking inquiries responded'),
	('special_requirements:read:all', 'read every special requirement'),
	('special_requirements:read:related', 'read the shared requirements of the schedules you teach'),
	('special_requirements:read:own', 'read the requirements of your bookings'),
	('special_requirements:create:all', 'add special requirements to any booking'),
	('special_requirements:create:own', 'add special requirements to your bookings'),
	('special_requirements:update:all', 'change special requirements and mark them handled'),
	('special_requirements:update:own', 'change the requirements of your bookings'),
	('special_requirements:delete:all', 'delete special requirements'),
	('special_requirements:delete:own', 'delete the requirements of your bookings');

INSERT INTO role_permissions (role, permission)
	SELECT 'admin', name FROM permissions WHERE (name LIKE 'discount_codes:%'
	OR name LIKE 'training_bookings:%' OR name LIKE 'training_booking_attendees:%'
	OR name LIKE 'booking_inquiries:%' OR name LIKE 'special_requirements:%')
	AND name NOT LIKE '%:own'
	AND name NOT LIKE '%:related';
INSERT INTO role_permissions (role, permission) VALUES
	('member', 'training_bookings:read:own'), ('member', 'training_bookings:create:own'),
	('member', 'training_bookings:update:own'), ('member', 'training_bookings:cancel:own'),
	('member', 'training_booking_attendees:read:own'),
	('member', 'booking_inquiries:read:own'), ('member', 'booking_inquiries:create:own'),
	('member', 'special_requirements:read:own'), ('member', 'special_requirements:create:own'),
	('member', 'special_requirements:update:own'), ('member', 'special_requirements:delete:own'),
	('instructor', 'special_requirements:read:related'),
	('instructor', 'training_bookings:read:related'),
	('instructor', 'training_booking_attendees:read:related');
