//! `POST /v1/traces`: the OTLP/HTTP receiver, protobuf and JSON, gzip, partial success.

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use crate::support::*;

fn fixture_request() -> ExportTraceServiceRequest {
    let text = std::fs::read_to_string(fixture("otel/sample.json")).unwrap();
    serde_json::from_str(&text).expect("the fixture is OTLP/JSON")
}

fn post(app: &TestApp, body: Vec<u8>, content_type: &str, gzip_it: bool) -> (u16, Vec<u8>) {
    let mut request = app
        .client
        .post(app.url("/v1/traces"))
        .header("content-type", content_type);
    let body = if gzip_it {
        request = request.header("content-encoding", "gzip");
        gzip(&body)
    } else {
        body
    };
    let response = request.body(body).send().unwrap();
    (response.status().as_u16(), response.bytes().unwrap().to_vec())
}

#[test]
fn protobuf_exports_store_every_genai_span() {
    let app = TestApp::spawn();
    let (status, body) = post(
        &app,
        fixture_request().encode_to_vec(),
        "application/x-protobuf",
        true,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer = ExportTraceServiceResponse::decode(body.as_slice()).unwrap();
    assert!(answer.partial_success.is_none(), "{answer:?}");
    let rows = app.exported();
    assert_eq!(rows.len(), 9, "11 spans, 2 of them not model calls");
    assert!(rows.iter().all(|row| row["source"] == "otel"));
    assert_rows_match("otel/sample.expected.ndjson", &rows);
    // The same export again is all duplicates, and still a success.
    let (status, body) = post(
        &app,
        fixture_request().encode_to_vec(),
        "application/x-protobuf",
        false,
    );
    assert_eq!(status, 200);
    assert!(
        ExportTraceServiceResponse::decode(body.as_slice())
            .unwrap()
            .partial_success
            .is_none()
    );
    assert_eq!(app.exported().len(), 9);
}

#[test]
fn json_exports_work_and_bad_spans_are_counted_as_rejected() {
    let app = TestApp::spawn();
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("otel/sample.json")).unwrap()).unwrap();
    // Break one GenAI span: a negative token count.
    fn break_first(value: &mut serde_json::Value) -> bool {
        match value {
            serde_json::Value::Object(map) => {
                if map.get("key").and_then(|key| key.as_str()) == Some("gen_ai.usage.input_tokens") {
                    map.insert("value".to_owned(), serde_json::json!({"intValue": "-5"}));
                    return true;
                }
                map.values_mut().any(break_first)
            }
            serde_json::Value::Array(items) => items.iter_mut().any(break_first),
            _ => false,
        }
    }
    assert!(
        break_first(&mut document),
        "the fixture changed shape; adjust the test"
    );
    let text = document.to_string();
    let (status, body) = post(&app, text.into_bytes(), "application/json", false);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], "1", "{answer}");
    assert_eq!(app.exported().len(), 8);
}

#[test]
fn garbage_is_refused() {
    let app = TestApp::spawn();
    let (status, body) = post(
        &app,
        b"\x0a\xff\xff\xff".to_vec(),
        "application/x-protobuf",
        false,
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    // A protobuf exporter gets a `google.rpc.Status` (code 3, INVALID_ARGUMENT, and a message).
    let rpc = RpcStatus::decode(body.as_slice()).unwrap();
    assert_eq!(rpc.code, 3);
    assert!(rpc.message.contains("ExportTraceServiceRequest"), "{rpc:?}");
    let (status, body) = post(&app, b"{not json".to_vec(), "application/json", false);
    assert_eq!(status, 400);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "invalid_json", "{body}");
    let (status, _) = post(&app, b"{}".to_vec(), "text/plain", false);
    assert_eq!(status, 415);
    assert!(app.exported().is_empty());
}

/// `google.rpc.Status` as an exporter decodes it.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// A protobuf export with a bad GenAI span: the others are stored and the answer counts it.
#[test]
fn a_protobuf_partial_success_counts_the_rejected_span() {
    let app = TestApp::spawn();
    let mut request = fixture_request();
    let span = request
        .resource_spans
        .iter_mut()
        .flat_map(|resource| resource.scope_spans.iter_mut())
        .flat_map(|scope| scope.spans.iter_mut())
        .find(|span| {
            span.attributes
                .iter()
                .any(|attribute| attribute.key == "gen_ai.usage.output_tokens")
        })
        .unwrap();
    let attribute = span
        .attributes
        .iter_mut()
        .find(|attribute| attribute.key == "gen_ai.usage.output_tokens")
        .unwrap();
    attribute.value = Some(opentelemetry_proto::tonic::common::v1::AnyValue {
        value: Some(opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(-1)),
    });
    let (status, body) = post(&app, request.encode_to_vec(), "application/x-protobuf", true);
    assert_eq!(status, 200);
    let answer = ExportTraceServiceResponse::decode(body.as_slice()).unwrap();
    let partial = answer.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("output_tokens"), "{partial:?}");
    assert_eq!(app.exported().len(), 8);
}

/// gzip JSON exports work; an export of spans that are not model calls stores nothing and
/// rejects nothing.
#[test]
fn gzip_json_and_non_genai_exports() {
    let app = TestApp::spawn();
    let text = std::fs::read(fixture("otel/sample.json")).unwrap();
    let (status, body) = post(&app, text, "application/json", true);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({})
    );
    assert_eq!(app.exported().len(), 9);

    let plain = serde_json::json!({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{
        "scope": {"name": "http"}, "spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "name": "GET /health", "kind": 2,
            "startTimeUnixNano": "1795428000000000000", "endTimeUnixNano": "1795428000100000000",
            "attributes": [{"key": "http.request.method", "value": {"stringValue": "GET"}}]}]}]}]});
    let (status, body) = post(&app, plain.to_string().into_bytes(), "application/json", false);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({})
    );
    assert_eq!(app.exported().len(), 9);
}
