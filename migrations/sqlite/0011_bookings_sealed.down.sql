-- Back to 0010. Sealed values cannot be opened in SQL: rows written sealed
-- lose their time zone and provider (empty text); rows still in clear
-- (legacy_plain = 1) keep them.
CREATE TABLE therapy_bookings_old (
	id			TEXT PRIMARY KEY,
	action			TEXT NOT NULL CHECK (action IN ('NEW_BOOKING',
				'UPDATED_BOOKING', 'CANCELLED_BOOKING')),
	user_id			TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	partner_access_id	TEXT REFERENCES partner_access (id) ON DELETE SET NULL,
	partner_id		TEXT REFERENCES partners (id) ON DELETE SET NULL,
	client_email		BLOB,		-- sealed; unreadable once the user is erased
	client_email_index	TEXT,		-- keyed blind index
	client_timezone		TEXT,
	booking_code		TEXT NOT NULL UNIQUE,
	service_name		TEXT NOT NULL,
	service_provider_name	TEXT NOT NULL,
	service_provider_email	TEXT NOT NULL,
	start_date_time		BIGINT NOT NULL,
	end_date_time		BIGINT NOT NULL,
	rescheduled_from	BIGINT,		-- the start before the last reschedule
	cancelled_at		BIGINT,
	completed_at		BIGINT,
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	CHECK (end_date_time > start_date_time)
);
INSERT INTO therapy_bookings_old (id, action, user_id, partner_access_id,
	partner_id, client_email, client_email_index, client_timezone,
	booking_code, service_name, service_provider_name,
	service_provider_email, start_date_time, end_date_time,
	rescheduled_from, cancelled_at, completed_at, created_at, updated_at)
	SELECT id, action, user_id, partner_access_id, partner_id,
	client_email, client_email_index,
	CASE WHEN legacy_plain = 1 THEN CAST(client_timezone AS TEXT) END,
	booking_code, service_name,
	CASE WHEN legacy_plain = 1 THEN COALESCE(CAST(service_provider_name AS TEXT), '') ELSE '' END,
	CASE WHEN legacy_plain = 1 THEN COALESCE(CAST(service_provider_email AS TEXT), '') ELSE '' END,
	start_date_time, end_date_time, rescheduled_from, cancelled_at,
	completed_at, created_at, updated_at FROM therapy_bookings;
DROP TABLE therapy_bookings;
ALTER TABLE therapy_bookings_old RENAME TO therapy_bookings;
CREATE INDEX therapy_bookings_user ON therapy_bookings (user_id, start_date_time);
CREATE INDEX therapy_bookings_partner ON therapy_bookings (partner_id, id);
CREATE INDEX therapy_bookings_created_at ON therapy_bookings (created_at);
CREATE INDEX therapy_bookings_cancelled_at ON therapy_bookings (cancelled_at);
CREATE INDEX therapy_bookings_email_index ON therapy_bookings (client_email_index);
