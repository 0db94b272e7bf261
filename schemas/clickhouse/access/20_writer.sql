-- The worker's user, named by the setting warehouse_url (its password is the URL's). Skipped
-- when warehouse_url and warehouse_admin_url name the same user. Placeholders: {writer}, {auth}.
CREATE USER OR REPLACE {writer} {auth};
GRANT hotspot_writer TO {writer};
