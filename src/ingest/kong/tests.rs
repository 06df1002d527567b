//! Tests of the `kong` adapter through [`parse_body`]: the golden fixture, detection,
//! conventions, token recovery from payloads, error refinement and malformed entries.

use chrono::DateTime;

use super::*;
use crate::ingest::golden::assert_golden;
use crate::ingest::{FormatChoice, ParsedBatch, RejectCode, parse_body};
use crate::model::{ErrorType, Provider, UsageRecord};

fn parse(body: &str) -> ParsedBatch {
    let ctx = ParseContext {
        now: DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .unwrap()
            .into(),
    };
    parse_body(body.as_bytes(), FormatChoice::Forced(Source::Kong), &ctx).unwrap()
}

fn only_record(body: &str) -> UsageRecord {
    let batch = parse(body);
    assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
    assert_eq!(batch.accepted.len(), 1);
    batch.accepted.into_iter().next().unwrap().record
}

fn only_error(body: &str) -> (Option<String>, RejectCode, String) {
    let batch = parse(body);
    assert!(batch.accepted.is_empty(), "{:?}", batch.accepted);
    assert_eq!(batch.rejected.len(), 1);
    let rejected = batch.rejected.into_iter().next().unwrap();
    (rejected.field, rejected.code, rejected.message)
}

/// A minimal Kong entry around an `ai` block and extra top-level fields.
fn entry(ai: &str, extra: &str) -> String {
    format!(
        r#"{{"request":{{"id":"req1","headers":{{"X-User-Id":["u_1","u_2"]}}}},"response":{{"status":200}},"latencies":{{"request":50}},"started_at":1795422630300,"consumer":{{"custom_id":"c-17","tags":["tier:gold","team:growth"]}}{extra},"ai":{ai}}}"#
    )
}

#[test]
fn golden_fixture() {
    let batch = assert_golden(
        "kong/sample.ndjson",
        "kong/sample.expected.ndjson",
        Source::Kong,
        (12, 11, 1),
    );
    let rejected = &batch.rejected[0];
    assert_eq!(rejected.line, Some(5));
    assert_eq!(rejected.code, RejectCode::InvalidValue);
    assert!(rejected.message.contains("no_ai_block"), "{}", rejected.message);
}

#[test]
fn detection_needs_kong_serializer_keys() {
    let detect = |text: &str| Kong.detect(&Obj::parse(text).unwrap());
    assert!(detect(
        r#"{"started_at":1,"latencies":{},"ai":{"proxy":{"usage":{}}}}"#
    ));
    assert!(detect(
        r#"{"started_at":1,"latencies":{},"client_ip":"10.0.0.1"}"#
    ));
    assert!(detect(r#"{"started_at":null,"latencies":null,"tries":[]}"#));
    assert!(!detect(r#"{"started_at":1,"latencies":{}}"#));
    assert!(!detect(
        r#"{"started_at":1,"latencies":{},"ai":{"payload":{"request":"{}"}}}"#
    ));
}

#[test]
fn conventions_from_tags_and_repeated_headers() {
    let record = only_record(&entry(
        r#"{"proxy":{"usage":{"prompt_tokens":10,"completion_tokens":2},"meta":{"provider_name":"openai","request_model":"gpt-4o","response_model":"UNSPECIFIED"}}}"#,
        "",
    ));
    assert_eq!(record.team, "growth");
    assert_eq!(record.user_id.as_deref(), Some("u_1"));
    assert_eq!(record.attempts, 1);
    assert_eq!(record.model, "gpt-4o");
    assert_eq!(record.model_requested, "gpt-4o");
    assert_eq!(record.latency_ms, Some(50.0));
    assert_eq!(record.api_key_id, None);
}

#[test]
fn cached_tokens_above_the_prompt_count_are_added() {
    // Anthropic on 3.11+: 412 uncached prompt tokens and 18,240 cache reads.
    let record = only_record(&entry(
        r#"{"proxy":{"usage":{"prompt_tokens":412,"completion_tokens":498,"total_tokens":910,"prompt_tokens_details":{"cached_tokens":18240}},"meta":{"provider_name":"anthropic","request_model":"claude-sonnet-4-20250514"}}}"#,
        "",
    ));
    assert_eq!(record.tokens.input().get(), 18_652);
    assert_eq!(record.tokens.cached_input().get(), 18_240);
}

#[test]
fn native_anthropic_payloads_restore_the_dropped_cache_counts() {
    let payload = r#"{\"type\":\"message\",\"usage\":{\"input_tokens\":412,\"output_tokens\":498,\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":50}}"#;
    let record = only_record(&entry(
        &format!(
            r#"{{"proxy":{{"usage":{{"prompt_tokens":412,"completion_tokens":498,"total_tokens":910}},"meta":{{"provider_name":"anthropic"}},"payload":{{"response":"{payload}"}}}}}}"#
        ),
        "",
    ));
    assert_eq!(record.tokens.input().get(), 562);
    assert_eq!(record.tokens.cached_input().get(), 100);
    assert_eq!(record.tokens.cache_write().get(), 50);
    assert_eq!(record.tokens.output().get(), 498);
}

#[test]
fn gemini_thoughts_from_the_payload_and_vertex_hosts() {
    let payload = r#"{\"usageMetadata\":{\"promptTokenCount\":100,\"candidatesTokenCount\":240,\"thoughtsTokenCount\":610,\"totalTokenCount\":950}}"#;
    let record = only_record(&entry(
        &format!(
            r#"{{"proxy":{{"usage":{{"prompt_tokens":100,"completion_tokens":240}},"meta":{{"provider_name":"gemini","request_model":"gemini-2.5-pro"}},"payload":{{"response":"{payload}"}}}}}}"#
        ),
        r#","service":{"host":"us-central1-aiplatform.googleapis.com"}"#,
    ));
    assert_eq!(record.provider, Provider::VertexAi);
    assert_eq!(record.tokens.output().get(), 850);
    assert_eq!(record.tokens.reasoning().get(), 610);
}

#[test]
fn unparseable_payloads_are_ignored() {
    let record = only_record(&entry(
        r#"{"proxy":{"usage":{"prompt_tokens":10,"completion_tokens":2},"meta":{"provider_name":"gemini"},"payload":{"response":"{\"usage\": trunc"}}}"#,
        "",
    ));
    assert_eq!(record.provider, Provider::Gemini);
    assert_eq!(record.tokens.output().get(), 2);
}

#[test]
fn a_context_length_error_body_refines_the_error_type() {
    let payload = r#"{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"context_length_exceeded\"}}"#;
    let record = only_record(&format!(
        r#"{{"request":{{"id":"r"}},"response":{{"status":400}},"latencies":{{"request":5}},"started_at":1,"ai":{{"proxy":{{"usage":{{"prompt_tokens":0,"completion_tokens":0,"cost":0}},"meta":{{"provider_name":"openai"}},"payload":{{"response":"{payload}"}}}}}}}}"#
    ));
    assert_eq!(record.error_type, Some(ErrorType::ContextLength));
    assert_eq!(
        record.reported_cost_usd.map(|usd| usd.as_decimal().is_zero()),
        Some(true)
    );
}

#[test]
fn raw_secrets_are_never_stored_as_api_key_ids() {
    let (field, code, _) = only_error(&entry(
        r#"{"proxy":{"usage":{"prompt_tokens":1}}}"#,
        r#","authenticated_entity":{"id":"sk-proj-abcdef123456"}"#,
    ));
    assert_eq!(
        (field.as_deref(), code),
        (Some("authenticated_entity.id"), RejectCode::InvalidValue)
    );
}

#[test]
fn an_ai_block_without_llm_calls_is_no_ai_block() {
    let (field, code, message) = only_error(&entry(r#"{"payload":{"request":"{}"}}"#, ""));
    assert_eq!((field.as_deref(), code), (Some("ai"), RejectCode::InvalidValue));
    assert!(message.contains("no_ai_block"));
    let (field, code, _) = only_error(&entry("[1]", ""));
    assert_eq!((field.as_deref(), code), (Some("ai"), RejectCode::InvalidType));
}

#[test]
fn bad_fields_name_the_native_path() {
    let cases = [
        (
            r#"{"proxy":{"usage":{"prompt_tokens":-1}}}"#,
            "ai.proxy.usage.prompt_tokens",
            RejectCode::InvalidValue,
        ),
        (
            r#"{"proxy":{"usage":{"completion_token":"x"}}}"#,
            "ai.proxy.usage.completion_token",
            RejectCode::InvalidType,
        ),
        (
            r#"{"proxy":{"usage":{"cost":"free"}}}"#,
            "ai.proxy.usage.cost",
            RejectCode::InvalidValue,
        ),
        (
            r#"{"proxy":{"usage":{"prompt_tokens":1},"meta":{"llm_latency":-3}}}"#,
            "ai.proxy.meta.llm_latency",
            RejectCode::InvalidValue,
        ),
        (
            r#"{"proxy":{"usage":5,"meta":{}}}"#,
            "ai.proxy.usage",
            RejectCode::InvalidType,
        ),
    ];
    for (ai, want_field, want_code) in cases {
        let (field, code, _) = only_error(&entry(ai, ""));
        assert_eq!((field.as_deref(), code), (Some(want_field), want_code), "{ai}");
    }
    let (field, code, _) = only_error(&entry(r#"{"proxy":{"usage":{}}}"#, r#","started_at":"soon""#));
    assert_eq!(
        (field.as_deref(), code),
        (Some("started_at"), RejectCode::InvalidType)
    );
    let (field, code, _) =
        only_error(r#"{"started_at":1,"latencies":{},"ai":{"proxy":{"usage":{"prompt_tokens":1}}}}"#);
    assert_eq!(
        (field.as_deref(), code),
        (Some("request.id"), RejectCode::MissingField)
    );
}

#[test]
fn secondary_namespaces_without_a_main_row_keep_their_suffix() {
    let batch = parse(&entry(
        r#"{"ai-response-transformer":{"usage":{"prompt_tokens":5,"completion_tokens":1,"cost":0},"meta":{"provider_name":"openai","llm_latency":40}}}"#,
        r#","response":{"status":502}"#,
    ));
    assert_eq!(batch.accepted.len(), 1);
    let record = &batch.accepted[0].record;
    assert_eq!(record.event_id.as_str(), "req1:ai-response-transformer");
    assert_eq!(record.status_code, 200);
    assert_eq!(record.latency_ms, Some(40.0));
    assert_eq!(record.tags.get("kong_plugin"), Some("ai-response-transformer"));
    // Zero is not free: a transformer call with tokens and no configured prices.
    assert_eq!(record.reported_cost_usd, None);
}

#[test]
fn garbage_gives_errors_not_panics() {
    for body in [
        r#"{"started_at":null,"latencies":null,"tries":7}"#,
        r#"{"started_at":1e400,"latencies":[],"tries":[],"ai":{"proxy":{"usage":{"prompt_tokens":1e30}}}}"#,
        r#"{"request":{"id":""},"started_at":-99999999999999999,"latencies":{},"ai":{"proxy":{"meta":[]}}}"#,
        r#"{"request":"x","started_at":1,"latencies":{"request":"fast"},"ai":{"proxy":{"usage":{}}}}"#,
        "{}",
        "[null, 1]",
    ] {
        let batch = parse(body);
        assert!(batch.accepted.is_empty(), "{body}: {:?}", batch.accepted);
    }
}
