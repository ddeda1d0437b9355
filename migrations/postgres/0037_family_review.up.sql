-- Family review fixes (issue 15 item 12, src/people/family.c and
-- family_close.c).
--
-- relationships.guardians_answer: 1 on a pending guardian_of whose
-- follower is under the digital-consent age, so the follower's active
-- guardians see it and accept or decline it; 0 otherwise (an adult
-- follower decides alone, and no other guardian sees their invitations).
-- Set when the row is made or invited again and kept right nightly
-- (people.family_expire: a child comes of age); the consent and end
-- actions ask the age again. The rows pending now keep what they had
-- (every guardian of the child saw them) until the first night.
ALTER TABLE relationships ADD COLUMN guardians_answer INTEGER NOT NULL DEFAULT 0;
UPDATE relationships SET guardians_answer = 1
	WHERE status = 'pending' AND kind = 'guardian_of';

-- family_invites.withdrawn_at: the inviter withdrew the invitation (it
-- keeps counting against family_invites_max until family_invite_ttl_s).
-- refusal_*: a child's account made with an address: the welcome mail's
-- "this is not me" link (SHA-256 of its token, the address's blind index
-- it was sent to, until when it works), and when the address's owner
-- used it (the address was taken off the child's account). The hash and
-- index are cleared once used or expired (nightly).
ALTER TABLE family_invites ADD COLUMN withdrawn_at BIGINT;
ALTER TABLE family_invites ADD COLUMN refusal_hash TEXT;
ALTER TABLE family_invites ADD COLUMN refusal_index TEXT;
ALTER TABLE family_invites ADD COLUMN refusal_expires_at BIGINT;
ALTER TABLE family_invites ADD COLUMN refused_at BIGINT;
CREATE UNIQUE INDEX family_invites_refusal ON family_invites (refusal_hash);
