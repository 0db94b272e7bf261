-- The feed partition (origin, pipeline/marks.py) each alert was normalised from: a restarted
-- worker rebuilds its dedupe index per feed partition from it, as an uninterrupted one keeps it
-- (a copy of an alert in another feed partition is not a duplicate there). -1: not known (rows
-- stored before this column, and the backfill's, which has no feed partitions).
ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS origin Int32 DEFAULT -1;
