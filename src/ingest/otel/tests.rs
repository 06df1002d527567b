//! Tests of the `otel` adapter through [`parse_body`] and [`spans_of_document`]: the golden
//! fixture, span classification, token semantics, outcomes, providers and malformed documents.

use serde_json::{Value, json};

use super::*;
use crate::ingest::golden::assert_golden;
use crate::ingest::reject::RejectCode;
use crate::ingest::{FormatChoice, ParsedBatch, parse_body};
use crate::model::{ErrorType, Provider, ServiceTier, UNASSIGNED_TEAM, UsageRecord, Usd};

#[test]
fn golden_fixture() {
    assert_golden(
        "otel/sample.json",
        "otel/sample.expected.ndjson",
        Source::Otel,
        (9, 9, 0),
    );
}

fn attribute(key: &str, value: Value) -> Value {
    json!({"key": key, "value": value})
}

fn text(value: &str) -> Value {
    json!({"stringValue": value})
}

fn int(value: i64) -> Value {
    json!({"intValue": value.to_string()})
}

/// A chat span with the given extra attributes; `number` keeps span ids distinct.
fn span(number: u8, attributes: Vec<Value>) -> Value {
    let mut all = vec![
        attribute("gen_ai.operation.name", text("chat")),
        attribute("gen_ai.provider.name", text("openai")),
        attribute("gen_ai.request.model", text("gpt-4.1")),
    ];
    all.extend(attributes);
    json!({
        "traceId": "0AF7651916CD43DD8448EB211C80319C",
        "spanId": format!("{number:016x}"),
        "name": "chat gpt-4.1",
        "kind": 3,
        "startTimeUnixNano": "1795423200000000000",
        "endTimeUnixNano": "1795423201250000000",
        "attributes": all,
        "status": {}
    })
}

fn document(spans: Vec<Value>) -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [attribute("service.namespace", text("search"))]},
        "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}]
    }]})
}

fn parse_documents(documents: &[Value]) -> ParsedBatch {
    let lines: Vec<String> = documents.iter().map(Value::to_string).collect();
    parse_body(
        lines.join("\n").as_bytes(),
        FormatChoice::Auto,
        &ParseContext::now(),
    )
    .unwrap()
}

fn one_row(attributes: Vec<Value>) -> UsageRecord {
    let batch = parse_documents(&[document(vec![span(1, attributes)])]);
    assert_eq!(batch.rejected, [], "rejected");
    batch.accepted[0].record.clone()
}

fn one_rejection(span: Value) -> (Option<String>, RejectCode) {
    let batch = parse_documents(&[document(vec![span])]);
    assert_eq!(batch.accepted.len(), 0);
    (batch.rejected[0].field.clone(), batch.rejected[0].code)
}

const SPAN_PATH: &str = "resourceSpans[0].scopeSpans[0].spans[0]";

#[test]
fn the_sum_test_adds_excluded_cache_and_reasoning() {
    // Cache reads outside the prompt count, confirmed by the total.
    let row = one_row(vec![
        attribute("gen_ai.usage.prompt_tokens", int(412)),
        attribute("gen_ai.usage.completion_tokens", int(498)),
        attribute("gen_ai.usage.cache_read_input_tokens", int(18_240)),
        attribute("llm.usage.total_tokens", int(19_150)),
    ]);
    assert_eq!(row.tokens.input().get(), 18_652);
    assert_eq!(row.tokens.cached_input().get(), 18_240);
    // Thoughts outside the output count (more thoughts than output).
    let row = one_row(vec![
        attribute("gen_ai.usage.input_tokens", json!({"intValue": 100})),
        attribute("gen_ai.usage.output_tokens", json!({"intValue": 240})),
        attribute("gen_ai.usage.reasoning.output_tokens", json!({"intValue": 610})),
    ]);
    assert_eq!(row.tokens.output().get(), 850);
    assert_eq!(row.tokens.reasoning().get(), 610);
    // Nothing fires: taken at face value (spec semantics).
    let row = one_row(vec![
        attribute("gen_ai.usage.input_tokens", int(8_400)),
        attribute("gen_ai.usage.cache_read.input_tokens", int(6_144)),
        attribute("gen_ai.usage.output_tokens", int(380)),
    ]);
    assert_eq!(row.tokens.input().get(), 8_400);
    assert_eq!(row.latency_ms, Some(1250.0));
    assert_eq!(row.team, "search");
}

#[test]
fn non_llm_spans_are_skipped_and_not_counted() {
    let http = json!({"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "00000000000000aa",
                      "startTimeUnixNano": "1795423200000000000",
                      "attributes": [attribute("http.request.method", text("POST"))]});
    let agent = span(
        2,
        vec![
            attribute("gen_ai.operation.name", text("invoke_agent")),
            attribute("gen_ai.usage.input_tokens", int(5)),
        ],
    );
    let tool = span(3, vec![attribute("gen_ai.operation.name", text("execute_tool"))]);
    let no_attributes = json!({"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "00000000000000ab"});
    let chat = span(4, vec![attribute("gen_ai.usage.input_tokens", int(5))]);
    let document = document(vec![http, agent, tool, no_attributes, chat]);
    let batch = parse_documents(std::slice::from_ref(&document));
    assert_eq!((batch.received, batch.accepted.len()), (1, 1));

    // The receiver sees the skipped spans too.
    let text = document.to_string();
    let outcomes = spans_of_document(&Obj::parse(&text).unwrap());
    let skipped = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, SpanOutcome::NotLlmCall))
        .count();
    assert_eq!((outcomes.len(), skipped), (5, 4));
}

#[test]
fn malformed_values_name_the_span_attribute() {
    let cases = [
        (
            span(
                1,
                vec![attribute(
                    "gen_ai.usage.input_tokens",
                    json!({"intValue": "many"}),
                )],
            ),
            "attributes.gen_ai.usage.input_tokens",
            RejectCode::InvalidType,
        ),
        (
            span(
                1,
                vec![attribute("gen_ai.usage.output_tokens", json!({"intValue": -5}))],
            ),
            "attributes.gen_ai.usage.output_tokens",
            RejectCode::InvalidValue,
        ),
        (
            span(
                1,
                vec![attribute("gen_ai.usage.cost", json!({"doubleValue": -0.5}))],
            ),
            "attributes.gen_ai.usage.cost",
            RejectCode::InvalidValue,
        ),
        (
            span(1, vec![attribute("gen_ai.response.model", json!("bare string"))]),
            "attributes.gen_ai.response.model",
            RejectCode::InvalidType,
        ),
        (
            span(1, vec![json!({"value": text("no key")})]),
            "attributes[3].key",
            RejectCode::MissingField,
        ),
        (
            {
                let mut span = span(1, vec![]);
                span["traceId"] = json!("not-hex");
                span
            },
            "traceId",
            RejectCode::InvalidValue,
        ),
        (
            {
                let mut span = span(1, vec![]);
                span["startTimeUnixNano"] = Value::Null;
                span
            },
            "startTimeUnixNano",
            RejectCode::MissingField,
        ),
        (
            {
                let mut span = span(1, vec![]);
                span["endTimeUnixNano"] = json!("1795423199000000000");
                span
            },
            "endTimeUnixNano",
            RejectCode::InvalidValue,
        ),
        (
            {
                let mut span = span(1, vec![]);
                span["status"] = json!({"code": "BROKEN"});
                span
            },
            "status.code",
            RejectCode::InvalidValue,
        ),
        (
            json!({"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "0000000000000001",
                   "startTimeUnixNano": "1795423200000000000",
                   "attributes": [attribute("gen_ai.usage.input_tokens", int(5))]}),
            "attributes.gen_ai.request.model",
            RejectCode::MissingField,
        ),
    ];
    for (span, field, code) in cases {
        let want = (Some(format!("{SPAN_PATH}.{field}")), code);
        assert_eq!(one_rejection(span), want, "{field}");
    }
}

#[test]
fn failed_calls_get_a_status_and_an_error_type() {
    let failed = |attributes: Vec<Value>, status: Value| {
        let mut span = span(1, attributes);
        span["status"] = status;
        let batch = parse_documents(&[document(vec![span])]);
        let record = &batch.accepted[0].record;
        (record.status_code, record.error_type)
    };
    let error_type = |name: &str| vec![attribute("error.type", text(name))];
    assert_eq!(
        failed(error_type("503"), json!({"code": 2})),
        (503, Some(ErrorType::Overloaded))
    );
    assert_eq!(
        failed(error_type("openai.AuthenticationError"), json!({})),
        (401, Some(ErrorType::Auth))
    );
    assert_eq!(
        failed(error_type("OverloadedError"), json!({})),
        (529, Some(ErrorType::Overloaded))
    );
    assert_eq!(
        failed(
            vec![],
            json!({"code": 2, "message": "Error code: 404 - model not found"})
        ),
        (404, Some(ErrorType::NotFound))
    );
    assert_eq!(
        failed(vec![], json!({"code": "STATUS_CODE_ERROR"})),
        (500, Some(ErrorType::Unknown))
    );
    assert_eq!(
        failed(
            error_type("_OTHER"),
            json!({"code": 2, "message": "context_length_exceeded"})
        ),
        (500, Some(ErrorType::ContextLength))
    );
    assert_eq!(failed(vec![], json!({"code": 1})), (200, None));
}

#[test]
fn providers_follow_the_otel_mapping() {
    let provider = |attributes: Vec<Value>| one_row(attributes).provider;
    let google = |host: &str| {
        vec![
            attribute("gen_ai.provider.name", text("gcp.gen_ai")),
            attribute("server.address", text(host)),
        ]
    };
    assert_eq!(
        provider(google("us-central1-aiplatform.googleapis.com")),
        Provider::VertexAi
    );
    assert_eq!(
        provider(google("generativelanguage.googleapis.com")),
        Provider::Gemini
    );
    assert_eq!(
        provider(vec![attribute("gen_ai.provider.name", text("aws.bedrock"))]),
        Provider::Bedrock
    );
    assert_eq!(
        provider(vec![attribute("gen_ai.provider.name", text("x_ai"))]),
        Provider::Xai
    );
}

#[test]
fn cost_ttft_and_attribution() {
    let tokens = || {
        vec![
            attribute("gen_ai.usage.input_tokens", int(10)),
            attribute("gen_ai.usage.output_tokens", int(2)),
        ]
    };
    let mut attributes = tokens();
    attributes.extend([
        attribute("gen_ai.usage.cost", json!({"doubleValue": 0.07722000000000001})),
        attribute(
            "gen_ai.response.time_to_first_chunk",
            json!({"doubleValue": 0.25}),
        ),
        attribute("traceloop.association.properties.user_id", text("agent-7")),
        attribute("traceloop.association.properties.ticket_queue", text("billing")),
        attribute(
            "traceloop.association.properties.urgent",
            json!({"boolValue": true}),
        ),
        attribute(
            "traceloop.association.properties.list",
            json!({"arrayValue": {"values": []}}),
        ),
        attribute("openai.response.service_tier", text("flex")),
    ]);
    let row = one_row(attributes);
    assert_eq!(
        row.reported_cost_usd.map(|usd| usd.as_decimal().to_string()),
        Some("0.07722000000000001".to_owned())
    );
    assert_eq!(row.ttft_ms, Some(250.0));
    assert_eq!(row.user_id.as_deref(), Some("agent-7"));
    assert_eq!(row.tags.get("ticket_queue"), Some("billing"));
    assert_eq!(row.tags.get("urgent"), Some("true"));
    assert_eq!(row.tags.get("list"), None);
    assert_eq!(row.tags.get("service_tier"), Some("flex"));
    assert_eq!(row.service_tier, ServiceTier::Flex);

    // Zero is not free on a served call, but stays 0 on a failed one.
    let mut attributes = tokens();
    attributes.push(attribute("gen_ai.usage.cost", json!({"doubleValue": 0.0})));
    assert_eq!(one_row(attributes.clone()).reported_cost_usd, None);
    attributes.push(attribute("error.type", text("500")));
    assert_eq!(one_row(attributes).reported_cost_usd, Some(Usd::ZERO));
}

#[test]
fn garbage_is_rejected_without_panicking() {
    let chat = span(1, vec![]);
    let bad_resource = json!({"resourceSpans": [{
        "resource": {"attributes": "oops"},
        "scopeSpans": [{"spans": [chat.clone(), {"traceId": "00", "attributes": []}]}]
    }]});
    let documents = [
        json!({"resourceSpans": 5}),
        json!({"resourceSpans": [1, {"scopeSpans": "x"}, {"scopeSpans": [{"spans": [7]}]}, {"scopeSpans": [3]}]}),
        bad_resource,
        json!({"resourceSpans": null}),
        json!({"resourceSpans": [{"scopeSpans": [{"spans": [chat]}]}]}),
    ];
    let batch = parse_documents(&documents);
    let rejected: Vec<(Option<&str>, RejectCode)> = batch
        .rejected
        .iter()
        .map(|rejected| (rejected.field.as_deref(), rejected.code))
        .collect();
    assert_eq!(
        rejected,
        [
            (Some("resourceSpans"), RejectCode::InvalidType),
            (Some("resourceSpans[0]"), RejectCode::InvalidType),
            (Some("resourceSpans[1].scopeSpans"), RejectCode::InvalidType),
            (
                Some("resourceSpans[2].scopeSpans[0].spans[0]"),
                RejectCode::InvalidType
            ),
            (Some("resourceSpans[3].scopeSpans[0]"), RejectCode::InvalidType),
            (
                Some("resourceSpans[0].resource.attributes"),
                RejectCode::InvalidType
            ),
        ]
    );
    // The last document has no resource: the call is still a row, team unassigned.
    assert_eq!(batch.accepted.len(), 1);
    assert_eq!(batch.accepted[0].record.team, UNASSIGNED_TEAM);
    assert_eq!(batch.received, 7);
}
