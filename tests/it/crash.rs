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
