-- A record on alerts.normalized holds many alerts, so the dead letters of several late alerts
-- share their record's coordinates: the key also holds the alert id, or they would collapse
-- into one row. (Feed messages hold one alert each; their alert id is empty or their own.)
CREATE TABLE IF NOT EXISTS {db}.deadletters_by_alert
(
    topic          LowCardinality(String),
    partition      UInt32,
    offset         UInt64,
    reason         LowCardinality(String),
    detail         String,
    source         LowCardinality(String),
    alert_id       String,
    received_time  DateTime64(3, 'UTC'),
    payload_sealed String
)
ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, offset, reason, alert_id)
TTL toDateTime(received_time) + INTERVAL 90 DAY;

INSERT INTO {db}.deadletters_by_alert SELECT topic, partition, offset, reason, detail, source,
    alert_id, received_time, payload_sealed FROM {db}.deadletters;

RENAME TABLE {db}.deadletters TO {db}.deadletters_by_offset,
    {db}.deadletters_by_alert TO {db}.deadletters;

DROP TABLE IF EXISTS {db}.deadletters_by_offset;
