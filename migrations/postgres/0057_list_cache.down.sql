-- Back to 0056: the table goes. On PostgreSQL the lists kept read do not
-- depend on it (they count by NOTIFY), so serving processes keep them as
-- before; restart them for none to be kept.
DROP TABLE data_changes;
