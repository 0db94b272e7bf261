-- Alerts per H3 cell (resolution 9, cells of about 0.1 km²) and minute, by source and category,
-- kept up to date by a materialized view on every insert into alerts.
--
-- Why uniqExact states and not a SummingMergeTree of counts: a batch re-inserted after a crash
-- (at-least-once delivery) fires the view again, and summed counts would double. Here each row
-- holds the *set* of alert ids seen for its key (uniqExactState: a 128-bit hash per id), and
-- states are merged by set union, so inserting an alert twice, in one part or two, merged or
-- not, reads back as once: uniqExactMerge is exact without FINAL, whatever the merge progress.
-- That also makes the back-fill below safe to overlap with live inserts. The price is 16 bytes
-- per alert per key, far less than the alerts table itself. An alert's key (minute, cell,
-- source, category, grid) is a function of the alert, so one id never lands under two keys.
-- max is idempotent too (max_severity); sums or averages would not be, so there are none.
--
-- H3: always geoToH3(lon, lat, res) and h3ToGeo → (lon, lat); {h3_settings} pins that order
-- on servers that can change it (see pipeline/warehouse/migrations.py).
CREATE TABLE IF NOT EXISTS {db}.cell_minute_states
(
    minute       DateTime('UTC'),
    cell         UInt64,
    source       LowCardinality(String),
    category     LowCardinality(String),
    grid_code    LowCardinality(String),
    alerts       AggregateFunction(uniqExact, String),
    max_severity SimpleAggregateFunction(max, Float32)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, cell, source, category, grid_code)
TTL minute + INTERVAL 730 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.cell_minute_states_mv TO {db}.cell_minute_states AS
SELECT
    toStartOfMinute(toDateTime(event_time, 'UTC')) AS minute,
    geoToH3(lon, lat, 9) AS cell,
    source,
    category,
    grid_code,
    uniqExactState(alert_id) AS alerts,
    max(severity) AS max_severity
FROM {db}.alerts
GROUP BY minute, cell, source, category, grid_code
{h3_settings};

-- Alerts written before this migration (harmless if counted again: see above).
INSERT INTO {db}.cell_minute_states
SELECT
    toStartOfMinute(toDateTime(event_time, 'UTC')) AS minute,
    geoToH3(lon, lat, 9) AS cell,
    source,
    category,
    grid_code,
    uniqExactState(alert_id) AS alerts,
    max(severity) AS max_severity
FROM {db}.alerts
GROUP BY minute, cell, source, category, grid_code
{h3_settings};

-- The counts as plain numbers, with the cell's centre as lat/lon (what Grafana's geomap reads).
CREATE VIEW IF NOT EXISTS {db}.cell_minute_counts AS
SELECT
    minute,
    cell,
    h3ToGeo(cell).2 AS lat,
    h3ToGeo(cell).1 AS lon,
    source,
    category,
    grid_code,
    uniqExactMerge(alerts) AS alerts,
    max(max_severity) AS max_severity
FROM {db}.cell_minute_states
GROUP BY minute, cell, source, category, grid_code
{h3_settings};
