//! Windowed export against a bare migrated database: several windows make several Parquet row
//! groups and CSV chunks under one header, with exact money and the store's types.

use chrono::{DateTime, Utc};
use duckdb::Connection;

use super::*;

fn ledger_with_events() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    crate::store::schema::migrate(&mut conn).unwrap();
    // Five events over three hours of one day and one event the next day; one unpriced.
    conn.execute_batch(
        "INSERT INTO usage_events
         SELECT 'e' || i, 'canonical', TIMESTAMP '2026-11-23 09:00:00' + to_minutes(i * 50),
                CASE WHEN i % 2 = 0 THEN 'search' ELSE 'growth' END, NULL, NULL, NULL,
                MAP {'env': 'prod', 'quote': 'a,\"b'}, 'openai', 'gpt-4o', 'gpt-4o', 'gpt-4o', NULL, NULL,
                100, 10, 0, 0, 0, 0, 'default',
                CASE WHEN i = 3 THEN NULL ELSE 0.000000000001 * i + 1234567890.123456789012 END,
                NULL, NULL, CASE WHEN i = 3 THEN 'unpriced' ELSE 'catalog' END, NULL, NULL,
                1, 1, 12.5, NULL, 200, false, NULL, false, TIMESTAMP '2026-11-25 00:00:00', NULL, NULL
         FROM range(6) AS r(i);
         UPDATE usage_events SET ts = TIMESTAMP '2026-11-24 01:00:00' WHERE event_id = 'e5';",
    )
    .unwrap();
    conn
}

fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

#[test]
fn windows_are_whole_hours_of_bounded_size() {
    let conn = ledger_with_events();
    let scope = ExportScope::range(instant("2026-11-23T09:30:00Z"), instant("2026-11-25T00:00:00Z"));
    let windows = plan_windows(&conn, &scope, None, 2).unwrap();
    // Events at 09:50, 10:40, 11:30, 12:20, 13:10 (e1..e4) and the next day (e5); e0 at 09:00
    // is before `from`.
    let spans: Vec<(String, String, u64)> = windows
        .iter()
        .map(|window| (window.from.to_rfc3339(), window.to.to_rfc3339(), window.events))
        .collect();
    assert_eq!(
        spans,
        [
            (
                "2026-11-23T09:30:00+00:00".to_owned(),
                "2026-11-23T11:00:00+00:00".to_owned(),
                2
            ),
            (
                "2026-11-23T11:00:00+00:00".to_owned(),
                "2026-11-23T13:00:00+00:00".to_owned(),
                2
            ),
            (
                "2026-11-24T01:00:00+00:00".to_owned(),
                "2026-11-24T02:00:00+00:00".to_owned(),
                1
            ),
        ]
    );
    let scoped = plan_windows(&conn, &scope, Some("search"), 100).unwrap();
    assert_eq!(scoped.iter().map(|window| window.events).sum::<u64>(), 2);
}

#[test]
fn parquet_and_csv_keep_every_row_exactly_across_windows() {
    let conn = ledger_with_events();
    let scope = ExportScope::range(instant("2026-11-01T00:00:00Z"), instant("2026-12-01T00:00:00Z"));
    let options = ExportOptions { window_rows: Some(2) };
    let dir = tempfile::tempdir().unwrap();
    let parquet_path = dir.path().join("events.parquet");
    let mut parquet = Vec::new();
    let written = write_events(&conn, &scope, None, ExportFormat::Parquet, options, &mut parquet).unwrap();
    assert_eq!(written, 6);
    std::fs::write(&parquet_path, &parquet).unwrap();
    let reader = Connection::open_in_memory().unwrap();
    let path = parquet_path.to_str().unwrap();
    let (rows, cost, groups): (i64, String, i64) = reader
        .query_row(
            "SELECT count(*), sum(cost_usd)::VARCHAR,
                    (SELECT count(DISTINCT row_group_id) FROM parquet_metadata($path))
             FROM read_parquet($path)",
            duckdb::named_params! {"path": path},
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    let stored: String = conn
        .query_row("SELECT sum(cost_usd)::VARCHAR FROM usage_events", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!((rows, cost.as_str(), groups), (6, stored.as_str(), 3));

    let mut csv = Vec::new();
    write_events(&conn, &scope, None, ExportFormat::Csv, options, &mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    assert!(lines[0].starts_with("event_id,source,ts,team,"), "{text}");
    assert_eq!(text.matches("event_id,").count(), 1, "one header: {text}");
    assert!(
        lines[1].starts_with("e0,canonical,2026-11-23T09:00:00.000000Z,search,,,,\"{\"\"env\"\":\"\"prod\"\",\"\"quote\"\":\"\"a,\\\"\"b\"\"}\""),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains(",1234567890.123456789012,"), "{}", lines[1]);
    // The unpriced event has an empty cost, not 0.
    assert!(lines[4].contains(",,,,unpriced,"), "{}", lines[4]);

    let mut ndjson = Vec::new();
    write_events(
        &conn,
        &scope,
        Some("growth"),
        ExportFormat::Ndjson,
        options,
        &mut ndjson,
    )
    .unwrap();
    let records: Vec<serde_json::Value> = String::from_utf8(ndjson)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|record| record["team"] == "growth"));
    assert_eq!(records[0]["cost_usd"], "1234567890.123456789013");
}

#[test]
fn an_empty_range_is_a_valid_file() {
    let conn = ledger_with_events();
    let scope = ExportScope::range(instant("2020-01-01T00:00:00Z"), instant("2020-01-02T00:00:00Z"));
    let mut parquet = Vec::new();
    assert_eq!(
        write_events(
            &conn,
            &scope,
            None,
            ExportFormat::Parquet,
            ExportOptions::default(),
            &mut parquet
        )
        .unwrap(),
        0
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.parquet");
    std::fs::write(&path, &parquet).unwrap();
    let reader = Connection::open_in_memory().unwrap();
    let columns: i64 = reader
        .query_row(
            "SELECT count(*) FROM (DESCRIBE SELECT * FROM read_parquet($path))",
            duckdb::named_params! {"path": path.to_str().unwrap()},
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(columns, 36);
    let mut csv = Vec::new();
    write_events(
        &conn,
        &scope,
        None,
        ExportFormat::Csv,
        ExportOptions::default(),
        &mut csv,
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(csv).unwrap().lines().count(),
        1,
        "the header only"
    );
}

#[test]
fn the_lake_repairs_missing_files_and_lost_manifests_and_refuses_a_second_writer() {
    use super::lake::{DayAction, DayReason, LakeOptions, LakeRange, export_lake};
    let conn = ledger_with_events();
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let run = || {
        export_lake(
            &conn,
            &lake,
            LakeRange::default(),
            None,
            LakeOptions { window_rows: Some(2) },
        )
    };
    let first = run().unwrap();
    assert_eq!((first.written, first.events_written), (2, 6));
    let reasons = |report: &super::lake::LakeReport| -> Vec<(DayAction, DayReason)> {
        report.days.iter().map(|day| (day.action, day.reason)).collect()
    };

    std::fs::remove_file(lake.join("date=2026-11-24/part-0.parquet")).unwrap();
    let repaired = run().unwrap();
    assert_eq!(reasons(&repaired), [(DayAction::Rewrote, DayReason::FileMissing)]);
    assert_eq!(repaired.unchanged, 1);

    std::fs::remove_file(lake.join("_ledger_manifest.json")).unwrap();
    let relisted = run().unwrap();
    assert_eq!(
        reasons(&relisted),
        [
            (DayAction::Rewrote, DayReason::Unrecorded),
            (DayAction::Rewrote, DayReason::Unrecorded)
        ]
    );

    std::fs::write(lake.join("_ledger_lake.lock"), "4242\n").unwrap();
    match run() {
        Err(ExportError::Lake { reason, .. }) => assert!(reason.contains("another export"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    std::fs::remove_file(lake.join("_ledger_lake.lock")).unwrap();
    match export_lake(
        &conn,
        &lake,
        LakeRange::default(),
        Some("search"),
        LakeOptions::default(),
    ) {
        Err(ExportError::Lake { reason, .. }) => assert!(reason.contains("team scope"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The day files hold the windows as row groups (six events, two per group on the 23rd).
    let reader = Connection::open_in_memory().unwrap();
    let groups: i64 = reader
        .query_row(
            "SELECT count(DISTINCT row_group_id) FROM parquet_metadata($path)",
            duckdb::named_params! {"path": lake.join("date=2026-11-23/part-0.parquet").to_str().unwrap()},
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(groups, 3);
}
