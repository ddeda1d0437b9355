-- Privacy of therapy bookings (issue 6 follow-up).
--
-- therapy_bookings: client_timezone, service_provider_name and
-- service_provider_email are sealed under the booking user's data key
-- (bound to "therapy_bookings.<column>:<id>"), like client_email, so
-- erasure makes them unreadable. Rows from before this migration hold
-- the text as it was (legacy_plain = 1) until the partners module seals
-- them at start-up (bookings_seal_legacy); new rows are written sealed.
CREATE TABLE therapy_bookings_new (
	id			TEXT PRIMARY KEY,
	action			TEXT NOT NULL CHECK (action IN ('NEW_BOOKING',
				'UPDATED_BOOKING', 'CANCELLED_BOOKING')),
	user_id			TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	partner_access_id	TEXT REFERENCES partner_access (id) ON DELETE SET NULL,
	partner_id		TEXT REFERENCES partners (id) ON DELETE SET NULL,
	client_email		BLOB,		-- sealed; unreadable once the user is erased
	client_email_index	TEXT,		-- keyed blind index
	client_timezone		BLOB,		-- sealed
	booking_code		TEXT NOT NULL UNIQUE,
	service_name		TEXT NOT NULL,
	service_provider_name	BLOB,		-- sealed
	service_provider_email	BLOB,		-- sealed
	legacy_plain		INTEGER NOT NULL DEFAULT 0,	-- 1: the three above in clear
	start_date_time		BIGINT NOT NULL,
	end_date_time		BIGINT NOT NULL,
	rescheduled_from	BIGINT,		-- the start before the last reschedule
	cancelled_at		BIGINT,
	completed_at		BIGINT,
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	CHECK (end_date_time > start_date_time)
);
INSERT INTO therapy_bookings_new (id, action, user_id, partner_access_id,
	partner_id, client_email, client_email_index, client_timezone,
	booking_code, service_name, service_provider_name,
	service_provider_email, legacy_plain, start_date_time, end_date_time,
	rescheduled_from, cancelled_at, completed_at, created_at, updated_at)
	SELECT id, action, user_id, partner_access_id, partner_id,
	client_email, client_email_index, CAST(client_timezone AS BLOB),
	booking_code, service_name, CAST(service_provider_name AS BLOB),
	CAST(service_provider_email AS BLOB), 1, start_date_time,
	end_date_time, rescheduled_from, cancelled_at, completed_at,
	created_at, updated_at FROM therapy_bookings;
DROP TABLE therapy_bookings;
ALTER TABLE therapy_bookings_new RENAME TO therapy_bookings;
CREATE INDEX therapy_bookings_user ON therapy_bookings (user_id, start_date_time);
CREATE INDEX therapy_bookings_partner ON therapy_bookings (partner_id, id);
CREATE INDEX therapy_bookings_created_at ON therapy_bookings (created_at);
CREATE INDEX therapy_bookings_cancelled_at ON therapy_bookings (cancelled_at);
CREATE INDEX therapy_bookings_email_index ON therapy_bookings (client_email_index);
CREATE INDEX therapy_bookings_legacy_plain ON therapy_bookings (legacy_plain);
