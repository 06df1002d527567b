//! `llm-ledger query` and the OpenAPI document.

use serde_json::{Value, json};

use crate::support::*;

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
