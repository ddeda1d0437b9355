DROP TABLE chat_profile_sync;
