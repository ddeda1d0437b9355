-- Back to 0056: writes are no longer counted, and no list is kept read
-- (a process finds the table gone and reads every list).
DROP TABLE data_changes;
