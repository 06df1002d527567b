-- sql_lockdown: closes the database instance to everything but its own files, for as long as it
-- runs, before ad-hoc SQL takes its first query (`sql::Sandbox::open`). The settings are global
-- to the instance (the writer, the report readers and the sandbox share it) and cannot be
-- turned back: external access cannot be enabled again while the database runs, and after the
-- last line no setting can change at all. Nothing in the ledger needs more: it never reads or
-- writes files through DuckDB (exports are written by Rust code), and the extensions it uses
-- are linked in. DuckDB keeps allowing its own database file, the write-ahead log and the
-- temporary directory for spilling.
--
-- Parameters: none. Result: none.
SET autoinstall_known_extensions = false;
SET autoload_known_extensions = false;
SET allow_community_extensions = false;
SET enable_external_access = false;
SET lock_configuration = true;
