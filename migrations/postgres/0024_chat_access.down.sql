-- Back to before 0024: courses are not live.
ALTER TABLE courses DROP COLUMN live;
