//! Tests of the `litellm` adapter through [`parse_body`]: golden fixtures, both shapes, token
//! repairs, outcomes, attribution and attempt chains.

use serde_json::{Value, json};

use super::*;
use crate::ingest::golden::{EXPECTED_FIELDS, assert_golden, fixture_path, parse_fixture, record_json};
use crate::ingest::{FormatChoice, ParsedBatch, RejectCode, parse_body};
use crate::model::{ErrorType, UNASSIGNED_TEAM};

fn ctx() -> ParseContext {
    ParseContext {
        now: DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .unwrap()
            .into(),
    }
}

fn parse_values(records: &[Value], choice: FormatChoice) -> ParsedBatch {
    let body: Vec<String> = records.iter().map(Value::to_string).collect();
    parse_body(body.join("\n").as_bytes(), choice, &ctx()).unwrap()
}

fn one_record(record: Value) -> UsageRecord {
    let batch = parse_values(&[record], FormatChoice::Auto);
    assert_eq!(batch.format, Some(Source::Litellm));
    assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
    batch.accepted.into_iter().next().unwrap().record
}

fn one_rejection(record: Value) -> (Option<String>, RejectCode) {
    let batch = parse_values(&[record], FormatChoice::Auto);
    assert_eq!(batch.format, Some(Source::Litellm));
    assert!(batch.accepted.is_empty());
    let rejected = batch.rejected.into_iter().next().unwrap();
    (rejected.field, rejected.code)
}

/// A small successful OpenAI payload; tests change what they exercise.
fn payload() -> Value {
    json!({
        "id": "chatcmpl-unit-1",
        "trace_id": "trace-unit-1",
        "call_type": "acompletion",
        "stream": null,
        "response_cost": 0.000027,
        "response_cost_failure_debug_info": null,
        "status": "success",
        "custom_llm_provider": "openai",
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
        "startTime": 1795420931.412,
        "endTime": 1795420932.5,
        "completionStartTime": 1795420932.5,
        "model_map_information": {"model_map_key": "gpt-4o-mini", "model_map_value": null},
        "model": "gpt-4o-mini",
        "model_group": "gpt-4o-mini",
        "metadata": {
            "user_api_key_hash": "7f1c2e4b9a0d",
            "user_api_key_team_alias": "search",
            "user_api_key_user_id": "alice@example.com",
            "spend_logs_metadata": {"env": "prod"}
        },
        "cache_hit": null,
        "request_tags": ["feature:kb-search"],
        "end_user": "",
        "response": {
            "model": "gpt-4o-mini-2024-07-18",
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
        },
        "error_str": null,
        "error_information": {"error_code": "", "error_class": "", "llm_provider": "", "traceback": "", "error_message": ""},
        "hidden_params": {}
    })
}

fn failure(mut record: Value, code: &str, class: &str, message: &str) -> Value {
    record["status"] = json!("failure");
    record["response"] = Value::Null;
    record["prompt_tokens"] = json!(0);
    record["completion_tokens"] = json!(0);
    record["total_tokens"] = json!(0);
    record["response_cost"] = json!(0.0);
    record["error_information"] =
        json!({"error_code": code, "error_class": class, "llm_provider": "openai", "error_message": message});
    record
}

/// A small spend-table row.
fn spend_row() -> Value {
    json!({
        "request_id": "chatcmpl-unit-row-1",
        "api_key": "19a7b5c3d1e9",
        "spend": 0.000027,
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
        "startTime": "2026-11-23T08:02:11.412000+00:00",
        "endTime": "2026-11-23T08:02:12.500000+00:00",
        "completionStartTime": "2026-11-23T08:02:12.500000+00:00",
        "model": "gpt-4o-mini",
        "model_group": "gpt-4o-mini",
        "custom_llm_provider": "openai",
        "user": "bob@example.com",
        "team_id": "team-uuid-1",
        "metadata": {"spend_logs_metadata": {"env": "prod"}},
        "cache_hit": "False",
        "request_tags": [],
        "end_user": "",
        "session_id": null,
        "status": "success"
    })
}

#[test]
fn golden_payloads() {
    assert_golden(
        "litellm/sample.ndjson",
        "litellm/sample.expected.ndjson",
        Source::Litellm,
        (11, 11, 0),
    );
}

#[test]
fn golden_spend_logs() {
    assert_golden(
        "litellm/spend_logs.json",
        "litellm/spend_logs.expected.ndjson",
        Source::Litellm,
        (7, 7, 0),
    );
}

#[test]
fn mixed_formats_keep_only_the_litellm_record() {
    let batch = parse_fixture("bad/mixed_formats.json");
    assert_eq!(batch.format, Some(Source::Litellm));
    assert_eq!(
        (batch.received, batch.accepted.len(), batch.rejected.len()),
        (3, 1, 2)
    );
    for (rejected, index) in batch.rejected.iter().zip([1, 2]) {
        assert_eq!(rejected.index, index);
        assert_eq!(rejected.line, None);
        assert_eq!(rejected.field, None);
        assert_eq!(rejected.code, RejectCode::FormatMismatch);
    }
    // The LiteLLM record maps to the first row of the payload fixture's expectations.
    let expected = std::fs::read_to_string(fixture_path("litellm/sample.expected.ndjson")).unwrap();
    let want: Value = serde_json::from_str(expected.lines().next().unwrap()).unwrap();
    let got = record_json(&batch.accepted[0].record);
    for field in EXPECTED_FIELDS {
        assert_eq!(want[*field], got[*field], "{field}");
    }
}

#[test]
fn datadog_entries_are_unwrapped() {
    let fixture = std::fs::read_to_string(fixture_path("litellm/sample.ndjson")).unwrap();
    let payload = fixture.lines().next().unwrap();
    let entry = json!({
        "ddsource": "litellm",
        "ddtags": "env:prod",
        "hostname": "proxy-1",
        "message": payload,
        "service": "litellm-server",
        "status": "info"
    });
    let batch = parse_body(entry.to_string().as_bytes(), FormatChoice::Auto, &ctx()).unwrap();
    assert_eq!(batch.format, Some(Source::Litellm));
    assert_eq!((batch.received, batch.accepted.len()), (1, 1));
    let record = &batch.accepted[0].record;
    assert_eq!(
        record.event_id.as_str(),
        "chatcmpl-ab11619f-4a2d-420d-bb7b-ebe6a955f9ce"
    );
    assert_eq!(record.model, "gpt-4o-mini-2024-07-18");
    assert_eq!(record.tokens.input().get(), 1250);
}

#[test]
fn naive_string_timestamps_mean_utc() {
    let mut record = payload();
    record["startTime"] = json!("2026-11-23 08:02:11.412000");
    record["endTime"] = json!("2026-11-23 08:02:12.500000");
    record["completionStartTime"] = json!("2026-11-23 08:02:11.900000");
    record["stream"] = json!(true);
    let record = one_record(record);
    assert_eq!(record.ts.to_rfc3339(), "2026-11-23T08:02:11.412+00:00");
    assert!((record.latency_ms.unwrap() - 1088.0).abs() < 1e-9);
    assert!((record.ttft_ms.unwrap() - 488.0).abs() < 1e-9);
    // A numeric string is epoch seconds, as the number would be.
    let mut numeric = payload();
    numeric["startTime"] = json!("1795420931.412");
    assert_eq!(
        one_record(numeric).ts.to_rfc3339(),
        "2026-11-23T08:02:11.412+00:00"
    );
}

#[test]
fn ttft_only_for_streams_and_before_the_end() {
    let mut streamed = payload();
    streamed["stream"] = json!(true);
    streamed["completionStartTime"] = json!(1795420931.912);
    assert!((one_record(streamed.clone()).ttft_ms.unwrap() - 500.0).abs() < 1e-9);
    streamed["stream"] = Value::Null;
    assert_eq!(one_record(streamed).ttft_ms, None);
    let mut ended = payload();
    ended["stream"] = json!(true);
    assert_eq!(one_record(ended).ttft_ms, None);
}

#[test]
fn old_anthropic_prompt_tokens_get_the_missing_cache_writes() {
    let mut record = payload();
    record["custom_llm_provider"] = json!("anthropic");
    // Older LiteLLM: prompt_tokens = 380 uncached + 1,000 reads, without the 18,240 writes.
    record["prompt_tokens"] = json!(1380);
    record["response"]["model"] = json!("claude-sonnet-4-20250514");
    record["response"]["usage"] = json!({
        "prompt_tokens": 1380,
        "completion_tokens": 20,
        "prompt_tokens_details": {"cached_tokens": 1000, "text_tokens": 380, "cache_creation_tokens": 18240,
            "cache_creation_token_details": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 18240}},
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 18240
    });
    let record = one_record(record);
    assert_eq!(record.tokens.input().get(), 19_620);
    assert_eq!(record.tokens.cached_input().get(), 1000);
    assert_eq!(record.tokens.cache_write().get(), 18_240);
    assert_eq!(record.tokens.cache_write_1h().get(), 18_240);
}

#[test]
fn gemini_thoughts_not_folded_in_are_added_by_the_sum_test() {
    let mut record = payload();
    record["custom_llm_provider"] = json!("gemini");
    record["completion_tokens"] = json!(240);
    record["total_tokens"] = json!(950);
    record["response"]["usage"] =
        json!({"completion_tokens_details": {"reasoning_tokens": 610, "text_tokens": 240}});
    let record_out = one_record(record.clone());
    assert_eq!(record_out.tokens.output().get(), 850);
    assert_eq!(record_out.tokens.reasoning().get(), 610);
    // Folded (current LiteLLM): taken at face value.
    record["completion_tokens"] = json!(850);
    assert_eq!(one_record(record).tokens.output().get(), 850);
}

#[test]
fn usage_falls_back_to_the_usage_object() {
    let mut record = payload();
    record["response"] = json!("redacted by litellm");
    record["hidden_params"] = json!({"usage_object": {"prompt_tokens_details": {"cached_tokens": 64}}});
    let record = one_record(record);
    assert_eq!(record.tokens.cached_input().get(), 64);
    // Without a response model, the price-map key names the model.
    assert_eq!(record.model, "gpt-4o-mini");
}

#[test]
fn fallback_models_lose_their_provider_prefix() {
    let mut record = payload();
    record["response"] = Value::Null;
    record["custom_llm_provider"] = json!("bedrock");
    record["model_map_information"] = json!({"model_map_key": null});
    record["model"] = json!("bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0");
    record["model_group"] = Value::Null;
    let record = one_record(record);
    assert_eq!(record.model, "us.anthropic.claude-sonnet-4-20250514-v1:0");
    assert_eq!(
        record.model_requested,
        "us.anthropic.claude-sonnet-4-20250514-v1:0"
    );
    assert_eq!(record.provider, Provider::Bedrock);
}

#[test]
fn zero_cost_is_null_unless_error_or_cache_hit() {
    let mut unpriced = payload();
    unpriced["response_cost"] = json!(0.0);
    assert_eq!(one_record(unpriced.clone()).reported_cost_usd, None);
    let mut cache_hit = unpriced.clone();
    cache_hit["id"] = json!("chatcmpl-unit-1_cache_hit1795478400.0042129");
    let cache_hit = one_record(cache_hit);
    assert!(
        cache_hit.cache_hit,
        "the id suffix marks a cache hit when `cache_hit` is null"
    );
    assert_eq!(cache_hit.reported_cost_usd, Some(Usd::ZERO));
    let debug = {
        let mut record = payload();
        record["response_cost_failure_debug_info"] = json!({"error_str": "This model isn't mapped yet."});
        record
    };
    assert_eq!(one_record(debug).reported_cost_usd, None);
    let exact = one_record(payload()).reported_cost_usd.unwrap();
    assert_eq!(exact.as_decimal().to_string(), "0.000027");
}

#[test]
fn failures_map_status_and_error_type() {
    let cases = [
        ("429", "RateLimitError", "", 429, ErrorType::RateLimit),
        ("", "RateLimitError", "", 429, ErrorType::RateLimit),
        (
            "",
            "ContextWindowExceededError",
            "",
            400,
            ErrorType::ContextLength,
        ),
        (
            "400",
            "BadRequestError",
            "context_length_exceeded: too long",
            400,
            ErrorType::ContextLength,
        ),
        (
            "400",
            "BadRequestError",
            "invalid tool schema",
            400,
            ErrorType::BadRequest,
        ),
        ("", "litellm.exceptions.Timeout", "", 408, ErrorType::Timeout),
        ("503", "ServiceUnavailableError", "", 503, ErrorType::Overloaded),
        (
            "529",
            "InternalServerError",
            "overloaded_error",
            529,
            ErrorType::Overloaded,
        ),
        (
            "",
            "APIConnectionError",
            "connection reset",
            500,
            ErrorType::ServerError,
        ),
        ("", "PermissionDeniedError", "", 403, ErrorType::Auth),
        ("", "BudgetExceededError", "", 400, ErrorType::BudgetExceeded),
    ];
    for (code, class, message, status, kind) in cases {
        let record = one_record(failure(payload(), code, class, message));
        assert_eq!(record.status_code, status, "{class}");
        assert_eq!(record.error_type, Some(kind), "{class}");
        assert_eq!(
            record.reported_cost_usd,
            Some(Usd::ZERO),
            "zeros on errors are kept"
        );
    }
    let mut budget = failure(payload(), "429", "RateLimitError", "");
    budget["error_information"]["error_budget_max"] = json!(10.0);
    assert_eq!(one_record(budget).error_type, Some(ErrorType::BudgetExceeded));
    let out_of_range = failure(payload(), "0", "APIError", "");
    assert_eq!(
        one_rejection(out_of_range),
        (
            Some("error_information.error_code".to_owned()),
            RejectCode::InvalidValue
        )
    );
}

#[test]
fn fallback_chains_link_attempts() {
    let mut first = failure(payload(), "429", "RateLimitError", "");
    first["id"] = json!("attempt-1");
    first["custom_llm_provider"] = json!("azure");
    first["model_map_information"] = json!({"model_map_key": "azure/gpt-4.1"});
    first["model"] = json!("gpt-4.1");
    first["model_group"] = json!("gpt-4.1");
    let mut retry = first.clone();
    retry["id"] = json!("attempt-2");
    retry["startTime"] = json!(1795420932.6);
    retry["endTime"] = json!(1795420932.9);
    let mut served = payload();
    served["id"] = json!("attempt-3");
    served["startTime"] = json!(1795420933.0);
    served["endTime"] = json!(1795420935.0);
    served["model_group"] = json!("claude-sonnet");
    served["response"]["model"] = json!("claude-sonnet-4-20250514");
    let mut unrelated = payload();
    unrelated["id"] = json!("other-trace");
    unrelated["trace_id"] = json!("trace-unit-2");
    // Out of order on purpose: the chain is ordered by start time.
    let batch = parse_values(&[served, unrelated, retry, first], FormatChoice::Auto);
    assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
    let by_id = |id: &str| {
        batch
            .accepted
            .iter()
            .find(|row| row.record.event_id.as_str() == id)
            .map(|row| row.record.clone())
            .unwrap()
    };
    let served = by_id("attempt-3");
    assert_eq!(served.attempts, 3);
    assert_eq!(served.fallback_from.as_deref(), Some("gpt-4.1"));
    assert_eq!(served.route.as_deref(), Some("fallback"));
    assert_eq!(served.model_requested, "gpt-4.1");
    let retry = by_id("attempt-2");
    assert_eq!(
        (retry.attempts, retry.route.clone(), retry.fallback_from.clone()),
        (2, None, None)
    );
    assert_eq!(by_id("attempt-1").attempts, 1);
    let unrelated = by_id("other-trace");
    assert_eq!((unrelated.attempts, unrelated.route), (1, None));
}

#[test]
fn a_retry_of_the_same_model_is_not_a_fallback() {
    let mut first = failure(payload(), "500", "InternalServerError", "");
    first["model_map_information"] = json!({"model_map_key": "gpt-4o-mini-2024-07-18"});
    let mut served = payload();
    served["id"] = json!("chatcmpl-unit-2");
    served["startTime"] = json!(1795420940.0);
    served["endTime"] = json!(1795420941.0);
    let batch = parse_values(&[first, served], FormatChoice::Auto);
    let served = &batch.accepted[1].record;
    assert_eq!(
        (
            served.attempts,
            served.fallback_from.clone(),
            served.route.clone()
        ),
        (2, None, None)
    );
}

#[test]
fn tags_and_attribution() {
    let mut record = payload();
    record["request_tags"] = json!([
        "env:staging",
        "nightly-batch",
        "url:https://x.example/a",
        "project:kb"
    ]);
    record["metadata"]["spend_logs_metadata"] =
        json!({"env": "prod", "retries": 2, "beta": true, "nested": {"a": 1}});
    record["end_user"] = json!("u_1042");
    let record = one_record(record);
    let tags: Vec<(&str, &str)> = record.tags.iter().collect();
    // `spend_logs_metadata` comes after `request_tags` (its `env` wins), non-scalars are
    // skipped and the reserved `project` key is lifted out.
    assert_eq!(
        tags,
        [
            ("beta", "true"),
            ("env", "prod"),
            ("nightly-batch", "true"),
            ("retries", "2"),
            ("url", "https://x.example/a"),
        ]
    );
    assert_eq!(record.team, "search");
    assert_eq!(
        record.project.as_deref(),
        Some("kb"),
        "a `project` tag fills a gap in the key"
    );
    assert_eq!(record.user_id.as_deref(), Some("u_1042"));
    assert_eq!(record.api_key_id.unwrap().as_str(), "7f1c2e4b9a0d");
    let mut anonymous = payload();
    anonymous["metadata"] = json!({});
    let anonymous = one_record(anonymous);
    assert_eq!(
        (anonymous.team.as_str(), anonymous.user_id),
        (UNASSIGNED_TEAM, None)
    );
}

/// The payload with one field replaced; `path` is a `/`-separated list of object keys.
fn changed(path: &str, value: Value) -> Value {
    let mut record = payload();
    let mut target = &mut record;
    for key in path.split('/') {
        target = &mut target[key];
    }
    *target = value;
    record
}

#[test]
fn malformed_fields_name_the_native_path() {
    use RejectCode::{FieldTooLong, InvalidType, InvalidValue, MissingField};
    let cached_over_prompt = json!({"cached_tokens": 500});
    let cases = [
        ("prompt_tokens", json!(-5), "prompt_tokens", InvalidValue),
        ("completion_tokens", json!(12.5), "completion_tokens", InvalidType),
        ("id", Value::Null, "id", MissingField),
        ("startTime", json!("not-a-date"), "startTime", InvalidValue),
        ("startTime", json!(true), "startTime", InvalidType),
        ("endTime", json!(1795420900.0), "endTime", InvalidValue),
        ("response_cost", json!(-0.1), "response_cost", InvalidValue),
        ("response_cost", json!(true), "response_cost", InvalidType),
        ("status", json!("partial"), "status", InvalidValue),
        ("request_tags", json!("env:prod"), "request_tags", InvalidType),
        ("metadata", json!([1]), "metadata", InvalidType),
        (
            "metadata/user_api_key_hash",
            json!("sk-proj-abc123"),
            "metadata.user_api_key_hash",
            InvalidValue,
        ),
        (
            "response/usage/prompt_tokens_details",
            cached_over_prompt,
            "response.usage.prompt_tokens_details.cached_tokens",
            InvalidValue,
        ),
        (
            "response/usage/completion_tokens_details/reasoning_tokens",
            json!("x"),
            "response.usage.completion_tokens_details.reasoning_tokens",
            InvalidType,
        ),
        (
            "metadata/user_api_key_team_alias",
            json!("t".repeat(300)),
            "metadata.user_api_key_team_alias",
            FieldTooLong,
        ),
    ];
    for (path, value, field, code) in cases {
        assert_eq!(
            one_rejection(changed(path, value)),
            (Some(field.to_owned()), code),
            "{path}"
        );
    }
}

#[test]
fn spend_rows_cache_hits_latency_and_errors() {
    let row = one_record(spend_row());
    assert_eq!(row.team, "team-uuid-1", "no alias column: the team id");
    assert_eq!(row.user_id.as_deref(), Some("bob@example.com"));
    assert_eq!(row.api_key_id.unwrap().as_str(), "19a7b5c3d1e9");
    assert!((row.latency_ms.unwrap() - 1088.0).abs() < 1e-9);
    assert_eq!(row.ttft_ms, None);

    let mut hit = spend_row();
    hit["cache_hit"] = json!("True");
    hit["spend"] = json!(0.0);
    hit["request_duration_ms"] = json!(12);
    let hit = one_record(hit);
    assert!(hit.cache_hit);
    assert_eq!(hit.reported_cost_usd, Some(Usd::ZERO));
    assert_eq!(hit.latency_ms, Some(12.0));

    let mut unpriced = spend_row();
    unpriced["spend"] = json!(0.0);
    assert_eq!(one_record(unpriced).reported_cost_usd, None);

    let mut failed = spend_row();
    failed["status"] = json!("failure");
    failed["metadata"]["error_information"] = json!({"error_code": 404, "error_class": "NotFoundError"});
    let failed = one_record(failed);
    assert_eq!(
        (failed.status_code, failed.error_type),
        (404, Some(ErrorType::NotFound))
    );

    let mut garbage = spend_row();
    garbage["cache_hit"] = json!("maybe");
    assert_eq!(
        one_rejection(garbage),
        (Some("cache_hit".to_owned()), RejectCode::InvalidValue)
    );
    let mut raw_key = spend_row();
    raw_key["api_key"] = json!("sk-live-secret");
    assert_eq!(
        one_rejection(raw_key),
        (Some("api_key".to_owned()), RejectCode::InvalidValue)
    );
}

#[test]
fn spend_log_pages_and_sessions() {
    let mut failed = spend_row();
    failed["request_id"] = json!("row-1");
    failed["session_id"] = json!("session-1");
    failed["status"] = json!("failure");
    failed["model"] = json!("gpt-4.1");
    failed["model_group"] = json!("gpt-4.1");
    failed["custom_llm_provider"] = json!("azure");
    failed["metadata"]["error_information"] = json!({"error_code": "429", "error_class": "RateLimitError"});
    let mut served = spend_row();
    served["request_id"] = json!("row-2");
    served["session_id"] = json!("session-1");
    served["startTime"] = json!("2026-11-23T08:02:13Z");
    served["endTime"] = json!("2026-11-23T08:02:14Z");
    served["model"] = json!("claude-sonnet-4-20250514");
    served["model_group"] = json!("claude-sonnet");
    let page = json!({"data": [failed, served], "total": 2, "page": 1, "page_size": 50, "total_pages": 1});
    let batch = parse_body(page.to_string().as_bytes(), FormatChoice::Auto, &ctx()).unwrap();
    assert_eq!(batch.format, Some(Source::Litellm));
    assert_eq!(batch.accepted.len(), 2);
    let served = &batch.accepted[1].record;
    assert_eq!(served.fallback_from.as_deref(), Some("gpt-4.1"));
    assert_eq!((served.attempts, served.model_requested.as_str()), (2, "gpt-4.1"));
}

#[test]
fn garbage_gives_errors_not_panics() {
    let bodies: [&[u8]; 8] = [
        br#"{"id": 5, "response_cost": "x", "startTime": [], "hidden_params": 1}"#,
        br#"{"request_id": {}, "spend": "abc", "api_key": 1, "startTime": "2026-13-45"}"#,
        br#"{"id": "x", "response_cost": 1e400, "startTime": 1e30, "hidden_params": {}}"#,
        br#"{"id": "x", "response_cost": 0, "startTime": -99999999999999999999, "hidden_params": {}}"#,
        br#"{"id": "x", "response_cost": 0, "startTime": 1, "hidden_params": {}, "prompt_tokens": 1, "completion_tokens": 1, "status": "failure", "error_information": {"error_code": "99999999999999999999999"}}"#,
        br#"[1, "two", null, {"id": "\u00e9\ud83d\ude00", "startTime": "\u0000"}]"#,
        br#"{"anything": "else"}"#,
        br#"{"id": "x", "response_cost": 0, "startTime": 1, "call_type": "c", "custom_llm_provider": "openai", "prompt_tokens": 1, "completion_tokens": 1, "request_tags": [":", "::", "", 5, null, {}], "model": "/"}"#,
    ];
    for body in bodies {
        for choice in [FormatChoice::Auto, FormatChoice::Forced(Source::Litellm)] {
            // Whole-body errors (unknown format) are fine; what matters is that nothing panics.
            if let Ok(batch) = parse_body(body, choice, &ctx()) {
                assert_eq!(batch.received, batch.accepted.len() + batch.rejected.len());
            }
        }
    }
    let forced = parse_body(
        br#"{"anything": "else"}"#,
        FormatChoice::Forced(Source::Litellm),
        &ctx(),
    )
    .unwrap();
    assert_eq!(forced.rejected[0].field.as_deref(), Some("id"));
    assert_eq!(forced.rejected[0].code, RejectCode::MissingField);
}

#[test]
fn one_hour_cache_writes_and_the_service_tier_are_read() {
    let line = r#"{"id":"chatcmpl-tier","call_type":"acompletion","custom_llm_provider":"anthropic","response_cost":0.01,
        "startTime":1795420800.0,"endTime":1795420801.0,"model":"claude-sonnet-4-20250514","status":"success",
        "prompt_tokens":3000,"completion_tokens":10,"total_tokens":3010,"hidden_params":{},
        "response":{"model":"claude-sonnet-4-20250514","service_tier":"priority","usage":{"prompt_tokens":3000,
        "completion_tokens":10,"prompt_tokens_details":{"cached_tokens":0,"cache_creation_tokens":2000,
        "cache_creation_token_details":{"ephemeral_5m_input_tokens":500,"ephemeral_1h_input_tokens":1500}}}}}"#
        .replace('\n', " ");
    let batch = crate::ingest::parse_body(
        line.as_bytes(),
        crate::ingest::FormatChoice::Auto,
        &crate::ingest::ParseContext::now(),
    )
    .unwrap();
    assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
    let record = &batch.accepted[0].record;
    assert_eq!(record.tokens.cache_write().get(), 2000);
    assert_eq!(record.tokens.cache_write_1h().get(), 1500);
    assert_eq!(record.service_tier, crate::model::ServiceTier::Priority);
}
