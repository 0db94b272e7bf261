-- Hotspot flags, one row per version; the latest version wins (ReplacingMergeTree(version)
-- keyed by flag_id: read with FINAL, or argMax(..., version)).
CREATE TABLE IF NOT EXISTS {db}.flags
(
    flag_id         String,
    version         UInt32,
    status          LowCardinality(String),
    boundary_time   DateTime64(3, 'UTC'),
    opened_time     DateTime64(3, 'UTC'),
    lat             Float64,
    lon             Float64,
    radius_m        Float32,
    cell_id         Int64,
    score           Float64,
    p_value         Float64,
    gi_z            Nullable(Float64),
    observed        UInt32,
    expected        Float64,
    n_sources       UInt8,
    source_counts   Map(String, UInt32),
    category_counts Map(String, UInt32),
    grid_code       LowCardinality(String),
    community_code  LowCardinality(String),
    street_code     LowCardinality(String),
    district_code   LowCardinality(String),
    station_id      LowCardinality(String),
    first_time      Nullable(DateTime64(3, 'UTC')),
    last_time       Nullable(DateTime64(3, 'UTC'))
)
ENGINE = ReplacingMergeTree(version)
ORDER BY flag_id;
