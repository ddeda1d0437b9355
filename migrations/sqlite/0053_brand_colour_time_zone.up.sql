-- Issue 18: a partner's landing page in the partner's colour, and times
-- shown in the person's own time zone.
--
-- partners.brand_colour: "#rrggbb" (checked by the declaration), the band
-- and buttons of the partner's public page; NULL: the site's own colours.
-- users.time_zone: an IANA zone name ("Europe/Berlin", checked against
-- the tzdata list compiled in); NULL: the browser's zone.
ALTER TABLE partners ADD COLUMN brand_colour TEXT;
ALTER TABLE users ADD COLUMN time_zone TEXT;
