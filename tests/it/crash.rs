//! Ack = durable: a server killed with SIGKILL right after acknowledging loses nothing.

use crate::support::*;

#[test]
fn every_acked_record_survives_sigkill() {
    let mut app = TestApp::spawn();
    let mut acked = 0;
    for batch in 0..20 {
        let body: String = (0..250)
            .map(|n| {
                canonical(
                    &format!("crash-{batch}-{n}"),
                    "2026-11-23T12:00:00Z",
                    "gpt-4o-mini",
                    100 + n,
                    20,
                ) + "\n"
            })
            .collect();
        let (status, response) = app.ingest("", body.into_bytes());
        assert_eq!(status, 200, "{response}");
        acked += response["accepted"].as_u64().unwrap();
    }
    // No graceful shutdown, no checkpoint: only what the commits made durable.
    app.kill9();
    app.restart();
    let rows = app.exported();
    assert_eq!(rows.len() as u64, acked);
    let spend = app.spend("from=2026-11-23&to=2026-11-24");
    assert_eq!(spend["totals"]["requests"].as_u64().unwrap(), acked);
    // And the dedupe keys survived too.
    let again = canonical("crash-0-0", "2026-11-23T12:00:00Z", "gpt-4o-mini", 100, 20);
    let (_, response) = app.ingest("", again.into_bytes());
    assert_eq!(response["duplicates"], 1);
}

/// The same while the checkpoint thread checkpoints every 2 MiB of log beside four clients, and
/// the kill lands while requests, commits and a checkpoint are in flight (here, nearly always
/// after a commit went to the checkpoint's second log): whatever was acked is there after the
/// restart, and nothing is there twice.
#[test]
fn acked_records_survive_sigkill_amid_concurrent_checkpoints() {
    let mut app = TestApp::spawn_with(&[], &[("LEDGER_CHECKPOINT_WAL", "2MiB")]);
    let acked: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let sent = std::sync::atomic::AtomicUsize::new(0);
    let pid = app.pid();
    std::thread::scope(|scope| {
        for client in 0..4 {
            let (app, acked, sent) = (&app, &acked, &sent);
            scope.spawn(move || {
                for batch in 0..200 {
                    let ids: Vec<String> = (0..100).map(|n| format!("ck-{client}-{batch}-{n}")).collect();
                    let body: String = ids
                        .iter()
                        .map(|id| canonical(id, "2026-11-23T12:00:00Z", "gpt-4o-mini", 100, 20) + "\n")
                        .collect();
                    sent.fetch_add(ids.len(), std::sync::atomic::Ordering::Relaxed);
                    let response = app.client.post(app.url("/v1/ingest")).body(body).send();
                    // The server is gone: the kill landed.
                    let Ok(response) = response else { return };
                    if response.status().as_u16() != 200 {
                        return;
                    }
                    let Ok(json) = response.json::<serde_json::Value>() else {
                        return;
                    };
                    assert_eq!(json["accepted"], 100, "{json}");
                    acked.lock().unwrap().extend(ids);
                }
            });
        }
        // Kill once a good part is acked, with the clients still sending: preferably while a
        // commit has gone to the second log of a running checkpoint, so that the restart
        // replays both logs.
        let second_log = app.data_dir().join("ledger.duckdb.wal.checkpoint");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let acked = acked.lock().unwrap().len();
            if (acked >= 5_000 && second_log.exists()) || acked >= 40_000 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "ingest too slow");
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
    });
    app.kill9();
    app.restart();
    let acked = acked.into_inner().unwrap();
    let stored: std::collections::HashSet<String> = app
        .exported()
        .iter()
        .map(|row| row["event_id"].as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} acked records lost, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    let sent = sent.into_inner();
    assert!(
        stored.len() >= acked.len() && stored.len() <= sent,
        "{} stored of {sent} sent",
        stored.len()
    );
    let spend = app.spend("from=2026-11-23&to=2026-11-24");
    assert_eq!(spend["totals"]["requests"].as_u64().unwrap(), stored.len() as u64);
}
