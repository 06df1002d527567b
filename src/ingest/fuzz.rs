//! Property tests: no input panics a parser. Arbitrary bytes, and fixture records with random
//! mutations (values replaced by other JSON types, huge or negative numbers, long and non-ASCII
//! strings, keys deleted, objects nested), go through every adapter (auto-detected and forced);
//! each candidate must end accepted or rejected, and the pipeline must never panic.

use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::golden::fixture_path;
use super::{ADAPTERS, FormatChoice, ParseContext, parse_body};

const FIXTURES: &[&str] = &[
    "canonical/sample.ndjson",
    "litellm/sample.ndjson",
    "litellm/spend_logs.json",
    "openrouter/sample.ndjson",
    "openrouter/responses.ndjson",
    "portkey/sample.ndjson",
    "helicone/sample.ndjson",
    "cloudflare/sample.ndjson",
    "bedrock/sample.ndjson",
    "kong/sample.ndjson",
    "otel/sample.json",
    "openai_usage/sample.json",
];

/// The records of every fixture, as JSON values.
fn fixture_records() -> Vec<Value> {
    let mut records = Vec::new();
    for fixture in FIXTURES {
        let text = std::fs::read_to_string(fixture_path(fixture)).unwrap();
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(items)) => records.extend(items),
            Ok(document) => records.push(document),
            Err(_) => records.extend(text.lines().filter_map(|line| serde_json::from_str(line).ok())),
        }
    }
    records
}

fn random_value(rng: &mut SmallRng) -> Value {
    match rng.random_range(0..12) {
        0 => Value::Null,
        1 => json!(rng.random::<bool>()),
        2 => json!(-rng.random_range(1..1_000_000i64)),
        3 => json!(u64::MAX),
        4 => json!(rng.random::<f64>() * 1e30),
        5 => json!("1e+30"),
        6 => json!("x".repeat(rng.random_range(0..5000))),
        7 => json!("東京🙂\u{0}\u{7f}"),
        8 => json!([1, "a", null]),
        9 => json!({"nested": {"deeper": [1, 2, {"x": "y"}]}}),
        10 => json!("2026-02-30T25:61:61Z"),
        _ => json!(""),
    }
}

/// Applies a few random mutations somewhere in the tree.
fn mutate(value: &mut Value, rng: &mut SmallRng, depth: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[rng.random_range(0..keys.len())];
            match rng.random_range(0..4) {
                0 => {
                    map.remove(key);
                }
                1 if depth < 6 => {
                    if let Some(child) = map.get_mut(key) {
                        mutate(child, rng, depth + 1);
                    }
                }
                _ => {
                    map.insert(key.clone(), random_value(rng));
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let idx = rng.random_range(0..items.len());
            if depth < 6 && rng.random::<bool>() {
                mutate(&mut items[idx], rng, depth + 1);
            } else {
                items[idx] = random_value(rng);
            }
        }
        other => *other = random_value(rng),
    }
}

fn choices() -> Vec<FormatChoice> {
    let mut choices = vec![FormatChoice::Auto];
    choices.extend(
        ADAPTERS
            .iter()
            .map(|adapter| FormatChoice::Forced(adapter.source())),
    );
    choices
}

fn check(body: &[u8]) {
    let ctx = ParseContext::now();
    for choice in choices() {
        if let Ok(batch) = parse_body(body, choice, &ctx) {
            assert_eq!(batch.received, batch.accepted.len() + batch.rejected.len());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes);
    }

    #[test]
    fn mutated_fixture_records_never_panic(seed in any::<u64>()) {
        let mut rng = SmallRng::seed_from_u64(seed);
        let records = fixture_records();
        for record in records {
            let mut mutated = record.clone();
            for _ in 0..rng.random_range(1..4) {
                mutate(&mut mutated, &mut rng, 0);
            }
            let line = serde_json::to_vec(&mutated).unwrap();
            check(&line);
        }
    }
}
