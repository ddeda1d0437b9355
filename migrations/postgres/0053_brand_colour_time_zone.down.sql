-- Back to before 0053: no partner colour, no person's time zone.
ALTER TABLE users DROP COLUMN time_zone;
ALTER TABLE partners DROP COLUMN brand_colour;
