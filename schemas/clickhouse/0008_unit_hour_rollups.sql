-- Alerts per admin unit and hour, by source and category, kept up to date by a materialized
-- view on every insert into alerts. One row key carries every level of the alert's units
-- (district, street, community, grid) and its station, so one table serves each level:
-- group by the level's column. Counts are uniqExact states of alert ids, for the reason given
-- in 0007_cell_minute_counts.sql: a batch inserted twice reads back as once, before or after
-- merges, and the back-fill may overlap live inserts. first/last event time are min/max, also
-- idempotent. Alerts outside every grid cell have empty codes and are kept under them.
CREATE TABLE IF NOT EXISTS {db}.unit_hour_states
(
    hour           DateTime('UTC'),
    district_code  LowCardinality(String),
    street_code    LowCardinality(String),
    community_code LowCardinality(String),
    grid_code      LowCardinality(String),
    station_id     LowCardinality(String),
    source         LowCardinality(String),
    category       LowCardinality(String),
    alerts         AggregateFunction(uniqExact, String),
    max_severity   SimpleAggregateFunction(max, Float32),
    first_time     SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_time      SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, district_code, street_code, community_code, grid_code, station_id, source,
          category)
TTL hour + INTERVAL 730 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.unit_hour_states_mv TO {db}.unit_hour_states AS
SELECT
    toStartOfHour(toDateTime(event_time, 'UTC')) AS hour,
    district_code, street_code, community_code, grid_code, station_id, source, category,
    uniqExactState(alert_id) AS alerts,
    max(severity) AS max_severity,
    min(event_time) AS first_time,
    max(event_time) AS last_time
FROM {db}.alerts
GROUP BY hour, district_code, street_code, community_code, grid_code, station_id, source,
         category;

-- Alerts written before this migration (harmless if counted again).
INSERT INTO {db}.unit_hour_states
SELECT
    toStartOfHour(toDateTime(event_time, 'UTC')) AS hour,
    district_code, street_code, community_code, grid_code, station_id, source, category,
    uniqExactState(alert_id) AS alerts,
    max(severity) AS max_severity,
    min(event_time) AS first_time,
    max(event_time) AS last_time
FROM {db}.alerts
GROUP BY hour, district_code, street_code, community_code, grid_code, station_id, source,
         category;

-- The rollup as plain numbers. Counts of different keys are disjoint (an alert has one set of
-- units), so summing `alerts` over grids gives a community's, a street's or a district's count.
-- For one level, merging the states at that level is cheaper than summing this view (which
-- finalises every full key first): SELECT community_code, hour, uniqExactMerge(alerts)
-- FROM unit_hour_states GROUP BY community_code, hour (benchmarks/warehouse_rollups.py).
CREATE VIEW IF NOT EXISTS {db}.unit_hour_counts AS
SELECT
    hour, district_code, street_code, community_code, grid_code, station_id, source, category,
    uniqExactMerge(alerts) AS alerts,
    max(max_severity) AS max_severity,
    min(first_time) AS first_time,
    max(last_time) AS last_time
FROM {db}.unit_hour_states
GROUP BY hour, district_code, street_code, community_code, grid_code, station_id, source,
         category;
