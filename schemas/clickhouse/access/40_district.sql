-- One district's Grafana user, applied once per entry of the setting
-- warehouse_access.district_passwords (pipeline/warehouse/access.py). Placeholders: {db};
-- {code}: the district code; {user}: hotspot_district_<code>; {auth}: its password's hash.
-- The policy names every table of 50_whole.sql's hotspot_whole: a table missing here would show
-- a district user nothing, one missing there would show it everything.
CREATE USER OR REPLACE {user} {auth} SETTINGS PROFILE 'hotspot_readonly';
GRANT hotspot_district_reader TO {user};
CREATE ROW POLICY OR REPLACE {user} ON {db}.alerts, {db}.incidents, {db}.flags, {db}.unit_hour_states, {db}.compound_ratings, {db}.cell_trends, {db}.cameras, {db}.camera_status, {db}.notice_events USING district_code = '{code}' TO {user};
