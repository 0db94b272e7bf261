-- The camera inventory and the cameras' status notices, for an online rate that can be trusted
-- (pipeline/dashboards/camera_health.py): the inventory says which cameras exist and since
-- when, so a camera that sends nothing still counts; the notices, kept apart from the alerts
-- (a few per camera and day), give each camera's status at any moment, however long ago its
-- last notice was.

-- One row per camera (latest load wins), from the city's cameras file (pipeline/cameras.py),
-- placed in the admin units by its coordinates. retired_at NULL: in service.
CREATE TABLE IF NOT EXISTS {db}.cameras
(
    camera_id      String,
    lat            Float64,
    lon            Float64,
    grid_code      LowCardinality(String),
    community_code LowCardinality(String),
    street_code    LowCardinality(String),
    district_code  LowCardinality(String),
    station_id     LowCardinality(String),
    installed_at   DateTime64(3, 'UTC'),
    retired_at     Nullable(DateTime64(3, 'UTC')),
    loaded_at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY camera_id;

-- Every offline/online notice of the camera feed, kept for ever (no TTL: the status at the
-- start of a range is the last notice before it). A re-inserted alert collapses (read FINAL).
CREATE TABLE IF NOT EXISTS {db}.camera_status
(
    camera_id     String,
    event_time    DateTime64(3, 'UTC'),
    category      LowCardinality(String),
    district_code LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (camera_id, event_time, category);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.camera_status_mv TO {db}.camera_status AS
SELECT camera_id, event_time, category, district_code
FROM {db}.alerts
WHERE source = 'camera' AND category IN ('offline', 'online') AND camera_id != '';

INSERT INTO {db}.camera_status SELECT camera_id, event_time, category, district_code
FROM {db}.alerts FINAL
WHERE source = 'camera' AND category IN ('offline', 'online') AND camera_id != '';
