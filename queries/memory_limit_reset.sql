-- memory_limit_reset: sets DuckDB's memory limit back to DuckDB's default (80 % of RAM), after
-- `memory_limit_set.sql` lowered it on a ledger opened without a configured limit
-- (`store::cache::release`).
--
-- Parameters: none.
-- Result: none.
RESET memory_limit
