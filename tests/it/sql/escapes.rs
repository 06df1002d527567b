//! Every escape route refused with nothing happening, and DuckDB's own guards behind the policy.

use serde_json::json;

use super::*;
use crate::support::*;

/// Every way out is refused with `sql_not_allowed`, and nothing happened: no file written or
/// read, rows and views unchanged, the server still ingests and reports.
#[test]
fn every_escape_route_is_refused_and_changes_nothing() {
    let app = sample_app(&[]);
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.csv");
    std::fs::write(&secret, "marker\nTOP-SECRET-7731\n").unwrap();
    let secret = secret.display().to_string();
    let target = |name: &str| outside.path().join(name).display().to_string();
    let count_before = rows(&app, "SELECT count(*) AS n, sum(cost_usd) AS cost FROM events")[0].clone();
    let requests_before = app.spend("from=2026-11-23&to=2026-11-25")["totals"]["requests"]
        .as_u64()
        .unwrap();

    let escapes: Vec<String> = vec![
        // Files, by table function and by replacement scan.
        format!("SELECT * FROM read_csv('{secret}')"),
        format!("SELECT * FROM read_csv_auto('{secret}')"),
        format!("SELECT * FROM read_parquet('{secret}')"),
        format!("SELECT * FROM read_json('{secret}')"),
        format!("SELECT * FROM read_json_auto('{secret}')"),
        format!("SELECT * FROM read_text('{secret}')"),
        format!("SELECT * FROM read_blob('{secret}')"),
        format!("SELECT * FROM glob('{}/*')", outside.path().display()),
        format!("SELECT * FROM sniff_csv('{secret}')"),
        format!("SELECT * FROM parquet_schema('{secret}')"),
        format!("FROM '{secret}'"),
        "FROM '/etc/passwd'".to_owned(),
        format!("SELECT * FROM events, '{secret}'"),
        // COPY and friends.
        format!("COPY (SELECT * FROM events) TO '{}'", target("copy.csv")),
        format!(
            "COPY usage_events TO '{}' (FORMAT parquet)",
            target("copy.parquet")
        ),
        format!("COPY usage_events FROM '{secret}'"),
        format!("WITH c AS (COPY events TO '{}') SELECT 1", target("cte.csv")),
        format!("EXPORT DATABASE '{}'", target("export")),
        format!("IMPORT DATABASE '{}'", outside.path().display()),
        // Other databases.
        format!("ATTACH '{}' AS other", target("other.duckdb")),
        "ATTACH ':memory:' AS scratch".to_owned(),
        "DETACH ledger".to_owned(),
        "USE memory".to_owned(),
        // Extensions and settings.
        "INSTALL httpfs".to_owned(),
        "LOAD httpfs".to_owned(),
        "LOAD json".to_owned(),
        "SET enable_external_access = true".to_owned(),
        "SET threads = 1".to_owned(),
        "RESET memory_limit".to_owned(),
        "SET VARIABLE ledger_team_scope = 'growth'".to_owned(),
        "PRAGMA threads = 1".to_owned(),
        "PRAGMA version".to_owned(),
        "SELECT current_setting('temp_directory')".to_owned(),
        "SELECT getenv('HOME')".to_owned(),
        "SELECT * FROM duckdb_settings()".to_owned(),
        "SELECT * FROM duckdb_secrets()".to_owned(),
        "SELECT * FROM duckdb_extensions()".to_owned(),
        // Statements that run other SQL.
        "SELECT * FROM query('DELETE FROM usage_events')".to_owned(),
        "SELECT * FROM query('SELECT * FROM usage_events')".to_owned(),
        "SELECT * FROM query_table('usage_events')".to_owned(),
        "SELECT json_serialize_plan('DROP TABLE usage_events')".to_owned(),
        "PREPARE p AS DELETE FROM usage_events".to_owned(),
        "EXECUTE p".to_owned(),
        "CALL checkpoint()".to_owned(),
        "CHECKPOINT".to_owned(),
        "VACUUM".to_owned(),
        "BEGIN TRANSACTION".to_owned(),
        "COMMIT".to_owned(),
        // A second statement, however it is hidden.
        "SELECT 1; DELETE FROM usage_events".to_owned(),
        "SELECT 1; DROP VIEW events".to_owned(),
        "SELECT 1 -- harmless\n; DELETE FROM usage_events".to_owned(),
        "/* SELECT 1 */ DELETE FROM usage_events".to_owned(),
        "EXPLAIN SELECT 1; DELETE FROM usage_events".to_owned(),
        "EXPLAIN ANALYZE SELECT 1".to_owned(),
        // Writes and DDL, on the tables and on temporary objects.
        "DELETE FROM usage_events".to_owned(),
        "UPDATE usage_events SET cost_usd = 0".to_owned(),
        "INSERT INTO usage_events SELECT * FROM usage_events".to_owned(),
        "DROP TABLE usage_events".to_owned(),
        "ALTER TABLE usage_events ADD COLUMN x INT".to_owned(),
        "CREATE TABLE stolen AS SELECT * FROM events".to_owned(),
        "CREATE TEMP TABLE scratch AS SELECT 1".to_owned(),
        "CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM usage_events".to_owned(),
        "CREATE MACRO m() AS 1".to_owned(),
        "WITH d AS (DELETE FROM events RETURNING *) SELECT count(*) FROM d".to_owned(),
        "WITH u AS (UPDATE usage_events SET team = 'x' RETURNING *) SELECT count(*) FROM u".to_owned(),
        // The tables behind the views.
        "SELECT * FROM usage_events".to_owned(),
        "SELECT * FROM ledger.main.usage_events".to_owned(),
        "SELECT * FROM main.rollup_hourly".to_owned(),
        "WITH usage_events AS (SELECT 1) SELECT * FROM usage_events".to_owned(),
        "SELECT (SELECT count(*) FROM event_keys)".to_owned(),
    ];
    for query in &escapes {
        let (status, body) = sql(&app, json!({ "sql": query }));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("sql_not_allowed")),
            "{query}: {body}"
        );
        let details = &body["error"]["details"];
        assert!(
            details["construct"].is_string() && details["reason"].is_string(),
            "{query}: {body}"
        );
        assert!(
            !body.to_string().contains("TOP-SECRET-7731"),
            "{query} leaked the file"
        );
    }

    // Nothing was written outside the data directory, nothing changed inside it.
    let mut left: Vec<String> = std::fs::read_dir(outside.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["secret.csv"]);
    assert_eq!(
        rows(&app, "SELECT count(*) AS n, sum(cost_usd) AS cost FROM events")[0],
        count_before
    );
    assert_eq!(app.exported().len(), 12);
    // The views are still there, settings still allow the ledger to work: ingest and report.
    let (status, body) = app.ingest(
        "",
        canonical("after-escapes", "2026-11-24T12:00:00Z", "gpt-4o-mini", 10, 5).into_bytes(),
    );
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(1)), "{body}");
    let report = app.spend("from=2026-11-23&to=2026-11-25");
    assert_eq!(
        report["totals"]["requests"].as_u64(),
        Some(requests_before + 1),
        "{report}"
    );
    assert_eq!(rows(&app, "SELECT count(*) AS n FROM events")[0]["n"], json!(13));
    // A comment that only looks like a second statement is just a comment.
    assert_eq!(
        rows(&app, "SELECT 1 AS one /* ; DROP TABLE usage_events */")[0]["one"],
        json!(1)
    );
}

/// Behind the policy, DuckDB itself refuses: on any connection of the ledger's database
/// (including the report readers), once the sandbox has opened, files, other databases and
/// settings are out of reach, and a read-only transaction cannot write. The ledger keeps working
/// and reopens.
#[test]
fn duckdb_itself_refuses_files_settings_and_writes_after_lockdown() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.csv");
    std::fs::write(&secret, "a\n1\n").unwrap();
    let (config, ledger) = open_in_process(dir.path());
    let sandbox = llm_ledger::sql::Sandbox::open(&ledger.readers, config.sql).unwrap();
    // A second sandbox on the same instance finds it locked already.
    llm_ledger::sql::Sandbox::open(&ledger.readers, config.sql).unwrap();
    let attempts = [
        format!("SELECT * FROM read_csv('{}')", secret.display()),
        format!(
            "COPY (SELECT 1) TO '{}'",
            outside.path().join("out.csv").display()
        ),
        format!(
            "ATTACH '{}' AS other",
            outside.path().join("other.duckdb").display()
        ),
        "INSTALL httpfs".to_owned(),
        "SET threads = 1".to_owned(),
        "SET enable_external_access = true".to_owned(),
        "SET lock_configuration = false".to_owned(),
        "RESET autoload_known_extensions".to_owned(),
    ];
    ledger
        .readers
        .with_conn(|conn| {
            for attempt in &attempts {
                let error = conn.execute_batch(attempt).expect_err(attempt);
                let message = error.to_string();
                assert!(
                    message.contains("Permission Error") || message.contains("locked"),
                    "{attempt}: {message}"
                );
            }
            conn.execute_batch("BEGIN TRANSACTION READ ONLY").unwrap();
            let error = conn.execute_batch("DELETE FROM usage_events").unwrap_err();
            assert!(error.to_string().contains("read-only mode"), "{error}");
            conn.execute_batch("ROLLBACK").unwrap();
            Ok::<_, llm_ledger::store::StoreError>(())
        })
        .unwrap();
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);

    // The writer still commits (and checkpoints on shutdown) after the lockdown.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let body = canonical("locked-1", "2026-11-23T10:00:00Z", "gpt-4o-mini", 100, 10).into_bytes();
    assert_eq!(ingest_in_process(&ledger, &runtime, body), 1);
    let admission = sandbox.admit().unwrap();
    let output = sandbox
        .run(
            &admission,
            "SELECT count(*) AS n FROM events",
            sandbox.limits().lowered(None, None),
            None,
        )
        .unwrap();
    assert_eq!(output.rows_json()[0]["n"], json!(1));
    drop((admission, sandbox));
    let llm_ledger::server::Ledger {
        writer,
        writer_thread,
        readers,
        ..
    } = ledger;
    drop((writer, readers));
    writer_thread.join().unwrap();
    let reopened = llm_ledger::server::open_ledger(&config).unwrap();
    let sandbox = llm_ledger::sql::Sandbox::open(&reopened.readers, config.sql).unwrap();
    let admission = sandbox.admit().unwrap();
    let output = sandbox
        .run(
            &admission,
            "SELECT count(*) AS n FROM events",
            sandbox.limits().lowered(None, None),
            None,
        )
        .unwrap();
    assert_eq!(output.rows_json()[0]["n"], json!(1));
}
