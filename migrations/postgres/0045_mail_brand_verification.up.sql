-- Issue 19 item 6, mail people can act on.
--
-- The brand of every mail's layout beside business_name: the logo (an
-- http(s) URL the mail shows as an image; not set: the name instead) and
-- the colour of its band ("#rrggbb"). Public: the web application shows
-- the same brand.
INSERT INTO settings (id, key, value, value_type, category, display_name, description,
	is_public, is_editable, requires_restart, validation_rules, default_value,
	created_at, updated_at) VALUES
('5e771a65-0000-4000-8000-000000000025', 'brand_logo_url', NULL, 'string', 'email',
	'Logo in mail (URL)',
	'an http(s) URL of the logo at the top of every mail; not set: the business name instead',
	1, 1, 0, '{"format":"url","max_length":1000}', NULL, 0, 0),
('5e771a65-0000-4000-8000-000000000026', 'brand_colour', NULL, 'string', 'email',
	'Brand colour', 'the colour of the band at the top of every mail and of its links, #rrggbb',
	1, 1, 0, '{"format":"colour"}', '#2b6cb0', 0, 0)
ON CONFLICT (key) DO NOTHING;
UPDATE settings_epoch SET epoch = epoch + 1 WHERE id = 1;

-- An address is verified when its owner opened the link mailed to it at
-- sign-up (POST /v1/auth/verify-email), chose a password through a link
-- mailed to it (reset, invitation), or was made by staff. Until then it
-- gets no mail but those links. Accounts there already are taken as
-- verified: they were made before verification was asked for.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
UPDATE users SET email_verified_at = created_at;

-- The single-use links mailed to an address: verify_email (sign-up) and
-- set_password (a staff invitation). Only the token's hash is kept.
CREATE TABLE email_tokens (
	id		TEXT PRIMARY KEY,
	user_id		TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	purpose		TEXT NOT NULL CHECK (purpose IN ('verify_email', 'set_password')),
	token_hash	TEXT NOT NULL UNIQUE,
	created_at	BIGINT NOT NULL,
	expires_at	BIGINT NOT NULL,
	used_at		BIGINT
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose, created_at);
