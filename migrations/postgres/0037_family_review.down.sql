-- Back to before 0037: every guardian of a child sees its pending
-- guardian_of rows again; withdrawals and "this is not me" links are
-- forgotten.
DROP INDEX family_invites_refusal;
ALTER TABLE family_invites DROP COLUMN refused_at;
ALTER TABLE family_invites DROP COLUMN refusal_expires_at;
ALTER TABLE family_invites DROP COLUMN refusal_index;
ALTER TABLE family_invites DROP COLUMN refusal_hash;
ALTER TABLE family_invites DROP COLUMN withdrawn_at;
ALTER TABLE relationships DROP COLUMN guardians_answer;
