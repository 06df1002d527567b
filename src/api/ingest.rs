//! `POST /v1/ingest`: usage records in any supported format.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AppState;
use super::auth::IngestKey;
use super::error::{ApiError, ErrorBody};
use crate::ingest::FormatChoice;
use crate::ingest::body::Encoding;
use crate::pipeline::{self, IngestResponse};

/// Query parameters of `POST /v1/ingest`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IngestQuery {
    /// `auto` (default: sniffed from the records) or a format name: `canonical`, `litellm`,
    /// `openrouter`, `portkey`, `helicone`, `cloudflare`, `bedrock`, `kong`, `otel`,
    /// `openai_usage`.
    pub format: Option<String>,
    /// Refuse the whole batch (422, nothing stored) when any record is bad.
    pub strict: Option<bool>,
}

/// Content types the endpoint reads; absent means JSON.
const ACCEPTED_TYPES: &[&str] = &[
    "application/json",
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
    "application/jsonlines",
    "application/json-seq",
    "text/plain",
];

/// Ingest usage records.
///
/// The body is NDJSON, one JSON array or one JSON object, optionally compressed
/// (`Content-Encoding: gzip` or `zstd`). The answer comes after the accepted rows are committed:
/// a 2xx means they are durable. Re-sending a record is safe: `(source, event_id)` is stored
/// once and counted as a duplicate.
#[utoipa::path(post, path = "/v1/ingest", tag = "ingest",
    params(IngestQuery),
    request_body(content = String, description = "NDJSON, a JSON array or one JSON object",
        content_type = "application/x-ndjson"),
    responses(
        (status = 200, description = "Stored; bad records are listed in `errors`", body = IngestResponse),
        (status = 400, description = "Empty body (`empty_body`), not JSON (`invalid_json`), not UTF-8 (`invalid_utf8`), no format recognised (`unknown_format`), broken gzip/zstd (`bad_encoding`), bad parameter (`invalid_parameter`)", body = ErrorBody),
        (status = 413, description = "Body over the size cap, compressed or decompressed (`payload_too_large`)", body = ErrorBody),
        (status = 415, description = "Unsupported content type or encoding", body = ErrorBody),
        (status = 422, description = "`strict=true` and some record is bad: nothing stored", body = IngestResponse),
        (status = 503, description = "The writer queue is full (`writer_busy`); retry after `Retry-After`", body = ErrorBody),
    ))]
pub async fn ingest(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<IngestQuery>,
    payload: web::Payload,
    _caller: IngestKey,
) -> Result<HttpResponse, ApiError> {
    let choice = match query.format.as_deref() {
        None => FormatChoice::Auto,
        Some(name) => FormatChoice::parse(name).ok_or_else(|| ApiError::InvalidParameter {
            parameter: "format".to_owned(),
            reason: format!(
                "unknown format `{name}`; use auto or one of {}",
                crate::ingest::format_names().join(", ")
            ),
        })?,
    };
    let strict = query.strict.unwrap_or(false);
    check_content_type(&request)?;
    let encoding_header = header_text(&request, "content-encoding");
    let encoding = Encoding::from_header(encoding_header.as_deref())
        .ok_or_else(|| ApiError::UnsupportedEncoding(encoding_header.unwrap_or_default()))?;

    let limit = state.limits.max_body_bytes;
    let work = async {
        let raw = super::read_body(payload, limit).await?;
        let catalog = state.prices.current();
        let slot = state.parsing_slot().await?;
        let prepared =
            web::block(move || pipeline::prepare(raw, encoding, limit, choice, &catalog)).await??;
        drop(slot);
        let (response, refused) = pipeline::store(&state.writer, prepared, strict, false).await?;
        Ok((response, refused))
    };
    let (response, refused) = super::with_timeout(state.request_timeout, work).await?;
    let status = if refused {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(response))
}

fn header_text(request: &HttpRequest, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap_or("(not text)").to_owned())
}

fn check_content_type(request: &HttpRequest) -> Result<(), ApiError> {
    let Some(content_type) = header_text(request, "content-type") else {
        return Ok(());
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence.is_empty() || ACCEPTED_TYPES.contains(&essence.as_str()) || essence.ends_with("+json") {
        return Ok(());
    }
    Err(ApiError::UnsupportedMediaType(content_type))
}
