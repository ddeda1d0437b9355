-- People and access: roles and permissions as data, users with sealed
-- personal fields, per-user data keys, auth sessions, login throttling,
-- password resets, relationships (guardian_of, practitioner_of) and the
-- hash-chained audit log. Personal columns are BLOBs sealed with
-- XChaCha20-Poly1305 under the user's data key (see src/resource/seal.c).

CREATE TABLE roles (
	name		TEXT PRIMARY KEY,
	description	TEXT NOT NULL DEFAULT '',
	is_staff	INTEGER NOT NULL DEFAULT 0,
	created_at	BIGINT NOT NULL
);

CREATE TABLE permissions (
	name		TEXT PRIMARY KEY,	-- "<resource>:<action>:<scope>"
	description	TEXT NOT NULL DEFAULT ''
);

CREATE TABLE role_permissions (
	role		TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
	permission	TEXT NOT NULL REFERENCES permissions (name) ON DELETE CASCADE,
	PRIMARY KEY (role, permission)
);

CREATE TABLE users (
	id				TEXT PRIMARY KEY,
	role				TEXT NOT NULL DEFAULT 'member' REFERENCES roles (name),
	email				BLOB,		-- sealed; NULL once erased
	email_index			TEXT UNIQUE,	-- keyed blind index
	password_hash			TEXT,
	first_name			BLOB,
	last_name			BLOB,
	phone				BLOB,
	date_of_birth			BLOB,
	gender				BLOB,
	location			BLOB,
	demographics			BLOB,		-- sealed JSON object
	country				TEXT,		-- ISO 3166-1 alpha-2
	locale				TEXT,
	signup_language			TEXT,
	contact_permission		INTEGER NOT NULL DEFAULT 0,
	service_emails_permission	INTEGER NOT NULL DEFAULT 1,
	email_reminders_frequency	TEXT NOT NULL DEFAULT 'never',
	terms_accepted_at		BIGINT,
	terms_version			TEXT,
	privacy_accepted_at		BIGINT,
	privacy_version			TEXT,
	is_active			INTEGER NOT NULL DEFAULT 1,
	last_login_at			BIGINT,
	last_active_at			BIGINT,
	audit_ref			TEXT UNIQUE,	-- pseudonym in audit_log; NULL once erased
	created_at			BIGINT NOT NULL,
	updated_at			BIGINT NOT NULL,
	deleted_at			BIGINT,
	created_by			TEXT,
	updated_by			TEXT
);
CREATE INDEX users_created_at ON users (created_at);

-- A user's data key, wrapped by the master-derived wrap key. Deleting the
-- row makes every field sealed under it unreadable (crypto-shredding).
CREATE TABLE user_keys (
	user_id		TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	wrapped_key	BLOB NOT NULL,
	created_at	BIGINT NOT NULL
);

CREATE TABLE auth_sessions (
	id			TEXT PRIMARY KEY,
	user_id			TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash		TEXT NOT NULL UNIQUE,
	ip			TEXT,
	user_agent		TEXT,
	device_fingerprint	TEXT,
	created_at		BIGINT NOT NULL,
	last_activity_at	BIGINT NOT NULL,
	idle_timeout_ms		BIGINT NOT NULL,
	expires_at		BIGINT NOT NULL,	-- absolute
	ended_at		BIGINT,
	end_reason		TEXT
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);

-- Failed logins per account (blind index) and per IP, counted atomically.
CREATE TABLE login_failures (
	subject		TEXT PRIMARY KEY,	-- "account:<email_index>" | "ip:<addr>"
	window_start	BIGINT NOT NULL,
	failures	INTEGER NOT NULL,
	locked_until	BIGINT
);

CREATE TABLE password_resets (
	id		TEXT PRIMARY KEY,
	user_id		TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash	TEXT NOT NULL UNIQUE,
	ip		TEXT,
	created_at	BIGINT NOT NULL,
	expires_at	BIGINT NOT NULL,
	used_at		BIGINT
);

CREATE TABLE relationships (
	id		TEXT PRIMARY KEY,
	lead_id		TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	follower_id	TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind		TEXT NOT NULL CHECK (kind IN ('guardian_of', 'practitioner_of')),
	status		TEXT NOT NULL DEFAULT 'pending'
			CHECK (status IN ('pending', 'active', 'ended')),
	consent_at	BIGINT,
	consent_by	TEXT,			-- user id who gave consent
	consent_method	TEXT,			-- e.g. "in_app", "signed_form"
	created_at	BIGINT NOT NULL,
	updated_at	BIGINT NOT NULL,
	ended_at	BIGINT,
	created_by	TEXT,
	updated_by	TEXT,
	UNIQUE (lead_id, follower_id, kind),
	CHECK (lead_id <> follower_id)
);
CREATE INDEX relationships_follower ON relationships (follower_id);

-- Append-only, hash-chained: hash = SHA-256 over prev_hash and the row's
-- fields. The actor is a pseudonym (users.audit_ref), so erasing a person
-- unlinks them without breaking the chain. No personal data in changes.
CREATE TABLE audit_log (
	seq		BIGINT PRIMARY KEY,
	id		TEXT NOT NULL UNIQUE,
	at		BIGINT NOT NULL,
	actor_ref	TEXT,
	actor_role	TEXT,
	action		TEXT NOT NULL,
	entity_type	TEXT NOT NULL,
	entity_id	TEXT,
	changes		TEXT NOT NULL DEFAULT '{}',
	ip		TEXT,
	user_agent	TEXT,
	request_id	TEXT,
	prev_hash	TEXT NOT NULL,
	hash		TEXT NOT NULL
);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id);
CREATE INDEX audit_log_at ON audit_log (at);
-- Append-only in the database too: changing or deleting a row needs the
-- trigger dropped first, which `carebase audit verify` would then expose.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Built-in roles and their permissions. Admins may change role_permissions
-- later; these rows are data, not code.
INSERT INTO roles (name, description, is_staff, created_at) VALUES
	('admin', 'runs the platform: every permission', 1, 0),
	('partner_admin', 'a partner organisation''s team member', 1, 0),
	('therapist', 'sees and treats their clients', 1, 0),
	('instructor', 'teaches in-person courses', 1, 0),
	('member', 'a person using the platform', 0, 0);

INSERT INTO permissions (name, description) VALUES
	('users:read:all', 'read every user'),
	('users:read:related', 'read yourself and the people you lead (children, clients)'),
	('users:read:own', 'read yourself'),
	('users:create:all', 'create users with any role'),
	('users:update:all', 'update every user'),
	('users:update:own', 'update yourself'),
	('users:delete:all', 'deactivate and delete users'),
	('users:export:all', 'export any user''s data (GDPR)'),
	('users:erase:all', 'erase any user (GDPR)'),
	('relationships:read:all', 'read every relationship'),
	('relationships:read:own', 'read relationships you are part of'),
	('relationships:create:all', 'create relationships'),
	('relationships:update:all', 'update relationships'),
	('relationships:delete:all', 'end relationships'),
	('audit_log:read:all', 'read the audit log'),
	('roles:read:all', 'read roles and permissions'),
	('roles:update:all', 'grant and revoke permissions'),
	('auth_sessions:read:own', 'list your sessions'),
	('auth_sessions:read:all', 'list every session'),
	('auth_sessions:delete:own', 'end your sessions'),
	('auth_sessions:delete:all', 'end any session');

INSERT INTO role_permissions (role, permission)
	SELECT 'admin', name FROM permissions;
INSERT INTO role_permissions (role, permission) VALUES
	('partner_admin', 'users:read:own'), ('partner_admin', 'users:update:own'),
	('partner_admin', 'auth_sessions:read:own'), ('partner_admin', 'auth_sessions:delete:own'),
	('therapist', 'users:read:related'), ('therapist', 'users:update:own'),
	('therapist', 'relationships:read:own'),
	('therapist', 'auth_sessions:read:own'), ('therapist', 'auth_sessions:delete:own'),
	('instructor', 'users:read:own'), ('instructor', 'users:update:own'),
	('instructor', 'auth_sessions:read:own'), ('instructor', 'auth_sessions:delete:own'),
	('member', 'users:read:related'), ('member', 'users:update:own'),
	('member', 'relationships:read:own'),
	('member', 'auth_sessions:read:own'), ('member', 'auth_sessions:delete:own');
