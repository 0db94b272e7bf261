-- Correlated incidents (alerts linked in space and time). Emitted once each, but a restarted
-- worker may emit one again: ReplacingMergeTree keyed by incident_id keeps one row.
CREATE TABLE IF NOT EXISTS {db}.incidents
(
    incident_id     String,
    first_time      DateTime64(3, 'UTC'),
    last_time       DateTime64(3, 'UTC'),
    boundary_time   DateTime64(3, 'UTC'),
    lat             Float64,
    lon             Float64,
    n_alerts        UInt32,
    n_sources       UInt8,
    source_counts   Map(String, UInt32),
    category_counts Map(String, UInt32),
    max_severity    Float32,
    grid_code       LowCardinality(String),
    community_code  LowCardinality(String),
    street_code     LowCardinality(String),
    district_code   LowCardinality(String),
    station_id      LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(first_time)
ORDER BY (toStartOfHour(first_time), incident_id);
