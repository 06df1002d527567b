-- memory_limit_set: sets DuckDB's memory limit for the whole instance. Lowering it evicts
-- unpinned blocks from the buffer pool until what is held fits (`store::cache::release`); it
-- fails when pinned blocks do not fit. Refused once `sql_lockdown.sql` has locked the
-- configuration.
--
-- Parameters: $1 the limit (`64MiB`, `18.7 GiB`).
-- Result: none.
SET memory_limit = $1
