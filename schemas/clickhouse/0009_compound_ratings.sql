-- Monthly three-colour rating of residential compounds (`hotspot ratings`), one row per month
-- and compound; re-rating a month replaces its rows (ReplacingMergeTree(rated_at): read FINAL).
-- `alerts` counts the property-crime alerts located in the compound that month (local time);
-- `red_two_months` marks a compound red this month and the month before. The thresholds used
-- are kept with each row, so a rating can be explained after the settings change.
CREATE TABLE IF NOT EXISTS {db}.compound_ratings
(
    month          Date,
    compound_code  String,
    community_code LowCardinality(String),
    street_code    LowCardinality(String),
    district_code  LowCardinality(String),
    station_id     LowCardinality(String),
    alerts         UInt32,
    rating         LowCardinality(String),
    red_two_months UInt8,
    yellow_at      UInt32,
    red_at         UInt32,
    rated_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(rated_at)
ORDER BY (month, compound_code);
