//! The policy on DuckDB's real parse trees: a corpus of queries it must let through and one of
//! queries it must refuse, each with what the refusal names.

use duckdb::Connection;

use super::*;
use crate::sql::session;
use crate::store::{Store, StoreError, StoreOptions};

/// A store with the sandbox views on one of its connections.
fn judge_with() -> (tempfile::TempDir, Connection, Policy) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
    let conn = store
        .readers
        .with_conn(|conn| conn.try_clone().map_err(StoreError::db("clone")))
        .unwrap();
    conn.execute_batch(session::VIEWS_SQL).unwrap();
    let policy = Policy::new(session::catalog_names(&conn).unwrap());
    (dir, conn, policy)
}

fn judge(conn: &Connection, policy: &Policy, sql: &str) -> Result<(), SqlError> {
    let tree = session::parse_tree(conn, sql)?;
    let first = crate::sql::keyword::leading_keyword(sql).map(|(word, _)| word);
    policy.check(&tree, first)
}

#[test]
fn ordinary_analytics_pass() {
    let (_dir, conn, policy) = judge_with();
    let allowed = [
        "SELECT team, sum(cost_usd) FROM events GROUP BY ALL",
        "select * from EVENTS limit 1",
        "FROM events SELECT team LIMIT 5",
        "SELECT e.team FROM events e JOIN rollup_hourly r ON e.team = r.team",
        "WITH t AS (SELECT team FROM events) SELECT * FROM t",
        "WITH a AS (SELECT 1 AS x), b AS (SELECT x FROM a) SELECT * FROM b, a",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
        "VALUES (1, 'a'), (2, 'b')",
        "DESCRIBE events",
        "SUMMARIZE events",
        "SUMMARIZE SELECT team FROM events",
        "SELECT * FROM (DESCRIBE budgets)",
        "SELECT * FROM range(10)",
        "SELECT * FROM generate_series(1, 3)",
        "SELECT unnest([1, 2])",
        "SELECT * FROM unnest([1, 2])",
        "SELECT j.key FROM events, json_each(to_json(events.tags)) AS j",
        "SELECT team, row_number() OVER (PARTITION BY team ORDER BY ts DESC) AS n FROM events QUALIFY n = 1",
        "SELECT * FROM (PIVOT events ON provider IN ('openai') USING sum(cost_usd) GROUP BY team)",
        "SELECT * FROM (UNPIVOT (SELECT 1 AS a, 2 AS b) ON a, b)",
        "SELECT list_transform([1, 2], x -> x * 2)",
        "SELECT CASE WHEN 1 > 0 THEN 'a' ELSE 'b' END, 1::DECIMAL(10,2), [1]::INT[], {'a': 1}::STRUCT(a INT), TRY_CAST('1' AS INT), 1 BETWEEN 0 AND 2, 'a' COLLATE nocase",
        "SELECT COLUMNS('.*_tokens') FROM events",
        "SELECT * EXCLUDE (tags) FROM events ORDER BY ALL LIMIT 1 OFFSET 2",
        "SELECT DISTINCT ON (team) team FROM events",
        "SELECT team FROM events UNION ALL SELECT team FROM rollup_hourly INTERSECT SELECT team FROM focus_lines EXCEPT SELECT 'x'",
        "SELECT * FROM events USING SAMPLE 10%",
        "SELECT #1 FROM events",
        "SELECT * FROM events ASOF JOIN rollup_hourly r ON events.team = r.team AND events.ts >= r.hour",
        "SELECT * FROM events, LATERAL (SELECT events.team AS t2)",
        "SELECT tags['env'], map_keys(tags) FROM events",
        "SELECT count(*) FILTER (WHERE is_error), quantile_cont(latency_ms, 0.9) FROM events",
        "SELECT strftime(ts, '%Y-%m'), date_trunc('day', ts) FROM events",
        "SELECT EXISTS (SELECT 1 FROM budgets), 1 IN (SELECT 1), (SELECT max(amount_usd) FROM budgets)",
        "SELECT team, sum(input_tokens) FROM events GROUP BY ROLLUP (team)",
        "SELECT 1 LIMIT 10%",
        "SELECT current_date, now(), version()",
        "SELECT * FROM prices, contracts",
        "SELECT ?",
        "-- a comment\nSELECT 1; -- trailing",
    ];
    for sql in allowed {
        if let Err(error) = judge(&conn, &policy, sql) {
            panic!("refused `{sql}`: {error}");
        }
    }
}

#[test]
fn escapes_are_refused_by_name() {
    let (_dir, conn, policy) = judge_with();
    let refused = [
        ("SELECT * FROM usage_events", "table `usage_events`"),
        ("SELECT * FROM event_keys", "table `event_keys`"),
        ("SELECT * FROM main.events", "with a schema or database"),
        (
            "SELECT * FROM ledger.main.usage_events",
            "with a schema or database",
        ),
        ("SELECT * FROM temp.main.events", "with a schema or database"),
        (
            "SELECT * FROM read_csv('/etc/passwd')",
            "table function `read_csv`",
        ),
        (
            "SELECT * FROM read_csv_auto('x.csv')",
            "table function `read_csv_auto`",
        ),
        (
            "SELECT * FROM read_parquet('x.parquet')",
            "table function `read_parquet`",
        ),
        ("SELECT * FROM read_json('x.json')", "table function `read_json`"),
        (
            "SELECT * FROM read_text('/etc/hostname')",
            "table function `read_text`",
        ),
        (
            "SELECT * FROM read_blob('/etc/hostname')",
            "table function `read_blob`",
        ),
        ("SELECT * FROM glob('/etc/*')", "table function `glob`"),
        ("SELECT * FROM sniff_csv('x.csv')", "table function `sniff_csv`"),
        (
            "SELECT * FROM parquet_metadata('x.parquet')",
            "table function `parquet_metadata`",
        ),
        ("FROM '/etc/passwd'", "`/etc/passwd`"),
        ("SELECT * FROM 'data.csv'", "`data.csv`"),
        ("SELECT * FROM query('SELECT 1')", "table function `query`"),
        (
            "SELECT * FROM query_table('usage_events')",
            "table function `query_table`",
        ),
        (
            "SELECT * FROM duckdb_settings()",
            "table function `duckdb_settings`",
        ),
        (
            "SELECT * FROM duckdb_secrets()",
            "table function `duckdb_secrets`",
        ),
        ("SELECT * FROM checkpoint()", "table function `checkpoint`"),
        (
            "SELECT * FROM json_execute_serialized_sql('{}')",
            "table function `json_execute_serialized_sql`",
        ),
        (
            "SELECT current_setting('temp_directory')",
            "function `current_setting`",
        ),
        (
            "SELECT getvariable('ledger_team_scope')",
            "function `getvariable`",
        ),
        ("SELECT nextval('s')", "function `nextval`"),
        ("SELECT write_log('x')", "function `write_log`"),
        (
            "SELECT json_serialize_plan('SELECT 1')",
            "function `json_serialize_plan`",
        ),
        ("SELECT pg_get_viewdef(1)", "function `pg_get_viewdef`"),
        ("SELECT system.main.lower('A')", "called through a schema"),
        ("SELECT sleep_ms(100000)", "function `sleep_ms`"),
        (
            "WITH d AS (DELETE FROM events RETURNING *) SELECT * FROM d",
            "`DELETE`",
        ),
        (
            "WITH u AS (UPDATE events SET team = 'x' RETURNING *) SELECT * FROM u",
            "`UPDATE`",
        ),
        (
            "WITH i AS (INSERT INTO events SELECT * FROM events RETURNING *) SELECT * FROM i",
            "`INSERT`",
        ),
        ("WITH c AS (COPY events TO 'x.csv') SELECT 1", "`COPY`"),
        (
            "WITH usage_events AS (SELECT 1) SELECT * FROM usage_events",
            "WITH name `usage_events`",
        ),
        (
            "WITH events AS (SELECT * FROM usage_events) SELECT * FROM events",
            "WITH name `events`",
        ),
        (
            "WITH duckdb_schemas AS (SELECT 1) SELECT * FROM duckdb_schemas",
            "WITH name `duckdb_schemas`",
        ),
        (
            "WITH \"a.csv\" AS (SELECT 1) SELECT * FROM \"a.csv\"",
            "WITH name `a.csv`",
        ),
        ("SHOW TABLES", "SHOW or DESCRIBE without a view"),
        ("DESCRIBE", "SHOW or DESCRIBE without a view"),
        ("DESCRIBE usage_events", "table `usage_events`"),
        ("SUMMARIZE usage_events", "table `usage_events`"),
        ("SELECT 1; SELECT 2", "2 statements"),
        (
            "SELECT (SELECT count(*) FROM usage_events)",
            "table `usage_events`",
        ),
        (
            "SELECT * FROM events WHERE team IN (FROM usage_events SELECT team)",
            "table `usage_events`",
        ),
        (
            "SELECT list_transform([1], x -> (SELECT count(*) FROM usage_events))",
            "table `usage_events`",
        ),
        (
            "SELECT * FROM (PIVOT usage_events ON team IN ('a') USING count(*))",
            "table `usage_events`",
        ),
        (
            "SELECT * FROM (PIVOT events ON team USING count(*))",
            "other than one SELECT",
        ),
        (
            "SELECT * FROM events, unnest((SELECT list(team) FROM usage_events))",
            "table `usage_events`",
        ),
        (
            "SELECT 1 ORDER BY (SELECT count(*) FROM schema_migrations)",
            "table `schema_migrations`",
        ),
    ];
    for (sql, construct) in refused {
        match judge(&conn, &policy, sql) {
            Err(SqlError::NotAllowed { construct: named, .. }) => {
                assert!(
                    named.contains(construct),
                    "`{sql}` was refused as `{named}`, expected `{construct}`"
                )
            }
            other => panic!("`{sql}` was not refused: {other:?}"),
        }
    }
}

#[test]
fn other_statements_are_refused_before_anything_runs() {
    let (_dir, conn, policy) = judge_with();
    let statements = [
        ("ATTACH ':memory:' AS m", "ATTACH"),
        ("DETACH ledger", "DETACH"),
        ("USE memory", "USE"),
        ("COPY events TO 'x.csv'", "COPY"),
        ("COPY (SELECT 1) TO 'x.csv'", "COPY"),
        ("EXPORT DATABASE 'x'", "EXPORT"),
        ("IMPORT DATABASE 'x'", "IMPORT"),
        ("INSTALL httpfs", "INSTALL"),
        ("LOAD json", "LOAD"),
        ("SET threads = 1", "SET"),
        ("RESET threads", "RESET"),
        ("SET VARIABLE ledger_team_scope = 'x'", "SET"),
        ("PRAGMA version", "PRAGMA"),
        ("CALL checkpoint()", "CALL"),
        ("CHECKPOINT", "CHECKPOINT"),
        ("VACUUM", "VACUUM"),
        ("BEGIN", "BEGIN"),
        ("COMMIT", "COMMIT"),
        ("CREATE TEMP TABLE x AS SELECT 1", "CREATE"),
        ("CREATE TABLE x (a INT)", "CREATE"),
        ("DROP VIEW events", "DROP"),
        ("DELETE FROM events", "DELETE"),
        ("INSERT INTO usage_events SELECT * FROM usage_events", "INSERT"),
        ("UPDATE usage_events SET team = 'x'", "UPDATE"),
        ("PREPARE p AS SELECT 1", "PREPARE"),
        ("EXECUTE p", "EXECUTE"),
        ("PIVOT events ON team USING count(*)", "PIVOT"),
        ("SELECT 1; DROP TABLE usage_events", "other than one SELECT"),
        ("/* SELECT */ DROP TABLE usage_events", "DROP"),
    ];
    for (sql, keyword) in statements {
        match judge(&conn, &policy, sql) {
            Err(SqlError::NotAllowed { construct, .. }) => {
                assert!(
                    construct.contains(keyword),
                    "`{sql}` was refused as `{construct}`"
                )
            }
            other => panic!("`{sql}` was not refused: {other:?}"),
        }
    }
    assert!(matches!(
        judge(&conn, &policy, "SELEKT 1"),
        Err(SqlError::Invalid(_))
    ));
}

/// A DuckDB upgrade that adds a built-in macro reading a metadata table function must add it to
/// `DENIED_FUNCTIONS` (a macro's body is not in the query's parse tree).
#[test]
fn every_builtin_macro_that_reads_a_table_is_denied() {
    let conn = Connection::open_in_memory().unwrap();
    let mut statement = conn
        .prepare(
            "SELECT DISTINCT function_name FROM duckdb_functions()
             WHERE function_type = 'macro' AND regexp_matches(macro_definition, '(?i)\\bfrom\\b')",
        )
        .unwrap();
    let names: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!names.is_empty());
    for name in names {
        assert!(
            DENIED_FUNCTIONS.iter().any(|(denied, _)| *denied == name),
            "built-in macro `{name}` reads a table; add it to DENIED_FUNCTIONS"
        );
    }
}

#[test]
fn a_deeply_nested_query_is_judged_whole() {
    let (_dir, conn, policy) = judge_with();
    let mut sql = String::from("SELECT ");
    for term in 0..300 {
        if term > 0 {
            sql.push_str(" + ");
        }
        sql.push_str(&format!("({term} * 2)"));
    }
    judge(&conn, &policy, &sql).unwrap();
    sql.push_str(" + (SELECT count(*) FROM usage_events)");
    assert!(matches!(
        judge(&conn, &policy, &sql),
        Err(SqlError::NotAllowed { .. })
    ));
}
