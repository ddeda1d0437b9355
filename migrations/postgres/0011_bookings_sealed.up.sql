-- Privacy of therapy bookings (issue 6 follow-up).
--
-- therapy_bookings: client_timezone, service_provider_name and
-- service_provider_email are sealed under the booking user's data key
-- (bound to "therapy_bookings.<column>:<id>"), like client_email, so
-- erasure makes them unreadable. Rows from before this migration hold
-- the text as it was (legacy_plain = 1) until the partners module seals
-- them at start-up (bookings_seal_legacy); new rows are written sealed.
ALTER TABLE therapy_bookings
	ALTER COLUMN client_timezone TYPE BYTEA
	    USING convert_to(client_timezone, 'UTF8'),
	ALTER COLUMN service_provider_name TYPE BYTEA
	    USING convert_to(service_provider_name, 'UTF8'),
	ALTER COLUMN service_provider_name DROP NOT NULL,
	ALTER COLUMN service_provider_email TYPE BYTEA
	    USING convert_to(service_provider_email, 'UTF8'),
	ALTER COLUMN service_provider_email DROP NOT NULL,
	ADD COLUMN legacy_plain INTEGER NOT NULL DEFAULT 1;
ALTER TABLE therapy_bookings ALTER COLUMN legacy_plain SET DEFAULT 0;
CREATE INDEX therapy_bookings_legacy_plain ON therapy_bookings (legacy_plain);
