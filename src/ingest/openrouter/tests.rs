//! Tests of the `openrouter` adapter through [`parse_body`]: golden fixtures of both shapes,
//! detection, error bodies, BYOK costs, attempt chains and malformed fields.

use super::*;
use crate::ingest::golden::{assert_golden, record_json};
use crate::ingest::reject::RejectCode;
use crate::ingest::{FormatChoice, IngestError, parse_body};
use crate::model::UsageRecord;

fn ctx() -> ParseContext {
    ParseContext {
        now: chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .unwrap()
            .into(),
    }
}

fn parse_one(text: &str) -> Result<UsageRecord, FieldError> {
    let obj = Obj::parse(text).unwrap();
    let mut out = Vec::new();
    Openrouter.parse(&obj, &ctx(), &mut out);
    assert_eq!(out.len(), 1);
    out.pop().unwrap().map(|draft| draft.record)
}

/// A minimal generation record with `extra` fields appended (later keys win).
fn generation(extra: &str) -> String {
    let base = r#""id":"gen-1-abc","created_at":"2026-11-23T08:30:12.101000+00:00","model":"openai/gpt-4.1","provider_name":"OpenAI","total_cost":0.01,"native_tokens_prompt":1000,"native_tokens_completion":100,"tokens_prompt":990,"tokens_completion":90"#;
    if extra.is_empty() {
        format!("{{{base}}}")
    } else {
        format!("{{{base},{extra}}}")
    }
}

#[test]
fn golden_generation_stats() {
    assert_golden(
        "openrouter/sample.ndjson",
        "openrouter/sample.expected.ndjson",
        Source::Openrouter,
        (10, 10, 0),
    );
}

#[test]
fn golden_response_bodies() {
    let batch = assert_golden(
        "openrouter/responses.ndjson",
        "openrouter/responses.expected.ndjson",
        Source::Openrouter,
        (5, 4, 1),
    );
    let rejected = &batch.rejected[0];
    assert_eq!(rejected.line, Some(5));
    assert_eq!(rejected.code, RejectCode::MissingField);
    assert_eq!(rejected.field.as_deref(), Some("id"));
}

#[test]
fn forced_format_rejects_the_error_body_the_same_way() {
    let body = std::fs::read(crate::ingest::golden::fixture_path("openrouter/responses.ndjson")).unwrap();
    let batch = parse_body(&body, FormatChoice::Forced(Source::Openrouter), &ctx()).unwrap();
    assert_eq!((batch.received, batch.accepted.len()), (5, 4));
    assert_eq!(batch.rejected[0].field.as_deref(), Some("id"));
    assert_eq!(batch.rejected[0].code, RejectCode::MissingField);
}

#[test]
fn byok_adds_the_upstream_cost_and_refuses_to_guess_without_it() {
    let record = parse_one(&generation(
        r#""is_byok":true,"total_cost":0.0004996,"upstream_inference_cost":0.009992"#,
    ))
    .unwrap();
    assert_eq!(
        record.reported_cost_usd.unwrap().as_decimal().to_string(),
        "0.0104916"
    );
    let record = parse_one(&generation(r#""is_byok":true,"upstream_inference_cost":null"#)).unwrap();
    assert_eq!(record.reported_cost_usd, None);
    // Response bodies: `usage.cost` + `usage.cost_details.upstream_inference_cost`.
    let body = r#"{"id":"gen-2","created":1795422612,"model":"openai/gpt-4.1","provider":"Azure","object":"chat.completion","usage":{"prompt_tokens":10,"completion_tokens":5,"cost":0.001,"is_byok":true,"cost_details":{"upstream_inference_cost":0.02}}}"#;
    let record = parse_one(body).unwrap();
    assert_eq!(
        record.reported_cost_usd.unwrap().as_decimal().to_string(),
        "0.021"
    );
    assert_eq!(record.provider, Provider::Azure);
}

#[test]
fn zero_cost_is_a_real_zero_on_openrouter() {
    let record = parse_one(&generation(r#""total_cost":0"#)).unwrap();
    assert_eq!(record.reported_cost_usd, Some(Usd::ZERO));
}

#[test]
fn costs_are_read_from_their_decimal_text() {
    let record = parse_one(&generation(r#""total_cost":0.07722000000000001"#)).unwrap();
    assert_eq!(
        record.reported_cost_usd.unwrap().as_decimal().to_string(),
        "0.07722000000000001"
    );
}

#[test]
fn cached_count_above_the_prompt_means_the_prompt_excluded_it() {
    let record = parse_one(&generation(
        r#""native_tokens_prompt":800,"native_tokens_cached":18240"#,
    ))
    .unwrap();
    assert_eq!(record.tokens.input().get(), 19_040);
    assert_eq!(record.tokens.cached_input().get(), 18_240);
}

#[test]
fn response_bodies_use_the_total_for_the_sum_test() {
    // Anthropic-style counts: 412 uncached + 18,240 read; the total counts both.
    let body = r#"{"id":"gen-3","created":1795422612,"model":"anthropic/claude-sonnet-4","provider":"Anthropic","object":"chat.completion","usage":{"prompt_tokens":412,"completion_tokens":498,"total_tokens":19150,"cost":0.01,"prompt_tokens_details":{"cached_tokens":18240}}}"#;
    let record = parse_one(body).unwrap();
    assert_eq!(record.tokens.input().get(), 18_652);
    // Gemini-style: 240 visible + 610 thinking, total counts both.
    let body = r#"{"id":"gen-4","created":1795422612,"model":"google/gemini-2.5-pro","provider":"Google","object":"chat.completion","usage":{"prompt_tokens":100,"completion_tokens":240,"total_tokens":950,"cost":0.01,"completion_tokens_details":{"reasoning_tokens":610}}}"#;
    let record = parse_one(body).unwrap();
    assert_eq!(record.tokens.output().get(), 850);
    assert_eq!(record.provider, Provider::VertexAi);
}

#[test]
fn normalised_counts_are_never_billed() {
    let error = parse_one(r#"{"id":"gen-1","created_at":"2026-11-23T08:30:12+00:00","model":"m","provider_name":"OpenAI","tokens_prompt":10,"tokens_completion":5}"#).unwrap_err();
    assert_eq!(error.code, RejectCode::MissingField);
    assert_eq!(error.field.as_deref(), Some("native_tokens_prompt"));
}

#[test]
fn malformed_fields_name_the_native_path() {
    let cases = [
        (
            r#""native_tokens_prompt":"many""#,
            "native_tokens_prompt",
            RejectCode::InvalidType,
        ),
        (
            r#""native_tokens_completion":-3"#,
            "native_tokens_completion",
            RejectCode::InvalidValue,
        ),
        (
            r#""native_tokens_reasoning":12.5"#,
            "native_tokens_reasoning",
            RejectCode::InvalidType,
        ),
        (r#""total_cost":-0.5"#, "total_cost", RejectCode::InvalidValue),
        (r#""total_cost":true"#, "total_cost", RejectCode::InvalidType),
        (
            r#""created_at":"2026-11-23T08:30:12""#,
            "created_at",
            RejectCode::InvalidValue,
        ),
        (r#""created_at":null"#, "created_at", RejectCode::MissingField),
        (r#""latency":-1"#, "latency", RejectCode::InvalidValue),
        (
            r#""provider_responses":{}"#,
            "provider_responses",
            RejectCode::InvalidType,
        ),
        (
            r#""provider_responses":[{"status":"x"}]"#,
            "provider_responses[0].status",
            RejectCode::InvalidType,
        ),
        (
            r#""provider_responses":[7]"#,
            "provider_responses[0]",
            RejectCode::InvalidType,
        ),
        (r##""id":"""##, "id", RejectCode::MissingField),
        (r#""model":null"#, "model", RejectCode::MissingField),
    ];
    for (extra, field, code) in cases {
        let error = parse_one(&generation(extra)).unwrap_err();
        assert_eq!(
            (error.field.as_deref(), error.code),
            (Some(field), code),
            "{extra}"
        );
    }
    let body = r#"{"id":"gen-5","created":1795422612,"model":"m","object":"chat.completion","usage":{"prompt_tokens":"x","completion_tokens":1,"cost":0}}"#;
    let error = parse_one(body).unwrap_err();
    assert_eq!(error.field.as_deref(), Some("usage.prompt_tokens"));
    let body = r#"{"id":"gen-5","created":1795422612,"model":"m","object":"chat.completion","usage":{"prompt_tokens":1,"completion_tokens":1,"cost":0,"prompt_tokens_details":[]}}"#;
    let error = parse_one(body).unwrap_err();
    assert_eq!(error.field.as_deref(), Some("usage.prompt_tokens_details"));
}

#[test]
fn error_types_follow_cancelled_and_finish_reason() {
    let record = parse_one(&generation(r#""cancelled":true,"finish_reason":"error""#)).unwrap();
    assert_eq!(
        (record.status_code, record.error_type),
        (200, Some(ErrorType::Cancelled))
    );
    let record = parse_one(&generation(r#""finish_reason":"content_filter""#)).unwrap();
    assert_eq!(record.error_type, Some(ErrorType::ContentFilter));
    let body = r#"{"id":"gen-6","created":1795422612,"model":"m","object":"chat.completion.chunk","choices":[{"finish_reason":"stop"},{"finish_reason":"error"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"cost":0}}"#;
    assert_eq!(parse_one(body).unwrap().error_type, Some(ErrorType::Incomplete));
}

#[test]
fn provider_display_names_fold_to_the_shared_vocabulary() {
    for (native, canonical) in [
        ("OpenAI", "openai"),
        ("Google", "vertex_ai"),
        ("Google AI Studio", "gemini"),
        ("Amazon Bedrock", "bedrock"),
        ("Azure", "azure"),
        ("Together", "together_ai"),
        ("DeepInfra", "deepinfra"),
        ("xAI", "xai"),
        ("Nebius AI Studio", "nebius_ai_studio"),
    ] {
        assert_eq!(provider_from_display_name(native).as_str(), canonical, "{native}");
    }
}

#[test]
fn missing_provider_name_falls_back_to_the_serving_attempt() {
    let record = parse_one(&generation(
        r#""provider_name":null,"provider_responses":[{"status":429,"provider_name":"Together","model_permaslug":"a/b"},{"status":200,"provider_name":"Google AI Studio","model_permaslug":"a/b"}]"#,
    ))
    .unwrap();
    assert_eq!(record.provider, Provider::Gemini);
    assert_eq!(
        (
            record.route.as_deref(),
            record.fallback_from.as_deref(),
            record.attempts
        ),
        (Some("fallback"), None, 2)
    );
}

#[test]
fn detection_recognises_the_three_shapes_by_keys() {
    let detects = |text: &str| Openrouter.detect(&Obj::parse(text).unwrap());
    assert!(detects(r#"{"tokens_prompt":null,"provider_name":null}"#));
    assert!(detects(
        r#"{"id":"gen-1","object":"chat.completion","usage":{"cost":null}}"#
    ));
    assert!(detects(r#"{"error":{"code":429,"message":"x"},"user_id":"u"}"#));
    assert!(!detects(r#"{"error":{"code":429},"model":"m"}"#));
    assert!(!detects(
        r#"{"id":"chatcmpl-1","object":"chat.completion","usage":{"cost":1}}"#
    ));
    assert!(!detects(
        r#"{"id":"gen-1","object":"response","usage":{"cost":1}}"#
    ));
    assert!(!detects(r#"{"native_tokens_prompt":1}"#));
}

#[test]
fn garbage_never_panics() {
    for text in [
        "{}",
        r#"{"id":5}"#,
        r#"{"id":"gen-1","created":"soon"}"#,
        r#"{"id":"gen-1","created":1e300,"model":"m","usage":{}}"#,
        r#"{"id":"gen-1","created":-99999999999999999,"model":"m","usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
        r#"{"id":"gen-1","created":1,"model":"m","usage":{"prompt_tokens":9223372036854775807,"completion_tokens":9223372036854775807,"total_tokens":1,"prompt_tokens_details":{"cached_tokens":9223372036854775807,"cache_write_tokens":9223372036854775807}}}"#,
        r#"{"provider_name":[],"created_at":{},"native_tokens_prompt":{}}"#,
        r#"{"error":"x"}"#,
        r#"{"id":"gen-1","created":1,"model":"m","usage":{"prompt_tokens":1,"completion_tokens":1},"choices":"x"}"#,
    ] {
        assert!(parse_one(text).is_err(), "{text}");
    }
    let body = b"[1, \"x\", null, {\"data\": 5}]";
    let outcome = parse_body(body, FormatChoice::Forced(Source::Openrouter), &ctx());
    assert!(outcome.is_ok());
    let outcome = parse_body(
        b"{\"error\":{\"code\":500}}\n{\"x\":1}",
        FormatChoice::Auto,
        &ctx(),
    );
    assert!(!matches!(outcome, Err(IngestError::InvalidJson { .. })));
}

#[test]
fn generation_and_response_of_one_call_map_to_the_same_event() {
    let generations = crate::ingest::golden::parse_fixture("openrouter/sample.ndjson");
    let responses = crate::ingest::golden::parse_fixture("openrouter/responses.ndjson");
    let shared = responses
        .accepted
        .iter()
        .filter(|response| {
            generations
                .accepted
                .iter()
                .any(|generation| generation.record.event_id == response.record.event_id)
        })
        .count();
    assert_eq!(shared, 3);
    assert!(record_json(&responses.accepted[0].record)["ts"].is_string());
}
