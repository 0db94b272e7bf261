-- The admin-unit registry (district, street, community, grid, compound, station), written by the
-- worker at start-up. Re-writing the same registry leaves one row per code (latest load wins).
CREATE TABLE IF NOT EXISTS {db}.admin_units
(
    code         String,
    name         String,
    level        LowCardinality(String),
    parent       String,
    station_id   LowCardinality(String),
    centroid_lat Float64,
    centroid_lon Float64,
    area_km2     Float64,
    polygon      String,
    loaded_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (level, code);
