-- sql_lockdown_state: whether `sql_lockdown.sql` has run on this database instance already (a
-- second sandbox on the same instance, as in tests, must not try to change locked settings).
--
-- Parameters: none.
-- Result columns: locked BOOLEAN, external_access BOOLEAN.
SELECT current_setting('lock_configuration')::BOOLEAN AS locked,
       current_setting('enable_external_access')::BOOLEAN AS external_access
