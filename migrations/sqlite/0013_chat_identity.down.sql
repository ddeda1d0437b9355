-- Back to 0012: the identities go (a later email change then leaves the
-- old profile at the provider, as before).
ALTER TABLE chat_profile_sync DROP COLUMN pending_identity;
ALTER TABLE chat_profile_sync DROP COLUMN pushed_identity;
