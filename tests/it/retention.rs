//! Retention (issue 7): old days deleted with their dedupe keys, rollups kept, re-sent old records
//! refused as `expired`, the cutoff kept across restarts, nothing acked lost while ingest runs,
//! and the lake keeping what the store deleted.

use chrono::{Days, NaiveDate, Utc};
use serde_json::json;

use crate::lake::{day_files, ingest_lines, ledger, post_json, record};
use crate::support::*;

/// `YYYY-MM-DD` of `days` days before today (UTC).
fn days_ago(days: u64) -> NaiveDate {
    Utc::now().date_naive().checked_sub_days(Days::new(days)).unwrap()
}

fn at_noon(day: NaiveDate) -> String {
    format!("{day}T12:00:00Z")
}

fn exported_ids(app: &TestApp) -> Vec<String> {
    let mut ids: Vec<String> = app
        .exported()
        .iter()
        .map(|row| row["event_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn retention_deletes_old_days_keeps_rollups_and_refuses_expired_records() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let mut app = TestApp::spawn_with(&["--lake-dir", lake.to_str().unwrap()], &[]);
    let mut lines = Vec::new();
    for (ago, ids) in [
        (10, ["a", "b"]),
        (8, ["c", "d"]),
        (3, ["e", "f"]),
        (1, ["g", "h"]),
    ] {
        for id in ids {
            lines.push(record(
                id,
                &at_noon(days_ago(ago)),
                "search",
                "gpt-4o-mini",
                2_000,
            ));
        }
    }
    ingest_lines(&app, &lines);
    assert_eq!(post_json(&app, "/v1/admin/lake", &json!({})).0, 200);
    let range = format!(
        "from={}&to={}&group_by=team,model&bucket=day",
        days_ago(12),
        days_ago(0)
    );
    let hourly_before = app.spend(&format!("{range}&grain=hourly"));
    assert_eq!(hourly_before["totals"]["requests"], 8);

    let (status, outcome) = post_json(&app, "/v1/admin/retention", &json!({"keep": "5d"}));
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["cutoff"], format!("{}T00:00:00Z", days_ago(5)));
    assert_eq!(
        (
            &outcome["days"],
            &outcome["events_deleted"],
            &outcome["keys_deleted"]
        ),
        (&json!(2), &json!(4), &json!(4))
    );
    assert_eq!(exported_ids(&app), ["e", "f", "g", "h"]);
    // Rollup-based reports over the old period are unchanged; event-grain ones cover what is kept.
    assert_eq!(app.spend(&format!("{range}&grain=hourly")), hourly_before);
    assert_eq!(
        app.spend(&format!("{range}&grain=events"))["totals"]["requests"],
        4
    );

    // A re-sent old record is refused as expired, not stored again; a recent one still dedupes.
    let (status, body) = app.ingest(
        "",
        record("a", &at_noon(days_ago(10)), "search", "gpt-4o-mini", 2_000).into(),
    );
    assert_eq!(status, 200);
    assert_eq!(
        (&body["accepted"], &body["duplicates"], &body["rejected"]),
        (&json!(0), &json!(0), &json!(1))
    );
    assert_eq!(body["errors"][0]["code"], "expired", "{body}");
    assert_eq!(body["errors"][0]["index"], 0);
    let (_, body) = app.ingest(
        "",
        record("g", &at_noon(days_ago(1)), "search", "gpt-4o-mini", 2_000).into(),
    );
    assert_eq!(body["duplicates"], 1, "{body}");
    let mixed = [
        record("new-old", &at_noon(days_ago(6)), "search", "gpt-4o-mini", 1),
        record("new-recent", &at_noon(days_ago(2)), "search", "gpt-4o-mini", 1),
    ];
    let (status, body) = app.ingest("?strict=true", mixed.join("\n").into_bytes());
    assert_eq!(
        (status, &body["accepted"], &body["errors"][0]["line"]),
        (422, &json!(0), &json!(1)),
        "{body}"
    );
    let (_, body) = app.ingest("", mixed.join("\n").into_bytes());
    assert_eq!(
        (&body["accepted"], &body["rejected"]),
        (&json!(1), &json!(1)),
        "{body}"
    );
    assert_eq!(
        app.spend(&format!("{range}&grain=hourly"))["totals"]["requests"],
        9
    );

    // The cutoff survives a restart without any retention configured, and a second pass finds
    // nothing to delete.
    app.restart();
    let (_, body) = app.ingest(
        "",
        record("b", &at_noon(days_ago(10)), "search", "gpt-4o-mini", 2_000).into(),
    );
    assert_eq!(body["errors"][0]["code"], "expired", "{body}");
    let (_, second) = post_json(&app, "/v1/admin/retention", &json!({"keep": "5d"}));
    assert_eq!(second["events_deleted"], 0, "{second}");
    let (status, body) = post_json(&app, "/v1/admin/retention", &json!({}));
    assert_eq!(
        (status, body["error"]["details"]["parameter"].as_str()),
        (400, Some("keep")),
        "{body}"
    );

    // The lake is the archive: the deleted days stay in it.
    let (_, report) = post_json(&app, "/v1/admin/lake", &json!({}));
    assert_eq!(
        (
            &report["kept"],
            &report["written"],
            &report["rewritten"],
            &report["unchanged"]
        ),
        (&json!(2), &json!(1), &json!(0), &json!(2)),
        "{report}"
    );
    assert_eq!(report["days"][0]["reason"], "retained", "{report}");
    assert_eq!(day_files(&lake).len(), 5);
}

#[test]
fn a_configured_retention_runs_at_startup_and_refuses_old_records() {
    let mut app = TestApp::spawn();
    ingest_lines(
        &app,
        &[
            record("old", &at_noon(days_ago(40)), "search", "gpt-4o-mini", 10),
            record("recent", &at_noon(days_ago(1)), "search", "gpt-4o-mini", 10),
        ],
    );
    app.set_env("LEDGER_RETENTION", "30d");
    app.restart();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while exported_ids(&app) != ["recent"] {
        assert!(
            std::time::Instant::now() < deadline,
            "the startup pass did not delete the old day"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The policy applies to ingest at once, even to days no pass has visited.
    let (_, body) = app.ingest(
        "",
        record("older", &at_noon(days_ago(31)), "search", "gpt-4o-mini", 10).into(),
    );
    assert_eq!(body["errors"][0]["code"], "expired", "{body}");
    let (_, body) = app.ingest(
        "",
        record("inside", &at_noon(days_ago(29)), "search", "gpt-4o-mini", 10).into(),
    );
    assert_eq!(body["accepted"], 1, "{body}");
}

#[test]
fn retention_while_ingest_streams_loses_nothing_acked() {
    let app = TestApp::spawn();
    // Six old days for the pass to delete one transaction at a time.
    let old: Vec<String> = (0..6u64)
        .flat_map(|day| (0..5).map(move |idx| (day, idx)))
        .map(|(day, idx)| {
            record(
                &format!("old-{day}-{idx}"),
                &at_noon(days_ago(20 + day)),
                "growth",
                "gpt-4o-mini",
                10,
            )
        })
        .collect();
    ingest_lines(&app, &old);

    let acked = std::sync::Mutex::new(Vec::<String>::new());
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let (app, acked) = (&app, &acked);
            scope.spawn(move || {
                for batch in 0..12 {
                    let ids: Vec<String> = (0..8).map(|idx| format!("new-{thread}-{batch}-{idx}")).collect();
                    let body: Vec<String> = ids
                        .iter()
                        .map(|id| record(id, &at_noon(days_ago(batch % 3)), "search", "gpt-4o-mini", 100))
                        .collect();
                    loop {
                        let (status, answer) = app.ingest("", body.join("\n").into_bytes());
                        if status == 503 {
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            continue;
                        }
                        assert_eq!((status, &answer["accepted"]), (200, &json!(8)), "{answer}");
                        acked.lock().unwrap().extend(ids.iter().cloned());
                        break;
                    }
                }
            });
        }
        scope.spawn(|| {
            // Start once the stream is flowing.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while acked.lock().unwrap().len() < 32 {
                assert!(std::time::Instant::now() < deadline, "ingest did not start");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let (status, outcome) = post_json(&app, "/v1/admin/retention", &json!({"keep": "10d"}));
            assert_eq!(status, 200, "{outcome}");
            assert_eq!(
                (&outcome["days"], &outcome["events_deleted"]),
                (&json!(6), &json!(30)),
                "{outcome}"
            );
        });
    });
    let mut acked = acked.into_inner().unwrap();
    acked.sort();
    assert_eq!(acked.len(), 4 * 12 * 8);
    assert_eq!(exported_ids(&app), acked);
}

#[test]
fn the_cli_applies_retention_and_exports_a_file_from_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let input = dir.path().join("records.ndjson");
    let lines = [
        record("old", &at_noon(days_ago(9)), "search", "gpt-4o-mini", 10),
        record("recent", &at_noon(days_ago(2)), "search", "gpt-4o-mini", 10),
    ];
    std::fs::write(&input, lines.join("\n")).unwrap();
    let run = |args: &[&str]| {
        let output = ledger().arg("--data-dir").arg(&data).args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    run(&["import", "--quiet", input.to_str().unwrap()]);
    let stdout = run(&["retention", "apply", "--keep", "5d"]);
    assert!(
        stdout.starts_with(&format!(
            "deleted 1 events of 1 days before {}T00:00:00Z (1 dedupe keys)",
            days_ago(5)
        )),
        "{stdout}"
    );
    // The configured retention refuses the old record when it is imported again.
    let stdout = run(&["--retention", "5d", "import", "--quiet", input.to_str().unwrap()]);
    assert!(
        stdout.contains("accepted 0 · duplicates 1 · rejected 1"),
        "{stdout}"
    );
    assert!(stdout.contains("record 0 (line 1) expired"), "{stdout}");
    let out = dir.path().join("events.csv");
    let stdout = run(&["export", "--out", out.to_str().unwrap(), "--format", "csv"]);
    assert!(stdout.starts_with("1 events written to"), "{stdout}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(
        text.lines().nth(1).unwrap().starts_with("recent,canonical,"),
        "{text}"
    );
}
