//! `POST /v1/ingest`: formats of the body, partial batches, strict mode, duplicates, limits and
//! bad input (issue 3). Every bad request must leave what was stored untouched.

use serde_json::{Value, json};

use crate::support::*;

fn counts(body: &Value) -> (u64, u64, u64, u64) {
    (
        body["received"].as_u64().unwrap(),
        body["accepted"].as_u64().unwrap(),
        body["duplicates"].as_u64().unwrap(),
        body["rejected"].as_u64().unwrap(),
    )
}

#[test]
fn canonical_fixture_ingests_to_exactly_its_expected_rows() {
    let app = TestApp::spawn();
    let (status, body) = app.ingest("", fixture_bytes("canonical/sample.ndjson"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["format"], "canonical");
    assert_eq!(counts(&body), (12, 12, 0, 0));
    let rows = app.exported();
    assert_rows_match("canonical/sample.expected.ndjson", &rows);
    for row in &rows {
        assert!(row["model_key"].is_string(), "{row}");
        assert!(row["cost_source"].is_string(), "{row}");
        assert!(row["request_count"].as_u64().unwrap() >= 1);
    }
    // The project's own sample is the same data.
    let (status, body) = app.ingest("", std::fs::read(sample("canonical.ndjson")).unwrap());
    assert_eq!(status, 200);
    assert_eq!(
        counts(&body),
        (12, 0, 12, 0),
        "sample_data/canonical.ndjson repeats the fixture"
    );
}

#[test]
fn array_and_single_object_bodies_are_accepted() {
    let app = TestApp::spawn();
    let one = canonical("shape-1", "2026-11-23T12:00:00Z", "gpt-4o-mini", 100, 20);
    let (status, body) = app.ingest_with("", one.into_bytes(), &[("content-type", "application/json")]);
    assert_eq!((status, counts(&body)), (200, (1, 1, 0, 0)));
    let array = format!(
        "[{},{}]",
        canonical("shape-2", "2026-11-23T12:00:00Z", "gpt-4o-mini", 100, 20),
        canonical("shape-3", "2026-11-23T12:00:00Z", "gpt-4o-mini", 100, 20)
    );
    let (status, body) = app.ingest_with("", array.into_bytes(), &[("content-type", "application/json")]);
    assert_eq!((status, counts(&body)), (200, (2, 2, 0, 0)));
}

#[test]
fn gzip_and_zstd_bodies_are_decoded() {
    let app = TestApp::spawn();
    let body = fixture_bytes("canonical/sample.ndjson");
    let (status, result) = app.ingest_with(
        "",
        gzip(&body),
        &[
            ("content-type", "application/x-ndjson"),
            ("content-encoding", "gzip"),
        ],
    );
    assert_eq!((status, counts(&result)), (200, (12, 12, 0, 0)), "{result}");
    let (status, result) = app.ingest_with(
        "",
        zstd_bytes(&body),
        &[
            ("content-type", "application/x-ndjson"),
            ("content-encoding", "zstd"),
        ],
    );
    assert_eq!((status, counts(&result)), (200, (12, 0, 12, 0)), "{result}");
    let (status, result) = app.ingest_with("", body, &[("content-encoding", "br")]);
    assert_eq!(status, 415);
    assert_eq!(result["error"]["code"], "unsupported_encoding");
    let (status, result) = app.ingest_with("", b"not gzip at all".to_vec(), &[("content-encoding", "gzip")]);
    assert_eq!(status, 400);
    assert_eq!(result["error"]["code"], "bad_encoding");
}

/// Each bad-input fixture gives the outcome `shared/fixtures/bad/README.md` lists.
#[test]
fn bad_fixtures_give_their_documented_outcomes() {
    let app = TestApp::spawn();
    type ExpectedError<'a> = (Option<u64>, Option<&'a str>, &'a str);
    type Case<'a> = (&'a str, (u64, u64, u64, u64), &'a [ExpectedError<'a>]);
    let cases: &[Case] = &[
        (
            "truncated_line.ndjson",
            (3, 2, 0, 1),
            &[(Some(2), None, "invalid_json")],
        ),
        (
            "wrong_types.ndjson",
            (10, 1, 0, 9),
            &[
                (Some(1), Some("input_tokens"), "invalid_type"),
                (Some(2), Some("ts"), "invalid_type"),
                (Some(3), Some("cache_hit"), "invalid_type"),
                (Some(4), Some("tags"), "invalid_type"),
                (Some(5), Some("output_tokens"), "invalid_type"),
                (Some(6), Some("reported_cost_usd"), "invalid_type"),
                (Some(7), Some("model"), "missing_field"),
                (Some(8), Some("status_code"), "invalid_type"),
                (Some(9), Some("input_tokens"), "invalid_type"),
            ],
        ),
        (
            "negative_tokens.ndjson",
            (8, 1, 0, 7),
            &[
                (Some(1), Some("input_tokens"), "invalid_value"),
                (Some(2), Some("output_tokens"), "invalid_value"),
                (Some(3), Some("cached_input_tokens"), "invalid_value"),
                (Some(4), Some("reasoning_tokens"), "invalid_value"),
                (Some(5), Some("latency_ms"), "invalid_value"),
                (Some(6), Some("reported_cost_usd"), "invalid_value"),
                (Some(7), Some("cache_write_tokens"), "invalid_value"),
            ],
        ),
        (
            "missing_timestamp.ndjson",
            (7, 1, 0, 6),
            &[
                (Some(1), Some("ts"), "missing_field"),
                (Some(2), Some("ts"), "missing_field"),
                (Some(3), Some("ts"), "invalid_value"),
                (Some(4), Some("ts"), "invalid_value"),
                (Some(5), Some("ts"), "invalid_value"),
                (Some(6), Some("ts"), "invalid_value"),
            ],
        ),
        (
            "huge_string.ndjson",
            (4, 1, 0, 3),
            &[
                (Some(1), Some("tags.debug_dump"), "field_too_long"),
                (Some(2), Some("model"), "field_too_long"),
                (Some(3), Some("event_id"), "field_too_long"),
            ],
        ),
        (
            "non_utf8.ndjson",
            (3, 2, 0, 1),
            &[(Some(2), None, "invalid_utf8")],
        ),
        ("duplicate_event_ids.ndjson", (4, 2, 2, 0), &[]),
        ("blank_lines_crlf.ndjson", (3, 3, 0, 0), &[]),
    ];
    for (file, expected_counts, expected_errors) in cases {
        let (status, body) = app.ingest("", fixture_bytes(&format!("bad/{file}")));
        assert_eq!(status, 200, "{file}: {body}");
        assert_eq!(counts(&body), *expected_counts, "{file}: {body}");
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), expected_errors.len(), "{file}: {body}");
        for (error, (line, field, code)) in errors.iter().zip(expected_errors.iter()) {
            assert_eq!(error["line"].as_u64(), *line, "{file}: {error}");
            assert_eq!(error["field"].as_str(), *field, "{file}: {error}");
            assert_eq!(error["code"], *code, "{file}: {error}");
            assert!(
                error["message"].as_str().unwrap().chars().count() < 300,
                "{file}: message too long"
            );
            assert_eq!(
                error["index"].as_u64(),
                line.map(|line| line - 1)
                    .filter(|_| *file != "blank_lines_crlf.ndjson")
            );
        }
    }
    // The valid records of all those files describe the same small call; non-ASCII survives.
    let rows = app.exported();
    let utf = rows.iter().find(|row| row["event_id"] == "bad-utf-3").unwrap();
    assert_eq!(utf["user_id"], "José 東京");
    let dup = rows.iter().find(|row| row["event_id"] == "bad-dup-2").unwrap();
    assert_eq!(dup["output_tokens"], 20, "the first version of a duplicate wins");
    // Re-sending the duplicates file changes nothing.
    let (_, body) = app.ingest("", fixture_bytes("bad/duplicate_event_ids.ndjson"));
    assert_eq!(counts(&body), (4, 0, 4, 0));
}

#[test]
fn mixed_formats_are_refused_record_by_record() {
    let app = TestApp::spawn();
    let (status, body) = app.ingest_with(
        "",
        fixture_bytes("bad/mixed_formats.json"),
        &[("content-type", "application/json")],
    );
    // The first record decides the body's format; records of another are refused one by one.
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["format"], "litellm");
    assert_eq!(counts(&body), (3, 1, 0, 2), "{body}");
    for error in body["errors"].as_array().unwrap() {
        assert_eq!(error["code"], "format_mismatch");
        assert!(error["line"].is_null());
    }
    assert_eq!(app.exported().len(), 1);
}

#[test]
fn strict_mode_stores_nothing_of_a_bad_batch() {
    let app = TestApp::spawn();
    let (status, body) = app.ingest("?strict=true", fixture_bytes("bad/wrong_types.ndjson"));
    assert_eq!(status, 422, "{body}");
    assert_eq!(counts(&body), (10, 0, 0, 9));
    assert_eq!(body["errors"].as_array().unwrap().len(), 9);
    assert!(app.exported().is_empty(), "strict mode stored something");
    // Duplicates are not errors: strict still stores.
    let (status, body) = app.ingest("?strict=true", fixture_bytes("bad/duplicate_event_ids.ndjson"));
    assert_eq!((status, counts(&body)), (200, (4, 2, 2, 0)));
}

#[test]
fn duplicates_count_within_and_across_batches_and_across_a_restart() {
    let mut app = TestApp::spawn();
    let a = canonical("dup-a", "2026-11-23T12:00:00Z", "gpt-4o-mini", 100, 20);
    let b = canonical("dup-b", "2026-11-23T12:00:01Z", "gpt-4o-mini", 100, 20);
    let (_, body) = app.ingest("", format!("{a}\n{a}\n{b}\n").into_bytes());
    assert_eq!(counts(&body), (3, 2, 1, 0));
    let (_, body) = app.ingest("", format!("{b}\n{a}\n").into_bytes());
    assert_eq!(counts(&body), (2, 0, 2, 0));
    app.restart();
    let (_, body) = app.ingest("", format!("{a}\n{b}\n").into_bytes());
    assert_eq!(counts(&body), (2, 0, 2, 0));
    // The same event id from another source is another event.
    let other = json!({"event_id": "dup-a", "source": "litellm", "ts": "2026-11-23T12:00:00Z",
        "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1, "output_tokens": 1});
    let (_, body) = app.ingest("", other.to_string().into_bytes());
    assert_eq!(counts(&body), (1, 1, 0, 0));
    assert_eq!(app.exported().len(), 3);
}

#[test]
fn unreadable_bodies_get_clear_errors_and_change_nothing() {
    let app = TestApp::spawn_with(&["--max-body", "64KiB"], &[]);
    let seed = canonical("keep-me", "2026-11-23T12:00:00Z", "gpt-4o-mini", 100, 20);
    assert_eq!(app.ingest("", seed.into_bytes()).0, 200);

    type Case<'a> = (&'a str, Vec<u8>, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("empty", Vec::new(), vec![], 400, "empty_body"),
        ("whitespace", b"\n  \n".to_vec(), vec![], 400, "empty_body"),
        ("not json", b"hello world".to_vec(), vec![], 400, "invalid_json"),
        (
            "broken array",
            b"[{\"a\":1},".to_vec(),
            vec![],
            400,
            "invalid_json",
        ),
        (
            "unknown format",
            b"{\"hello\":\"world\"}".to_vec(),
            vec![],
            400,
            "unknown_format",
        ),
        (
            "form content type",
            b"a=b".to_vec(),
            vec![("content-type", "application/x-www-form-urlencoded")],
            415,
            "unsupported_media_type",
        ),
        (
            "too large",
            vec![b' '; 70 * 1024],
            vec![],
            413,
            "payload_too_large",
        ),
        (
            "gzip bomb",
            gzip(&vec![b' '; 8 * 1024 * 1024]),
            vec![("content-encoding", "gzip")],
            413,
            "payload_too_large",
        ),
    ];
    for (name, body, headers, status, code) in cases {
        let mut all_headers = vec![("content-type", "application/x-ndjson")];
        all_headers.retain(|(key, _)| !headers.iter().any(|(k, _)| k == key));
        all_headers.extend(headers);
        let (got_status, got) = app.ingest_with("", body, &all_headers);
        assert_eq!(got_status, status, "{name}: {got}");
        assert_eq!(got["error"]["code"], code, "{name}: {got}");
        assert!(got["error"]["message"].is_string(), "{name}");
    }
    let (status, got) = app.ingest("?format=nonsense", b"{}".to_vec());
    assert_eq!(
        (status, got["error"]["code"].as_str()),
        (400, Some("invalid_parameter"))
    );
    let rows = app.exported();
    assert_eq!(rows.len(), 1, "bad requests changed the store");
    assert_eq!(rows[0]["event_id"], "keep-me");
}

#[test]
fn a_forced_format_parses_field_by_field() {
    let app = TestApp::spawn();
    let (status, body) = app.ingest("?format=canonical", b"{\"hello\":\"world\"}\n".to_vec());
    assert_eq!(status, 200, "{body}");
    assert_eq!(counts(&body), (1, 0, 0, 1));
    assert_eq!(body["errors"][0]["code"], "unknown_field");
}
