-- Guardians onboard their own family (issue 15 item 12): each invitation a
-- member sends by email (POST /v1/me/family/invite, kind 'invite') and
-- each child's account they make (POST /v1/me/family/children, kind
-- 'child') is a row here; an invitation whether or not the address had
-- an account. relationship_id is the relationship
-- it made or renewed (NULL when the address had none, or nothing was
-- made): no foreign key, since erasure deletes relationships and the row
-- then simply stops counting. An invitation is open while it is younger
-- than family_invite_ttl_s and its relationship (if any) still pending; a
-- member may hold family_invites_max open invitations and children's
-- accounts made within that time, together (src/people/family.c).
-- Deleted with the member (erasure, or the users row's deletion).
CREATE TABLE family_invites (
	id		TEXT PRIMARY KEY,
	lead_id		TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind		TEXT NOT NULL DEFAULT 'invite'
			CHECK (kind IN ('invite', 'child')),
	relationship_id	TEXT,
	created_at	BIGINT NOT NULL
);
CREATE INDEX family_invites_lead ON family_invites (lead_id, created_at);
