//! The OpenAPI document: checked in, current, resolvable, served, and browsable.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::*;

fn collect_refs(value: &Value, refs: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                refs.insert(reference.clone());
            }
            map.values().for_each(|child| collect_refs(child, refs));
        }
        Value::Array(items) => items.iter().for_each(|child| collect_refs(child, refs)),
        _ => {}
    }
}

#[test]
fn the_checked_in_document_is_current_and_every_ref_resolves() {
    let generated = std::process::Command::new(env!("CARGO_BIN_EXE_llm-ledger"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(generated.status.success());
    let generated = String::from_utf8(generated.stdout).unwrap();
    let checked_in = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json"),
    )
    .unwrap_or_default();
    assert!(
        generated == checked_in,
        "openapi/openapi.json is stale: run `cargo run -- openapi --out openapi/openapi.json` and commit it"
    );
    let document: Value = serde_json::from_str(&generated).unwrap();
    let mut refs = BTreeSet::new();
    collect_refs(&document, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let pointer = reference.strip_prefix('#').unwrap();
        assert!(document.pointer(pointer).is_some(), "unresolved $ref {reference}");
    }
    for path in [
        "/v1/ingest",
        "/v1/reports/{name}",
        "/v1/prices",
        "/v1/export",
        "/healthz",
        "/readyz",
    ] {
        assert!(document["paths"].get(path).is_some(), "{path} is not documented");
    }
}

#[test]
fn the_server_serves_the_document_and_a_docs_page() {
    let app = TestApp::spawn();
    let (status, document) = app.get_json("/openapi.json");
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let (status, content_type, html) = app.get_text("/docs");
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"));
    assert!(html.contains("/v1/ingest") && html.contains("IngestResponse"));
    assert!(
        !html.contains("<script src="),
        "the docs page must not fetch scripts"
    );
    let (status, health) = app.get_json("/healthz");
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, ready) = app.get_json("/readyz");
    assert_eq!((status, ready["status"].as_str()), (200, Some("ready")));
}

/// Every error body has the one shape and a stable code.
#[test]
fn error_bodies_share_one_shape() {
    let app = TestApp::spawn();
    let (status, body) = app.get_json("/v1/reports/spend?tz=Nowhere/Land");
    assert_eq!(status, 400);
    let error = body["error"].as_object().unwrap();
    assert_eq!(
        error.keys().cloned().collect::<Vec<_>>(),
        vec!["code", "message", "details"]
    );
}
