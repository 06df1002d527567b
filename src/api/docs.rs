//! `GET /openapi.json` and `GET /docs`: the OpenAPI document, and a browsable page rendered from
//! it on the server. The page is plain HTML and CSS built here: no script bundle is downloaded
//! at build time or fetched by the browser, so it works offline.

use actix_web::HttpResponse;
use actix_web::http::header::ContentType;
use serde_json::Value as Json;

use super::error::ApiError;
use super::openapi::document_json;

/// The OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "docs",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> Result<HttpResponse, ApiError> {
    let text = document_json().map_err(|error| ApiError::Internal(error.to_string()))?;
    Ok(HttpResponse::Ok().content_type(ContentType::json()).body(text))
}

/// A browsable page of the API.
#[utoipa::path(get, path = "/docs", tag = "docs",
    responses((status = 200, description = "HTML page generated from the OpenAPI document", content_type = "text/html", body = String)))]
pub async fn docs_page() -> Result<HttpResponse, ApiError> {
    let text = document_json().map_err(|error| ApiError::Internal(error.to_string()))?;
    let document: Json =
        serde_json::from_str(&text).map_err(|error| ApiError::Internal(error.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(render(&document)))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn ref_name(schema: &Json) -> Option<String> {
    let reference = schema.get("$ref").and_then(Json::as_str).or_else(|| {
        schema
            .get("items")
            .and_then(|items| items.get("$ref"))
            .and_then(Json::as_str)
    })?;
    reference.rsplit('/').next().map(str::to_owned)
}

/// A schema's type as HTML: a link for a `$ref`, `[…]` for arrays, then its values, bounds and
/// default when it has them.
fn type_text(schema: &Json) -> String {
    if let Some(name) = ref_name(schema) {
        let list = schema.get("items").is_some();
        let link = format!("<a href=\"#schema-{0}\">{0}</a>", escape(&name));
        return if list { format!("[{link}]") } else { link };
    }
    let mut text = match schema.get("type") {
        Some(Json::String(kind)) if kind == "array" => match schema.get("items") {
            Some(items) => format!("[{}]", type_text(items)),
            None => "array".to_owned(),
        },
        Some(Json::String(kind)) => escape(kind),
        Some(Json::Array(kinds)) => escape(
            &kinds
                .iter()
                .filter_map(Json::as_str)
                .collect::<Vec<_>>()
                .join(" | "),
        ),
        _ => "any".to_owned(),
    };
    if let Some(format) = schema.get("format").and_then(Json::as_str) {
        text.push_str(&format!(" ({})", escape(format)));
    }
    if let Some(values) = schema.get("enum").and_then(Json::as_array) {
        let names: Vec<String> = values.iter().map(|value| escape(&value.to_string())).collect();
        text.push_str(&format!(": <code>{}</code>", names.join(", ")));
    }
    let low = (schema.get("minimum").map(|value| format!("≥ {value}"))).or_else(|| {
        schema
            .get("exclusiveMinimum")
            .map(|value| format!("&gt; {value}"))
    });
    let high = schema.get("maximum").map(|value| format!("≤ {value}"));
    for bound in [low, high].into_iter().flatten() {
        text.push_str(&format!(", {bound}"));
    }
    if let Some(default) = schema.get("default") {
        text.push_str(&format!(
            ", default <code>{}</code>",
            escape(&default.to_string())
        ));
    }
    text
}

/// Renders the document as one HTML page: operations with parameters and responses, then
/// schemas with their properties.
pub fn render(document: &Json) -> String {
    let mut html = String::new();
    let title = document
        .pointer("/info/title")
        .and_then(Json::as_str)
        .unwrap_or("API");
    let description = document
        .pointer("/info/description")
        .and_then(Json::as_str)
        .unwrap_or("");
    html.push_str(&format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t} API</title><style>\
         body{{font:15px/1.5 system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}}\
         code,pre{{font-family:ui-monospace,monospace;font-size:13px}}\
         .op{{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.5em 1em}}\
         .m{{display:inline-block;min-width:4em;font-weight:bold;text-transform:uppercase}}\
         .get{{color:#0a6}}.post{{color:#06c}}.put{{color:#a60}}.delete{{color:#c00}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #eee;text-align:left;padding:4px;vertical-align:top}}\
         </style></head><body><h1>{t}</h1><p>{d}</p><p><a href=\"/openapi.json\">openapi.json</a></p>",
        t = escape(title),
        d = escape(description)
    ));
    if let Some(tags) = document.get("tags").and_then(Json::as_array) {
        html.push_str("<table>");
        for tag in tags {
            html.push_str(&format!(
                "<tr><td><b>{}</b></td><td>{}</td></tr>",
                escape(tag.get("name").and_then(Json::as_str).unwrap_or("")),
                escape(tag.get("description").and_then(Json::as_str).unwrap_or(""))
            ));
        }
        html.push_str("</table>");
    }
    html.push_str("<h2>Operations</h2>");
    if let Some(paths) = document.get("paths").and_then(Json::as_object) {
        for (path, item) in paths {
            let Some(methods) = item.as_object() else { continue };
            for (method, operation) in methods {
                render_operation(&mut html, path, method, operation);
            }
        }
    }
    html.push_str("<h2>Schemas</h2><p>Fields marked * are always present.</p>");
    if let Some(schemas) = document.pointer("/components/schemas").and_then(Json::as_object) {
        for (name, schema) in schemas {
            html.push_str(&format!(
                "<div class=\"op\" id=\"schema-{0}\"><h3>{0}</h3>",
                escape(name)
            ));
            if let Some(text) = schema.get("description").and_then(Json::as_str) {
                html.push_str(&format!("<p>{}</p>", escape(text)));
            }
            if let Some(properties) = schema.get("properties").and_then(Json::as_object) {
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Json::as_array)
                    .map(|names| names.iter().filter_map(Json::as_str).collect())
                    .unwrap_or_default();
                html.push_str("<table><tr><th>field</th><th>type</th><th>description</th></tr>");
                for (field, property) in properties {
                    html.push_str(&format!(
                        "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(field),
                        if required.contains(&field.as_str()) {
                            " *"
                        } else {
                            ""
                        },
                        type_text(property),
                        escape(property.get("description").and_then(Json::as_str).unwrap_or(""))
                    ));
                }
                if let Some(other) = schema
                    .get("additionalProperties")
                    .filter(|other| other.is_object())
                {
                    html.push_str(&format!(
                        "<tr><td><i>other keys</i></td><td>{}</td><td>{}</td></tr>",
                        type_text(other),
                        escape(other.get("description").and_then(Json::as_str).unwrap_or(""))
                    ));
                }
                html.push_str("</table>");
            } else {
                html.push_str(&format!("<p>{}</p>", type_text(schema)));
            }
            html.push_str("</div>");
        }
    }
    html.push_str("</body></html>");
    html
}

fn render_operation(html: &mut String, path: &str, method: &str, operation: &Json) {
    html.push_str(&format!(
        "<div class=\"op\"><h3><span class=\"m {m}\">{m}</span> <code>{p}</code></h3>",
        m = escape(method),
        p = escape(path)
    ));
    if let Some(summary) = operation.get("summary").and_then(Json::as_str) {
        html.push_str(&format!("<p><b>{}</b></p>", escape(summary)));
    }
    if let Some(description) = operation.get("description").and_then(Json::as_str) {
        html.push_str(&format!(
            "<p>{}</p>",
            escape(description).replace("\n\n", "</p><p>")
        ));
    }
    if let Some(parameters) = operation.get("parameters").and_then(Json::as_array) {
        html.push_str("<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>");
        for parameter in parameters {
            html.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(parameter.get("name").and_then(Json::as_str).unwrap_or("")),
                escape(parameter.get("in").and_then(Json::as_str).unwrap_or("")),
                parameter.get("schema").map(type_text).unwrap_or_default(),
                escape(parameter.get("description").and_then(Json::as_str).unwrap_or(""))
            ));
        }
        html.push_str("</table>");
    }
    if let Some(responses) = operation.get("responses").and_then(Json::as_object) {
        html.push_str("<table><tr><th>status</th><th>description</th><th>body</th></tr>");
        for (status, response) in responses {
            let body = response
                .get("content")
                .and_then(Json::as_object)
                .map(|content| {
                    content
                        .iter()
                        .map(|(media_type, media)| {
                            let schema = media.get("schema").map(type_text).unwrap_or_default();
                            if content.len() == 1 {
                                schema
                            } else {
                                format!("{schema} <code>{}</code>", escape(media_type))
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("<br>")
                })
                .unwrap_or_default();
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(status),
                escape(response.get("description").and_then(Json::as_str).unwrap_or("")),
                body
            ));
        }
        html.push_str("</table>");
    }
    html.push_str("</div>");
}
