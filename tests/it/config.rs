//! Configuration precedence: flags > LEDGER_* env > TOML file > defaults.

use crate::support::*;

#[test]
fn flags_beat_env_and_env_beats_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ledger.toml");
    std::fs::write(&file, "max_body = \"1KiB\"\nlog = \"warn\"\n").unwrap();
    // The file says 1 KiB: a 2 KiB body is refused.
    let app = TestApp::spawn_with(&[], &[("LEDGER_CONFIG", file.to_str().unwrap())]);
    let big = vec![b' '; 2048];
    assert_eq!(app.ingest("", big.clone()).0, 413);
    drop(app);
    // The env says 4 KiB and wins over the file.
    let app = TestApp::spawn_with(
        &[],
        &[
            ("LEDGER_CONFIG", file.to_str().unwrap()),
            ("LEDGER_MAX_BODY", "4KiB"),
        ],
    );
    assert_eq!(app.ingest("", big.clone()).0, 400, "empty_body, not too large");
    drop(app);
    // The flag says 1 KiB and wins over the env.
    let app = TestApp::spawn_with(&["--max-body", "1KiB"], &[("LEDGER_MAX_BODY", "4KiB")]);
    assert_eq!(app.ingest("", big).0, 413);
}

/// Starts `serve` with `args` in a fresh data directory, expecting it to refuse: its stderr.
fn refused_startup(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_llm-ledger"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("serve")
        .args(args)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{args:?} must not start");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_bad_setting_stops_startup_naming_the_key() {
    let stderr = refused_startup(&["--bind", "not-an-address"]);
    assert!(stderr.contains("`bind`"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "bnd = \"127.0.0.1:1\"\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_llm-ledger"))
        .arg("--config")
        .arg(&file)
        .arg("serve")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("bnd"),
        "a mistyped key must be named"
    );
}

#[test]
fn duckdb_threads_come_from_the_flag_and_zero_is_refused() {
    let stderr = refused_startup(&["--duckdb-threads", "0"]);
    assert!(stderr.contains("`duckdb_threads`"), "{stderr}");
    // One thread serves and ingests like the default.
    let app = TestApp::spawn_with(&["--duckdb-threads", "1"], &[]);
    let line = canonical("threads-1", "2026-11-01T10:00:00Z", "gpt-4o", 100, 10);
    let (status, body) = app.ingest("", line.into_bytes());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 1, "{body}");
}
