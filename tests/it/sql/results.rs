//! Results: a group-by against the spend report, every format, JSON value types, the views,
//! DuckDB's messages for invalid SQL.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::support::*;

#[test]
fn a_group_by_over_events_matches_the_spend_report() {
    let app = sample_app(&[]);
    let (status, body) = sql(
        &app,
        json!({"sql": "SELECT team, sum(request_count) AS requests, sum(input_tokens) AS input_tokens, sum(cost_usd) AS cost_usd
                        FROM events WHERE ts >= '2026-11-23' AND ts < '2026-11-25' GROUP BY team ORDER BY team"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["columns"],
        json!([{"name": "team", "type": "VARCHAR"}, {"name": "requests", "type": "DECIMAL(38,0)"},
               {"name": "input_tokens", "type": "DECIMAL(38,0)"}, {"name": "cost_usd", "type": "DECIMAL(38,12)"}])
    );
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["columns", "rows", "row_count", "truncated", "elapsed_ms"]
    );
    assert_eq!(body["truncated"], json!(false));
    assert!(body["elapsed_ms"].is_u64());
    let report = app.spend("from=2026-11-23&to=2026-11-25&group_by=team");
    let expected: BTreeMap<String, (u64, u64, Decimal)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let team = row["team"].as_str().unwrap().to_owned();
            let cost = row["cost_usd"]
                .as_str()
                .map_or(Decimal::ZERO, |text| text.parse().unwrap());
            (
                team,
                (
                    row["requests"].as_u64().unwrap(),
                    row["input_tokens"].as_u64().unwrap(),
                    cost,
                ),
            )
        })
        .collect();
    let got: BTreeMap<String, (u64, u64, Decimal)> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let cost = if row["cost_usd"].is_null() {
                Decimal::ZERO
            } else {
                dec(&row["cost_usd"])
            };
            (
                row["team"].as_str().unwrap().to_owned(),
                (
                    row["requests"].as_u64().unwrap(),
                    row["input_tokens"].as_u64().unwrap(),
                    cost,
                ),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(body["row_count"].as_u64(), Some(expected.len() as u64));
    // Money stays an exact string with its twelve places.
    let one = rows(
        &app,
        "SELECT cost_usd FROM events WHERE cost_usd > 0 ORDER BY cost_usd LIMIT 1",
    );
    assert!(
        one[0]["cost_usd"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap()
            .len()
            == 12,
        "{one:?}"
    );
}

#[test]
fn every_output_format_parses() {
    let app = sample_app(&[]);
    let query = "SELECT team, count(*) AS requests, sum(cost_usd) AS cost_usd, max(ts) AS last_ts, any_value(tags) AS tags
                 FROM events GROUP BY team ORDER BY team";
    let json_rows = rows(&app, query);
    assert_eq!(json_rows.len(), 4);

    // CSV, by the body's format and by Accept.
    for (body, accept) in [
        (json!({"sql": query, "format": "csv"}), None),
        (json!({"sql": query}), Some("text/csv")),
    ] {
        let (status, headers, bytes) = post_sql(&app, body, accept);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/csv"));
        assert_eq!(headers["x-row-count"], "4");
        assert_eq!(headers["x-truncated"], "false");
        let text = String::from_utf8(bytes).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("team,requests,cost_usd,last_ts,tags"));
        let first = lines.next().unwrap();
        let team = json_rows[0]["team"].as_str().unwrap();
        let cost = json_rows[0]["cost_usd"].as_str().unwrap();
        assert!(
            first.starts_with(&format!("{team},{},{cost},", json_rows[0]["requests"])),
            "{first}"
        );
        assert_eq!(text.lines().count(), 5);
    }

    // Parquet, read back with polars: same rows, money still DECIMAL(38,12).
    let (status, headers, bytes) = post_sql(&app, json!({"sql": query, "format": "parquet"}), None);
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/vnd.apache.parquet");
    use polars::prelude::SerReader;
    let frame = polars::prelude::ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .unwrap();
    assert_eq!(frame.height(), 4);
    assert_eq!(
        frame
            .get_column_names()
            .iter()
            .map(|name| name.as_str())
            .collect::<Vec<_>>(),
        ["team", "requests", "cost_usd", "last_ts", "tags"]
    );
    assert_eq!(
        frame.column("cost_usd").unwrap().dtype(),
        &polars::prelude::DataType::Decimal(Some(38), Some(12))
    );
    let team = frame.column("team").unwrap().get(0).unwrap();
    assert_eq!(team.get_str(), json_rows[0]["team"].as_str());

    // Arrow IPC stream, by Accept, read back with polars-arrow's stream reader.
    let (status, headers, bytes) = post_sql(
        &app,
        json!({"sql": query}),
        Some("application/vnd.apache.arrow.stream"),
    );
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/vnd.apache.arrow.stream");
    use polars_arrow::io::ipc::read::{StreamReader, StreamState, read_stream_metadata};
    let mut cursor = std::io::Cursor::new(bytes);
    let metadata = read_stream_metadata(&mut cursor).unwrap();
    let names: Vec<String> = metadata
        .schema
        .iter_names()
        .map(|name| name.to_string())
        .collect();
    assert_eq!(names, ["team", "requests", "cost_usd", "last_ts", "tags"]);
    assert_eq!(
        metadata.schema.get("cost_usd").unwrap().dtype,
        polars_arrow::datatypes::ArrowDataType::Decimal(38, 12)
    );
    let mut read_rows = 0;
    for state in StreamReader::new(cursor, metadata, None) {
        if let StreamState::Some(chunk) = state.unwrap() {
            read_rows += chunk.len();
        }
    }
    assert_eq!(read_rows, 4);

    // An empty result is a well-formed document in every format.
    for format in ["json", "csv", "arrow", "parquet"] {
        let (status, _, bytes) = post_sql(
            &app,
            json!({"sql": "SELECT team FROM events WHERE false", "format": format}),
            None,
        );
        assert_eq!(status, 200, "{format}: {}", String::from_utf8_lossy(&bytes));
        assert!(!bytes.is_empty(), "{format}");
    }
    let (status, body) = sql(&app, json!({"sql": "SELECT 1", "format": "xml"}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_parameter"))
    );
}

#[test]
fn values_keep_their_types_in_json() {
    let app = TestApp::spawn();
    let row = &rows(
        &app,
        "SELECT 1 AS i, 2.5::DOUBLE AS d, 0.000125::DECIMAL(38,12) AS money, 1.5::DECIMAL(38,18) AS unit_price,
                TRUE AS b, NULL AS n, DATE '2026-11-23' AS day, TIMESTAMP '2026-11-23 10:00:00.5' AS ts,
                [1, 2] AS list, {'a': 1} AS object, MAP {'env': 'prod'} AS tags, INTERVAL 3 DAY AS gap,
                'x'::BLOB AS bytes, 'ab' AS s, 'ab' AS s, 12345678901234567890::HUGEINT AS big",
    )[0];
    assert_eq!(
        row,
        &json!({"i": 1, "d": 2.5, "money": "0.000125000000", "unit_price": "1.500000000000000000",
                "b": true, "n": null, "day": "2026-11-23", "ts": "2026-11-23T10:00:00.500Z",
                "list": [1, 2], "object": {"a": 1}, "tags": {"env": "prod"}, "gap": "3 days",
                "bytes": "\\x78", "s": "ab", "s_1": "ab", "big": "12345678901234567890"})
    );
}

#[test]
fn the_views_are_documented_and_describable() {
    let app = TestApp::spawn();
    let expected: &[(&str, &[&str])] = &[
        (
            "events",
            &[
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
                "model_key",
                "route",
                "fallback_from",
                "input_tokens",
                "output_tokens",
                "cached_input_tokens",
                "cache_write_tokens",
                "cache_write_1h_tokens",
                "reasoning_tokens",
                "service_tier",
                "cost_usd",
                "list_cost_usd",
                "reported_cost_usd",
                "cost_source",
                "price_id",
                "contract_id",
                "request_count",
                "attempts",
                "latency_ms",
                "ttft_ms",
                "status_code",
                "is_error",
                "error_type",
                "cache_hit",
                "ingested_at",
                "cache_savings_usd",
                "cache_hit_savings_usd",
            ],
        ),
        (
            "rollup_hourly",
            &[
                "hour",
                "source",
                "team",
                "project",
                "provider",
                "model_key",
                "model_requested",
                "route",
                "fallback_from",
                "status_code",
                "error_type",
                "cost_source",
                "service_tier",
                "cache_hit",
                "requests",
                "records",
                "errors",
                "attempts",
                "input_tokens",
                "output_tokens",
                "cached_input_tokens",
                "cache_write_tokens",
                "cache_write_1h_tokens",
                "reasoning_tokens",
                "cost_usd",
                "list_cost_usd",
                "reported_cost_usd",
                "reported_requests",
                "unpriced_requests",
                "cache_savings_usd",
                "cache_hit_savings_usd",
                "latency_ms_sum",
                "latency_count",
                "ttft_ms_sum",
                "ttft_count",
            ],
        ),
        (
            "rollup_daily",
            &[
                "day",
                "source",
                "team",
                "project",
                "provider",
                "model_key",
                "model_requested",
                "route",
                "fallback_from",
                "status_code",
                "error_type",
                "cost_source",
                "service_tier",
                "cache_hit",
                "requests",
                "records",
                "errors",
                "attempts",
                "input_tokens",
                "output_tokens",
                "cached_input_tokens",
                "cache_write_tokens",
                "cache_write_1h_tokens",
                "reasoning_tokens",
                "cost_usd",
                "list_cost_usd",
                "reported_cost_usd",
                "reported_requests",
                "unpriced_requests",
                "cache_savings_usd",
                "cache_hit_savings_usd",
                "latency_ms_sum",
                "latency_count",
                "ttft_ms_sum",
                "ttft_count",
            ],
        ),
        (
            "focus_lines",
            &[
                "charge_day",
                "billing_month",
                "charge_class",
                "source",
                "team",
                "project",
                "provider",
                "model_key",
                "price_id",
                "contract_id",
                "meter",
                "service_tier",
                "above_input_tokens",
                "list_unit_price",
                "contracted_unit_price",
                "quantity",
                "requests",
                "list_cost_usd",
                "contracted_cost_usd",
                "unpriced_requests",
            ],
        ),
        (
            "prices",
            &[
                "price_id",
                "layer",
                "provider",
                "model",
                "model_key",
                "effective_from",
                "effective_to",
                "spec",
                "created_at",
            ],
        ),
        (
            "contracts",
            &[
                "contract_id",
                "layer",
                "name",
                "provider",
                "model",
                "team",
                "effective_from",
                "effective_to",
                "spec",
                "created_at",
            ],
        ),
        (
            "budgets",
            &[
                "budget_id",
                "name",
                "period",
                "amount_usd",
                "tz",
                "team",
                "project",
                "api_key",
                "user_id",
                "tag",
                "spec",
                "created_at",
                "updated_at",
            ],
        ),
    ];
    for (view, columns) in expected {
        let described = rows(&app, &format!("DESCRIBE {view}"));
        let names: Vec<&str> = described
            .iter()
            .map(|row| row["column_name"].as_str().unwrap())
            .collect();
        assert_eq!(&names, columns, "DESCRIBE {view}");
        let summarized = rows(&app, &format!("SUMMARIZE {view}"));
        assert_eq!(summarized.len(), columns.len(), "SUMMARIZE {view}");
    }
    let explained = rows(&app, "EXPLAIN SELECT team, count(*) FROM events GROUP BY team");
    assert!(explained[0]["explain_value"].is_string());
    let (status, body) = sql(&app, json!({"sql": "SHOW TABLES"}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("sql_not_allowed")),
        "{body}"
    );
    assert!(
        body["error"]["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("events, rollup_hourly")
    );
}

#[test]
fn invalid_sql_gets_duckdbs_message() {
    let app = TestApp::spawn();
    for (query, fragment) in [
        ("SELEKT 1", "syntax error"),
        ("SELECT nope FROM events", "nope"),
        ("SELECT sum(team) FROM events", "sum"),
        ("SELECT 'a'::INTEGER", "Conversion Error"),
    ] {
        let (status, body) = sql(&app, json!({"sql": query}));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("sql_invalid")),
            "{query}: {body}"
        );
        let error = body["error"].as_object().unwrap();
        assert_eq!(
            error.keys().cloned().collect::<Vec<_>>(),
            ["code", "message", "details"]
        );
        assert!(
            error["message"].as_str().unwrap().contains(fragment),
            "{query}: {body}"
        );
    }
    let (status, body) = sql(&app, json!({"sql": "SELECT 1", "rows": 3}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_json")),
        "{body}"
    );
}
