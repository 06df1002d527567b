//! `POST /v1/sql` and `llm-ledger query`: results in every format, the documented views, the row
//! cap, the time limit and the concurrency cap, every escape route refused with nothing
//! happening, DuckDB's own guards behind the policy, and team scopes.

mod cli;
mod escapes;
mod limits;
mod results;
mod scope;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::support::*;

/// Posts a query; returns status, headers and body.
pub fn post_sql(
    app: &TestApp,
    body: Value,
    accept: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app.client.post(app.url("/v1/sql")).json(&body);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().expect("POST /v1/sql");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().unwrap().to_vec())
}

/// Posts a query and reads the JSON answer.
pub fn sql(app: &TestApp, body: Value) -> (u16, Value) {
    let (status, _, bytes) = post_sql(app, body, None);
    let text = String::from_utf8_lossy(&bytes);
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, json)
}

pub fn rows(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = sql(app, json!({ "sql": query }));
    assert_eq!(status, 200, "{query}: {body}");
    body["rows"].as_array().unwrap().clone()
}

pub fn dec(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {value}"))
        .parse()
        .unwrap()
}

pub fn sample_app(args: &[&str]) -> TestApp {
    let app = TestApp::spawn_with(args, &[]);
    let (status, body) = app.ingest("", std::fs::read(sample("canonical.ndjson")).unwrap());
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(12)), "{body}");
    app
}

/// A ledger opened in this process (no server), for what HTTP cannot reach yet.
pub fn open_in_process(dir: &std::path::Path) -> (llm_ledger::config::Config, llm_ledger::server::Ledger) {
    let config = llm_ledger::config::Config::resolve(llm_ledger::config::RawConfig {
        data_dir: Some(dir.to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let ledger = llm_ledger::server::open_ledger(&config).unwrap();
    (config, ledger)
}

/// Ingests a body through the same pipeline as the endpoint; returns how many were accepted.
pub fn ingest_in_process(
    ledger: &llm_ledger::server::Ledger,
    runtime: &tokio::runtime::Runtime,
    body: Vec<u8>,
) -> usize {
    let catalog = ledger.prices.current();
    let prepared = llm_ledger::pipeline::prepare(
        body,
        llm_ledger::ingest::body::Encoding::Identity,
        u64::MAX,
        llm_ledger::ingest::FormatChoice::Auto,
        &catalog,
    )
    .unwrap();
    let (response, _) = runtime
        .block_on(llm_ledger::pipeline::store(&ledger.writer, prepared, false, true))
        .unwrap();
    response.accepted
}
