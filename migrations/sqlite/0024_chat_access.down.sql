-- Back to before 0024: courses are not live, and rows still to be looked
-- at again are not (every person touched is pushed again, as before).
ALTER TABLE chat_profile_sync DROP COLUMN recheck;
ALTER TABLE courses DROP COLUMN live;
