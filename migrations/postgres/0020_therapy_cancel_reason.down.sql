-- Back to 0018 (the reasons given are dropped).
ALTER TABLE therapy_sessions DROP COLUMN cancel_reason;
