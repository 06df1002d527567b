//! `GET /v1/export`: the canonical events of a time range, streamed.

use actix_web::{HttpResponse, web};
use chrono::{Duration, Utc};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use crate::pricing::spec::parse_instant;
use crate::store::export::export_ndjson;

/// Query parameters of `GET /v1/export`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Start, inclusive (RFC 3339 or `YYYY-MM-DD`, UTC); default: the beginning.
    pub from: Option<String>,
    /// End, exclusive (RFC 3339 or `YYYY-MM-DD`, UTC); default: now + 1 day.
    pub to: Option<String>,
    /// `ndjson` (default): canonical records, one per line.
    pub format: Option<String>,
}

fn bound(
    name: &str,
    text: Option<&str>,
    default: chrono::DateTime<Utc>,
) -> Result<chrono::DateTime<Utc>, ApiError> {
    match text {
        None => Ok(default),
        Some(text) => parse_instant(text).ok_or_else(|| ApiError::InvalidParameter {
            parameter: name.to_owned(),
            reason: format!("expected RFC 3339 or YYYY-MM-DD, got `{text}`"),
        }),
    }
}

/// Export canonical events.
///
/// Streams the stored records of `[from, to)`, oldest first, as canonical NDJSON with the
/// server-computed fields (`model_key`, `cost_usd`, `cost_source`, `price_id`, `is_error`,
/// `ingested_at`). The output is valid input for `POST /v1/ingest`.
#[utoipa::path(get, path = "/v1/export", tag = "export",
    params(ExportQuery),
    responses(
        (status = 200, description = "Canonical records, one JSON object per line", content_type = "application/x-ndjson", body = String),
        (status = 400, description = "Bad parameter (`invalid_parameter`)", body = ErrorBody)))]
pub async fn export(
    state: web::Data<AppState>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    match query.format.as_deref() {
        None | Some("ndjson") | Some("jsonl") => {}
        Some(other) => {
            return Err(ApiError::InvalidParameter {
                parameter: "format".to_owned(),
                reason: format!("expected ndjson, got `{other}`"),
            });
        }
    }
    let epoch = chrono::DateTime::<Utc>::UNIX_EPOCH;
    let from = bound("from", query.from.as_deref(), epoch)?;
    let to = bound("to", query.to.as_deref(), Utc::now() + Duration::days(1))?;
    let (sender, receiver) = mpsc::channel::<Result<web::Bytes, ApiError>>(4);
    let readers = state.readers.clone();
    tokio::task::spawn_blocking(move || {
        let result = readers.with_conn(|conn| {
            export_ndjson(conn, from, to, 1000, |chunk| {
                sender.blocking_send(Ok(web::Bytes::from(chunk))).is_ok()
            })
        });
        if let Err(error) = result {
            tracing::error!(error = %crate::store::writer::error_chain(&error), "export failed");
            let _ = sender.blocking_send(Err(ApiError::from(error))); // The client may be gone.
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .streaming(stream))
}
