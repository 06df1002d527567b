//! Test support for adapter golden tests: parse a shared fixture and compare every produced row
//! with its expected canonical row (`shared/fixtures/README.md`, "Expected files": instants as
//! instants, money as decimals, durations within 0.001 ms, tags as maps).

use std::path::PathBuf;

use serde_json::Value;

use super::{FormatChoice, ParseContext, ParsedBatch, parse_body};
use crate::model::Source;

/// The fields every expected row has.
pub(crate) const EXPECTED_FIELDS: &[&str] = &[
    "event_id",
    "source",
    "ts",
    "team",
    "project",
    "user_id",
    "api_key_id",
    "tags",
    "provider",
    "model_requested",
    "model",
    "route",
    "fallback_from",
    "attempts",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "reported_cost_usd",
    "latency_ms",
    "ttft_ms",
    "status_code",
    "error_type",
    "cache_hit",
    "request_count",
];

pub(crate) fn fixture_path(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(path)
}

/// Parses a fixture file as the endpoint would (auto-detection), with the clock at
/// 2026-11-25T12:00:00Z.
pub(crate) fn parse_fixture(path: &str) -> ParsedBatch {
    let bytes = std::fs::read(fixture_path(path)).unwrap_or_else(|error| panic!("{path}: {error}"));
    let ctx = ParseContext {
        now: chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .unwrap()
            .into(),
    };
    parse_body(&bytes, FormatChoice::Auto, &ctx).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// A parsed record as the JSON shape of the expected files.
pub(crate) fn record_json(record: &crate::model::UsageRecord) -> Value {
    let mut value = serde_json::to_value(record).unwrap();
    let object = value.as_object_mut().unwrap();
    object.insert(
        "ts".to_owned(),
        Value::String(record.ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
    object.insert(
        "reported_cost_usd".to_owned(),
        record
            .reported_cost_usd
            .map_or(Value::Null, |usd| Value::String(usd.as_decimal().to_string())),
    );
    value
}

fn same(field: &str, want: &Value, got: &Value) -> bool {
    match field {
        "ts" => {
            let parse = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or("")).ok();
            parse(want).is_some() && parse(want) == parse(got)
        }
        "reported_cost_usd" => match (want, got) {
            (Value::Null, Value::Null) => true,
            (Value::String(a), Value::String(b)) => {
                a.parse::<rust_decimal::Decimal>().ok() == b.parse::<rust_decimal::Decimal>().ok()
            }
            _ => false,
        },
        "latency_ms" | "ttft_ms" => match (want.as_f64(), got.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() < 0.001,
            _ => want.is_null() && got.is_null(),
        },
        _ => want == got,
    }
}

/// Asserts the fixture parses to exactly the expected rows, in order, with the expected
/// `(received, accepted_candidates, rejected)` counts, and returns the batch.
pub(crate) fn assert_golden(
    fixture: &str,
    expected: &str,
    source: Source,
    counts: (usize, usize, usize),
) -> ParsedBatch {
    let batch = parse_fixture(fixture);
    assert_eq!(batch.format, Some(source), "{fixture}: detected format");
    assert_eq!(
        (batch.received, batch.accepted.len(), batch.rejected.len()),
        counts,
        "{fixture}: (received, accepted, rejected); rejected: {:?}",
        batch.rejected
    );
    let text = std::fs::read_to_string(fixture_path(expected)).unwrap();
    let wanted: Vec<Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(wanted.len(), batch.accepted.len(), "{expected}: row count");
    let mut failures = Vec::new();
    for (want, got) in wanted.iter().zip(&batch.accepted) {
        let got = record_json(&got.record);
        for field in EXPECTED_FIELDS {
            if !same(field, &want[*field], &got[*field]) {
                failures.push(format!(
                    "{} `{field}`: expected {}, got {}",
                    want["event_id"], want[*field], got[*field]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{fixture}:\n{}", failures.join("\n"));
    batch
}
