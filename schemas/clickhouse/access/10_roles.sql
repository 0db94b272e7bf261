-- Least privilege in the warehouse: applied by `hotspot migrate` with the admin connection after
-- the migrations, in file-name order (pipeline/warehouse/access.py; README "Production").
-- No password is in these files nor in the statements sent: the command puts in an
-- `IDENTIFIED WITH sha256_hash BY '…' SALT '…'` clause computed from the secrets. Placeholders:
-- {db}; {max_execution_time} (setting warehouse_access.max_execution_time_s). Re-running is
-- safe: roles are emptied and granted again, users and policies replaced.

-- The worker: reads and appends the pipeline's tables (an insert into a table feeds its
-- materialized views); no CREATE, ALTER, DROP, DELETE or TRUNCATE.
CREATE ROLE IF NOT EXISTS hotspot_writer;
REVOKE ALL ON *.* FROM hotspot_writer;
GRANT SELECT, INSERT ON {db}.* TO hotspot_writer;

-- The command centre's Grafana: reads every table.
CREATE ROLE IF NOT EXISTS hotspot_reader;
REVOKE ALL ON *.* FROM hotspot_reader;
GRANT SELECT ON {db}.* TO hotspot_reader;

-- A district's Grafana: the tables that carry district_code (40_district.sql's row policy cuts them to
-- the district), the registry's geometry and the views over them. Not the dead letters, the
-- per-cell counts or the baselines, which a row policy cannot cut by district.
CREATE ROLE IF NOT EXISTS hotspot_district_reader;
REVOKE ALL ON *.* FROM hotspot_district_reader;
GRANT SELECT ON {db}.alerts TO hotspot_district_reader;
GRANT SELECT ON {db}.incidents TO hotspot_district_reader;
GRANT SELECT ON {db}.flags TO hotspot_district_reader;
GRANT SELECT ON {db}.unit_hour_states TO hotspot_district_reader;
GRANT SELECT ON {db}.unit_hour_counts TO hotspot_district_reader;
GRANT SELECT ON {db}.compound_ratings TO hotspot_district_reader;
GRANT SELECT ON {db}.cell_trends TO hotspot_district_reader;
GRANT SELECT ON {db}.cameras TO hotspot_district_reader;
GRANT SELECT ON {db}.camera_status TO hotspot_district_reader;
GRANT SELECT ON {db}.notice_events TO hotspot_district_reader;
GRANT SELECT ON {db}.notices TO hotspot_district_reader;
GRANT SELECT ON {db}.admin_units TO hotspot_district_reader;

-- readonly = 1: no writes and no SET, except max_execution_time, which the
-- grafana-clickhouse-datasource plugin sends with every query (its "Query timeout"). A
-- CHANGEABLE_IN_READONLY constraint needs the server's
-- access_control_improvements.settings_constraints_replace_previous (infra/clickhouse/config.d/access.xml).
CREATE SETTINGS PROFILE OR REPLACE hotspot_readonly SETTINGS readonly = 1, max_execution_time = {max_execution_time} CHANGEABLE_IN_READONLY;
