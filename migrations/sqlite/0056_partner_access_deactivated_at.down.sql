-- Back to before 0056: no time an access was switched off.
ALTER TABLE partner_access DROP COLUMN deactivated_at;
