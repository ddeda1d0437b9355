-- Biometrics (seed 001: Data Types, Exercises, Sessions, Points): data
-- types, exercises, recordings (the seed's biometric Sessions) and their
-- points, stored as compressed blocks of about 1,000 samples of one channel
-- (src/biometrics/blocks.c, codec in src/biometrics/codec.h), never a row
-- per point. Times are BIGINT ms, booleans 0/1, JSON as text; sealed
-- columns hold XChaCha20-Poly1305 boxes under the recording user's key.

-- physical value = offset_value + scale * count; scale and offset_value
-- are decimal text (exact, the same on both databases). rate_mhz is the
-- nominal sample rate in millihertz, NULL for irregular data (RR
-- intervals). channels is a JSON array of channel names ([a-z0-9_]).
CREATE TABLE data_types (
	id			TEXT PRIMARY KEY,
	name			TEXT NOT NULL UNIQUE,
	unit			TEXT NOT NULL,
	channels		TEXT NOT NULL DEFAULT '[]',
	rate_mhz		BIGINT,
	scale			TEXT NOT NULL DEFAULT '1',
	offset_value		TEXT NOT NULL DEFAULT '0',
	meta			TEXT NOT NULL DEFAULT '{}',
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);

CREATE TABLE exercises (
	id			TEXT PRIMARY KEY,
	name			TEXT NOT NULL,
	tracks			TEXT NOT NULL DEFAULT '[]',	-- JSON array of strings
	description		TEXT,
	is_active		INTEGER NOT NULL DEFAULT 1,
	meta			TEXT NOT NULL DEFAULT '{}',
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
CREATE INDEX exercises_active ON exercises (is_active, name);

-- Points are accepted only while status is 'recording'; finishing as
-- 'failed' deletes every block and batch in the same transaction.
-- points counts the samples stored, all channels.
CREATE TABLE recordings (
	id			TEXT PRIMARY KEY,
	user_id			TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	exercise_id		TEXT REFERENCES exercises (id) ON DELETE SET NULL,
	data_type_id		TEXT NOT NULL REFERENCES data_types (id),
	location		BYTEA,		-- sealed (personal)
	started_at		BIGINT NOT NULL,
	ended_at		BIGINT,
	feedback		BYTEA,		-- sealed (health): how they are feeling
	status			TEXT NOT NULL DEFAULT 'recording' CHECK (status IN
				('recording', 'successful', 'failed')),
	points			BIGINT NOT NULL DEFAULT 0,
	meta			TEXT NOT NULL DEFAULT '{}',
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
CREATE INDEX recordings_user ON recordings (user_id, started_at);
CREATE INDEX recordings_exercise ON recordings (exercise_id);
CREATE INDEX recordings_data_type ON recordings (data_type_id);

-- One block: at most 4,096 (normally 1,024) samples of one channel, block
-- seq in the channel. A regular block is samples first_index.. of the
-- segment that starts at t0_ms with rate_mhz (time of sample i:
-- t0_ms + i * 1e6 / rate_mhz ms); an irregular block (rate_mhz 0) carries
-- its timestamps payload. t_first_ms and t_last_ms are the floor of its
-- first and last sample's time; v_min, v_max, v_sum the samples' stats.
CREATE TABLE recording_blocks (
	recording_id		TEXT NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
	channel			TEXT NOT NULL,
	seq			BIGINT NOT NULL,
	t0_ms			BIGINT NOT NULL,
	rate_mhz		BIGINT NOT NULL,
	first_index		BIGINT NOT NULL,
	t_first_ms		BIGINT NOT NULL,
	t_last_ms		BIGINT NOT NULL,
	count			INTEGER NOT NULL,
	v_min			INTEGER NOT NULL,
	v_max			INTEGER NOT NULL,
	v_sum			BIGINT NOT NULL,
	codec			INTEGER NOT NULL,
	payload			BYTEA NOT NULL,
	timestamps		BYTEA,
	PRIMARY KEY (recording_id, channel, seq)
);
CREATE INDEX recording_blocks_time ON recording_blocks (recording_id, channel, t_first_ms);

-- Idempotency: a batch seq is stored once per recording; digest is the
-- BLAKE2b-256 digest of the request body.
CREATE TABLE recording_batches (
	recording_id		TEXT NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
	seq			BIGINT NOT NULL,
	digest			BYTEA NOT NULL,
	points			BIGINT NOT NULL,
	received_at		BIGINT NOT NULL,
	PRIMARY KEY (recording_id, seq)
);

-- Points are health data that is not sealed under the person's key, so
-- erasing a person (audit_ref set to NULL, src/people/gdpr.c) deletes
-- their recordings, blocks and batches with them.
CREATE FUNCTION users_erase_recordings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM recordings WHERE user_id = NEW.id;
	RETURN NEW;
END
$$;
CREATE TRIGGER users_erase_recordings AFTER UPDATE OF audit_ref ON users
	FOR EACH ROW WHEN (OLD.audit_ref IS NOT NULL AND NEW.audit_ref IS NULL)
	EXECUTE FUNCTION users_erase_recordings();

INSERT INTO permissions (name, description) VALUES
	('data_types:read:all', 'read biometric data types'),
	('data_types:create:all', 'create data types'),
	('data_types:update:all', 'update data types'),
	('data_types:delete:all', 'delete data types'),
	('exercises:read:all', 'read exercises'),
	('exercises:create:all', 'create exercises'),
	('exercises:update:all', 'update exercises'),
	('exercises:delete:all', 'delete exercises'),
	('recordings:read:all', 'read every recording and its points'),
	('recordings:read:related', 'read your recordings, your children''s and your clients'''),
	('recordings:create:all', 'create recordings for anyone'),
	('recordings:create:own', 'create your own recordings'),
	('recordings:update:all', 'change any recording, send its points, finish it'),
	('recordings:update:own', 'change your recordings, send their points, finish them'),
	('recordings:delete:all', 'delete recordings');

INSERT INTO role_permissions (role, permission)
	SELECT 'admin', name FROM permissions WHERE name LIKE 'data_types:%'
	OR name LIKE 'exercises:%' OR name LIKE 'recordings:%';
INSERT INTO role_permissions (role, permission) VALUES
	('partner_admin', 'data_types:read:all'), ('partner_admin', 'exercises:read:all'),
	('instructor', 'data_types:read:all'), ('instructor', 'exercises:read:all'),
	('therapist', 'data_types:read:all'), ('therapist', 'exercises:read:all'),
	('therapist', 'recordings:read:related'),
	('member', 'data_types:read:all'), ('member', 'exercises:read:all'),
	('member', 'recordings:read:related'), ('member', 'recordings:create:own'),
	('member', 'recordings:update:own');

-- Seed data types. ECG counts are an 11-bit ADC (mV = (x - 1024) / 200),
-- EEG counts are int16 over +-100 uV, HRV is RR intervals in ms.
INSERT INTO data_types (id, name, unit, channels, rate_mhz, scale, offset_value, meta, created_at, updated_at) VALUES
	('00000000-0000-7000-8000-0000000000d1', 'HRV', 'ms', '["rr"]', NULL, '1', '0',
	 '{"seed":true,"about":"heart-rate variability: RR intervals, one sample per beat"}', 0, 0),
	('00000000-0000-7000-8000-0000000000d2', 'EEG', 'uV',
	 '["fp1","fp2","f7","f3","fz","f4","f8","t3","c3","cz","c4","t4","t5","p3","pz","p4","t6","o1","o2"]',
	 256000, '0.0030517578125', '0', '{"seed":true,"about":"electroencephalogram, 10-20 system channels"}', 0, 0),
	('00000000-0000-7000-8000-0000000000d3', 'ECG', 'mV', '["i","ii","iii","mlii","v1","v5"]', 360000,
	 '0.005', '-5.12', '{"seed":true,"about":"electrocardiogram leads"}', 0, 0),
	('00000000-0000-7000-8000-0000000000d4', 'PPG', 'au', '["red","ir","green"]', 100000, '1', '0',
	 '{"seed":true,"about":"photoplethysmogram, arbitrary units"}', 0, 0),
	('00000000-0000-7000-8000-0000000000d5', 'SpO2', '%', '["spo2"]', 1000, '0.1', '0',
	 '{"seed":true,"about":"pulse oximetry: oxygen saturation in tenths of a percent"}', 0, 0);
