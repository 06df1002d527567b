//! Export and the way past one machine (issue 7): `GET /v1/export` as Parquet and CSV read back
//! by an independent DuckDB, and the hive-partitioned Parquet lake answering the spend report's
//! question exactly and rewriting only the days that changed. Retention is in `retention.rs`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::*;

pub(crate) fn post_json(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let response = app.client.post(app.url(path)).json(body).send().unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}")),
    )
}

pub(crate) fn ledger() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_llm-ledger"));
    command.env("LEDGER_LOG", "warn").env_remove("LEDGER_CONFIG");
    command
}

/// A canonical record with tags and a reported cost; `acme-triage-7b` has no price and reports
/// none, so it is `unpriced`.
pub(crate) fn record(event_id: &str, ts: &str, team: &str, model: &str, input: u64) -> String {
    let provider = match model {
        "acme-triage-7b" => "self_hosted",
        model if model.starts_with("claude") => "anthropic",
        _ => "openai",
    };
    let mut record = json!({
        "event_id": event_id, "ts": ts, "team": team, "provider": provider, "model": model,
        "input_tokens": input, "output_tokens": input / 4, "tags": {"env": "prod", "feature": team},
        "latency_ms": 812.5
    });
    if provider != "self_hosted" {
        record["reported_cost_usd"] = json!("0.0123");
    }
    record.to_string()
}

/// Three days of mixed traffic: two teams, a priced OpenAI and Anthropic model, an unpriced one.
fn three_days() -> Vec<String> {
    let mut lines = Vec::new();
    for (day, date) in ["2026-11-18", "2026-11-19", "2026-11-20"].iter().enumerate() {
        for (idx, (team, model)) in [
            ("search", "gpt-4o-mini"),
            ("search", "claude-sonnet-4-20250514"),
            ("growth", "gpt-4o-mini"),
            ("growth", "acme-triage-7b"),
            ("growth", "gpt-4o-mini"),
        ]
        .iter()
        .enumerate()
        {
            let input = 1_000 + 137 * (day as u64 * 5 + idx as u64);
            let ts = format!("{date}T{:02}:17:03.123456Z", 3 + 4 * idx);
            lines.push(record(&format!("d{day}-{idx}"), &ts, team, model, input));
        }
    }
    lines
}

pub(crate) fn ingest_lines(app: &TestApp, lines: &[String]) -> Value {
    let (status, body) = app.ingest("", lines.join("\n").into_bytes());
    assert_eq!(status, 200, "{body}");
    body
}

fn get_bytes(app: &TestApp, path: &str) -> (u16, String, String, Vec<u8>) {
    let response = app.client.get(app.url(path)).send().unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let status = response.status().as_u16();
    (
        status,
        content_type,
        disposition,
        response.bytes().unwrap().to_vec(),
    )
}

/// `(name, type)` of every column a query returns, in an independent in-memory DuckDB.
fn describe(conn: &duckdb::Connection, query: &str) -> Vec<(String, String)> {
    let mut statement = conn.prepare(&format!("DESCRIBE {query}")).unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn export_streams_parquet_and_csv_with_exact_money_and_the_stores_types() {
    let mut app = TestApp::spawn();
    let lines = three_days();
    assert_eq!(ingest_lines(&app, &lines)["accepted"], 15);
    let spend = app.spend("from=2026-11-18&to=2026-11-21");
    let total_cost = spend["totals"]["cost_usd"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();

    let (status, content_type, disposition, parquet) =
        get_bytes(&app, "/v1/export?from=2026-11-18&to=2026-11-21&format=parquet");
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/vnd.apache.parquet");
    assert_eq!(
        disposition,
        "attachment; filename=\"llm-ledger-events_20261118T000000Z_20261121T000000Z.parquet\""
    );
    let parquet_path = dir.path().join("events.parquet");
    std::fs::write(&parquet_path, &parquet).unwrap();
    let (status, content_type, _, csv) =
        get_bytes(&app, "/v1/export?from=2026-11-18&to=2026-11-21&format=csv");
    assert_eq!((status, content_type.as_str()), (200, "text/csv; charset=utf-8"));
    let csv_path = dir.path().join("events.csv");
    std::fs::write(&csv_path, &csv).unwrap();

    let duck = duckdb::Connection::open_in_memory().unwrap();
    let parquet_sql = format!("read_parquet('{}')", parquet_path.display());
    let csv_sql = format!(
        "read_csv('{}', header = true, all_varchar = true)",
        csv_path.display()
    );
    let (rows, cost): (i64, String) = duck
        .query_row(
            &format!("SELECT count(*), sum(cost_usd)::VARCHAR FROM {parquet_sql}"),
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, cost.as_str()), (15, total_cost.as_str()));
    // CSV money is exact text: summed as decimals it is the same total, to the last digit.
    let (rows, cost, unpriced): (i64, String, i64) = duck
        .query_row(
            &format!(
                "SELECT count(*), sum(cost_usd::DECIMAL(38,12))::VARCHAR, count(*) FILTER (cost_usd IS NULL)
                 FROM {csv_sql}"
            ),
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!((rows, cost.as_str(), unpriced), (15, total_cost.as_str(), 3));
    let first_csv_row: (String, String, String) = duck
        .query_row(
            &format!("SELECT ts, tags, reported_cost_usd FROM {csv_sql} ORDER BY ts LIMIT 1"),
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        first_csv_row,
        (
            "2026-11-18T03:17:03.123456Z".to_owned(),
            r#"{"env":"prod","feature":"search"}"#.to_owned(),
            "0.012300000000".to_owned()
        )
    );

    // Filters: one team, one source; an unknown source is refused.
    let (_, _, _, searched) = get_bytes(
        &app,
        "/v1/export?from=2026-11-18&to=2026-11-21&team=search&format=csv",
    );
    assert_eq!(String::from_utf8(searched).unwrap().lines().count(), 1 + 6);
    let (_, _, _, other_source) = get_bytes(&app, "/v1/export?from=2026-11-18&to=2026-11-21&source=litellm");
    assert!(other_source.is_empty());
    let (status, body) = app.get_json("/v1/export?source=nope");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_parameter"))
    );
    let (status, body) = app.get_json("/v1/export?format=xlsx");
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"]["parameter"], "format");

    // The Parquet columns are the store's, value for value: open the stopped server's file.
    app.stop();
    let store = duckdb::Connection::open(app.data_dir().join("ledger.duckdb")).unwrap();
    let export_sql =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/export.sql")).unwrap();
    let select =
        &export_sql[export_sql.find("SELECT").unwrap()..export_sql.find("FROM usage_events").unwrap()];
    let stored_types = describe(&store, &format!("{select} FROM usage_events"));
    let lake_types = describe(&store, &format!("SELECT * FROM {parquet_sql}"));
    assert_eq!(stored_types.len(), 36);
    for ((name, stored), (lake_name, lake)) in stored_types.iter().zip(&lake_types) {
        assert_eq!(name, lake_name);
        if name == "tags" {
            // A MAP's physical shape; `map_from_entries` gives the MAP back.
            assert_eq!(
                (stored.as_str(), lake.as_str()),
                (
                    "MAP(VARCHAR, VARCHAR)",
                    "STRUCT(\"key\" VARCHAR, \"value\" VARCHAR)[]"
                )
            );
        } else {
            assert_eq!(stored, lake, "column `{name}`");
        }
    }
    assert!(lake_types.contains(&("cost_usd".to_owned(), "DECIMAL(38,12)".to_owned())));
    assert!(lake_types.contains(&("ts".to_owned(), "TIMESTAMP".to_owned())));
    let columns: Vec<String> = stored_types
        .iter()
        .filter(|(name, _)| name != "tags")
        .map(|(name, _)| format!("s.{name} IS NOT DISTINCT FROM p.{name}"))
        .collect();
    let identical: i64 = store
        .query_row(
            &format!(
                "SELECT count(*) FROM usage_events s JOIN {parquet_sql} p USING (source, event_id)
                 WHERE {} AND s.tags = map_from_entries(p.tags)",
                columns.join(" AND ")
            ),
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(identical, 15);
}

/// `(day, team, model) → (requests, cost_usd)` of the spend report by team × model × UTC day.
fn spend_by_day(
    app: &TestApp,
    from: &str,
    to: &str,
) -> BTreeMap<(String, String, String), (i64, Option<String>)> {
    let report = app.spend(&format!("from={from}&to={to}&group_by=team,model&bucket=day"));
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let day = row["bucket"].as_str().unwrap()[..10].to_owned();
            (
                (
                    day,
                    row["team"].as_str().unwrap().to_owned(),
                    row["model"].as_str().unwrap().to_owned(),
                ),
                (
                    row["requests"].as_i64().unwrap(),
                    row["cost_usd"].as_str().map(str::to_owned),
                ),
            )
        })
        .collect()
}

/// The README's DuckDB lake query (team × model × day cost), taken from README.md so that the
/// documented query is the tested one.
fn readme_lake_query() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("-- lake spend query (DuckDB)\n")
        .expect("README.md has the lake spend query");
    let query = &readme[start..];
    let end = query.find("```").unwrap();
    query[..end].trim().trim_end_matches(';').to_owned()
}

/// Runs the README's lake query, by an independent in-memory DuckDB, over the lake at `lake`.
fn lake_spend(lake: &Path) -> BTreeMap<(String, String, String), (i64, Option<String>)> {
    let duck = duckdb::Connection::open_in_memory().unwrap();
    let query = readme_lake_query().replace("'lake/", &format!("'{}/", lake.display()));
    let sql =
        format!("SELECT date::VARCHAR, team, model, requests::BIGINT, cost_usd::VARCHAR FROM ({query})");
    let mut statement = duck.prepare(&sql).unwrap();
    statement
        .query_map([], |row| {
            Ok((
                (row.get(0)?, row.get(1)?, row.get(2)?),
                (row.get(3)?, row.get(4)?),
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

pub(crate) fn day_files(lake: &Path) -> BTreeMap<String, std::time::SystemTime> {
    std::fs::read_dir(lake)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .map(|dir| {
            let file = dir.join("part-0.parquet");
            let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
            (dir.file_name().unwrap().to_str().unwrap().to_owned(), modified)
        })
        .collect()
}

fn actions(report: &Value) -> Vec<(String, String, String)> {
    report["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|day| {
            (
                day["day"].as_str().unwrap().to_owned(),
                day["action"].as_str().unwrap().to_owned(),
                day["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_lake_answers_the_spend_query_exactly_and_rewrites_only_changed_days() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let mut app = TestApp::spawn_with(&["--lake-dir", lake.to_str().unwrap()], &[]);
    ingest_lines(&app, &three_days());

    let (status, first) = post_json(&app, "/v1/admin/lake", &json!({}));
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (first["written"].as_u64(), first["rewritten"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(first["events_written"], 15);
    assert_eq!(
        day_files(&lake).keys().collect::<Vec<_>>(),
        ["date=2026-11-18", "date=2026-11-19", "date=2026-11-20"]
    );
    let expected = spend_by_day(&app, "2026-11-18", "2026-11-21");
    assert_eq!(expected.len(), 12);
    assert_eq!(lake_spend(&lake), expected);

    // Nothing changed: nothing is written, not even the manifest.
    let manifest_path = lake.join("_ledger_manifest.json");
    let manifest = std::fs::read(&manifest_path).unwrap();
    let manifest_mtime = std::fs::metadata(&manifest_path).unwrap().modified().unwrap();
    let files = day_files(&lake);
    // An empty body means every day.
    let again: Value = app
        .client
        .post(app.url("/v1/admin/lake"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (
            again["written"].as_u64(),
            again["rewritten"].as_u64(),
            again["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(3)),
        "{again}"
    );
    assert_eq!(day_files(&lake), files);
    assert_eq!(std::fs::read(&manifest_path).unwrap(), manifest);
    assert_eq!(
        std::fs::metadata(&manifest_path).unwrap().modified().unwrap(),
        manifest_mtime
    );

    // A new day arrives and an old one is re-priced in place (the unpriced model gets a price).
    ingest_lines(
        &app,
        &[record(
            "d3-0",
            "2026-11-21T08:00:00Z",
            "search",
            "gpt-4o-mini",
            5_000,
        )],
    );
    let price = json!({"provider": "self_hosted", "model": "acme-triage-7b", "effective_from": "2026-01-01",
                       "input_per_mtok": "0.05", "output_per_mtok": "0.1"});
    assert_eq!(post_json(&app, "/v1/prices", &price).0, 201);
    let (_, repriced) = post_json(
        &app,
        "/v1/admin/reprice",
        &json!({"from": "2026-11-19", "to": "2026-11-20"}),
    );
    assert_eq!(repriced["changed"], 1, "{repriced}");
    let (_, third) = post_json(&app, "/v1/admin/lake", &json!({}));
    assert_eq!(
        actions(&third),
        [
            (
                "2026-11-19".to_owned(),
                "rewrote".to_owned(),
                "changed".to_owned()
            ),
            ("2026-11-21".to_owned(), "wrote".to_owned(), "new".to_owned()),
        ],
        "{third}"
    );
    assert_eq!(third["unchanged"], 2);
    let now_files = day_files(&lake);
    assert_eq!(now_files["date=2026-11-18"], files["date=2026-11-18"]);
    assert_eq!(now_files["date=2026-11-20"], files["date=2026-11-20"]);
    assert_ne!(now_files["date=2026-11-19"], files["date=2026-11-19"]);
    assert_eq!(lake_spend(&lake), spend_by_day(&app, "2026-11-18", "2026-11-22"));
    // No temp file is left behind, and engines see only the day files and the hidden manifest.
    let leftovers: Vec<_> = walk(&lake)
        .into_iter()
        .filter(|path| !path.ends_with("part-0.parquet") && !path.ends_with("_ledger_manifest.json"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The CLI writes the same lake from the data directory (the server must be stopped) and
    // finds nothing to do in an up-to-date one.
    app.stop();
    let output = ledger()
        .arg("--data-dir")
        .arg(app.data_dir())
        .args(["export", "--lake"])
        .arg(&lake)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(": 0 days written, 0 rewritten, 4 unchanged, 0 kept (0 events written)"),
        "{stdout}"
    );
    let fresh = dir.path().join("fresh");
    let output = ledger()
        .arg("--data-dir")
        .arg(app.data_dir())
        .args(["export", "--from", "2026-11-19", "--to", "2026-11-21", "--lake"])
        .arg(&fresh)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(": 2 days written, 0 rewritten, 0 unchanged, 0 kept (10 events written)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("wrote    date=2026-11-19  5 events, "),
        "{stdout}"
    );
    assert_eq!(day_files(&fresh).len(), 2);

    // Without a lake directory the endpoint says so.
    let other = TestApp::spawn();
    let (status, body) = post_json(&other, "/v1/admin/lake", &json!({}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("lake_unavailable")),
        "{body}"
    );
    let (status, body) = post_json(&other, "/v1/admin/lake", &json!({"from": "2026-11-19T10:00:00Z"}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_parameter")),
        "{body}"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
