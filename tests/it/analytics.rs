//! The reports of issue 6 against values computed here, independently of the SQL: rollups agree
//! with the events after random ingests, duplicates and re-pricing; latency percentiles,
//! model mix, error rates, cache savings, routing candidates, budgets crossing their amount,
//! anomalies with their drivers, and FOCUS rows whose costs multiply out exactly.

use std::collections::BTreeMap;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
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

fn post_json(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let response = app.client.post(app.url(path)).json(body).send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap())
}

/// A price that makes hand arithmetic easy: $1 / $2 / $0.50 per million input / output / cached.
fn unit_price(app: &TestApp, model: &str, input: &str, output: &str) {
    let price = json!({"provider": "openai", "model": model, "effective_from": "2026-01-01",
                       "input_per_mtok": input, "output_per_mtok": output, "cached_input_per_mtok": "0.5"});
    assert_eq!(post_json(app, "/v1/prices", &price).0, 201);
}

fn report(app: &TestApp, name: &str, query: &str) -> Value {
    let (status, body) = app.get_json(&format!("/v1/reports/{name}?{query}"));
    assert_eq!(status, 200, "{name}?{query}: {body}");
    body
}

#[test]
fn rollups_agree_with_events_after_random_ingests_duplicates_and_repricing() {
    let app = TestApp::spawn();
    let mut rng = SmallRng::seed_from_u64(20261125);
    let teams = ["search", "growth", "support-bot"];
    let models = [
        ("openai", "gpt-4o-mini"),
        ("openai", "gpt-4.1"),
        ("anthropic", "claude-sonnet-4-20250514"),
        ("self_hosted", "acme-triage-7b"),
    ];
    let mut sent = Vec::new();
    for batch in 0..6 {
        let mut lines = Vec::new();
        for n in 0..150 {
            let (provider, model) = models[rng.random_range(0..models.len())];
            let input = rng.random_range(0..20_000u64);
            let cached = if rng.random_bool(0.3) {
                rng.random_range(0..=input)
            } else {
                0
            };
            let ts = format!(
                "2026-11-{:02}T{:02}:{:02}:{:02}Z",
                rng.random_range(1..=3),
                rng.random_range(0..24),
                rng.random_range(0..60),
                rng.random_range(0..60)
            );
            let status = if rng.random_bool(0.1) { 429 } else { 200 };
            let record = json!({"event_id": format!("r-{batch}-{n}"), "ts": ts, "team": teams[rng.random_range(0..3)],
                "provider": provider, "model": model, "input_tokens": input, "cached_input_tokens": cached,
                "output_tokens": rng.random_range(0..2000), "status_code": status,
                "latency_ms": rng.random_range(100..20_000), "cache_hit": rng.random_bool(0.05)});
            lines.push(record.to_string());
        }
        // Replays of earlier lines are duplicates and must not count twice.
        if let Some(previous) = sent.last() {
            lines.push(String::clone(previous));
        }
        let body = lines.join("\n");
        sent.extend(lines);
        let (status, response) = app.ingest("", body.into_bytes());
        assert_eq!(status, 200, "{response}");
    }
    // Concurrent bodies that share records: the writer groups them and encodes again the ones
    // whose records were not all new.
    let shared: Vec<String> = (0..20)
        .map(|n| {
            json!({"event_id": format!("shared-{n}"), "ts": format!("2026-11-02T10:{n:02}:00Z"),
                "team": "growth", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1000 + n,
                "output_tokens": 10, "latency_ms": 500})
            .to_string()
        })
        .collect();
    let accepted: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|thread| {
                let (app, shared) = (&app, &shared);
                scope.spawn(move || {
                    let mut lines: Vec<String> = (0..50)
                        .map(|n| {
                            json!({"event_id": format!("c-{thread}-{n}"), "ts": format!("2026-11-03T{:02}:30:00Z", n % 24),
                                "team": teams[thread % 3], "provider": "anthropic", "model": "claude-sonnet-4-20250514",
                                "input_tokens": 100 * n, "output_tokens": n, "latency_ms": 900})
                            .to_string()
                        })
                        .collect();
                    lines.extend(shared.iter().cloned());
                    let (status, response) = app.ingest("", lines.join("\n").into_bytes());
                    assert_eq!(status, 200, "{response}");
                    response["accepted"].as_u64().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().unwrap()).sum()
    });
    assert_eq!(accepted, 4 * 50 + 20, "each shared record is stored once");
    let stored = report(&app, "spend", "from=2026-11-01&to=2026-11-04&grain=events");
    assert_eq!(
        stored["totals"]["requests"],
        json!(6 * 150 + 4 * 50 + 20),
        "every distinct record stored once: {stored}"
    );

    // A price for the unpriced model, then a re-price of one day: rows move between rollups.
    let price = json!({"provider": "self_hosted", "model": "acme-triage-7b", "effective_from": "2026-01-01",
                       "input_per_mtok": "0.07", "output_per_mtok": "0.21"});
    assert_eq!(post_json(&app, "/v1/prices", &price).0, 201);
    let (status, repriced) = post_json(
        &app,
        "/v1/admin/reprice",
        &json!({"from": "2026-11-02", "to": "2026-11-03"}),
    );
    assert_eq!(status, 200, "{repriced}");
    assert!(repriced["changed"].as_u64().unwrap() > 0);

    for query in [
        "from=2026-11-01&to=2026-11-04",
        "from=2026-11-01&to=2026-11-04&group_by=team,model",
        "from=2026-11-01&to=2026-11-04&group_by=provider,status,error_type&bucket=day",
        "from=2026-11-01&to=2026-11-04&group_by=team&bucket=hour",
        "from=2026-11-01&to=2026-11-04&group_by=model&bucket=day&tz=America/New_York",
        "from=2026-11-01&to=2026-11-04&group_by=source,model&team=growth",
    ] {
        let events = report(&app, "spend", &format!("{query}&grain=events&order=group"));
        let hourly = report(&app, "spend", &format!("{query}&grain=hourly&order=group"));
        assert_eq!(events["grain"], "events");
        assert_eq!(hourly["grain"], "hourly");
        assert_eq!(events["rows"], hourly["rows"], "{query}");
        assert_eq!(events["totals"], hourly["totals"], "{query}");
        if !query.contains("bucket=hour") && !query.contains("tz=") {
            let daily = report(&app, "spend", &format!("{query}&grain=daily&order=group"));
            assert_eq!(daily["grain"], "daily");
            assert_eq!(events["rows"], daily["rows"], "{query}");
            assert_eq!(events["totals"], daily["totals"], "{query}");
        }
    }
    // Without `limit` every row comes back (3 days × 24 hours × up to 3 teams).
    let hourly = report(
        &app,
        "spend",
        "from=2026-11-01&to=2026-11-04&group_by=team&bucket=hour",
    );
    assert!(
        hourly["rows"].as_array().unwrap().len() > 150,
        "{}",
        hourly["rows"].as_array().unwrap().len()
    );
    let limited = report(
        &app,
        "spend",
        "from=2026-11-01&to=2026-11-04&group_by=team&bucket=hour&limit=5",
    );
    assert_eq!(limited["rows"].as_array().unwrap().len(), 5);
    assert_eq!(
        limited["totals"], hourly["totals"],
        "totals cover all rows, not the limited ones"
    );
    // The planner picks the rollup when it can and the events when it must.
    assert_eq!(
        report(&app, "spend", "from=2026-11-01&to=2026-11-04&group_by=team")["grain"],
        "daily"
    );
    for hour_aligned in [
        "from=2026-11-01&to=2026-11-04&group_by=team&bucket=hour",
        "from=2026-11-01T05:00:00Z&to=2026-11-04",
        "from=2026-11-01&to=2026-11-04&bucket=day&tz=America/New_York",
    ] {
        assert_eq!(
            report(&app, "spend", hour_aligned)["grain"],
            "hourly",
            "{hour_aligned}"
        );
    }
    assert_eq!(
        report(&app, "spend", "from=2026-11-01&to=2026-11-04&group_by=user")["grain"],
        "events"
    );
    assert_eq!(
        report(&app, "spend", "from=2026-11-01T00:30:00Z&to=2026-11-04")["grain"],
        "events"
    );
    assert_eq!(
        report(
            &app,
            "spend",
            "from=2026-11-01&to=2026-11-04&bucket=day&tz=Asia/Kolkata"
        )["grain"],
        "events"
    );

    // The FOCUS ledger (usage rows plus corrections) adds up to what the ledger books.
    let focus = report(&app, "focus", "from=2026-11-01&to=2026-11-04");
    let spend = report(&app, "spend", "from=2026-11-01&to=2026-11-04");
    let effective: Decimal = focus["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| dec(&row["EffectiveCost"]))
        .sum();
    let booked = dec(&spend["totals"]["cost_usd"]);
    // Each event's cost is rounded to 12 places; the ledger's lines are exact.
    let events = spend["totals"]["requests"].as_u64().unwrap();
    assert!(
        (effective - booked).abs() <= Decimal::new(i64::try_from(events).unwrap(), 12),
        "{effective} vs {booked}"
    );
    assert!(
        focus["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["ChargeClass"] == "Correction")
    );
}

#[test]
fn focus_rows_are_validator_clean() {
    let app = TestApp::spawn();
    app.ingest("", std::fs::read(sample("canonical.ndjson")).unwrap());
    app.ingest("", std::fs::read(sample("litellm.ndjson")).unwrap());
    let before = report(&app, "focus", "from=2026-11-01&to=2026-12-01");
    let tokens_before = quantities_by_meter(before["rows"].as_array().unwrap());
    let reprice = |model: Option<&str>| {
        let (status, repriced) = post_json(
            &app,
            "/v1/admin/reprice",
            &json!({"from": "2026-11-01", "to": "2026-12-01", "model": model}),
        );
        assert_eq!(status, 200, "{repriced}");
        assert!(repriced["changed"].as_u64().unwrap() > 0, "{repriced}");
        repriced
    };
    // A corrected price for a priced model, then a re-price: correction rows reverse the old
    // lines and add the new ones, so the quantities per meter are what they were.
    let corrected = json!({"provider": "openai", "model": "gpt-4o-mini-2024-07-18", "effective_from": "2026-01-01",
        "input_per_mtok": "0.2", "output_per_mtok": "0.8", "cached_input_per_mtok": "0.1"});
    assert_eq!(post_json(&app, "/v1/prices", &corrected).0, 201);
    reprice(Some("gpt-4o-mini-2024-07-18"));
    let after_correction = report(&app, "focus", "from=2026-11-01&to=2026-12-01");
    assert_eq!(
        quantities_by_meter(after_correction["rows"].as_array().unwrap()),
        tokens_before
    );
    // A first price for the unpriced model: its calls leave the Requests meter for the token
    // meters.
    let unpriced_calls: Vec<Value> = app
        .exported()
        .into_iter()
        .filter(|row| row["model_key"] == "acme-triage-7b" && row["cost_source"] != "catalog")
        .collect();
    assert!(!unpriced_calls.is_empty());
    let first = json!({"provider": "self_hosted", "model": "acme-triage-7b", "effective_from": "2026-01-01",
        "input_per_mtok": "0.07", "output_per_mtok": "0.21"});
    assert_eq!(post_json(&app, "/v1/prices", &first).0, 201);
    let repriced = reprice(None);
    // Unpriced calls, and calls counted at the gateway's reported cost, now priced.
    assert_eq!(
        repriced["newly_priced"].as_u64().unwrap() + repriced["newly_catalog_priced"].as_u64().unwrap(),
        unpriced_calls.len() as u64,
        "{repriced}"
    );
    assert!(
        repriced["newly_catalog_priced"].as_u64().unwrap() > 0,
        "{repriced}"
    );
    let focus = report(&app, "focus", "from=2026-11-01&to=2026-12-01");
    let rows = focus["rows"].as_array().unwrap();
    assert!(rows.iter().any(|row| row["ChargeClass"] == "Correction"));
    let mut expected = tokens_before.clone();
    let tokens = |name: &str| -> i64 { unpriced_calls.iter().map(|row| row[name].as_i64().unwrap()).sum() };
    *expected.get_mut("Requests").unwrap() -= unpriced_calls.len() as i64;
    *expected.entry("Input Tokens".to_owned()).or_default() +=
        tokens("input_tokens") - tokens("cached_input_tokens") - tokens("cache_write_tokens");
    *expected.entry("Output Tokens".to_owned()).or_default() +=
        tokens("output_tokens") - tokens("reasoning_tokens");
    assert_eq!(quantities_by_meter(rows), expected);
    // The billed cost equals the events' cost after the re-price.
    let spend = report(&app, "spend", "from=2026-11-01&to=2026-12-01");
    // (Lines keep 18 decimals, events 12: they agree to within a rounding per event.)
    let billed: Decimal = rows.iter().map(|row| dec(&row["BilledCost"])).sum();
    let difference = (billed - dec(&spend["totals"]["cost_usd"])).abs();
    assert!(
        difference < Decimal::new(1, 9),
        "{billed} vs {}",
        spend["totals"]["cost_usd"]
    );
    let mandatory = [
        "BilledCost",
        "BillingAccountId",
        "BillingAccountName",
        "BillingCurrency",
        "BillingPeriodEnd",
        "BillingPeriodStart",
        "ChargeCategory",
        "ChargeClass",
        "ChargeDescription",
        "ChargePeriodEnd",
        "ChargePeriodStart",
        "ContractedCost",
        "EffectiveCost",
        "InvoiceIssuerName",
        "ListCost",
        "PricingQuantity",
        "PricingUnit",
        "ProviderName",
        "PublisherName",
        "ServiceCategory",
        "ServiceName",
    ];
    for row in rows {
        for column in mandatory {
            assert!(row.get(column).is_some(), "{column} missing: {row}");
        }
        for cost in ["BilledCost", "ContractedCost", "EffectiveCost", "ListCost"] {
            assert!(row[cost].is_string(), "{cost} must be a non-null decimal: {row}");
        }
        let correction = row["ChargeClass"] == "Correction";
        // Usage is billed in its month; a correction in the month it was made.
        let billing_month = if correction {
            chrono::Utc::now().format("%Y-%m-01T00:00:00Z").to_string()
        } else {
            "2026-11-01T00:00:00Z".to_owned()
        };
        assert_eq!(row["BillingPeriodStart"], billing_month.as_str(), "{row}");
        assert!(row["BillingPeriodEnd"].as_str().unwrap() > billing_month.as_str());
        assert_eq!(row["ChargeCategory"], "Usage");
        assert_eq!(row["ServiceCategory"], "AI and Machine Learning");
        assert!(row["ChargeClass"].is_null() || correction);
        assert!(["Tokens", "Requests"].contains(&row["PricingUnit"].as_str().unwrap()));
        if !correction {
            // Usage rows: quantities and unit prices are never null.
            for column in [
                "PricingQuantity",
                "ConsumedQuantity",
                "ListUnitPrice",
                "ContractedUnitPrice",
            ] {
                assert!(!row[column].is_null(), "{column} is null: {row}");
            }
        }
        if row["ListUnitPrice"].is_null() {
            assert!(row["PricingQuantity"].is_null(), "{row}");
            assert!(row["ContractedUnitPrice"].is_null(), "{row}");
        } else {
            let quantity = Decimal::from(row["PricingQuantity"].as_i64().unwrap());
            assert_eq!(row["PricingQuantity"], row["ConsumedQuantity"], "{row}");
            assert_eq!(
                dec(&row["ListUnitPrice"]) * quantity,
                dec(&row["ListCost"]),
                "{row}"
            );
            assert_eq!(
                dec(&row["ContractedUnitPrice"]) * quantity,
                dec(&row["ContractedCost"]),
                "{row}"
            );
        }
        for (key, _) in row.as_object().unwrap() {
            let known = mandatory.contains(&key.as_str());
            assert!(
                known || !key.starts_with("x") || key.starts_with("x_"),
                "custom columns start with x_: {key}"
            );
        }
    }
    // Unpriced usage stays visible, not silently zero, and its correction says it was priced.
    assert!(
        rows.iter()
            .any(|row| row["x_UnpricedRequests"].as_i64().unwrap() > 0 && row["x_CostSource"] == "unpriced")
    );
    let unpriced: i64 = rows
        .iter()
        .map(|row| row["x_UnpricedRequests"].as_i64().unwrap())
        .sum();
    assert_eq!(unpriced, 0, "every unpriced call was priced by the re-price");
}

/// Sum of `PricingQuantity` per SKU meter (null quantities count 0).
fn quantities_by_meter(rows: &[Value]) -> BTreeMap<String, i64> {
    let mut sums = BTreeMap::new();
    for row in rows {
        *sums
            .entry(row["SkuMeter"].as_str().unwrap().to_owned())
            .or_insert(0) += row["PricingQuantity"].as_i64().unwrap_or(0);
    }
    sums
}

/// Exact percentile with linear interpolation, as quantile_cont computes it.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower as f64)
}

#[test]
fn latency_percentiles_match_an_independent_computation() {
    let app = TestApp::spawn();
    let mut rng = SmallRng::seed_from_u64(7);
    let mut by_team: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut lines = Vec::new();
    for n in 0..300 {
        let team = ["search", "growth"][n % 2];
        let latency = f64::from(rng.random_range(50..30_000u32)) + 0.25;
        by_team.entry(team).or_default().push(latency);
        lines.push(json!({"event_id": format!("l-{n}"), "ts": "2026-11-23T12:00:00Z", "team": team, "provider": "openai",
            "model": "gpt-4o-mini", "input_tokens": 10, "output_tokens": 100, "latency_ms": latency}).to_string());
    }
    app.ingest("", lines.join("\n").into_bytes());
    let body = report(&app, "latency", "from=2026-11-23&to=2026-11-24&group_by=team");
    for row in body["rows"].as_array().unwrap() {
        let mut values = by_team[row["team"].as_str().unwrap()].clone();
        values.sort_by(f64::total_cmp);
        assert_eq!(row["calls"], values.len());
        for (column, q) in [
            ("latency_p50_ms", 0.5),
            ("latency_p90_ms", 0.9),
            ("latency_p95_ms", 0.95),
            ("latency_p99_ms", 0.99),
        ] {
            let want = (percentile(&values, q) * 1000.0).round() / 1000.0;
            assert!(
                (row[column].as_f64().unwrap() - want).abs() < 1e-6,
                "{column}: {} vs {want}",
                row[column]
            );
        }
        // 100 output tokens over the whole latency (no TTFT sent).
        let mut speeds: Vec<f64> = values.iter().map(|latency| 100.0 / (latency / 1000.0)).collect();
        speeds.sort_by(f64::total_cmp);
        let want = (percentile(&speeds, 0.5) * 1000.0).round() / 1000.0;
        assert!((row["tokens_per_second_p50"].as_f64().unwrap() - want).abs() < 1e-3);
    }
}

#[test]
fn model_mix_errors_and_cache_savings_match_hand_arithmetic() {
    let app = TestApp::spawn();
    unit_price(&app, "mix-a", "1", "2");
    unit_price(&app, "mix-b", "3", "6");
    let call = |id: &str, model: &str, input: u64, cached: u64, status: u16, hit: bool| {
        json!({"event_id": id, "ts": "2026-11-23T10:00:00Z", "team": "search", "provider": "openai", "model": model,
               "input_tokens": input, "cached_input_tokens": cached, "output_tokens": 0, "status_code": status,
               "cache_hit": hit}).to_string()
    };
    let lines = [
        call("m1", "mix-a", 1_000_000, 0, 200, false),       // $1
        call("m2", "mix-a", 1_000_000, 600_000, 200, false), // 0.4 + 0.3 = $0.70, saved 600k × 0.5 = $0.30
        call("m3", "mix-b", 1_000_000, 0, 429, false),       // $3 (tokens billed even though it failed)
        call("m4", "mix-a", 1_000_000, 0, 200, true),        // response-cache hit: $0, saved $1
    ];
    app.ingest("", lines.join("\n").into_bytes());
    let mix = report(&app, "model-mix", "from=2026-11-23&to=2026-11-24&group_by=team");
    let rows = mix["rows"].as_array().unwrap();
    let a = rows.iter().find(|row| row["model"] == "mix-a").unwrap();
    let b = rows.iter().find(|row| row["model"] == "mix-b").unwrap();
    assert_eq!(a["requests"], 3);
    assert_eq!(a["share_of_requests"].as_f64().unwrap(), 0.75);
    assert_eq!(dec(&a["cost_usd"]), "1.7".parse().unwrap());
    // Spend shares: 1.7 of 4.7 and 3 of 4.7.
    assert!((a["share_of_cost"].as_f64().unwrap() - 1.7 / 4.7).abs() < 1e-6);
    assert!((b["share_of_cost"].as_f64().unwrap() - 3.0 / 4.7).abs() < 1e-6);
    assert_eq!(a["share_of_tokens"].as_f64().unwrap(), 0.75);

    let errors = report(&app, "errors", "from=2026-11-23&to=2026-11-24&group_by=team");
    let limited = errors["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["status"] == 429)
        .unwrap();
    assert_eq!(
        limited["error_type"],
        Value::Null,
        "canonical records keep the error_type they were sent with"
    );
    assert_eq!(limited["requests"], 1);
    assert_eq!(limited["errors"], 1);
    assert_eq!(limited["group_error_rate"].as_f64().unwrap(), 0.25);

    let savings = report(
        &app,
        "cache-savings",
        "from=2026-11-23&to=2026-11-24&group_by=team",
    );
    let row = &savings["rows"][0];
    assert_eq!(dec(&row["cache_savings_usd"]), "0.3".parse().unwrap());
    assert_eq!(row["cache_hits"], 1);
    assert_eq!(dec(&row["cache_hit_savings_usd"]), "1".parse().unwrap());
    assert_eq!(dec(&row["cost_usd"]), "4.7".parse().unwrap());
}

#[test]
fn routing_prices_the_same_traffic_on_candidates() {
    let app = TestApp::spawn();
    unit_price(&app, "route-big", "10", "20");
    unit_price(&app, "route-small", "1", "2");
    let lines = [
        json!({"event_id": "q1", "ts": "2026-11-23T10:00:00Z", "provider": "openai", "model_requested": "auto",
               "model": "route-big", "input_tokens": 100_000, "output_tokens": 50_000}).to_string(),
        json!({"event_id": "q2", "ts": "2026-11-23T10:00:00Z", "provider": "openai", "model_requested": "auto",
               "model": "route-big", "route": "fallback", "fallback_from": "route-small", "attempts": 2,
               "input_tokens": 100_000, "output_tokens": 50_000}).to_string(),
    ];
    app.ingest("", lines.join("\n").into_bytes());
    let body = report(
        &app,
        "routing",
        "from=2026-11-23&to=2026-11-24&candidates=route-small,openai/route-big",
    );
    let row = &body["rows"][0];
    assert_eq!(row["model_requested"], "auto");
    assert_eq!(row["model_served"], "route-big");
    assert_eq!(row["requests"], 2);
    assert_eq!(row["fallbacks"], 1);
    assert_eq!(row["fallback_rate"].as_f64().unwrap(), 0.5);
    assert_eq!(row["attempts_per_request"].as_f64().unwrap(), 1.5);
    // 200k input + 100k output: on big 2 + 2 = $4 (what was paid), on small 0.2 + 0.2 = $0.40.
    assert_eq!(dec(&row["cost_usd"]), "4".parse().unwrap());
    assert_eq!(dec(&row["cost_on:route-small"]), "0.4".parse().unwrap());
    assert_eq!(dec(&row["cost_on:openai/route-big"]), "4".parse().unwrap());
    assert_eq!(row["cheapest_candidate"], "route-small");
    assert_eq!(dec(&row["savings_vs_cheapest_usd"]), "3.6".parse().unwrap());
}

#[test]
fn a_budget_crosses_warning_then_exceeded_in_its_time_zone() {
    let app = TestApp::spawn();
    unit_price(&app, "budget-model", "1", "0");
    let spec = json!({"name": "search monthly", "amount_usd": "10", "period": "month", "tz": "America/New_York",
                      "scope": {"team": "search"}, "warn_percent": "50"});
    let response = app
        .client
        .put(app.url("/v1/budgets/search-monthly"))
        .json(&spec)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let spend = |id: &str, ts: &str, dollars: u64, team: &str| {
        json!({"event_id": id, "ts": ts, "team": team, "provider": "openai", "model": "budget-model",
               "input_tokens": dollars * 1_000_000, "output_tokens": 0})
        .to_string()
    };
    // 2026-11-01 00:30 in New York is 04:30Z; 03:30Z is still October there.
    app.ingest(
        "",
        [
            spend("b0", "2026-11-01T03:30:00Z", 7, "search"),
            spend("b1", "2026-11-01T04:30:00Z", 2, "search"),
            spend("b2", "2026-11-02T12:00:00Z", 2, "search"),
            spend("b3", "2026-11-02T12:00:00Z", 50, "growth"),
        ]
        .join("\n")
        .into_bytes(),
    );
    let status_at = |at: &str| {
        let body = report(&app, "budgets", &format!("at={at}"));
        body["rows"][0].clone()
    };
    // On Nov 3, 00:00 New York: $4 spent over 2 days ($2/day), forecast 4 + 2 × 28 = $60.
    let row = status_at("2026-11-03T05:00:00Z");
    assert_eq!(row["window_start"], "2026-11-01T00:00:00-04:00");
    assert_eq!(row["window_end"], "2026-12-01T00:00:00-05:00");
    assert_eq!(dec(&row["spend_usd"]), "4".parse().unwrap());
    assert_eq!(row["status"], "warning", "the forecast crosses the amount: {row}");
    // Exact decimals: the forecast is money. The two complete days average $2; the burn rate
    // is over the 49 hours since local midnight of Nov 1 (a 25-hour DST day): 4 × 24 / 49.
    assert_eq!(row["forecast_usd"], "60.000000000000", "{row}");
    assert_eq!(row["burn_rate_usd_per_day"], "1.959183673469", "{row}");
    // More spend on Nov 4: $11 > $10.
    app.ingest("", spend("b4", "2026-11-04T12:00:00Z", 7, "search").into_bytes());
    let row = status_at("2026-11-05T05:00:00Z");
    assert_eq!(dec(&row["spend_usd"]), "11".parse().unwrap());
    assert_eq!(row["status"], "exceeded");
    // Next month starts fresh.
    assert_eq!(status_at("2026-12-01T06:00:00Z")["status"], "ok");
    let (status, listed) = app.get_json("/v1/budgets");
    assert_eq!((status, listed.as_array().unwrap().len()), (200, 1));
    let deleted = app
        .client
        .delete(app.url("/v1/budgets/search-monthly"))
        .send()
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    let (status, _) = app.get_json("/v1/budgets/search-monthly");
    assert_eq!(status, 404);
}

#[test]
fn a_spend_spike_is_an_anomaly_with_its_driver() {
    let app = TestApp::spawn();
    unit_price(&app, "steady-model", "1", "0");
    unit_price(&app, "spiky-model", "1", "0");
    let mut lines = Vec::new();
    for day in 1..=20u32 {
        // $1 a day of steady traffic, with a little noise so the baseline varies.
        let input = 1_000_000 + u64::from(day % 3) * 10_000;
        lines.push(json!({"event_id": format!("s-{day}"), "ts": format!("2026-11-{day:02}T12:00:00Z"), "team": "search",
            "provider": "openai", "model": "steady-model", "input_tokens": input, "output_tokens": 0}).to_string());
    }
    // Day 20: $25 more on another model.
    lines.push(json!({"event_id": "spike", "ts": "2026-11-20T13:00:00Z", "team": "search", "provider": "openai",
        "model": "spiky-model", "api_key_id": "key_batch_job", "input_tokens": 25_000_000, "output_tokens": 0}).to_string());
    app.ingest("", lines.join("\n").into_bytes());
    let body = report(
        &app,
        "anomalies",
        "from=2026-11-15&to=2026-11-21&baseline_days=10",
    );
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "only the spike: {body}");
    let row = &rows[0];
    assert_eq!(row["day"], "2026-11-20T00:00:00Z");
    assert_eq!(row["team"], "search");
    assert_eq!(row["metric"], "spend");
    // The day's spend as stored, to the last place; the baseline is a statistic.
    assert_eq!(row["value"], "26.020000000000");
    let drivers = row["drivers"].as_str().unwrap();
    assert!(
        drivers.starts_with("model=spiky-model (+25.000000000000)"),
        "{drivers}"
    );
    assert!(
        drivers.contains("api_key=key_batch_job (+25.000000000000)"),
        "{drivers}"
    );
}

/// A day whose error rate jumps is an anomaly, with the model and key whose failures rose.
#[test]
fn an_error_rate_jump_is_an_anomaly_with_its_driver() {
    let app = TestApp::spawn();
    unit_price(&app, "steady-model", "1", "0");
    let mut lines = Vec::new();
    let mut call = |id: String, day: u32, model: &str, key: &str, status: u16| {
        lines.push(
            json!({"event_id": id, "ts": format!("2026-11-{day:02}T12:00:00Z"), "team": "search",
            "provider": "openai", "model": model, "api_key_id": key, "input_tokens": 10,
            "output_tokens": 0, "status_code": status})
            .to_string(),
        );
    };
    for day in 1..=20u32 {
        // 40 calls a day, one or two of them failing.
        for n in 0..40u32 {
            let status = if n < 1 + day % 2 { 500 } else { 200 };
            call(format!("c-{day}-{n}"), day, "steady-model", "key_web", status);
        }
    }
    // Day 20: 30 failing calls of a flaky model through the batch key.
    for n in 0..30u32 {
        call(format!("f-{n}"), 20, "flaky-model", "key_batch", 503);
    }
    app.ingest("", lines.join("\n").into_bytes());
    let body = report(
        &app,
        "anomalies",
        "from=2026-11-15&to=2026-11-21&baseline_days=10",
    );
    let rows = body["rows"].as_array().unwrap();
    let row = rows
        .iter()
        .find(|row| row["metric"] == "error_rate")
        .unwrap_or_else(|| panic!("no error-rate anomaly: {body}"));
    assert_eq!(row["day"], "2026-11-20T00:00:00Z");
    // 30 + 1 failures among 70 calls.
    assert_eq!(row["value"], format!("{:.6}", 31.0 / 70.0));
    let drivers = row["drivers"].as_str().unwrap();
    assert!(
        drivers.starts_with("model=flaky-model (+30.0 errors)"),
        "{drivers}"
    );
    assert!(drivers.contains("api_key=key_batch (+30.0 errors)"), "{drivers}");
}
