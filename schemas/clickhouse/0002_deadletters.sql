-- Messages that could not become alerts: reason, where they came from, and the original bytes
-- sealed (they may hold personal data). Keyed by their Kafka coordinates, so redelivery of the
-- same message after a restart collapses into one row.
CREATE TABLE IF NOT EXISTS {db}.deadletters
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
ORDER BY (topic, partition, offset, reason)
TTL toDateTime(received_time) + INTERVAL 90 DAY;
