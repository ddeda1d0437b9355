-- Partners (seeds 000 and 002: Partner, Partner Admin, Partner Access):
-- organisations that grant their members extra features, with their
-- branding; the features a partner switches on; the partner's admins; and
-- partner access, one grant of features to one user, redeemed with a code.
-- A code is never stored: code_hash is a keyed BLAKE2b-256 of the code in
-- upper case (src/partners/codes.c). Times are BIGINT ms, booleans 0/1,
-- JSON as text.

CREATE TABLE partners (
	id			TEXT PRIMARY KEY,
	name			TEXT NOT NULL,
	is_active		INTEGER NOT NULL DEFAULT 1,
	logo_url		TEXT,
	logo_alt		TEXT,
	website			TEXT,
	footer_line1		TEXT,
	footer_line2		TEXT,
	social_links		TEXT NOT NULL DEFAULT '{}',	-- JSON object: network -> URL
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
-- Names are unique without regard to case: GET /v1/partners/{name}.
CREATE UNIQUE INDEX partners_name ON partners (lower(name));

CREATE TABLE features (
	id			TEXT PRIMARY KEY,
	name			TEXT NOT NULL UNIQUE,
	description		TEXT NOT NULL DEFAULT '',
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);

CREATE TABLE partner_features (
	id			TEXT PRIMARY KEY,
	partner_id		TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
	feature_id		TEXT NOT NULL REFERENCES features (id) ON DELETE CASCADE,
	is_active		INTEGER NOT NULL DEFAULT 1,
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT,
	UNIQUE (partner_id, feature_id)
);
CREATE INDEX partner_features_feature ON partner_features (feature_id);

-- A partner admin (a user with role partner_admin) administers one partner.
CREATE TABLE partner_admins (
	id			TEXT PRIMARY KEY,
	user_id			TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
	partner_id		TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
	is_active		INTEGER NOT NULL DEFAULT 1,
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
CREATE INDEX partner_admins_partner ON partner_admins (partner_id);

-- One grant of features to one user. Made by a partner admin (or an
-- admin) without a user; the code given once at creation redeems it, once
-- (user_id set by a conditional UPDATE ... WHERE user_id IS NULL). An
-- access made at registration through a partner's automatic_access_code
-- feature has no code. therapy_sessions_remaining and _redeemed are spent
-- and given back atomically by therapy bookings.
CREATE TABLE partner_access (
	id				TEXT PRIMARY KEY,
	partner_id			TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
	created_by			TEXT REFERENCES users (id) ON DELETE SET NULL,
	user_id				TEXT REFERENCES users (id) ON DELETE CASCADE,
	code_hash			TEXT UNIQUE,	-- keyed hash; NULL without a code
	feature_live_chat		INTEGER NOT NULL DEFAULT 0,
	feature_therapy			INTEGER NOT NULL DEFAULT 0,
	therapy_sessions_remaining	INTEGER NOT NULL DEFAULT 0
					CHECK (therapy_sessions_remaining >= 0),
	therapy_sessions_redeemed	INTEGER NOT NULL DEFAULT 0
					CHECK (therapy_sessions_redeemed >= 0),
	is_active			INTEGER NOT NULL DEFAULT 1,
	activated_at			BIGINT,		-- when redeemed
	created_at			BIGINT NOT NULL,
	updated_at			BIGINT NOT NULL,
	deleted_at			BIGINT,
	updated_by			TEXT
);
CREATE INDEX partner_access_partner ON partner_access (partner_id, id);
CREATE INDEX partner_access_user ON partner_access (user_id, created_at);

-- Failed code guesses per client address ("ip:<addr>") and per account
-- ("user:<id>") in windows of 15 minutes, counted atomically.
CREATE TABLE partner_code_failures (
	subject			TEXT PRIMARY KEY,
	window_start		BIGINT NOT NULL,
	failures		INTEGER NOT NULL
);

INSERT INTO features (id, name, description, created_at, updated_at) VALUES
	('00000000-0000-7000-8000-0000000000f1', 'automatic_access_code', 'registering to the partner without a code grants live chat', 0, 0),
	('00000000-0000-7000-8000-0000000000f2', 'therapy', 'the partner offers therapy sessions', 0, 0),
	('00000000-0000-7000-8000-0000000000f3', 'live_chat', 'the partner offers one-to-one live chat', 0, 0);

-- partner_access scopes (src/partners/access.c): all = every row; related =
-- the rows of the partner the caller administers; own = the caller's.
INSERT INTO permissions (name, description) VALUES
	('partners:read:all', 'read every partner'),
	('partners:create:all', 'create partners'),
	('partners:update:all', 'change and deactivate partners'),
	('features:read:all', 'read features'),
	('features:create:all', 'create features'),
	('features:update:all', 'change features'),
	('features:delete:all', 'delete features'),
	('partner_features:read:all', 'read every partner''s features'),
	('partner_features:create:all', 'switch features on for partners'),
	('partner_features:update:all', 'change partners'' features'),
	('partner_features:delete:all', 'remove partners'' features'),
	('partner_admins:read:all', 'read every partner admin'),
	('partner_admins:read:own', 'read your own partner admin record'),
	('partner_admins:create:all', 'make users partner admins'),
	('partner_admins:update:all', 'change and deactivate partner admins'),
	('partner_admins:delete:all', 'remove partner admins'),
	('partner_access:read:all', 'read every partner access'),
	('partner_access:read:related', 'read the accesses of the partner you administer'),
	('partner_access:read:own', 'read your own partner accesses'),
	('partner_access:create:all', 'create accesses for any partner (0 to 50 therapy sessions)'),
	('partner_access:create:related', 'create accesses for your partner (0 to 6 therapy sessions)'),
	('partner_access:update:all', 'change every partner access'),
	('partner_access:update:related', 'change your partner''s accesses'),
	('partner_access:delete:all', 'delete every partner access'),
	('partner_access:delete:related', 'delete your partner''s accesses'),
	('partner_access:assign:own', 'redeem a partner access code for yourself');

INSERT INTO role_permissions (role, permission)
	SELECT 'admin', name FROM permissions WHERE name LIKE 'partners:%'
	OR name LIKE 'features:%' OR name LIKE 'partner_features:%'
	OR name LIKE 'partner_admins:%' OR name LIKE 'partner_access:%';
INSERT INTO role_permissions (role, permission) VALUES
	('partner_admin', 'partner_admins:read:own'),
	('partner_admin', 'partner_access:read:related'),
	('partner_admin', 'partner_access:create:related'),
	('partner_admin', 'partner_access:update:related'),
	('partner_admin', 'partner_access:delete:related'),
	('member', 'partner_access:read:own'),
	('member', 'partner_access:assign:own');
