-- Indexes the scope branches of lists walk (src/resource/scope.c,
-- resource_scope_branches; query.c list_sql): each branch of a related
-- scope reads its own index in the list's order and stops at its page.
-- The followers of a lead's active relationships of some kinds, read
-- from the index alone:
CREATE INDEX relationships_lead_active ON relationships (lead_id, status, kind, follower_id);
-- The default order (-created_at) of each branch: the owner's rows, and
-- a party's (a therapist's sessions; the assignments a practitioner made).
CREATE INDEX therapy_sessions_client_created ON therapy_sessions (client_id, created_at);
CREATE INDEX therapy_sessions_therapist_created ON therapy_sessions (therapist_id, created_at);
-- An admin's list in the default order.
CREATE INDEX therapy_sessions_created ON therapy_sessions (created_at);
CREATE INDEX form_responses_client_created ON form_responses (client_id, created_at);
CREATE INDEX resource_assignments_client_created ON resource_assignments (client_id, created_at);
CREATE INDEX resource_assignments_created_by ON resource_assignments (created_by, created_at);
CREATE INDEX recordings_user_created ON recordings (user_id, created_at);
CREATE INDEX course_enrolments_user_created ON course_enrolments (user_id, created_at);
CREATE INDEX course_session_progress_user_created ON course_session_progress (user_id, created_at);
