-- Fitted baselines (`hotspot baseline fit`): expected counted alerts per hour per km² for each
-- lattice cell and local hour of week (168 rates, Monday 00:00 first). One fit is many rows
-- sharing fit_id; cell_id -1 holds the fallback for cells never seen in the history. The
-- correlation engine uses the newest fit made with its lattice and calendar.
CREATE TABLE IF NOT EXISTS {db}.baselines
(
    fit_id         String,
    fitted_time    DateTime64(3, 'UTC'),
    start_time     DateTime64(3, 'UTC'),
    end_time       DateTime64(3, 'UTC'),
    cell_m         Float64,
    utc_offset_min Int32,
    dispersion     Float64,
    cell_id        Int64,
    rates          Array(Float64)
)
ENGINE = ReplacingMergeTree
ORDER BY (fit_id, cell_id);
