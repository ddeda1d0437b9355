ALTER TABLE resources DROP CONSTRAINT IF EXISTS resources_is_public_bool;
ALTER TABLE forms DROP CONSTRAINT IF EXISTS forms_is_active_bool;
ALTER TABLE therapists DROP CONSTRAINT IF EXISTS therapists_is_active_bool;
ALTER TABLE therapy_sessions DROP CONSTRAINT IF EXISTS therapy_sessions_no_overlap;
ALTER TABLE therapy_sessions DROP CONSTRAINT IF EXISTS therapy_sessions_end_after_start;
-- btree_gist is left installed: other objects may use it.
