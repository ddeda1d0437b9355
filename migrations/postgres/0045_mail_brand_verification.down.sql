DROP TABLE email_tokens;
ALTER TABLE users DROP COLUMN email_verified_at;
DELETE FROM settings WHERE key IN ('brand_logo_url', 'brand_colour');
UPDATE settings_epoch SET epoch = epoch + 1 WHERE id = 1;
