//! The command line: `import` through the same pipeline as the endpoint, `report` from the
//! data directory, `openapi` and config errors.

use std::process::Command;

use crate::support::*;

fn ledger() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_llm-ledger"));
    command.env("LEDGER_LOG", "warn").env_remove("LEDGER_CONFIG");
    command
}

#[test]
fn import_then_report_from_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("canonical.ndjson.gz");
    std::fs::write(&gz, gzip(&std::fs::read(sample("canonical.ndjson")).unwrap())).unwrap();
    let output = ledger()
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["import", "--quiet", "--batch-records", "5"])
        .arg(sample("canonical.ndjson"))
        .arg(&gz)
        .arg(fixture("bad/wrong_types.ndjson"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("received 34 · accepted 13 · duplicates 12 · rejected 9"),
        "{stdout}"
    );
    assert!(
        stdout.contains("wrong_types.ndjson: record 0 (line 1) invalid_type `input_tokens`"),
        "{stdout}"
    );

    let output = ledger()
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args([
            "report",
            "spend",
            "--from",
            "2026-11-23",
            "--to",
            "2026-11-25",
            "--group-by",
            "team",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["totals"]["requests"], 182, "{report}");

    let output = ledger()
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args([
            "report",
            "spend",
            "--from",
            "2026-11-23",
            "--to",
            "2026-11-25",
            "--group-by",
            "team",
            "--filter",
            "team=search",
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.lines().next().unwrap().starts_with("team"), "{table}");
    assert!(table.contains("search"), "{table}");
    assert!(!table.contains("growth"), "{table}");
}

#[test]
fn strict_import_stores_nothing_of_a_bad_file_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = ledger()
        .arg("--data-dir")
        .arg(&data)
        .args(["import", "--quiet", "--strict", "--batch-records", "3"])
        .arg(fixture("bad/wrong_types.ndjson"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = ledger()
        .arg("--data-dir")
        .arg(&data)
        .args([
            "report",
            "spend",
            "--from",
            "2026-11-01",
            "--to",
            "2026-12-01",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["totals"]["requests"], 0, "{report}");
}

#[test]
fn import_into_a_running_server() {
    let app = TestApp::spawn();
    let output = ledger()
        .args(["import", "--quiet", "--server", &app.base])
        .arg(sample("canonical.ndjson"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("accepted 12"), "{stdout}");
    // A second process cannot open the server's data directory; it says so.
    let output = ledger()
        .arg("--data-dir")
        .arg(app.data_dir())
        .args(["report", "spend"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--server"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `generate` writes each format deterministically; every generated record is accepted by the
/// server as that format, and the same traffic costs the same whichever gateway logged it.
#[test]
fn generated_traffic_in_every_format_ingests_and_prices_alike() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn();
    let mut costs = Vec::new();
    for format in ["canonical", "litellm", "otel"] {
        let path = dir.path().join(format!("{format}.ndjson.gz"));
        let output = ledger()
            .args([
                "generate", "--format", format, "--events", "400", "--seed", "9", "--days", "3",
            ])
            .args(["--end", "2026-11-20", "--spans-per-document", "40", "--out"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let again = ledger()
            .args([
                "generate", "--format", format, "--events", "400", "--seed", "9", "--days", "3",
            ])
            .args(["--end", "2026-11-20", "--spans-per-document", "40"])
            .output()
            .unwrap();
        let body = std::fs::read(&path).unwrap();
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body.as_slice()), &mut plain).unwrap();
        assert_eq!(
            plain, again.stdout,
            "{format}: the same seed writes the same bytes"
        );

        let (status, response) = app.ingest_with("", body, &[("content-encoding", "gzip")]);
        assert_eq!(status, 200, "{response}");
        assert_eq!(response["format"], format);
        assert_eq!(
            (response["accepted"].as_u64(), response["rejected"].as_u64()),
            (Some(400), Some(0)),
            "{response}"
        );
        let spend = app.spend(&format!(
            "from=2026-11-17&to=2026-11-20&source={format}&group_by=model"
        ));
        let unpriced = spend["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["model"] == "acme-triage-7b");
        if let Some(row) = unpriced {
            assert!(row["unpriced_requests"].as_u64().unwrap() > 0, "{row}");
        }
        costs.push(spend["totals"]["cost_usd"].clone());
    }
    // A canonical record and a LiteLLM payload of the same call price the same. (OTel has no
    // gateway-cache attribute, so its response-cache hits are priced as calls.)
    assert_eq!(costs[0], costs[1]);
    let dollars =
        |value: &serde_json::Value| value.as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap();
    assert!(dollars(&costs[2]) >= dollars(&costs[0]), "{costs:?}");
}

/// `bench reports` loads generated events through the pipeline and times every report (a smoke
/// run: the figures themselves belong in the README, not in assertions).
#[test]
fn bench_reports_loads_and_times_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("timings.json");
    let run = || {
        ledger()
            .arg("--data-dir")
            .arg(dir.path())
            .args([
                "bench", "reports", "--events", "3000", "--days", "5", "--runs", "1", "--batch", "1000",
                "--json",
            ])
            .arg(&json)
            .output()
            .unwrap()
    };
    let output = run();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("loaded:  3000 events"), "{stdout}");
    let timings: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let timings = timings["timings"].as_array().unwrap();
    assert!(timings.len() >= 15);
    let first = &timings[0];
    assert_eq!(first["report"], "spend");
    assert_eq!(
        first["grain"], "daily",
        "the dashboard question reads the daily rollup"
    );
    assert!(first["rows"].as_u64().unwrap() > 10);
    // A second run reuses the stored events.
    let output = run();
    assert!(String::from_utf8_lossy(&output.stdout).contains("reusing 3000 stored events"));
}

/// `bench ingest` posts generated batches to a real server and compares with DuckDB's own load
/// (a smoke run: what it measures is checked, not how fast).
#[test]
fn bench_ingest_posts_every_batch_and_reports_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("ingest.json");
    let output = ledger()
        .args([
            "bench",
            "ingest",
            "--events",
            "1500",
            "--batch",
            "500",
            "--clients",
            "2",
            "--preload",
            "700",
            "--format",
            "canonical",
            "--dir",
        ])
        .arg(dir.path())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let figures: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let result = &figures["result"];
    assert_eq!(
        (&result["events"], &result["preloaded"], &result["requests"]),
        (
            &serde_json::json!(1500),
            &serde_json::json!(700),
            &serde_json::json!(3)
        )
    );
    for field in [
        "events_per_second",
        "ack_p99_ms",
        "server_peak_rss_bytes",
        "bytes_per_event",
        "duckdb_events_per_second",
        "ratio_to_duckdb",
        "server_cpu_us_per_event",
    ] {
        assert!(result[field].as_f64().unwrap() > 0.0, "{field}: {result}");
    }
    assert!(result["server_ready_seconds"].as_f64().unwrap() >= 0.0);
    assert!((0.0..=100.0).contains(&result["steal_percent"].as_f64().unwrap()));
    // The writer thread is found by name, and is part of the server.
    let writer = result["writer_cpu_us_per_event"].as_f64().unwrap();
    assert!(
        (0.0..=result["server_cpu_us_per_event"].as_f64().unwrap()).contains(&writer),
        "{result}"
    );
}

/// `bench ingest --cpu-only` runs the request path over every generated body, with no server.
#[test]
fn bench_ingest_cpu_only_times_every_phase_of_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("cpu.json");
    let output = ledger()
        .args([
            "bench",
            "ingest",
            "--cpu-only",
            "--events",
            "600",
            "--batch",
            "200",
            "--format",
            "litellm",
            "--dir",
        ])
        .arg(dir.path())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("µs per event on one thread"), "{stdout}");
    let figures: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let result = &figures["result"];
    assert_eq!(
        (&result["records"], &result["requests"]),
        (&serde_json::json!(600), &serde_json::json!(3))
    );
    let phases: Vec<&str> = result["phases_us_per_event"]
        .as_array()
        .unwrap()
        .iter()
        .map(|phase| phase[0].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["decompress", "parse", "price", "encode"]);
    assert!(result["total_us_per_event"].as_f64().unwrap() > 0.0, "{result}");
}
