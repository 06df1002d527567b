//! The OpenAPI document: checked in, current, resolvable, served and browsable; every served
//! route documented; every report returning exactly what its path documents.

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
        "/v1/reports/spend",
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
    assert!(html.contains("/v1/reports/spend") && html.contains("id=\"schema-SpendRow\""));
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

/// Every `.route("PATH", web::METHOD()…)` in the source of `api::routes`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let source =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api/mod.rs"))
            .unwrap();
    let mut routes = BTreeSet::new();
    for (at, _) in source.match_indices(".route(\"") {
        let rest = &source[at + ".route(\"".len()..];
        let path = &rest[..rest.find('"').unwrap()];
        let after = &rest[path.len()..];
        let method_at = after.find("web::").unwrap() + "web::".len();
        let method = &after[method_at..method_at + after[method_at..].find('(').unwrap()];
        routes.insert((method.to_owned(), path.to_owned()));
    }
    routes
}

/// Every route actix serves is documented, and nothing else is: `/v1/reports/{name}` is
/// documented as one path per report name.
#[test]
fn every_served_route_is_documented_and_nothing_else() {
    // `api::ROUTE_ACCESS` lists every route with the key it needs; it must be the route table.
    let listed: BTreeSet<(String, String)> = llm_ledger::api::ROUTE_ACCESS
        .iter()
        .map(|(method, path, _)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(
        routes_in_source(),
        listed,
        "src/api/mod.rs routes and api::ROUTE_ACCESS disagree: give the route its access rule and document it"
    );
    let mut expected = BTreeSet::new();
    for (method, path) in &listed {
        if path == "/v1/reports/{name}" {
            for name in llm_ledger::reports::REPORT_NAMES {
                expected.insert((method.clone(), format!("/v1/reports/{name}")));
            }
        } else {
            expected.insert((method.clone(), path.clone()));
        }
    }
    let document: Value = serde_json::from_str(&llm_ledger::api::openapi::document_json().unwrap()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    assert_eq!(documented, expected);
}

/// Resolves a `$ref` to `#/components/schemas/…`, returning the schema and its name.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> (&'a Value, Option<String>) {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap().to_owned();
            let target = document
                .pointer(reference.strip_prefix('#').unwrap())
                .unwrap_or_else(|| panic!("unresolved {reference}"));
            (target, Some(name))
        }
        None => (schema, None),
    }
}

fn type_matches(value: &Value, kind: &str) -> bool {
    match kind {
        "null" => value.is_null(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("unexpected schema type {other}"),
    }
}

/// The property names each named schema was seen with, to check no documented column is dead.
type Seen = std::collections::BTreeMap<String, BTreeSet<String>>;

/// Checks `value` against `schema` (the subset of JSON Schema the document uses): types and
/// nullability, `enum`, `required`, declared `properties`, `additionalProperties` (only for the
/// dynamic `tag:<key>` and `cost_on:<candidate>` columns), `items`, `minItems`, `maxItems`.
fn check(document: &Value, schema: &Value, value: &Value, at: &str, seen: &mut Seen) {
    let (schema, name) = resolve(document, schema);
    match &schema["type"] {
        Value::String(kind) => assert!(type_matches(value, kind), "{at}: {value} is not {kind}"),
        Value::Array(kinds) => assert!(
            kinds
                .iter()
                .any(|kind| type_matches(value, kind.as_str().unwrap())),
            "{at}: {value} is none of {kinds:?}"
        ),
        Value::Null => {}
        other => panic!("{at}: unexpected type {other}"),
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        assert!(values.contains(value), "{at}: {value} is not one of {values:?}");
    }
    if let Some(object) = value.as_object() {
        let properties = schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{at}: no properties"));
        for required in schema["required"].as_array().into_iter().flatten() {
            let required = required.as_str().unwrap();
            assert!(
                object.contains_key(required),
                "{at}: required `{required}` is missing"
            );
        }
        for (key, item) in object {
            if let Some(name) = &name {
                seen.entry(name.clone()).or_default().insert(key.clone());
            }
            let child = format!("{at}.{key}");
            match properties.get(key) {
                Some(property) => check(document, property, item, &child, seen),
                None => {
                    let dynamic = key.starts_with("tag:") || key.starts_with("cost_on:");
                    let extra = schema
                        .get("additionalProperties")
                        .filter(|extra| extra.is_object() && dynamic)
                        .unwrap_or_else(|| panic!("{child} is not documented"));
                    check(document, extra, item, &child, seen);
                }
            }
        }
    }
    if let Some(items) = value.as_array() {
        if let Some(least) = schema.get("minItems").and_then(Value::as_u64) {
            assert!(items.len() as u64 >= least, "{at}: fewer than {least} items");
        }
        if let Some(most) = schema.get("maxItems").and_then(Value::as_u64) {
            assert!(items.len() as u64 <= most, "{at}: more than {most} items");
        }
        for (index, item) in items.iter().enumerate() {
            check(document, &schema["items"], item, &format!("{at}[{index}]"), seen);
        }
    }
}

/// Every property of `name` and of the schemas it refers to, by schema name.
fn declared(document: &Value, name: &str, out: &mut Seen) {
    if out.contains_key(name) {
        return;
    }
    let schema = &document["components"]["schemas"][name];
    let properties: BTreeSet<String> = schema["properties"]
        .as_object()
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default();
    out.insert(name.to_owned(), properties);
    let mut refs = BTreeSet::new();
    collect_refs(schema, &mut refs);
    for reference in refs {
        declared(document, reference.rsplit('/').next().unwrap(), out);
    }
}

const ALL_DIMENSIONS: &str =
    "team,project,user,api_key,provider,model,model_requested,route,source,status,error_type,tag:env";

/// Loads every file of `sample_data/` and two budgets.
fn app_with_sample_data() -> TestApp {
    let app = TestApp::spawn();
    for file in sample_files() {
        let content_type = if file.extension().is_some_and(|ext| ext == "json") {
            "application/json"
        } else {
            "application/x-ndjson"
        };
        let (status, body) = app.ingest_with(
            "",
            std::fs::read(&file).unwrap(),
            &[("content-type", content_type)],
        );
        assert_eq!(status, 200, "{}: {body}", file.display());
    }
    for (id, spec) in [
        (
            "unassigned-monthly",
            serde_json::json!({"name": "unassigned", "amount_usd": "5", "period": "month",
            "tz": "America/New_York", "scope": {"team": "unassigned"}}),
        ),
        (
            "prod-daily",
            serde_json::json!({"name": "prod", "amount_usd": "1", "period": "day",
            "scope": {"tag": {"env": "prod"}}, "warn_percent": "50"}),
        ),
    ] {
        let response = app
            .client
            .put(app.url(&format!("/v1/budgets/{id}")))
            .json(&spec)
            .send()
            .unwrap();
        assert!(response.status().is_success(), "{}", response.text().unwrap());
    }
    app
}

/// Every report, run on the sample data through the real server, returns exactly what its
/// path documents in the served `/openapi.json`: every key of the document, its rows, totals
/// and other sections is declared with a matching type and nullability, every required key is
/// there, and every declared key shows up in at least one of these runs.
#[test]
fn every_report_returns_what_its_path_documents() {
    let app = app_with_sample_data();
    let (status, document) = app.get_json("/openapi.json");
    assert_eq!(status, 200);
    let range = "from=2026-11-01&to=2026-12-01";
    let grouped = format!("group_by={ALL_DIMENSIONS}&bucket=day");
    let cases: Vec<(&str, String)> = vec![
        ("spend", String::new()),
        ("spend", grouped.clone()),
        (
            "spend",
            "group_by=team&order=group&limit=2&grain=events&tz=America/New_York".to_owned(),
        ),
        ("latency", String::new()),
        ("latency", grouped.clone()),
        ("model-mix", String::new()),
        ("model-mix", grouped.clone()),
        ("errors", String::new()),
        ("errors", grouped.clone()),
        ("cache-savings", String::new()),
        ("cache-savings", grouped.clone()),
        ("routing", String::new()),
        (
            "routing",
            format!("{grouped}&candidates=gpt-4o-mini,anthropic/claude-haiku-4-5,no-such-model"),
        ),
        ("budgets", String::new()),
        (
            "budgets",
            "at=2026-11-24T12:00:00Z&budget=unassigned-monthly".to_owned(),
        ),
        ("anomalies", "baseline_days=2".to_owned()),
        (
            "anomalies",
            format!("group_by={ALL_DIMENSIONS}&baseline_days=2&threshold=0.5&min_change=0.1"),
        ),
        ("unpriced", String::new()),
        ("reconciliation", String::new()),
        (
            "reconciliation",
            "bucket=month&records=3&tz=Asia/Kolkata".to_owned(),
        ),
        ("focus", String::new()),
        (
            "focus",
            "team=unassigned&billing_account_id=acme&limit=3".to_owned(),
        ),
    ];
    let mut seen = Seen::new();
    let mut documents = BTreeSet::new();
    for (name, query) in &cases {
        // Each case on the sample data's month, and once more on an empty range.
        for bounds in [range, "from=2001-01-01&to=2001-02-01"] {
            let (status, body) = app.get_json(&format!("/v1/reports/{name}?{bounds}&{query}"));
            assert_eq!(status, 200, "{name}?{query}: {body}");
            let operation = &document["paths"][format!("/v1/reports/{name}")]["get"];
            let schema = &operation["responses"]["200"]["content"]["application/json"]["schema"];
            documents.insert(resolve(&document, schema).1.unwrap());
            check(&document, schema, &body, &format!("{name}?{query}"), &mut seen);
        }
    }
    let mut declared_properties = Seen::new();
    for name in &documents {
        declared(&document, name, &mut declared_properties);
    }
    for (name, properties) in &declared_properties {
        let never_seen: Vec<&String> = properties
            .iter()
            .filter(|property| !seen.get(name).is_some_and(|keys| keys.contains(*property)))
            .collect();
        assert!(
            never_seen.is_empty(),
            "{name}: documented but never returned: {never_seen:?}"
        );
    }
}

/// Every report answers each parameter its path documents, and the CSV and Parquet media
/// types it documents.
#[test]
fn every_documented_report_parameter_is_accepted() {
    let app = app_with_sample_data();
    let (_, document) = app.get_json("/openapi.json");
    let value_of = |parameter: &str| -> &str {
        match parameter {
            "from" => "2026-11-23",
            "to" => "2026-11-25T00:00:00Z",
            "tz" => "Europe/Berlin",
            "group_by" => "team,tag:env",
            "bucket" => "day",
            "status" => "200",
            "tag:KEY" => "prod",
            "limit" => "1",
            "order" => "group",
            "grain" => "events",
            "format" => "json",
            "candidates" => "gpt-4o-mini",
            "at" => "2026-11-24",
            "budget" => "prod-daily",
            "baseline_days" => "3",
            "threshold" => "2",
            "min_change" => "0.2",
            "records" => "1",
            _ => "some-value",
        }
    };
    for name in llm_ledger::reports::REPORT_NAMES {
        let operation = &document["paths"][format!("/v1/reports/{name}")]["get"];
        for parameter in operation["parameters"].as_array().unwrap() {
            let parameter = parameter["name"].as_str().unwrap();
            let key = if parameter == "tag:KEY" {
                "tag:env"
            } else {
                parameter
            };
            let (status, body) = app.get_json(&format!("/v1/reports/{name}?{key}={}", value_of(parameter)));
            assert_eq!(status, 200, "{name}?{key}: {body}");
        }
        let content = operation["responses"]["200"]["content"].as_object().unwrap();
        for (format, media_type) in [("csv", "text/csv"), ("parquet", "application/vnd.apache.parquet")] {
            assert!(
                content.contains_key(media_type),
                "{name}: {media_type} is not documented"
            );
            let (status, content_type, _) = app.get_text(&format!("/v1/reports/{name}?format={format}"));
            assert_eq!(status, 200);
            assert!(content_type.starts_with(media_type), "{name}: {content_type}");
        }
        let (status, body) = app.get_json(&format!("/v1/reports/{name}?no_such_parameter=1"));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_parameter"))
        );
        assert!(operation["responses"]["400"].is_object());
    }
}
