-- The patrol loop's events, one row per notice event as published on hotspots.notices:
-- notices (issued, raised), acks taken (received, dispatched, arrived, resolved, false_alarm)
-- and SLA events (reminder, escalated; a late receipt is a received row with late = 1).
-- Event ids are deterministic (<notice id>/<n>) and a re-emitted event is identical, so
-- ReplacingMergeTree keyed by event_id stores each once however often it was delivered.
-- officer holds the officer's pseudonym, never the id in clear.
CREATE TABLE IF NOT EXISTS {db}.notice_events
(
    event_id        String,
    notice_id       String,
    kind            LowCardinality(String),
    at_time         DateTime64(3, 'UTC'),
    issued_time     DateTime64(3, 'UTC'),
    state           LowCardinality(String),
    addressed_to    Array(String),
    flag_id         String,
    flag_version    UInt32,
    cell_id         Int64,
    lat             Float64,
    lon             Float64,
    radius_m        Float32,
    score           Float64,
    observed        UInt32,
    expected        Float64,
    n_sources       UInt8,
    grid_code       LowCardinality(String),
    community_code  LowCardinality(String),
    street_code     LowCardinality(String),
    district_code   LowCardinality(String),
    station_id      LowCardinality(String),
    unit            LowCardinality(String),
    officer         String,
    reason          LowCardinality(String),
    receipt_s       Nullable(Float64),
    late            UInt8
)
ENGINE = ReplacingMergeTree
ORDER BY event_id
TTL toDateTime(at_time) + INTERVAL 400 DAY;

-- Each notice as it stands: its issue, its latest state, when it was received (NULL: not
-- yet; receipt_seconds after the issue) and whether it was reminded, escalated or received
-- late. (Aliases differ from the columns they aggregate: ClickHouse resolves an alias first.)
CREATE VIEW IF NOT EXISTS {db}.notices AS
SELECT
    notice_id,
    any(station_id)                                        AS station_id,
    any(community_code)                                    AS community_code,
    any(street_code)                                       AS street_code,
    any(district_code)                                     AS district_code,
    any(grid_code)                                         AS grid_code,
    any(cell_id)                                           AS cell_id,
    any(flag_id)                                           AS flag_id,
    min(issued_time)                                       AS issued_time,
    argMax(state, toUInt32(splitByChar('/', event_id)[2])) AS last_state,
    max(score)                                             AS max_score,
    minIf(toNullable(at_time), receipt_s IS NOT NULL)      AS received_time,
    anyIf(receipt_s, receipt_s IS NOT NULL)                AS receipt_seconds,
    minIf(toNullable(at_time), kind = 'arrived')           AS arrived_time,
    countIf(kind = 'reminder') > 0                         AS reminded,
    countIf(kind = 'escalated') > 0                        AS escalated,
    countIf(late = 1) > 0                                  AS received_late,
    max(at_time)                                           AS last_time
FROM {db}.notice_events FINAL
GROUP BY notice_id;

-- False alarms per cell, for analysts (and `hotspot evaluate --false-alarms`).
CREATE VIEW IF NOT EXISTS {db}.false_alarms_by_cell AS
SELECT
    cell_id,
    any(grid_code)       AS grid_code,
    any(station_id)      AS station_id,
    avg(lat)             AS lat,
    avg(lon)             AS lon,
    count()              AS false_alarms,
    groupUniqArray(reason) AS reasons,
    min(at_time)         AS first_time,
    max(at_time)         AS last_time
FROM {db}.notice_events FINAL
WHERE kind = 'false_alarm'
GROUP BY cell_id;
