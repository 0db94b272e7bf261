-- The command centre's Grafana user (setting warehouse_access.reader_user): every row, read-only.
-- Skipped without warehouse_access.reader_password. Placeholders: {reader}, {auth}.
CREATE USER OR REPLACE {reader} {auth} SETTINGS PROFILE 'hotspot_readonly';
GRANT hotspot_reader TO {reader};
