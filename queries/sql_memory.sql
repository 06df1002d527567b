-- sql_memory: the bytes the DuckDB instance holds now, in its buffer pool and spilled to its
-- temporary directory; the ad-hoc SQL watchdog compares it with what was held when a query
-- started (`sql_memory_limit`).
--
-- Parameters: none.
-- Result columns: held_bytes BIGINT.
SELECT (coalesce(sum(memory_usage_bytes), 0) + coalesce(sum(temporary_storage_bytes), 0))::BIGINT AS held_bytes
FROM duckdb_memory()
