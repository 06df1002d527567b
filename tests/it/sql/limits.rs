//! The row cap, the time limit and the concurrency cap.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::support::*;

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
                .json(&json!({"sql": "SELECT sum(i % 7) FROM range(1000000000000000) t(i)", "timeout_ms": 6000}))
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

/// A query that holds more memory than `sql_memory_limit` allows is stopped with
/// `422 query_memory_limit`, ingest goes on meanwhile, and the sandbox works afterwards.
#[test]
fn a_memory_hungry_query_is_stopped_at_its_cap() {
    let app = sample_app(&["--sql-memory-limit", "64MiB", "--sql-timeout", "120s"]);
    // Fifty million groups in a hash table: far more than 64 MiB, and nothing to return early.
    let (status, body) = sql(
        &app,
        json!({"sql": "SELECT i % 50000000 AS k, count(*) AS n FROM range(100000000) t(i) GROUP BY k ORDER BY n DESC LIMIT 1"}),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("query_memory_limit")),
        "{body}"
    );
    assert_eq!(
        body["error"]["details"]["limit_bytes"].as_u64(),
        Some(64 * 1024 * 1024)
    );
    // Small queries stay well under the cap.
    ingest_and_sandbox_go_on(&app, "after-memory");
}

/// A query that needs more than the whole database's `memory_limit` in an operator that cannot
/// spill (an exact median holds every value) gets `503 out_of_memory` with DuckDB's reason, not
/// an internal error, and ingest and the sandbox go on.
#[test]
fn a_query_past_the_database_memory_limit_is_out_of_memory() {
    let app = sample_app(&["--memory-limit", "64MiB", "--sql-memory-limit", "100GiB"]);
    let (status, body) = sql(
        &app,
        json!({"sql": "SELECT quantile_cont(i, 0.5) AS m FROM range(10000000) t(i)"}),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("out_of_memory")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Out of Memory Error")
            && message.contains("memory_limit")
            && !message.contains('\n'),
        "{message}"
    );
    ingest_and_sandbox_go_on(&app, "after-oom");
}

/// After a stopped query of the sample app: one more event is accepted, and the sandbox counts
/// it with the twelve samples.
fn ingest_and_sandbox_go_on(app: &TestApp, event_id: &str) {
    let (status, body) = app.ingest(
        "",
        canonical(event_id, "2026-11-24T12:00:00Z", "gpt-4o-mini", 10, 5).into_bytes(),
    );
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(1)), "{body}");
    assert_eq!(rows(app, "SELECT count(*) AS n FROM events")[0]["n"], json!(13));
}

/// Without `timeout_ms` a query gets the server's own time limit.
#[test]
fn the_server_time_limit_applies_when_the_request_names_none() {
    let app = TestApp::spawn_with(&["--sql-timeout", "2s"], &[]);
    let started = Instant::now();
    let (status, body) = sql(
        &app,
        json!({"sql": "SELECT sum(i % 7) FROM range(1000000000000000) t(i)"}),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (504, Some("query_timeout")),
        "{body}"
    );
    assert_eq!(body["error"]["details"]["timeout_ms"].as_u64(), Some(2000));
    assert!(started.elapsed() < Duration::from_secs(60));
}
