-- A flag's recurrence interval (days): how long one would wait to see a cluster this strong by
-- chance anywhere in the city, 1 / (p_value x cell tests a day) (issue 23). 0 on rows written
-- before it existed: unknown.
ALTER TABLE {db}.flags ADD COLUMN IF NOT EXISTS recurrence_days Float64 DEFAULT 0 AFTER p_value;
