-- Supervised rectification (`hotspot ratings`): a compound rated red or yellow this month and the
-- month before is `under_rectification`, recorded against its property-management company
-- (`company`, from the registry; '' where the registry names none: an unknown company). Rows
-- rated before this migration read 0 and ''; rate those months again to fill them in (re-rating
-- a month replaces its rows).
ALTER TABLE {db}.compound_ratings ADD COLUMN IF NOT EXISTS under_rectification UInt8 DEFAULT 0;
ALTER TABLE {db}.compound_ratings ADD COLUMN IF NOT EXISTS company LowCardinality(String) DEFAULT '';
