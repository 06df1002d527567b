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
