-- The scale that made a flag's cell hot: its window (the radius is radius_m).
ALTER TABLE {db}.flags ADD COLUMN IF NOT EXISTS window_s UInt32 AFTER radius_m;
