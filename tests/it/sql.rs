//! `POST /v1/sql` and `llm-ledger query`: results in every format, the documented views, the row
//! cap, the time limit and the concurrency cap, every escape route refused with nothing
//! happening, DuckDB's own guards behind the policy, and team scopes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::support::*;

/// Posts a query; returns status, headers and body.
fn post_sql(app: &TestApp, body: Value, accept: Option<&str>) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app.client.post(app.url("/v1/sql")).json(&body);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().expect("POST /v1/sql");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().unwrap().to_vec())
}

/// Posts a query and reads the JSON answer.
fn sql(app: &TestApp, body: Value) -> (u16, Value) {
    let (status, _, bytes) = post_sql(app, body, None);
    let text = String::from_utf8_lossy(&bytes);
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, json)
}

fn rows(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = sql(app, json!({ "sql": query }));
    assert_eq!(status, 200, "{query}: {body}");
    body["rows"].as_array().unwrap().clone()
}

fn dec(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {value}"))
        .parse()
        .unwrap()
}

fn sample_app(args: &[&str]) -> TestApp {
    let app = TestApp::spawn_with(args, &[]);
    let (status, body) = app.ingest("", std::fs::read(sample("canonical.ndjson")).unwrap());
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(12)), "{body}");
    app
}

#[test]
fn a_group_by_over_events_matches_the_spend_report() {
    let app = sample_app(&[]);
    let (status, body) = sql(
        &app,
        json!({"sql": "SELECT team, sum(request_count) AS requests, sum(input_tokens) AS input_tokens, sum(cost_usd) AS cost_usd
                        FROM events WHERE ts >= '2026-11-23' AND ts < '2026-11-25' GROUP BY team ORDER BY team"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["columns"],
        json!([{"name": "team", "type": "VARCHAR"}, {"name": "requests", "type": "DECIMAL(38,0)"},
               {"name": "input_tokens", "type": "DECIMAL(38,0)"}, {"name": "cost_usd", "type": "DECIMAL(38,12)"}])
    );
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["columns", "rows", "row_count", "truncated", "elapsed_ms"]
    );
    assert_eq!(body["truncated"], json!(false));
    assert!(body["elapsed_ms"].is_u64());
    let report = app.spend("from=2026-11-23&to=2026-11-25&group_by=team");
    let expected: BTreeMap<String, (u64, u64, Decimal)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let team = row["team"].as_str().unwrap().to_owned();
            let cost = row["cost_usd"]
                .as_str()
                .map_or(Decimal::ZERO, |text| text.parse().unwrap());
            (
                team,
                (
                    row["requests"].as_u64().unwrap(),
                    row["input_tokens"].as_u64().unwrap(),
                    cost,
                ),
            )
        })
        .collect();
    let got: BTreeMap<String, (u64, u64, Decimal)> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let cost = if row["cost_usd"].is_null() {
                Decimal::ZERO
            } else {
                dec(&row["cost_usd"])
            };
            (
                row["team"].as_str().unwrap().to_owned(),
                (
                    row["requests"].as_u64().unwrap(),
                    row["input_tokens"].as_u64().unwrap(),
                    cost,
                ),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(body["row_count"].as_u64(), Some(expected.len() as u64));
    // Money stays an exact string with its twelve places.
    let one = rows(
        &app,
        "SELECT cost_usd FROM events WHERE cost_usd > 0 ORDER BY cost_usd LIMIT 1",
    );
    assert!(
        one[0]["cost_usd"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap()
            .len()
            == 12,
        "{one:?}"
    );
}

#[test]
fn every_output_format_parses() {
    let app = sample_app(&[]);
    let query = "SELECT team, count(*) AS requests, sum(cost_usd) AS cost_usd, max(ts) AS last_ts, any_value(tags) AS tags
                 FROM events GROUP BY team ORDER BY team";
    let json_rows = rows(&app, query);
    assert_eq!(json_rows.len(), 4);

    // CSV, by the body's format and by Accept.
    for (body, accept) in [
        (json!({"sql": query, "format": "csv"}), None),
        (json!({"sql": query}), Some("text/csv")),
    ] {
        let (status, headers, bytes) = post_sql(&app, body, accept);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/csv"));
        assert_eq!(headers["x-row-count"], "4");
        assert_eq!(headers["x-truncated"], "false");
        let text = String::from_utf8(bytes).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("team,requests,cost_usd,last_ts,tags"));
        let first = lines.next().unwrap();
        let team = json_rows[0]["team"].as_str().unwrap();
        let cost = json_rows[0]["cost_usd"].as_str().unwrap();
        assert!(
            first.starts_with(&format!("{team},{},{cost},", json_rows[0]["requests"])),
            "{first}"
        );
        assert_eq!(text.lines().count(), 5);
    }

    // Parquet, read back with polars: same rows, money still DECIMAL(38,12).
    let (status, headers, bytes) = post_sql(&app, json!({"sql": query, "format": "parquet"}), None);
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/vnd.apache.parquet");
    use polars::prelude::SerReader;
    let frame = polars::prelude::ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .unwrap();
    assert_eq!(frame.height(), 4);
    assert_eq!(
        frame
            .get_column_names()
            .iter()
            .map(|name| name.as_str())
            .collect::<Vec<_>>(),
        ["team", "requests", "cost_usd", "last_ts", "tags"]
    );
    assert_eq!(
        frame.column("cost_usd").unwrap().dtype(),
        &polars::prelude::DataType::Decimal(Some(38), Some(12))
    );
    let team = frame.column("team").unwrap().get(0).unwrap();
    assert_eq!(team.get_str(), json_rows[0]["team"].as_str());

    // Arrow IPC stream, by Accept, read back with polars-arrow's stream reader.
    let (status, headers, bytes) = post_sql(
        &app,
        json!({"sql": query}),
        Some("application/vnd.apache.arrow.stream"),
    );
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/vnd.apache.arrow.stream");
    use polars_arrow::io::ipc::read::{StreamReader, StreamState, read_stream_metadata};
    let mut cursor = std::io::Cursor::new(bytes);
    let metadata = read_stream_metadata(&mut cursor).unwrap();
    let names: Vec<String> = metadata
        .schema
        .iter_names()
        .map(|name| name.to_string())
        .collect();
    assert_eq!(names, ["team", "requests", "cost_usd", "last_ts", "tags"]);
    assert_eq!(
        metadata.schema.get("cost_usd").unwrap().dtype,
        polars_arrow::datatypes::ArrowDataType::Decimal(38, 12)
    );
    let mut read_rows = 0;
    for state in StreamReader::new(cursor, metadata, None) {
        if let StreamState::Some(chunk) = state.unwrap() {
            read_rows += chunk.len();
        }
    }
    assert_eq!(read_rows, 4);

    // An empty result is a well-formed document in every format.
    for format in ["json", "csv", "arrow", "parquet"] {
        let (status, _, bytes) = post_sql(
            &app,
            json!({"sql": "SELECT team FROM events WHERE false", "format": format}),
            None,
        );
        assert_eq!(status, 200, "{format}: {}", String::from_utf8_lossy(&bytes));
        assert!(!bytes.is_empty(), "{format}");
    }
    let (status, body) = sql(&app, json!({"sql": "SELECT 1", "format": "xml"}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_parameter"))
    );
}

#[test]
fn values_keep_their_types_in_json() {
    let app = TestApp::spawn();
    let row = &rows(
        &app,
        "SELECT 1 AS i, 2.5::DOUBLE AS d, 0.000125::DECIMAL(38,12) AS money, 1.5::DECIMAL(38,18) AS unit_price,
                TRUE AS b, NULL AS n, DATE '2026-11-23' AS day, TIMESTAMP '2026-11-23 10:00:00.5' AS ts,
                [1, 2] AS list, {'a': 1} AS object, MAP {'env': 'prod'} AS tags, INTERVAL 3 DAY AS gap,
                'x'::BLOB AS bytes, 'ab' AS s, 'ab' AS s, 12345678901234567890::HUGEINT AS big",
    )[0];
    assert_eq!(
        row,
        &json!({"i": 1, "d": 2.5, "money": "0.000125000000", "unit_price": "1.500000000000000000",
                "b": true, "n": null, "day": "2026-11-23", "ts": "2026-11-23T10:00:00.500Z",
                "list": [1, 2], "object": {"a": 1}, "tags": {"env": "prod"}, "gap": "3 days",
                "bytes": "\\x78", "s": "ab", "s_1": "ab", "big": "12345678901234567890"})
    );
}

#[test]
fn the_views_are_documented_and_describable() {
    let app = TestApp::spawn();
    let expected: &[(&str, &[&str])] = &[
        (
            "events",
            &[
                "event_id",
                "source",
                "ts",
                "team",
                "project",
                "user_id",
                "api_key_id",
                "tags",
                "provider",
                "model_requested",
                "model",
                "model_key",
                "route",
                "fallback_from",
                "input_tokens",
                "output_tokens",
                "cached_input_tokens",
                "cache_write_tokens",
                "cache_write_1h_tokens",
                "reasoning_tokens",
                "service_tier",
                "cost_usd",
                "list_cost_usd",
                "reported_cost_usd",
                "cost_source",
                "price_id",
                "contract_id",
                "request_count",
                "attempts",
                "latency_ms",
                "ttft_ms",
                "status_code",
                "is_error",
                "error_type",
                "cache_hit",
                "ingested_at",
                "cache_savings_usd",
                "cache_hit_savings_usd",
            ],
        ),
        (
            "rollup_hourly",
            &[
                "hour",
                "source",
                "team",
                "project",
                "provider",
                "model_key",
                "model_requested",
                "route",
                "fallback_from",
                "status_code",
                "error_type",
                "cost_source",
                "service_tier",
                "cache_hit",
                "requests",
                "records",
                "errors",
                "attempts",
                "input_tokens",
                "output_tokens",
                "cached_input_tokens",
                "cache_write_tokens",
                "cache_write_1h_tokens",
                "reasoning_tokens",
                "cost_usd",
                "list_cost_usd",
                "reported_cost_usd",
                "reported_requests",
                "unpriced_requests",
                "cache_savings_usd",
                "cache_hit_savings_usd",
                "latency_ms_sum",
                "latency_count",
                "ttft_ms_sum",
                "ttft_count",
            ],
        ),
        (
            "focus_lines",
            &[
                "charge_day",
                "billing_month",
                "charge_class",
                "source",
                "team",
                "project",
                "provider",
                "model_key",
                "price_id",
                "contract_id",
                "meter",
                "service_tier",
                "above_input_tokens",
                "list_unit_price",
                "contracted_unit_price",
                "quantity",
                "requests",
                "list_cost_usd",
                "contracted_cost_usd",
                "unpriced_requests",
            ],
        ),
        (
            "prices",
            &[
                "price_id",
                "layer",
                "provider",
                "model",
                "model_key",
                "effective_from",
                "effective_to",
                "spec",
                "created_at",
            ],
        ),
        (
            "contracts",
            &[
                "contract_id",
                "layer",
                "name",
                "provider",
                "model",
                "team",
                "effective_from",
                "effective_to",
                "spec",
                "created_at",
            ],
        ),
        (
            "budgets",
            &[
                "budget_id",
                "name",
                "period",
                "amount_usd",
                "tz",
                "team",
                "project",
                "api_key",
                "user_id",
                "tag",
                "spec",
                "created_at",
                "updated_at",
            ],
        ),
    ];
    for (view, columns) in expected {
        let described = rows(&app, &format!("DESCRIBE {view}"));
        let names: Vec<&str> = described
            .iter()
            .map(|row| row["column_name"].as_str().unwrap())
            .collect();
        assert_eq!(&names, columns, "DESCRIBE {view}");
        let summarized = rows(&app, &format!("SUMMARIZE {view}"));
        assert_eq!(summarized.len(), columns.len(), "SUMMARIZE {view}");
    }
    let explained = rows(&app, "EXPLAIN SELECT team, count(*) FROM events GROUP BY team");
    assert!(explained[0]["explain_value"].is_string());
    let (status, body) = sql(&app, json!({"sql": "SHOW TABLES"}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("sql_not_allowed")),
        "{body}"
    );
    assert!(
        body["error"]["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("events, rollup_hourly")
    );
}

#[test]
fn rows_past_the_cap_are_left_unread_and_reported() {
    let app = TestApp::spawn_with(&["--sql-max-rows", "50"], &[]);
    let (status, body) = sql(&app, json!({"sql": "SELECT * FROM range(1000)", "max_rows": 10}));
    assert_eq!(status, 200);
    assert_eq!(
        (body["row_count"].as_u64(), body["truncated"].as_bool()),
        (Some(10), Some(true))
    );
    assert_eq!(body["rows"].as_array().unwrap().len(), 10);
    // A request cannot raise the server's cap.
    let (_, body) = sql(
        &app,
        json!({"sql": "SELECT * FROM range(1000)", "max_rows": 5000}),
    );
    assert_eq!(
        (body["row_count"].as_u64(), body["truncated"].as_bool()),
        (Some(50), Some(true))
    );
    // Exactly the cap is not truncated.
    let (_, body) = sql(&app, json!({"sql": "SELECT * FROM range(50)"}));
    assert_eq!(
        (body["row_count"].as_u64(), body["truncated"].as_bool()),
        (Some(50), Some(false))
    );
    // An endless stream stops at the cap without being computed.
    let (status, headers, _) = post_sql(
        &app,
        json!({"sql": "SELECT * FROM range(1000000000000)", "format": "csv"}),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(
        (
            headers["x-row-count"].to_str().unwrap(),
            headers["x-truncated"].to_str().unwrap()
        ),
        ("50", "true")
    );
    let (status, body) = sql(&app, json!({"sql": "SELECT 1", "max_rows": 0}));
    assert_eq!(
        (status, body["error"]["details"]["parameter"].as_str()),
        (400, Some("max_rows"))
    );
}

#[test]
fn invalid_sql_gets_duckdbs_message() {
    let app = TestApp::spawn();
    for (query, fragment) in [
        ("SELEKT 1", "syntax error"),
        ("SELECT nope FROM events", "nope"),
        ("SELECT sum(team) FROM events", "sum"),
        ("SELECT 'a'::INTEGER", "Conversion Error"),
    ] {
        let (status, body) = sql(&app, json!({"sql": query}));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("sql_invalid")),
            "{query}: {body}"
        );
        let error = body["error"].as_object().unwrap();
        assert_eq!(
            error.keys().cloned().collect::<Vec<_>>(),
            ["code", "message", "details"]
        );
        assert!(
            error["message"].as_str().unwrap().contains(fragment),
            "{query}: {body}"
        );
    }
    let (status, body) = sql(&app, json!({"sql": "SELECT 1", "rows": 3}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_json")),
        "{body}"
    );
}

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
    let config = llm_ledger::config::Config::resolve(llm_ledger::config::RawConfig {
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let ledger = llm_ledger::server::open_ledger(&config).unwrap();
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
    let catalog = ledger.prices.current();
    let body = canonical("locked-1", "2026-11-23T10:00:00Z", "gpt-4o-mini", 100, 10).into_bytes();
    let prepared = llm_ledger::pipeline::prepare(
        body,
        llm_ledger::ingest::body::Encoding::Identity,
        u64::MAX,
        llm_ledger::ingest::FormatChoice::Auto,
        &catalog,
    )
    .unwrap();
    let (response, _) = runtime
        .block_on(llm_ledger::pipeline::store(&ledger.writer, prepared, false, true))
        .unwrap();
    assert_eq!(response.accepted, 1);
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

/// A runaway query holds its slot (others get `503 sql_busy`), blocks neither ingest nor reports,
/// and is stopped at its time limit with `504 query_timeout`; the sandbox works afterwards.
#[test]
fn a_runaway_query_blocks_nothing_and_times_out() {
    let app = sample_app(&["--sql-max-concurrent", "1", "--sql-timeout", "60s"]);
    let base = app.base.clone();
    let runaway = std::thread::spawn(move || {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        loop {
            let started = Instant::now();
            let response = client
                .post(format!("{base}/v1/sql"))
                .json(&json!({"sql": "SELECT count(*) FROM range(1000000000) a, range(1000000000) b", "timeout_ms": 6000}))
                .send()
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().unwrap();
            // The probe below may hold the slot for a moment; then try again.
            if status != 503 {
                return (status, body, Instant::now(), started.elapsed());
            }
        }
    });
    // The runaway holds the only slot once a second query is turned away.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "the runaway query never took its slot");
        let (status, headers, bytes) = post_sql(&app, json!({"sql": "SELECT 1"}), None);
        if status == 503 {
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(body["error"]["code"].as_str(), Some("sql_busy"), "{body}");
            assert_eq!(body["error"]["details"]["max_concurrent"].as_u64(), Some(1));
            assert_eq!(headers["retry-after"], "1");
            break;
        }
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    }
    let (status, body) = app.ingest(
        "",
        canonical("during-runaway", "2026-11-24T12:00:00Z", "gpt-4o-mini", 10, 5).into_bytes(),
    );
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(1)), "{body}");
    let report = app.spend("from=2026-11-24T12:00:00Z&to=2026-11-24T13:00:00Z&team=search&model=gpt-4o-mini");
    assert_eq!(report["totals"]["requests"].as_u64(), Some(1), "{report}");
    let others_done = Instant::now();

    let (status, body, finished, took) = runaway.join().unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (504, Some("query_timeout")),
        "{body}"
    );
    assert_eq!(body["error"]["details"]["timeout_ms"].as_u64(), Some(6000));
    assert!(
        body["error"]["message"].as_str().unwrap().contains("6000 ms"),
        "{body}"
    );
    assert!(took < Duration::from_secs(30), "stopped only after {took:?}");
    assert!(
        others_done < finished,
        "ingest and the report waited for the runaway query"
    );
    // The slot and the connection are free again.
    assert_eq!(rows(&app, "SELECT count(*) AS n FROM events")[0]["n"], json!(13));
}

/// A team scope shows every view with that team's rows only, and the tables not at all.
#[test]
fn a_team_scope_sees_only_its_team() {
    use llm_ledger::sql::{Sandbox, SqlError};

    let dir = tempfile::tempdir().unwrap();
    let config = llm_ledger::config::Config::resolve(llm_ledger::config::RawConfig {
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let ledger = llm_ledger::server::open_ledger(&config).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let catalog = ledger.prices.current();
    let prepared = llm_ledger::pipeline::prepare(
        std::fs::read(sample("canonical.ndjson")).unwrap(),
        llm_ledger::ingest::body::Encoding::Identity,
        u64::MAX,
        llm_ledger::ingest::FormatChoice::Auto,
        &catalog,
    )
    .unwrap();
    runtime
        .block_on(llm_ledger::pipeline::store(&ledger.writer, prepared, false, true))
        .unwrap();
    for (id, team) in [("b-search", "search"), ("b-growth", "growth")] {
        let spec = json!({"name": id, "amount_usd": "100", "period": "month", "scope": {"team": team}});
        runtime
            .block_on(ledger.writer.put_budget(id.to_owned(), spec.to_string()))
            .unwrap();
    }
    let sandbox = Sandbox::open(&ledger.readers, config.sql).unwrap();
    let limits = sandbox.limits().lowered(None, None);
    let run = |sql: &str, scope: Option<&str>| {
        let admission = sandbox.admit().unwrap();
        sandbox
            .run(&admission, sql, limits, scope)
            .map(|output| output.rows_json())
    };
    let teams = |view: &str, scope: Option<&str>| -> Vec<Value> {
        run(&format!("SELECT DISTINCT team FROM {view} ORDER BY team"), scope)
            .unwrap()
            .into_iter()
            .map(|row| row["team"].clone())
            .collect()
    };
    let everyone = teams("events", None);
    assert!(everyone.len() >= 3, "{everyone:?}");
    // Interleaved, so that pooled connections switch scopes.
    for _ in 0..2 {
        for view in ["events", "rollup_hourly", "focus_lines", "budgets"] {
            assert_eq!(teams(view, Some("search")), [json!("search")], "{view}");
            assert_eq!(teams(view, Some("growth")), [json!("growth")], "{view}");
            assert!(teams(view, None).len() >= 2, "{view}");
        }
    }
    assert_eq!(teams("events", Some("nobody")), Vec::<Value>::new());
    let scoped_count = run("SELECT count(*) AS n FROM events", Some("search")).unwrap()[0]["n"].clone();
    let direct = everyone.iter().filter(|team| *team == "search").count();
    assert_eq!(direct, 1);
    assert_eq!(
        scoped_count,
        run("SELECT count(*) AS n FROM events WHERE team = 'search'", None).unwrap()[0]["n"]
    );
    // Prices are not team data; the tables stay out of reach.
    run("SELECT * FROM prices", Some("search")).unwrap();
    for escape in [
        "SELECT * FROM usage_events",
        "SELECT * FROM ledger.main.rollup_hourly",
        "SELECT getvariable('ledger_team_scope')",
        "SET VARIABLE ledger_team_scope = 'growth'",
        "SELECT * FROM query_table('usage_events')",
    ] {
        assert!(
            matches!(run(escape, Some("search")), Err(SqlError::NotAllowed { .. })),
            "{escape}"
        );
    }
    assert_eq!(teams("events", Some("search")), [json!("search")]);
}

#[test]
fn the_cli_runs_queries_from_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ledger = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_llm-ledger"));
        command
            .env("LEDGER_LOG", "warn")
            .env_remove("LEDGER_CONFIG")
            .arg("--data-dir")
            .arg(&data);
        command
    };
    let output = ledger()
        .args(["import", "--quiet"])
        .arg(sample("canonical.ndjson"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = ledger()
        .args([
            "query",
            "--format",
            "csv",
            "SELECT team, count(*) AS n FROM events GROUP BY team ORDER BY team",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("team,n\n"), "{text}");
    assert_eq!(text.lines().count(), 5, "{text}");
    let output = ledger()
        .args(["query", "SELECT team FROM events ORDER BY team LIMIT 1"])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("team"), "{text}");
    let output = ledger()
        .args(["query", "DELETE FROM usage_events"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not allowed"));
    let output = ledger()
        .args(["query", "--format", "json", "SELECT count(*) AS n FROM events"])
        .output()
        .unwrap();
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["rows"][0]["n"], json!(12));
}

#[test]
fn the_openapi_document_describes_the_endpoint_and_its_codes() {
    let text = llm_ledger::api::openapi::document_json().unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    let post = &document["paths"]["/v1/sql"]["post"];
    assert!(post["requestBody"].is_object());
    for status in ["200", "400", "403", "503", "504"] {
        assert!(post["responses"][status].is_object(), "{status}");
    }
    for code in ["sql_not_allowed", "sql_invalid", "query_timeout", "sql_busy"] {
        assert!(llm_ledger::api::error::ApiError::CODES.contains(&code));
    }
    assert!(document["components"]["schemas"]["SqlDocument"].is_object());
}
