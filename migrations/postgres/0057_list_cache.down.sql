-- Back to 0056: no list is kept read from now on.
DROP TABLE data_changes;
