-- Therapy practice (seed 003): therapists, therapy sessions with sealed
-- notes, forms (PHQ-9 and GAD-7 seeded) and their sealed responses,
-- resources and their assignments. Times are BIGINT ms, booleans 0/1,
-- JSON as text; sealed columns hold XChaCha20-Poly1305 boxes under the
-- client's data key (src/resource/seal.c).

CREATE TABLE therapists (
	id			TEXT PRIMARY KEY,
	user_id			TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
	bio			TEXT NOT NULL,
	specialties		TEXT NOT NULL DEFAULT '[]',	-- JSON array of strings
	credentials		TEXT NOT NULL DEFAULT '[]',	-- JSON array of strings
	is_active		INTEGER NOT NULL DEFAULT 1,
	calendar_integration	TEXT,				-- {"provider", "calendar_id"}
	meta			TEXT NOT NULL DEFAULT '{}',
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
CREATE INDEX therapists_active ON therapists (is_active);

-- A therapist's sessions never overlap unless one is canceled or
-- rescheduled: checked in the write transaction, serialised per therapist
-- (src/therapy/sessions.c). Rescheduling marks a session rescheduled and
-- books a new one whose rescheduled_from_id names it.
CREATE TABLE therapy_sessions (
	id			TEXT PRIMARY KEY,
	therapist_id		TEXT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
	client_id		TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	start_time		BIGINT NOT NULL,
	end_time		BIGINT NOT NULL,
	status			TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN
				('scheduled', 'completed', 'canceled', 'rescheduled', 'no_show')),
	type			TEXT NOT NULL CHECK (type IN
				('initial', 'regular', 'follow_up', 'emergency')),
	format			TEXT NOT NULL CHECK (format IN
				('video', 'audio', 'chat', 'in_person', 'hybrid')),
	private_notes		BLOB,		-- sealed; the therapist and admins only
	shared_notes		BLOB,		-- sealed; seen by the client too
	meta			TEXT NOT NULL DEFAULT '{}',
	rescheduled_from_id	TEXT REFERENCES therapy_sessions (id) ON DELETE SET NULL,
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT,
	CHECK (end_time > start_time)
);
CREATE INDEX therapy_sessions_therapist ON therapy_sessions (therapist_id, start_time);
CREATE INDEX therapy_sessions_client ON therapy_sessions (client_id, start_time);

CREATE TABLE forms (
	id			TEXT PRIMARY KEY,
	title			TEXT NOT NULL,
	description		TEXT,
	type			TEXT NOT NULL CHECK (type IN
				('pre_session', 'in_session', 'post_session', 'assessment', 'custom')),
	fields			TEXT NOT NULL,			-- JSON array of field objects
	scoring			TEXT,				-- JSON, see src/therapy/forms.c
	is_active		INTEGER NOT NULL DEFAULT 1,
	meta			TEXT NOT NULL DEFAULT '{}',
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
CREATE INDEX forms_type ON forms (type, is_active);

CREATE TABLE form_responses (
	id			TEXT PRIMARY KEY,
	form_id			TEXT NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
	session_id		TEXT REFERENCES therapy_sessions (id) ON DELETE SET NULL,
	client_id		TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	responses		BLOB NOT NULL,	-- sealed JSON object
	score			BLOB,		-- sealed JSON: items, total, severity
	submitted_at		BIGINT NOT NULL,
	meta			TEXT NOT NULL DEFAULT '{}',
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
CREATE INDEX form_responses_client ON form_responses (client_id, submitted_at);
CREATE INDEX form_responses_form ON form_responses (form_id);
CREATE INDEX form_responses_session ON form_responses (session_id);

-- owner_id is the therapist's user (therapists.user_id), the row's owner
-- for access scoping; therapist_id is the seed's reference.
CREATE TABLE resources (
	id			TEXT PRIMARY KEY,
	therapist_id		TEXT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
	owner_id		TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	title			TEXT NOT NULL,
	description		TEXT,
	type			TEXT NOT NULL CHECK (type IN
				('pdf', 'video', 'audio', 'link', 'image', 'text', 'other')),
	url			TEXT NOT NULL,
	is_public		INTEGER NOT NULL DEFAULT 0,
	tags			TEXT NOT NULL DEFAULT '[]',
	meta			TEXT NOT NULL DEFAULT '{}',
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
CREATE INDEX resources_therapist ON resources (therapist_id);
CREATE INDEX resources_owner ON resources (owner_id);
CREATE INDEX resources_public ON resources (is_public);

CREATE TABLE resource_assignments (
	id			TEXT PRIMARY KEY,
	resource_id		TEXT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
	client_id		TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	assigned_at		BIGINT NOT NULL,
	due_date		BIGINT,
	status			TEXT NOT NULL DEFAULT 'assigned' CHECK (status IN
				('assigned', 'viewed', 'completed')),
	notes			BLOB,		-- sealed
	viewed_at		BIGINT,
	completed_at		BIGINT,
	meta			TEXT NOT NULL DEFAULT '{}',
	created_at		BIGINT NOT NULL,
	updated_at		BIGINT NOT NULL,
	created_by		TEXT,
	updated_by		TEXT
);
CREATE INDEX resource_assignments_client ON resource_assignments (client_id, assigned_at);
CREATE INDEX resource_assignments_resource ON resource_assignments (resource_id);

INSERT INTO permissions (name, description) VALUES
	('therapists:read:all', 'read every therapist profile'),
	('therapists:read:own', 'read your own therapist profile'),
	('therapists:create:all', 'create therapist profiles'),
	('therapists:update:all', 'update every therapist profile'),
	('therapists:update:own', 'update your own therapist profile'),
	('therapists:delete:all', 'delete therapist profiles'),
	('therapy_sessions:read:all', 'read every therapy session'),
	('therapy_sessions:read:related', 'read your sessions, your children''s and your clients'''),
	('therapy_sessions:create:all', 'book sessions for any therapist'),
	('therapy_sessions:create:related', 'book sessions with your clients'),
	('therapy_sessions:update:all', 'change and move any session'),
	('therapy_sessions:update:related', 'change and move your sessions'),
	('therapy_sessions:delete:all', 'delete therapy sessions'),
	('therapy_sessions:private_notes:all', 'read and write every session''s private notes'),
	('forms:read:all', 'read forms'),
	('forms:create:all', 'create forms'),
	('forms:update:all', 'update forms'),
	('forms:delete:all', 'delete forms'),
	('form_responses:read:all', 'read every form response'),
	('form_responses:read:related', 'read your responses, your children''s and your clients'''),
	('form_responses:create:all', 'submit responses for anyone'),
	('form_responses:create:own', 'submit your own responses'),
	('form_responses:update:all', 'update form responses'),
	('form_responses:delete:all', 'delete form responses'),
	('resources:read:all', 'read every resource'),
	('resources:read:own', 'read your own resources'),
	('resources:create:all', 'create resources for any therapist'),
	('resources:create:own', 'create your own resources'),
	('resources:update:all', 'update every resource'),
	('resources:update:own', 'update your own resources'),
	('resources:delete:all', 'delete every resource'),
	('resources:delete:own', 'delete your own resources'),
	('resource_assignments:read:all', 'read every assignment'),
	('resource_assignments:read:related', 'read your assignments, your children''s and your clients'''),
	('resource_assignments:create:all', 'assign resources to anyone'),
	('resource_assignments:create:related', 'assign resources to your clients'),
	('resource_assignments:update:all', 'update every assignment'),
	('resource_assignments:update:related', 'update your clients'' assignments'),
	('resource_assignments:delete:all', 'delete assignments');

INSERT INTO role_permissions (role, permission)
	SELECT 'admin', name FROM permissions WHERE name LIKE 'therapists:%'
	OR name LIKE 'therapy_sessions:%' OR name LIKE 'forms:%'
	OR name LIKE 'form_responses:%' OR name LIKE 'resources:%'
	OR name LIKE 'resource_assignments:%';
INSERT INTO role_permissions (role, permission) VALUES
	('therapist', 'therapists:read:own'), ('therapist', 'therapists:update:own'),
	('therapist', 'therapy_sessions:read:related'),
	('therapist', 'therapy_sessions:create:related'),
	('therapist', 'therapy_sessions:update:related'),
	('therapist', 'forms:read:all'), ('therapist', 'forms:create:all'),
	('therapist', 'form_responses:read:related'),
	('therapist', 'resources:read:own'), ('therapist', 'resources:create:own'),
	('therapist', 'resources:update:own'), ('therapist', 'resources:delete:own'),
	('therapist', 'resource_assignments:read:related'),
	('therapist', 'resource_assignments:create:related'),
	('therapist', 'resource_assignments:update:related'),
	('member', 'therapy_sessions:read:related'),
	('member', 'forms:read:all'),
	('member', 'form_responses:read:related'), ('member', 'form_responses:create:own'),
	('member', 'resource_assignments:read:related');

-- Seed forms: PHQ-9 and GAD-7, scored by the sum of item scores (the index
-- of the chosen option) with severity bands.
INSERT INTO forms (id, title, description, type, fields, scoring, is_active, meta, created_at, updated_at) VALUES
	('00000000-0000-7000-8000-000000000009', 'PHQ-9', 'Patient Health Questionnaire: depression severity over the last 2 weeks; item scores 0-3, total 0-27.', 'assessment',
	 '[{"id":"q1","label":"Little interest or pleasure in doing things","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"},{"id":"q2","label":"Feeling down, depressed, or hopeless","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"},{"id":"q3","label":"Trouble falling or staying asleep, or sleeping too much","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"},{"id":"q4","label":"Feeling tired or having little energy","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"},{"id":"q5","label":"Poor appetite or overeating","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"},{"id":"q6","label":"Feeling bad about yourself, or that you are a failure or have let yourself or your family down","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"},{"id":"q7","label":"Trouble concentrating on things, such as reading the newspaper or watching television","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"},{"id":"q8","label":"Moving or speaking so slowly that other people could have noticed, or the opposite: being so fidgety or restless that you have been moving around a lot more than usual","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"},{"id":"q9","label":"Thoughts that you would be better off dead, or of hurting yourself in some way","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"}]',
	 '{"method":"sum","items":["q1","q2","q3","q4","q5","q6","q7","q8","q9"],"bands":[{"min":0,"label":"minimal"},{"min":5,"label":"mild"},{"min":10,"label":"moderate"},{"min":15,"label":"moderately_severe"},{"min":20,"label":"severe"}]}', 1, '{"seed":true}', 0, 0),
	('00000000-0000-7000-8000-000000000007', 'GAD-7', 'Generalised Anxiety Disorder scale: anxiety severity over the last 2 weeks; item scores 0-3, total 0-21.', 'assessment',
	 '[{"id":"q1","label":"Feeling nervous, anxious, or on edge","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"},{"id":"q2","label":"Not being able to stop or control worrying","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"},{"id":"q3","label":"Worrying too much about different things","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"},{"id":"q4","label":"Trouble relaxing","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"},{"id":"q5","label":"Being so restless that it is hard to sit still","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"},{"id":"q6","label":"Becoming easily annoyed or irritable","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"},{"id":"q7","label":"Feeling afraid, as if something awful might happen","type":"radio","required":true,"options":["Not at all","Several days","More than half the days","Nearly every day"],"help_text":"Over the last 2 weeks, how often have you been bothered by this?"}]',
	 '{"method":"sum","items":["q1","q2","q3","q4","q5","q6","q7"],"bands":[{"min":0,"label":"minimal"},{"min":5,"label":"mild"},{"min":10,"label":"moderate"},{"min":15,"label":"severe"}]}', 1, '{"seed":true}', 0, 0);
