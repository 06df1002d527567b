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
    let (status, _) = post(&app, b"{}".to_vec(), "text/plain", false);
    assert_eq!(status, 415);
}
