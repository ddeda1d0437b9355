-- Back to 0019 (the reasons given are dropped).
ALTER TABLE therapy_sessions DROP COLUMN cancel_reason;
