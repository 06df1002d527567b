//! A catalog finance can audit (issue 5): every price component and tier against hand-computed
//! decimals, prices that change mid-day, contracts beside list prices, importing a price map,
//! re-pricing (idempotent), and the unpriced and reconciliation reports.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::support::*;

fn post_json(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let response = app.client.post(app.url(path)).json(body).send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap())
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn costs(app: &TestApp) -> BTreeMap<String, Value> {
    app.exported()
        .into_iter()
        .map(|row| (row["event_id"].as_str().unwrap().to_owned(), row))
        .collect()
}

#[test]
fn every_component_and_tier_is_priced_exactly() {
    let app = TestApp::spawn();
    let price = json!({
        "provider": "openai", "model": "ledger-test-model", "effective_from": "2026-01-01",
        "input_per_mtok": "2", "output_per_mtok": "8", "cached_input_per_mtok": "0.5",
        "cache_write_per_mtok": "2.5", "cache_write_1h_per_mtok": "4", "reasoning_per_mtok": "10",
        "per_request": "0.001",
        "variants": [
            {"above_input_tokens": 200000, "input_per_mtok": "4", "output_per_mtok": "16", "cached_input_per_mtok": "1"},
            {"service_tier": "batch", "input_per_mtok": "1", "output_per_mtok": "4"},
            {"service_tier": "priority", "input_per_mtok": "3.5", "output_per_mtok": "14"},
            {"service_tier": "priority", "above_input_tokens": 200000, "input_per_mtok": "7"}
        ]
    });
    assert_eq!(post_json(&app, "/v1/prices", &price).0, 201);
    let call = |id: &str, extra: Value| {
        let mut record = json!({"event_id": id, "ts": "2026-11-23T12:00:00Z", "provider": "openai",
                                "model": "ledger-test-model", "input_tokens": 0, "output_tokens": 0});
        for (key, value) in extra.as_object().unwrap() {
            record[key] = value.clone();
        }
        record.to_string()
    };
    let records = [
        call("plain", json!({"input_tokens": 1000, "output_tokens": 500})),
        call(
            "cached",
            json!({"input_tokens": 10000, "cached_input_tokens": 8000, "output_tokens": 100}),
        ),
        call(
            "writes",
            json!({"input_tokens": 10000, "cache_write_tokens": 6000, "cache_write_1h_tokens": 2000}),
        ),
        call(
            "reasoning",
            json!({"output_tokens": 1000, "reasoning_tokens": 600}),
        ),
        call("long", json!({"input_tokens": 250000, "output_tokens": 1000})),
        call("at-threshold", json!({"input_tokens": 200000})),
        call(
            "batch",
            json!({"input_tokens": 1000, "output_tokens": 1000, "service_tier": "batch"}),
        ),
        call(
            "priority-long",
            json!({"input_tokens": 300000, "output_tokens": 1000, "service_tier": "priority"}),
        ),
        call("aggregated", json!({"input_tokens": 10000, "request_count": 10})),
        call(
            "cache-hit",
            json!({"input_tokens": 1000, "output_tokens": 500, "cache_hit": true}),
        ),
    ];
    let (status, body) = app.ingest("", records.join("\n").into_bytes());
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(10)), "{body}");
    // Hand-computed, USD; per-Mtok prices ÷ 1e6 per token; per_request 0.001 per call.
    let expected = [
        ("plain", "0.007"),         // 1000×2 + 500×8 per Mtok = 0.002 + 0.004, + 0.001
        ("cached", "0.0098"),       // 2000×2 + 8000×0.5 + 100×8 = 0.004 + 0.004 + 0.0008, + 0.001
        ("writes", "0.027"),        // 4000×2 + 4000×2.5 + 2000×4 = 0.008 + 0.01 + 0.008, + 0.001
        ("reasoning", "0.0102"),    // 400×8 + 600×10 = 0.0032 + 0.006, + 0.001
        ("long", "1.017"),          // above 200k: 250000×4 + 1000×16 = 1.0 + 0.016, + 0.001
        ("at-threshold", "0.401"),  // 200000 is not above 200k: 200000×2 = 0.4, + 0.001
        ("batch", "0.006"),         // 1000×1 + 1000×4 = 0.001 + 0.004, + 0.001
        ("priority-long", "2.115"), // input: priority above 200k 300000×7 = 2.1; output: priority 1000×14 = 0.014; + 0.001
        ("aggregated", "0.03"),     // 10000×2 = 0.02, + 10 calls × 0.001
        ("cache-hit", "0"),         // a gateway response-cache hit costs nothing
    ];
    let rows = costs(&app);
    for (id, want) in expected {
        let got = rows[id]["cost_usd"].as_str().unwrap();
        assert_eq!(dec(got), dec(want), "{id}: {got}");
        assert_eq!(rows[id]["cost_source"], "catalog");
        assert_eq!(
            slot_of(&rows[id]["price_id"]),
            "user:openai/ledger-test-model@2026-01-01"
        );
    }
}

#[test]
fn contracts_give_contracted_cost_beside_list_cost() {
    let app = TestApp::spawn();
    let contracts = json!([
        {"name": "anthropic-enterprise", "provider": "anthropic", "effective_from": "2026-09-01", "discount_percent": "12"},
        {"name": "search-mini", "model": "gpt-4o-mini", "team": "search", "effective_from": "2026-01-01", "input_per_mtok": "0.1"},
        {"name": "openai-wide", "provider": "openai", "effective_from": "2026-01-01", "discount_percent": "5"}
    ]);
    let (status, body) = post_json(&app, "/v1/contracts", &contracts);
    assert_eq!(status, 201, "{body}");
    let records = [
        json!({"event_id": "c-claude", "ts": "2026-11-23T12:00:00Z", "team": "growth", "provider": "anthropic",
               "model": "claude-sonnet-4-20250514", "input_tokens": 100_000, "output_tokens": 0}),
        json!({"event_id": "c-claude-before", "ts": "2026-08-31T23:59:59Z", "team": "growth", "provider": "anthropic",
               "model": "claude-sonnet-4-20250514", "input_tokens": 100_000, "output_tokens": 0}),
        json!({"event_id": "c-search", "ts": "2026-11-23T12:00:00Z", "team": "search", "provider": "openai",
               "model": "gpt-4o-mini", "input_tokens": 1_000_000, "output_tokens": 1_000_000}),
        json!({"event_id": "c-growth", "ts": "2026-11-23T12:00:00Z", "team": "growth", "provider": "openai",
               "model": "gpt-4o-mini", "input_tokens": 1_000_000, "output_tokens": 1_000_000}),
    ];
    let body: Vec<String> = records.iter().map(Value::to_string).collect();
    app.ingest("", body.join("\n").into_bytes());
    let rows = costs(&app);
    // Claude Sonnet 4: $3 per Mtok input at list (below its 200k-token tier); −12 % from
    // 2026-09-01 only.
    assert_eq!(rows["c-claude"]["list_cost_usd"], "0.300000000000");
    assert_eq!(rows["c-claude"]["cost_usd"], "0.264000000000");
    assert_eq!(
        rows["c-claude"]["contract_id"],
        "contract:anthropic-enterprise@2026-09-01T00:00:00Z"
    );
    assert_eq!(rows["c-claude-before"]["cost_usd"], "0.300000000000");
    assert!(rows["c-claude-before"]["contract_id"].is_null());
    // Team + model is more specific than provider-wide: contracted input rate 0.1, output at list 0.6.
    assert_eq!(rows["c-search"]["list_cost_usd"], "0.750000000000");
    assert_eq!(rows["c-search"]["cost_usd"], "0.700000000000");
    assert_eq!(
        rows["c-search"]["contract_id"],
        "contract:search-mini@2026-01-01T00:00:00Z"
    );
    // Another team gets the provider-wide 5 %.
    assert_eq!(rows["c-growth"]["cost_usd"], "0.712500000000");
    let spend = app.spend("from=2026-11-23&to=2026-11-24");
    assert_eq!(spend["totals"]["list_cost_usd"], "1.800000000000");
    assert_eq!(spend["totals"]["cost_usd"], "1.676500000000");
    let (_, listed) = app.get_json("/v1/contracts");
    assert_eq!(listed.as_array().unwrap().len(), 3);
    // A contract that gives both a discount and rates is refused.
    let (status, error) = post_json(
        &app,
        "/v1/contracts",
        &json!({"name": "x", "provider": "openai", "effective_from": "2026-01-01", "discount_percent": "5", "input_per_mtok": "1"}),
    );
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (422, Some("invalid_price"))
    );
}

#[test]
fn repricing_applies_new_prices_once_and_is_idempotent() {
    let app = TestApp::spawn();
    let records: Vec<String> = [
        ("r-morning", "2026-11-23T09:00:00Z", "acme-triage-7b", "self_hosted"),
        ("r-noon", "2026-11-23T12:00:00Z", "acme-triage-7b", "self_hosted"),
        ("r-evening", "2026-11-23T18:00:00Z", "acme-triage-7b", "self_hosted"),
        ("r-other", "2026-11-23T18:00:00Z", "gpt-4o-mini", "openai"),
    ]
    .iter()
    .map(|(id, ts, model, provider)| {
        json!({"event_id": id, "ts": ts, "provider": provider, "model": model, "input_tokens": 1_000_000, "output_tokens": 0})
            .to_string()
    })
    .collect();
    app.ingest("", records.join("\n").into_bytes());
    let unpriced = app
        .get_json("/v1/reports/unpriced?from=2026-11-23&to=2026-11-24")
        .1;
    assert_eq!(unpriced["rows"][0]["model"], "acme-triage-7b");
    assert_eq!(unpriced["rows"][0]["requests"], 3);
    assert_eq!(unpriced["rows"][0]["input_tokens"], 3_000_000);
    assert_eq!(unpriced["rows"][0]["first_seen"], "2026-11-23T09:00:00.000Z");
    assert_eq!(unpriced["rows"][0]["last_seen"], "2026-11-23T18:00:00.000Z");

    // A price from the middle of the day: only calls at or after noon get it.
    let price = json!({"provider": "self_hosted", "model": "acme-triage-7b", "effective_from": "2026-11-23T12:00:00Z",
                       "input_per_mtok": "0.05", "output_per_mtok": "0.1"});
    assert_eq!(post_json(&app, "/v1/prices", &price).0, 201);
    let scope = json!({"from": "2026-11-23", "to": "2026-11-24"});
    let (status, first) = post_json(&app, "/v1/admin/reprice", &scope);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["examined"], 4);
    assert_eq!(first["changed"], 2);
    assert_eq!(first["newly_priced"], 2);
    assert_eq!(first["cost_delta_usd"], "0.100000000000");
    let rows = costs(&app);
    assert_eq!(rows["r-morning"]["cost_source"], "unpriced");
    assert_eq!(rows["r-noon"]["cost_usd"], "0.050000000000");
    assert_eq!(
        slot_of(&rows["r-noon"]["price_id"]),
        "user:self_hosted/acme-triage-7b@2026-11-23T12:00:00Z"
    );
    assert_eq!(rows["r-evening"]["cost_usd"], "0.050000000000");

    let (_, second) = post_json(&app, "/v1/admin/reprice", &scope);
    assert_eq!(
        second["changed"], 0,
        "re-pricing twice must change nothing: {second}"
    );
    assert_eq!(second["cost_delta_usd"], "0.000000000000");

    // A corrected price (same id) and a re-price of one model only.
    let corrected = json!({"provider": "self_hosted", "model": "acme-triage-7b", "effective_from": "2026-11-23T12:00:00Z",
                           "input_per_mtok": "0.04", "output_per_mtok": "0.1"});
    assert_eq!(post_json(&app, "/v1/prices", &corrected).0, 201);
    let (_, third) = post_json(
        &app,
        "/v1/admin/reprice",
        &json!({"from": "2026-11-23", "to": "2026-11-24", "model": "acme-triage-7b"}),
    );
    assert_eq!(third["examined"], 3);
    assert_eq!(third["changed"], 2);
    assert_eq!(third["cost_delta_usd"], "-0.020000000000");
    let spend = app.spend("from=2026-11-23&to=2026-11-24&group_by=model");
    let acme = spend["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["model"] == "acme-triage-7b")
        .unwrap();
    assert_eq!(acme["cost_usd"], "0.080000000000");
    assert_eq!(acme["unpriced_requests"], 1);
}

#[test]
fn importing_the_shared_price_map_adds_only_what_changed() {
    let app = TestApp::spawn();
    let map = std::fs::read_to_string(fixture("../pricing/litellm_model_prices.json")).unwrap();
    let post = |body: String| {
        let response = app
            .client
            .post(app.url("/v1/prices/import?effective_from=2026-12-01&note=litellm%201.110.2"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().unwrap())
    };
    // The shipped catalog is this map: nothing changes.
    let (status, outcome) = post(map.clone());
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["added"], 0, "{outcome}");
    assert_eq!(outcome["unchanged"], 3885);
    // One price cut in the map: one new entry, from the import date on.
    // Edit the text itself: a round trip through serde_json's f64 would rewrite other prices.
    let entry = map
        .find("\"gpt-4o-mini\": {")
        .expect("the map prices gpt-4o-mini");
    let field = entry + map[entry..].find("\"input_cost_per_token\": 1.5e-07").unwrap();
    let edited = format!(
        "{}\"input_cost_per_token\": 1.2e-07{}",
        &map[..field],
        &map[field + "\"input_cost_per_token\": 1.5e-07".len()..]
    );
    let (_, outcome) = post(edited.clone());
    assert_eq!(outcome["added"], 1, "{outcome}");
    assert_eq!(
        slot_of(&outcome["prices"][0]["price_id"]),
        "user:openai/gpt-4o-mini@2026-12-01"
    );
    assert_eq!(outcome["prices"][0]["input_per_mtok"], "0.12");
    let (_, before) = app.get_json("/v1/prices?at=2026-11-30&provider=openai&model=gpt-4o-mini");
    let (_, after) = app.get_json("/v1/prices?at=2026-12-01&provider=openai&model=gpt-4o-mini");
    let input = |listing: &Value| {
        listing["prices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["model"] == "gpt-4o-mini")
            .unwrap()["input_per_mtok"]
            .clone()
    };
    assert_eq!(input(&before), "0.15");
    assert_eq!(input(&after), "0.12");
    // Importing the same map again adds nothing.
    let (_, outcome) = post(edited);
    assert_eq!(outcome["added"], 0);
}

#[test]
fn reconciliation_compares_computed_and_reported_cost() {
    let app = TestApp::spawn();
    app.ingest("", fixture_bytes("litellm/sample.ndjson"));
    let (status, report) = app.get_json("/v1/reports/reconciliation?from=2026-11-23&to=2026-11-25&records=3");
    assert_eq!(status, 200, "{report}");
    // Independently: per (day, model), sum computed and reported over calls that have both.
    let mut expected: BTreeMap<(String, String), (Decimal, Decimal)> = BTreeMap::new();
    for row in app.exported() {
        if row["cost_source"] != "catalog" || row["reported_cost_usd"].is_null() {
            continue;
        }
        let day = row["ts"].as_str().unwrap()[..10].to_owned();
        let entry = expected
            .entry((day, row["model_key"].as_str().unwrap().to_owned()))
            .or_default();
        entry.0 += dec(row["cost_usd"].as_str().unwrap());
        entry.1 += dec(row["reported_cost_usd"].as_str().unwrap());
    }
    for row in report["rows"].as_array().unwrap() {
        let key = (
            row["bucket"].as_str().unwrap()[..10].to_owned(),
            row["model"].as_str().unwrap().to_owned(),
        );
        match expected.get(&key) {
            Some((computed, reported)) => {
                assert_eq!(
                    dec(row["computed_cost_usd"].as_str().unwrap()),
                    *computed,
                    "{key:?}"
                );
                assert_eq!(
                    dec(row["reported_cost_usd"].as_str().unwrap()),
                    *reported,
                    "{key:?}"
                );
                assert_eq!(
                    dec(row["difference_usd"].as_str().unwrap()),
                    *computed - *reported,
                    "{key:?}"
                );
            }
            None => assert!(row["computed_cost_usd"].is_null(), "{key:?}: {row}"),
        }
    }
    let disagreements = report["disagreements"].as_array().unwrap();
    assert!(disagreements.len() <= 3);
    let sizes: Vec<Decimal> = disagreements
        .iter()
        .map(|call| dec(call["difference_usd"].as_str().unwrap()).abs())
        .collect();
    assert!(
        sizes.windows(2).all(|pair| pair[0] >= pair[1]),
        "largest disagreement first: {sizes:?}"
    );
}
