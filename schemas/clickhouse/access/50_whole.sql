-- Once a table has a row policy, a user that no policy names sees none of its rows: this one
-- keeps the whole tables for everyone but the district users (admin, writer, command centre).
-- Placeholders: {db}; {whole_to}: "ALL", or "ALL EXCEPT" the district users.
CREATE ROW POLICY OR REPLACE hotspot_whole ON {db}.alerts, {db}.incidents, {db}.flags, {db}.unit_hour_states, {db}.compound_ratings, {db}.cell_trends, {db}.cameras, {db}.camera_status, {db}.notice_events USING 1 TO {whole_to};
