//! `POST /v1/admin/retention`: a retention pass now (the server also runs one every hour when
//! `retention` is configured).

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::AppState;
use super::auth::AdminKey;
use super::error::{ApiError, ErrorBody};
use super::lake::optional_json;
use crate::retention::first_kept_day;
use crate::store::retention::RetentionOutcome;

/// The body of `POST /v1/admin/retention` (optional: an empty body applies the configured
/// `retention`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionRequest {
    /// Keep this many whole UTC days before today (`400d`) instead of the configured period.
    #[schema(example = "400d")]
    pub keep: Option<String>,
    /// Delete the events of every UTC day before this date (`YYYY-MM-DD`, at most today).
    #[schema(example = "2025-01-01")]
    pub before: Option<String>,
}

/// Apply retention.
///
/// Deletes the stored events of whole UTC days before the cutoff, and their dedupe keys, a day
/// per transaction while ingest goes on. The hourly rollups and the FOCUS ledger are kept, so
/// reports over old periods still answer from them; reports that need events (latency
/// percentiles, grouping by user, API key or tag) cover the retained days only. From the start
/// of a pass, ingest refuses records before its cutoff as `expired`, so a re-sent old record is
/// never counted twice.
#[utoipa::path(post, path = "/v1/admin/retention", tag = "admin",
    request_body(content = Option<RetentionRequest>, description = "Optional; an empty body applies the configured retention"),
    responses(
        (status = 200, description = "Deleted", body = RetentionOutcome),
        (status = 400, description = "Bad or missing period (`invalid_parameter`), bad body (`invalid_json`)", body = ErrorBody)))]
pub async fn apply_retention(
    state: web::Data<AppState>,
    body: web::Bytes,
    _caller: AdminKey,
) -> Result<HttpResponse, ApiError> {
    let request: RetentionRequest = optional_json(&body)?;
    let before = first_kept_day(
        request.keep.as_deref(),
        request.before.as_deref(),
        state.writer.retention_policy(),
        Utc::now(),
    )
    .map_err(|(parameter, reason)| ApiError::InvalidParameter {
        parameter: parameter.to_owned(),
        reason,
    })?;
    let outcome = state.writer.apply_retention(before).await?;
    Ok(HttpResponse::Ok().json(outcome))
}
