//! `GET /v1/reports/spend`: groups, tags, filters, buckets in a time zone across DST, CSV, the
//! unpriced flag, and exact decimal sums.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::support::*;

fn dec(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {value}"))
        .parse()
        .unwrap()
}

fn record(event_id: &str, ts: &str, team: &str, model: &str, input: u64, output: u64, tags: Value) -> String {
    json!({"event_id": event_id, "ts": ts, "team": team, "provider": "openai", "model": model,
           "input_tokens": input, "output_tokens": output, "tags": tags})
    .to_string()
}

#[test]
fn spend_groups_by_team_model_and_tag_with_filters() {
    let app = TestApp::spawn();
    let lines = [
        record(
            "r1",
            "2026-11-23T10:00:00Z",
            "search",
            "gpt-4o-mini",
            1_000_000,
            0,
            json!({"env": "prod"}),
        ),
        record(
            "r2",
            "2026-11-23T11:00:00Z",
            "search",
            "gpt-4o-mini",
            0,
            1_000_000,
            json!({"env": "dev"}),
        ),
        record(
            "r3",
            "2026-11-23T12:00:00Z",
            "growth",
            "gpt-4.1",
            1_000_000,
            1_000_000,
            json!({"env": "prod"}),
        ),
    ];
    let (status, body) = app.ingest("", lines.join("\n").into_bytes());
    assert_eq!(status, 200, "{body}");

    // gpt-4o-mini: $0.15 / $0.60 per Mtok; gpt-4.1: $2 / $8 (shipped catalog).
    let report = app.spend("from=2026-11-23&to=2026-11-24&group_by=team,model");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let by_team: BTreeMap<&str, &Value> = rows
        .iter()
        .map(|row| (row["team"].as_str().unwrap(), row))
        .collect();
    assert_eq!(dec(&by_team["search"]["cost_usd"]), "0.75".parse().unwrap());
    assert_eq!(by_team["search"]["model"], "gpt-4o-mini");
    assert_eq!(by_team["search"]["requests"], 2);
    assert_eq!(dec(&by_team["growth"]["cost_usd"]), "10".parse().unwrap());
    assert_eq!(report["totals"]["cost_usd"], "10.750000000000");
    assert_eq!(report["totals"]["requests"], 3);
    // Dimensions not grouped by are not in the rows.
    assert!(rows[0].get("provider").is_none());

    let tagged = app.spend("from=2026-11-23&to=2026-11-24&group_by=tag:env");
    let by_env: BTreeMap<&str, Decimal> = tagged["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["tag:env"].as_str().unwrap(), dec(&row["cost_usd"])))
        .collect();
    assert_eq!(by_env["prod"], "10.15".parse().unwrap());
    assert_eq!(by_env["dev"], "0.6".parse().unwrap());

    let filtered = app.spend("from=2026-11-23&to=2026-11-24&tag:env=prod&team=search&team=growth");
    assert_eq!(filtered["totals"]["cost_usd"], "10.150000000000");
    let one_team = app.spend("from=2026-11-23&to=2026-11-24&team=search");
    assert_eq!(one_team["totals"]["requests"], 2);

    let (status, content_type, csv) =
        app.get_text("/v1/reports/spend?from=2026-11-23&to=2026-11-24&group_by=team&format=csv&order=group");
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("team,requests,errors,input_tokens"), "{csv}");
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("growth,1,0,1000000,1000000,") && line.contains("10.000000000000")),
        "{csv}"
    );
}

#[test]
fn day_buckets_in_new_york_follow_the_dst_change() {
    let app = TestApp::spawn();
    // 2026-11-01 is 25 hours long in New York: 04:00Z on Nov 1 to 05:00Z on Nov 2.
    let lines = [
        record(
            "d1",
            "2026-11-01T03:59:59Z",
            "search",
            "gpt-4o-mini",
            1_000_000,
            0,
            json!({}),
        ), // Oct 31 local
        record(
            "d2",
            "2026-11-01T04:00:00Z",
            "search",
            "gpt-4o-mini",
            1_000_000,
            0,
            json!({}),
        ), // Nov 1 00:00 EDT
        record(
            "d3",
            "2026-11-02T04:30:00Z",
            "search",
            "gpt-4o-mini",
            1_000_000,
            0,
            json!({}),
        ), // Nov 1 23:30 EST
        record(
            "d4",
            "2026-11-02T05:00:00Z",
            "search",
            "gpt-4o-mini",
            1_000_000,
            0,
            json!({}),
        ), // Nov 2 00:00 EST
    ];
    app.ingest("", lines.join("\n").into_bytes());
    let report = app.spend("from=2026-10-31&to=2026-11-03&bucket=day&tz=America/New_York");
    let buckets: Vec<(String, u64)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["bucket"].as_str().unwrap().to_owned(),
                row["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        buckets,
        vec![
            ("2026-10-31T00:00:00-04:00".to_owned(), 1),
            ("2026-11-01T00:00:00-04:00".to_owned(), 2),
            ("2026-11-02T00:00:00-05:00".to_owned(), 1),
        ]
    );
    assert_eq!(report["from"], "2026-10-31T00:00:00-04:00");
    assert_eq!(report["tz"], "America/New_York");
    // The same data in UTC days splits differently.
    let utc = app.spend("from=2026-10-31&to=2026-11-03&bucket=day");
    let counts: Vec<u64> = utc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, vec![2, 2]);
}

#[test]
fn a_model_without_a_price_is_unpriced_listed_and_not_zero() {
    let app = TestApp::spawn();
    let lines = [
        json!({"event_id": "u1", "ts": "2026-11-24T07:05:44Z", "team": "support-bot", "provider": "self_hosted",
               "model": "acme-triage-7b", "input_tokens": 900, "output_tokens": 120}).to_string(),
        record("u2", "2026-11-24T08:00:00Z", "support-bot", "gpt-4o-mini", 1_000_000, 0, json!({})),
    ];
    app.ingest("", lines.join("\n").into_bytes());
    let rows = app.exported();
    let unpriced = rows.iter().find(|row| row["event_id"] == "u1").unwrap();
    assert_eq!(unpriced["cost_source"], "unpriced");
    assert!(
        unpriced["cost_usd"].is_null(),
        "an unpriced call must not cost $0: {unpriced}"
    );
    assert!(unpriced["price_id"].is_null());
    let priced = rows.iter().find(|row| row["event_id"] == "u2").unwrap();
    assert_eq!(priced["cost_source"], "catalog");
    assert_eq!(
        slot_of(&priced["price_id"]),
        "catalog:openai/gpt-4o-mini@1970-01-01"
    );

    let report = app.spend("from=2026-11-24&to=2026-11-25&group_by=model");
    let row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["model"] == "acme-triage-7b")
        .unwrap();
    assert_eq!(row["unpriced_requests"], 1);
    assert!(row["cost_usd"].is_null(), "{row}");
    assert_eq!(report["totals"]["unpriced_requests"], 1);
    assert_eq!(report["totals"]["cost_usd"], "0.150000000000");
}

#[test]
fn one_hundred_thousand_tiny_costs_sum_exactly() {
    let app = TestApp::spawn();
    // A price that makes each call cost $0.000000100001: no binary float holds that, and 100k of
    // them must sum to exactly $0.0100001.
    let price = json!({"provider": "openai", "model": "tiny-model", "effective_from": "2026-01-01",
                       "input_per_mtok": "0.100001", "output_per_mtok": "0"});
    let response = app
        .client
        .post(app.url("/v1/prices"))
        .json(&price)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 201, "{}", response.text().unwrap());
    for batch in 0..10 {
        let body: String = (0..10_000)
            .map(|n| {
                canonical(
                    &format!("tiny-{batch}-{n}"),
                    "2026-11-23T12:00:00Z",
                    "tiny-model",
                    1,
                    0,
                ) + "\n"
            })
            .collect();
        let (status, response) = app.ingest_with(
            "",
            gzip(body.as_bytes()),
            &[
                ("content-type", "application/x-ndjson"),
                ("content-encoding", "gzip"),
            ],
        );
        assert_eq!(
            (status, response["accepted"].as_u64()),
            (200, Some(10_000)),
            "{response}"
        );
    }
    let report = app.spend("from=2026-11-23&to=2026-11-24&group_by=model");
    assert_eq!(report["totals"]["requests"], 100_000);
    assert_eq!(report["totals"]["cost_usd"], "0.010000100000");
    assert_eq!(report["rows"][0]["cost_usd"], "0.010000100000");
}

#[test]
fn parquet_output_is_a_parquet_file() {
    let app = TestApp::spawn();
    app.ingest("", std::fs::read(sample("canonical.ndjson")).unwrap());
    let response = app
        .client
        .get(app.url("/v1/reports/spend?from=2026-11-23&to=2026-11-25&group_by=team&format=parquet"))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.apache.parquet"
    );
    let bytes = response.bytes().unwrap();
    assert!(
        bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"),
        "not a Parquet file"
    );
}

#[test]
fn bad_report_parameters_are_named() {
    let app = TestApp::spawn();
    for (query, parameter) in [
        ("group_by=colour", "group_by"),
        ("tz=Mars/Olympus", "tz"),
        ("bucket=fortnight", "bucket"),
        ("from=yesterday", "from"),
        ("teem=search", "teem"),
        ("from=2026-11-02&to=2026-11-01", "from"),
    ] {
        let (status, body) = app.get_json(&format!("/v1/reports/spend?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_parameter");
        assert_eq!(body["error"]["details"]["parameter"], parameter, "{query}");
    }
    let (status, body) = app.get_json("/v1/reports/nonsense");
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
}
