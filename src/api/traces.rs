//! `POST /v1/traces`: an OTLP/HTTP trace receiver, so any OpenTelemetry SDK's OTLP exporter can
//! point at the ledger (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://host:8080/v1/traces`).
//!
//! Protobuf bodies are decoded with the OpenTelemetry proto definitions (`opentelemetry-proto`)
//! and turned into OTLP/JSON, so one adapter (`ingest::otel`) reads both encodings. The answer
//! is an `ExportTraceServiceResponse` in the request's encoding; `partialSuccess.rejectedSpans`
//! counts GenAI spans that could not be stored. Spans that are not model calls are skipped and
//! not counted, as on `/v1/ingest`.

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use super::AppState;
use super::auth::IngestKey;
use super::error::{ApiError, ErrorBody};
use crate::ingest::FormatChoice;
use crate::ingest::body::{self, Encoding};
use crate::model::Source;
use crate::pipeline::{self, MAX_LISTED_ERRORS};

/// How the exporter encoded its request (and how we answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OtlpEncoding {
    Protobuf,
    Json,
}

/// Receive OTLP traces.
///
/// OTLP/HTTP `ExportTraceServiceRequest` as `application/x-protobuf` or `application/json`,
/// optionally gzip-compressed. GenAI spans become usage records (`source = otel`); the response
/// is an `ExportTraceServiceResponse` in the request's encoding.
#[utoipa::path(post, path = "/v1/traces", tag = "ingest",
    request_body(content = String, description = "OTLP ExportTraceServiceRequest (protobuf or JSON)",
        content_type = "application/x-protobuf"),
    responses(
        (status = 200, description = "ExportTraceServiceResponse; `partialSuccess.rejectedSpans` counts GenAI spans that were refused", body = Object),
        (status = 400, description = "The body is not an OTLP trace request (`invalid_json`, `bad_encoding`). Errors of a protobuf request have a protobuf `google.rpc.Status` body (code, message), as OTLP/HTTP asks; of a JSON request, the ledger's error body", body = ErrorBody),
        (status = 413, description = "Body over the size cap (`payload_too_large`)", body = ErrorBody),
        (status = 415, description = "Unsupported content type or encoding", body = ErrorBody),
        (status = 503, description = "The writer queue is full (`writer_busy`); retry after `Retry-After`", body = ErrorBody),
    ))]
pub async fn traces(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    _caller: IngestKey,
) -> HttpResponse {
    let protobuf = request
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| {
            let value = value.to_ascii_lowercase();
            value.starts_with("application/x-protobuf") || value.starts_with("application/protobuf")
        });
    match receive(state, request, payload).await {
        Ok(response) => response,
        // OTLP/HTTP: a protobuf exporter gets a `google.rpc.Status` it can decode.
        Err(error) if protobuf => rpc_status_response(&error),
        Err(error) => actix_web::ResponseError::error_response(&error),
    }
}

/// `google.rpc.Status` (code, message), the body of an OTLP/HTTP error in protobuf. The
/// OpenTelemetry proto crate carries no HTTP form of it; these two fields are the whole of
/// what an exporter reads.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// The ledger's error as an OTLP/HTTP protobuf error: same status and headers (`Retry-After`
/// on 503), a `google.rpc.Status` body with the gRPC code for the status and the message.
fn rpc_status_response(error: &ApiError) -> HttpResponse {
    let json = actix_web::ResponseError::error_response(error);
    let status = json.status();
    let code = match status.as_u16() {
        400 | 413 | 415 => 3, // INVALID_ARGUMENT
        401 => 16,            // UNAUTHENTICATED
        403 => 7,             // PERMISSION_DENIED
        429 | 503 => 14,      // UNAVAILABLE: the exporter retries
        504 => 4,             // DEADLINE_EXCEEDED
        _ => 13,              // INTERNAL
    };
    let message = match error {
        ApiError::Internal(_) => "internal error; the server log has the details".to_owned(),
        other => other.to_string(),
    };
    let mut response = HttpResponse::build(status);
    response.content_type("application/x-protobuf");
    for (name, value) in json.headers() {
        if name != actix_web::http::header::CONTENT_TYPE && name != actix_web::http::header::CONTENT_LENGTH {
            response.insert_header((name.clone(), value.clone()));
        }
    }
    response.body(RpcStatus { code, message }.encode_to_vec())
}

async fn receive(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/x-protobuf")
        .to_ascii_lowercase();
    let otlp = if content_type.starts_with("application/x-protobuf")
        || content_type.starts_with("application/protobuf")
    {
        OtlpEncoding::Protobuf
    } else if content_type.starts_with("application/json") {
        OtlpEncoding::Json
    } else {
        return Err(ApiError::UnsupportedMediaType(content_type));
    };
    let encoding_header = request
        .headers()
        .get("content-encoding")
        .map(|value| value.to_str().unwrap_or("(not text)").to_owned());
    let encoding = Encoding::from_header(encoding_header.as_deref())
        .ok_or_else(|| ApiError::UnsupportedEncoding(encoding_header.unwrap_or_default()))?;
    let limit = state.limits.max_body_bytes;

    let work = async {
        let raw = super::read_body(payload, limit).await?;
        let catalog = state.prices.current();
        let slot = state.parsing_slot().await?;
        let prepared = web::block(move || -> Result<_, ApiError> {
            let decoded = body::decode(encoding, raw, limit)?;
            let json = match otlp {
                OtlpEncoding::Json => {
                    // A body that is not JSON at all is a bad request, not a rejected span.
                    serde_json::from_slice::<serde::de::IgnoredAny>(&decoded).map_err(|error| {
                        ApiError::InvalidJson(format!("not an OTLP/JSON ExportTraceServiceRequest: {error}"))
                    })?;
                    decoded
                }
                OtlpEncoding::Protobuf => {
                    let message = ExportTraceServiceRequest::decode(decoded.as_slice()).map_err(|error| {
                        ApiError::InvalidJson(format!("not an OTLP ExportTraceServiceRequest: {error}"))
                    })?;
                    serde_json::to_vec(&message).map_err(|error| ApiError::Internal(error.to_string()))?
                }
            };
            if json.iter().all(u8::is_ascii_whitespace) || json == b"{}" {
                // An exporter may send an empty request: nothing to store, nothing rejected.
                return Ok(None);
            }
            Ok(Some(pipeline::prepare(
                json,
                Encoding::Identity,
                limit,
                FormatChoice::Forced(Source::Otel),
                &catalog,
            )?))
        })
        .await??;
        drop(slot);
        match prepared {
            None => Ok((0usize, String::new())),
            Some(prepared) => {
                let (response, _) = pipeline::store(&state.writer, prepared, false, false).await?;
                let message = response
                    .errors
                    .iter()
                    .take(MAX_LISTED_ERRORS.min(20))
                    .map(|error| {
                        format!(
                            "span {}: {} {}",
                            error.index,
                            error.field.as_deref().unwrap_or("-"),
                            error.message
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                Ok((response.rejected, message))
            }
        }
    };
    let (rejected, message) = super::with_timeout(state.request_timeout, work).await?;
    let answer = ExportTraceServiceResponse {
        partial_success: (rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
            error_message: message,
        }),
    };
    Ok(match otlp {
        OtlpEncoding::Protobuf => HttpResponse::Ok()
            .content_type("application/x-protobuf")
            .body(answer.encode_to_vec()),
        // OTLP/JSON writes int64 fields as strings (protobuf JSON mapping).
        OtlpEncoding::Json => {
            let body = match &answer.partial_success {
                None => serde_json::json!({}),
                Some(partial) => serde_json::json!({"partialSuccess": {
                    "rejectedSpans": partial.rejected_spans.to_string(),
                    "errorMessage": partial.error_message,
                }}),
            };
            HttpResponse::Ok()
                .content_type(ContentType::json())
                .body(body.to_string())
        }
    })
}
