-- sql_catalog_names: every table and view name a query on this connection could resolve (the
-- ledger's tables, this connection's temporary views, DuckDB's system views), lower-cased. A
-- WITH clause may not reuse one of them: a WITH body sees the table of the same name, not
-- itself, so a reused name could reach a table the policy never saw (`sql::policy`).
--
-- Parameters: none.
-- Result columns: name VARCHAR.
SELECT lower(table_name) AS name FROM duckdb_tables()
UNION
SELECT lower(view_name) AS name FROM duckdb_views()
