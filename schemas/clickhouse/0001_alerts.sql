-- Normalised alerts, one row per alert_id. ReplacingMergeTree makes re-inserting a batch after a
-- crash harmless: rows with the same sorting key collapse (read with FINAL for exact counts).
-- Personal fields only ever hold pseudonyms (keyed HMAC); free text is never stored.
CREATE TABLE IF NOT EXISTS {db}.alerts
(
    alert_id     String,
    source       LowCardinality(String),
    source_id    String,
    event_time   DateTime64(3, 'UTC'),
    lat          Float64,
    lon          Float64,
    category     LowCardinality(String),
    severity     Float32,
    grid_code      LowCardinality(String),
    community_code LowCardinality(String),
    street_code    LowCardinality(String),
    district_code  LowCardinality(String),
    station_id     LowCardinality(String),
    device       String,
    household    String,
    caller       String,
    priority     UInt8,
    camera_id    String,
    confidence   Float32,
    reporter_id  String,
    status       LowCardinality(String),
    report_ref   String,
    ingest_time  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (toStartOfHour(event_time), source, alert_id)
TTL toDateTime(event_time) + INTERVAL 400 DAY;
