//! Prices: the shipped catalog, `GET /v1/prices?at=`, `POST /v1/prices` effective-dated, and the
//! overrides file.

use serde_json::json;

use crate::support::*;

#[test]
fn posted_prices_apply_from_their_effective_date_and_survive_restarts() {
    let mut app = TestApp::spawn();
    let price = json!([{"provider": "openai", "model": "gpt-4o-mini", "effective_from": "2026-11-23T12:00:00Z",
                        "input_per_mtok": "0.10", "output_per_mtok": "0.40", "note": "test discount"}]);
    let response = app
        .client
        .post(app.url("/v1/prices"))
        .json(&price)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(
        slot_of(&body["prices"][0]["price_id"]),
        "user:openai/gpt-4o-mini@2026-11-23T12:00:00Z"
    );

    let before = canonical("p-before", "2026-11-23T11:59:59Z", "gpt-4o-mini", 1_000_000, 0);
    let after = canonical("p-after", "2026-11-23T12:00:00Z", "gpt-4o-mini", 1_000_000, 0);
    app.ingest("", format!("{before}\n{after}").into_bytes());
    app.restart();
    let late = canonical("p-late", "2026-11-24T00:00:00Z", "gpt-4o-mini", 1_000_000, 0);
    app.ingest("", late.into_bytes());
    let rows = app.exported();
    let cost = |id: &str| rows.iter().find(|row| row["event_id"] == id).unwrap()["cost_usd"].clone();
    assert_eq!(cost("p-before"), "0.150000000000");
    assert_eq!(cost("p-after"), "0.100000000000");
    assert_eq!(
        cost("p-late"),
        "0.100000000000",
        "a stored price must survive a restart"
    );

    let (_, listing) = app.get_json("/v1/prices?at=2026-11-23T11:00:00Z&model=gpt-4o-mini&provider=openai");
    let entry = listing["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["model"] == "gpt-4o-mini")
        .unwrap();
    assert_eq!(entry["layer"], "catalog");
    assert_eq!(entry["input_per_mtok"], "0.15");
    let (_, listing) = app.get_json("/v1/prices?at=2026-11-24&model=gpt-4o-mini&provider=openai");
    let entry = listing["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["model"] == "gpt-4o-mini")
        .unwrap();
    assert_eq!(entry["layer"], "user");
    assert_eq!(entry["input_per_mtok"], "0.1");
}

#[test]
fn invalid_prices_are_refused_with_the_reason() {
    let app = TestApp::spawn();
    for body in [
        json!({"provider": "openai", "model": "x", "effective_from": "2026-11-01", "input_per_mtok": "-1"}),
        json!({"provider": "openai", "model": "x", "effective_from": "someday", "input_per_mtok": "1"}),
        json!({"provider": "openai", "model": "x", "effective_from": "2026-11-01", "input_per_mtk": "1"}),
        json!({"provider": "openai", "model": "x", "effective_from": "2026-11-01"}),
        json!({"provider": "openai", "model": "x", "effective_from": "2026-11-02", "effective_to": "2026-11-01", "input_per_mtok": "1"}),
    ] {
        let response = app.client.post(app.url("/v1/prices")).json(&body).send().unwrap();
        assert_eq!(response.status().as_u16(), 422, "{body}");
        let error: serde_json::Value = response.json().unwrap();
        assert_eq!(error["error"]["code"], "invalid_price", "{body}");
    }
}

#[test]
fn the_overrides_file_prices_unknown_models_and_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.toml");
    std::fs::write(
        &file,
        r#"
[[price]]
provider = "self_hosted"
model = "acme-triage-7b"
effective_from = "2026-01-01"
input_per_mtok = "0.05"
output_per_mtok = "0.10"
note = "GPU cost per token, finance estimate"

[[price]]
provider = "azure"
model = "gpt-4o-mini"
effective_from = "2026-01-01"
input_per_mtok = "0.165"
output_per_mtok = "0.66"
aliases = ["prod-mini-deployment"]
"#,
    )
    .unwrap();
    let app = TestApp::spawn_with(&[], &[("LEDGER_PRICES_FILE", file.to_str().unwrap())]);
    let lines = [
        serde_json::json!({"event_id": "o1", "ts": "2026-11-24T07:00:00Z", "provider": "self_hosted",
            "model": "acme-triage-7b", "input_tokens": 1_000_000, "output_tokens": 1_000_000})
        .to_string(),
        serde_json::json!({"event_id": "o2", "ts": "2026-11-24T07:00:00Z", "provider": "azure",
            "model": "prod-mini-deployment", "input_tokens": 1_000_000, "output_tokens": 0})
        .to_string(),
    ];
    app.ingest("", lines.join("\n").into_bytes());
    let rows = app.exported();
    let o1 = rows.iter().find(|row| row["event_id"] == "o1").unwrap();
    assert_eq!(o1["cost_usd"], "0.150000000000");
    assert_eq!(
        slot_of(&o1["price_id"]),
        "file:self_hosted/acme-triage-7b@2026-01-01"
    );
    let o2 = rows.iter().find(|row| row["event_id"] == "o2").unwrap();
    assert_eq!(o2["cost_usd"], "0.165000000000");
    assert_eq!(o2["model_key"], "gpt-4o-mini");
    assert_eq!(
        o2["model"], "prod-mini-deployment",
        "the gateway's string is kept verbatim"
    );
}

#[test]
fn a_csv_overrides_file_works_too() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.csv");
    std::fs::write(
        &file,
        "provider,model,effective_from,input_per_mtok,output_per_mtok,note\n\
         self_hosted,acme-triage-7b,2026-01-01,0.000000000003,0.1,\"GPU estimate, Q4\"\n",
    )
    .unwrap();
    let app = TestApp::spawn_with(&["--prices-file", file.to_str().unwrap()], &[]);
    let line = serde_json::json!({"event_id": "c1", "ts": "2026-11-24T07:00:00Z", "provider": "self_hosted",
        "model": "acme-triage-7b", "input_tokens": 1_000_000, "output_tokens": 1_000_000});
    app.ingest("", line.to_string().into_bytes());
    let rows = app.exported();
    // 1M × 0.000000000003 / 1M = 0.000000000003 exactly: the CSV never went through a float.
    assert_eq!(rows[0]["cost_usd"], "0.100000000003");
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "provider,model,effective_from,input_per_mtk\nopenai,x,2026-01-01,1\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_llm-ledger"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["serve", "--bind", "127.0.0.1:0", "--prices-file"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("input_per_mtk"));
}

#[test]
fn the_cli_rebuilds_the_shipped_catalog_from_the_price_map() {
    let out = tempfile::NamedTempFile::new().unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_llm-ledger"))
        .args(["prices", "build-catalog", "--litellm-map"])
        .arg(fixture("../pricing/litellm_model_prices.json"))
        .args(["--note", "litellm 1.110.2 price map", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let rebuilt = std::fs::read_to_string(out.path()).unwrap();
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/pricing/catalog.jsonl"),
    )
    .unwrap();
    assert_eq!(
        rebuilt, shipped,
        "src/pricing/catalog.jsonl is stale: rebuild it with `llm-ledger prices build-catalog`"
    );
}
