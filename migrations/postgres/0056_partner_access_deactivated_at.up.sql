-- When a partner access was last switched off (src/partners/access.c,
-- partners.c's partner_deactivate): null while it is active. A partner's
-- reports count an access for the time it was active, from activated_at
-- to deactivated_at (or deleted_at), not by is_active now: switching one
-- member's access off and on again must not change a past period's count
-- (a partner admin would see that member's difference; issue 18).
-- An access already off: its last change is the best time known.
ALTER TABLE partner_access ADD COLUMN deactivated_at BIGINT;
UPDATE partner_access SET deactivated_at = COALESCE(deleted_at, updated_at)
	WHERE is_active = 0;
