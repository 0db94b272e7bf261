-- The whole-disk baselines of a fit (pipeline/correlate/disks.py): per scoring radius, the
-- expected counted alerts per hour per km² of the disk centred on each lattice cell, for each
-- local hour of week (168 rates, Monday 00:00 first). Scoring takes a disk's expected count from
-- here; without these rows it falls back to averaging the per-cell rates of `baselines`, which
-- under-predicts cells beside busy point sources. cell_id -1 holds each radius's fallback.
CREATE TABLE IF NOT EXISTS {db}.baseline_disks
(
    fit_id   String,
    radius_m Float64,
    cell_id  Int64,
    rates    Array(Float64)
)
ENGINE = ReplacingMergeTree
ORDER BY (fit_id, radius_m, cell_id);
