-- Back to 0014: cached data keys live their few seconds unchecked again.
DROP TABLE user_key_epoch;
