-- Emerging hot-spot trends of grid cells (`hotspot trends`, pipeline/trends): one row per
-- classified day and grid cell, every cell included ('no pattern' too). The window is the
-- `steps` time steps of `step_minutes` ending at the local midnight after `day`. `pattern` is
-- one of new, consecutive, intensifying, persistent, diminishing, sporadic, oscillating,
-- historical or 'no pattern'; `spot` 'hot', 'cold' or '' (no pattern); `code` the same as a
-- number (+k hot, -k cold, 0 none). hot_steps / cold_steps: steps of the window the cell was a
-- significant hot / cold spot (Gi*, Benjamini-Hochberg per step at `alpha`); final_z: Gi* z of
-- the final step (NaN when undefined); trend_tau / trend_p: Mann-Kendall of the z-scores. The
-- thresholds used are kept with each row, so a pattern can be explained after the settings
-- change. Re-classifying a day replaces its rows: ReplacingMergeTree(computed_at), read FINAL.
CREATE TABLE IF NOT EXISTS {db}.cell_trends
(
    day            Date,
    grid_code      String,
    community_code LowCardinality(String),
    street_code    LowCardinality(String),
    district_code  LowCardinality(String),
    station_id     LowCardinality(String),
    pattern        LowCardinality(String),
    spot           LowCardinality(String),
    code           Int8,
    hot_steps      UInt16,
    cold_steps     UInt16,
    steps          UInt16,
    step_minutes   UInt32,
    final_z        Float64,
    trend_tau      Float64,
    trend_p        Float64,
    alerts         UInt32,
    final_alerts   UInt32,
    alpha          Float64,
    trend_alpha    Float64,
    share          Float64,
    computed_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY (day, grid_code);
