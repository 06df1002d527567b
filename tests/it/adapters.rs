//! Every gateway format through the real endpoint: auto-detection picks the format, the counts
//! of `shared/fixtures/README.md` hold, every stored row equals its expected canonical row, and
//! every computed cost equals the reviewed golden cost (`tests/golden/<fixture>.costs.json`;
//! `UPDATE_GOLDEN=1 cargo test adapters` rewrites them for review).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::support::*;

struct Case {
    fixture: &'static str,
    expected: &'static str,
    format: &'static str,
    /// received, accepted, duplicates, rejected on an empty store.
    counts: (u64, u64, u64, u64),
}

const CASES: &[Case] = &[
    Case {
        fixture: "canonical/sample.ndjson",
        expected: "canonical/sample.expected.ndjson",
        format: "canonical",
        counts: (12, 12, 0, 0),
    },
    Case {
        fixture: "litellm/sample.ndjson",
        expected: "litellm/sample.expected.ndjson",
        format: "litellm",
        counts: (11, 11, 0, 0),
    },
    Case {
        fixture: "litellm/spend_logs.json",
        expected: "litellm/spend_logs.expected.ndjson",
        format: "litellm",
        counts: (7, 7, 0, 0),
    },
    Case {
        fixture: "openrouter/sample.ndjson",
        expected: "openrouter/sample.expected.ndjson",
        format: "openrouter",
        counts: (10, 10, 0, 0),
    },
    Case {
        fixture: "openrouter/responses.ndjson",
        expected: "openrouter/responses.expected.ndjson",
        format: "openrouter",
        counts: (5, 4, 0, 1),
    },
    Case {
        fixture: "portkey/sample.ndjson",
        expected: "portkey/sample.expected.ndjson",
        format: "portkey",
        counts: (12, 12, 0, 0),
    },
    Case {
        fixture: "helicone/sample.ndjson",
        expected: "helicone/sample.expected.ndjson",
        format: "helicone",
        counts: (11, 11, 0, 0),
    },
    Case {
        fixture: "cloudflare/sample.ndjson",
        expected: "cloudflare/sample.expected.ndjson",
        format: "cloudflare",
        counts: (12, 12, 0, 0),
    },
    Case {
        fixture: "bedrock/sample.ndjson",
        expected: "bedrock/sample.expected.ndjson",
        format: "bedrock",
        counts: (10, 10, 0, 0),
    },
    Case {
        fixture: "kong/sample.ndjson",
        expected: "kong/sample.expected.ndjson",
        format: "kong",
        counts: (12, 11, 0, 1),
    },
    Case {
        fixture: "otel/sample.json",
        expected: "otel/sample.expected.ndjson",
        format: "otel",
        counts: (9, 9, 0, 0),
    },
    Case {
        fixture: "openai_usage/sample.json",
        expected: "openai_usage/sample.expected.ndjson",
        format: "openai_usage",
        counts: (8, 8, 0, 0),
    },
];

fn counts(body: &Value) -> (u64, u64, u64, u64) {
    let n = |key: &str| body[key].as_u64().unwrap();
    (n("received"), n("accepted"), n("duplicates"), n("rejected"))
}

fn golden_path(fixture: &str) -> PathBuf {
    let name = fixture
        .replace('/', "__")
        .replace(".ndjson", "")
        .replace(".json", "");
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.costs.json"))
}

/// event_id → the pricing outcome of a stored row.
fn pricing_of(rows: &[Value]) -> BTreeMap<String, Value> {
    rows.iter()
        .map(|row| {
            (
                row["event_id"].as_str().unwrap().to_owned(),
                serde_json::json!({
                    "model_key": row["model_key"],
                    "cost_usd": row["cost_usd"],
                    "cost_source": row["cost_source"],
                    "price_id": row["price_id"],
                }),
            )
        })
        .collect()
}

#[test]
fn every_fixture_stores_its_expected_rows_and_golden_costs() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for case in CASES {
        let app = TestApp::spawn();
        let content_type = if case.fixture.ends_with(".json") {
            "application/json"
        } else {
            "application/x-ndjson"
        };
        let (status, body) =
            app.ingest_with("", fixture_bytes(case.fixture), &[("content-type", content_type)]);
        assert_eq!(status, 200, "{}: {body}", case.fixture);
        assert_eq!(body["format"], case.format, "{}: detected format", case.fixture);
        assert_eq!(counts(&body), case.counts, "{}: {body}", case.fixture);
        let rows = app.exported();
        assert_rows_match(case.expected, &rows);
        for row in &rows {
            // Unknown models are visible, never free.
            if row["cost_source"] == "unpriced" {
                assert!(row["cost_usd"].is_null(), "{}: {row}", case.fixture);
            } else {
                assert!(row["cost_usd"].is_string(), "{}: {row}", case.fixture);
            }
        }
        let actual = pricing_of(&rows);
        let path = golden_path(case.fixture);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} is missing: run UPDATE_GOLDEN=1 cargo test adapters and review it",
                path.display()
            )
        });
        let golden: BTreeMap<String, Value> = serde_json::from_str(&text).unwrap();
        for (event_id, want) in &golden {
            let got = actual
                .get(event_id)
                .unwrap_or_else(|| panic!("{}: {event_id} not stored", case.fixture));
            assert_eq!(
                got, want,
                "{}: {event_id} priced differently than the golden file",
                case.fixture
            );
        }
        assert_eq!(golden.len(), actual.len(), "{}", case.fixture);
    }
}

#[test]
fn two_feeds_of_one_gateway_dedupe() {
    let app = TestApp::spawn();
    let (_, body) = app.ingest("", fixture_bytes("litellm/sample.ndjson"));
    assert_eq!(counts(&body), (11, 11, 0, 0));
    let (_, body) = app.ingest_with(
        "",
        fixture_bytes("litellm/spend_logs.json"),
        &[("content-type", "application/json")],
    );
    assert_eq!(counts(&body), (7, 0, 7, 0), "spend rows repeat the payloads' ids");

    let app = TestApp::spawn();
    let (_, body) = app.ingest("", fixture_bytes("openrouter/sample.ndjson"));
    assert_eq!(counts(&body), (10, 10, 0, 0));
    let (_, body) = app.ingest("", fixture_bytes("openrouter/responses.ndjson"));
    assert_eq!(counts(&body), (5, 1, 3, 1));
}

#[test]
fn forcing_a_format_skips_detection() {
    let app = TestApp::spawn();
    let (status, body) = app.ingest("?format=bedrock", fixture_bytes("canonical/sample.ndjson"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["format"], "bedrock");
    assert_eq!(body["accepted"], 0);
    assert_eq!(
        body["rejected"], 12,
        "canonical records parsed as Bedrock fail field by field"
    );
    let (status, body) = app.ingest("?format=litellm", fixture_bytes("litellm/sample.ndjson"));
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(11)));
}

#[test]
fn a_mixed_body_is_refused_record_by_record() {
    let app = TestApp::spawn();
    let (status, body) = app.ingest_with(
        "",
        fixture_bytes("bad/mixed_formats.json"),
        &[("content-type", "application/json")],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["format"], "litellm");
    assert_eq!(counts(&body), (3, 1, 0, 2));
    for (error, index) in body["errors"].as_array().unwrap().iter().zip([1, 2]) {
        assert_eq!(error["code"], "format_mismatch");
        assert_eq!(error["index"], index);
        assert!(error["line"].is_null());
    }
}

#[test]
fn every_sample_file_imports() {
    let dir = tempfile::tempdir().unwrap();
    // As `llm-ledger import sample_data/*` is run: the README and the generator script too.
    let mut files: Vec<PathBuf> = std::fs::read_dir(sample(""))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() > sample_files().len());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_llm-ledger"))
        .env("LEDGER_LOG", "warn")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["import", "--quiet"])
        .args(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Kong's entry without an AI block and OpenRouter's error body are the only refusals; the
    // LiteLLM spend rows and three OpenRouter response bodies repeat calls already imported.
    let counts = summary_counts(&stdout);
    assert_eq!(counts["rejected"], 2, "{stdout}");
    assert_eq!(counts["duplicates"], 10, "{stdout}");
    assert_eq!(counts["accepted"] + 12, counts["received"], "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("skipped") && stderr.contains("README.md"),
        "{stderr}"
    );
    // The directory itself imports the same (read recursively, other files left out).
    let again = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_llm-ledger"))
        .env("LEDGER_LOG", "warn")
        .arg("--data-dir")
        .arg(again.path())
        .args(["import", "--quiet"])
        .arg(sample(""))
        .output()
        .unwrap();
    let from_dir = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{from_dir}");
    assert_eq!(summary_counts(&from_dir), counts, "{from_dir}");
}

/// `received N · accepted N · duplicates N · rejected N` of an import summary.
fn summary_counts(stdout: &str) -> BTreeMap<String, u64> {
    let line = stdout
        .lines()
        .find(|line| line.contains("received ") && line.contains(" · accepted "))
        .unwrap_or_else(|| panic!("no summary line: {stdout}"));
    line.split('(')
        .next()
        .unwrap()
        .split('·')
        .map(|part| {
            let (name, count) = part.trim().split_once(' ').unwrap();
            (name.to_owned(), count.trim().parse().unwrap())
        })
        .collect()
}

/// Issue 4: the same model through four gateways (LiteLLM's dated id, OpenRouter's
/// `anthropic/claude-sonnet-4` slug, Bedrock's regional profile, Helicone's mixed names) is one
/// `model` row of the spend report, priced from the catalog every time.
#[test]
fn one_model_through_four_gateways_is_one_report_row() {
    let app = TestApp::spawn();
    for fixture in [
        "litellm/sample.ndjson",
        "openrouter/sample.ndjson",
        "bedrock/sample.ndjson",
        "helicone/sample.ndjson",
    ] {
        let (status, body) = app.ingest("", fixture_bytes(fixture));
        assert_eq!(status, 200, "{fixture}: {body}");
    }
    let report = app.spend("from=2026-11-01&to=2026-12-01&group_by=model,source&order=group");
    let rows = report["rows"].as_array().unwrap();
    let sources: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|row| row["model"] == "claude-sonnet-4-20250514")
        .map(|row| row["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources.into_iter().collect::<Vec<_>>(),
        ["bedrock", "helicone", "litellm", "openrouter"],
        "{report}"
    );
    assert!(
        rows.iter().all(|row| row["model"] != "claude-sonnet-4"),
        "an undated slug kept its own row: {report}"
    );
    let sonnet: Vec<&Value> = rows
        .iter()
        .filter(|row| row["model"] == "claude-sonnet-4-20250514")
        .collect();
    assert!(
        sonnet
            .iter()
            .all(|row| row["unpriced_requests"] == 0 && row["cost_usd"].is_string()),
        "{sonnet:?}"
    );
}
