-- Back to 0010. Sealed values cannot be opened in SQL: rows written sealed
-- lose their time zone and provider (empty text); rows still in clear
-- (legacy_plain = 1) keep them.
DROP INDEX therapy_bookings_legacy_plain;
ALTER TABLE therapy_bookings
	ALTER COLUMN client_timezone TYPE TEXT USING CASE WHEN
	    legacy_plain = 1 THEN convert_from(client_timezone, 'UTF8') END,
	ALTER COLUMN service_provider_name TYPE TEXT USING CASE WHEN
	    legacy_plain = 1 THEN COALESCE(convert_from(service_provider_name,
	    'UTF8'), '') ELSE '' END,
	ALTER COLUMN service_provider_email TYPE TEXT USING CASE WHEN
	    legacy_plain = 1 THEN COALESCE(convert_from(service_provider_email,
	    'UTF8'), '') ELSE '' END;
ALTER TABLE therapy_bookings
	ALTER COLUMN service_provider_name SET NOT NULL,
	ALTER COLUMN service_provider_email SET NOT NULL,
	DROP COLUMN legacy_plain;
