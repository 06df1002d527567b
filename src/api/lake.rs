//! `POST /v1/admin/lake`: brings the server's Parquet lake (`lake_dir`) up to date, for
//! deployments where the server holds the ledger file and `llm-ledger export --lake` cannot
//! open it (`llm-ledger export --server URL` calls this).

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;

use super::AppState;
use super::auth::AdminKey;
use super::error::{ApiError, ErrorBody};
use crate::export::ExportError;
use crate::export::lake::{LakeOptions, LakeRange, LakeReport, export_lake};

/// The body of `POST /v1/admin/lake` (optional: an empty body exports every day).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LakeRequest {
    /// First UTC day, inclusive (`YYYY-MM-DD`); default: the first stored day.
    #[schema(example = "2026-11-01")]
    pub from: Option<String>,
    /// UTC day to stop before (`YYYY-MM-DD`); default: tomorrow (today included).
    #[schema(example = "2026-12-01")]
    pub to: Option<String>,
}

fn day(name: &str, text: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    text.map(|text| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| ApiError::InvalidParameter {
            parameter: name.to_owned(),
            reason: format!(
                "expected a date YYYY-MM-DD (the lake is written in whole UTC days), got `{text}`"
            ),
        })
    })
    .transpose()
}

/// Parses an optional JSON body: empty (or `null`) means the defaults.
pub(crate) fn optional_json<T: Default + serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice::<Option<T>>(body)
        .map(Option::unwrap_or_default)
        .map_err(|error| ApiError::InvalidJson(format!("the JSON body is invalid: {error}")))
}

/// Update the Parquet lake.
///
/// Writes the days of `[from, to)` that are new or changed (late arrivals, re-priced events)
/// to the server's lake directory (`lake_dir`) as `date=YYYY-MM-DD/part-0.parquet`, each
/// atomically; unchanged days are left alone and days that retention removed from the store
/// are kept. Answers what it did, day by day.
#[utoipa::path(post, path = "/v1/admin/lake", tag = "export",
    request_body(content = Option<LakeRequest>, description = "Optional; an empty body exports every day"),
    responses(
        (status = 200, description = "The lake is up to date", body = LakeReport),
        (status = 400, description = "Bad parameter (`invalid_parameter`) or body (`invalid_json`)", body = ErrorBody),
        (status = 409, description = "No lake directory is configured, another export is writing the lake, or the directory holds a lake of another scope (`lake_unavailable`)", body = ErrorBody)))]
pub async fn update_lake(
    state: web::Data<AppState>,
    body: web::Bytes,
    _caller: AdminKey,
) -> Result<HttpResponse, ApiError> {
    let request: LakeRequest = optional_json(&body)?;
    let range = LakeRange {
        from: day("from", request.from.as_deref())?,
        to: day("to", request.to.as_deref())?,
    };
    if let (Some(from), Some(to)) = (range.from, range.to)
        && from >= to
    {
        return Err(ApiError::InvalidParameter {
            parameter: "from".to_owned(),
            reason: "must be before `to`".to_owned(),
        });
    }
    let Some(dir) = state.lake_dir.clone() else {
        return Err(ApiError::LakeUnavailable(
            "no lake directory is configured (`lake_dir`, LEDGER_LAKE_DIR or --lake-dir)".to_owned(),
        ));
    };
    // Only admin keys write the lake, and admin keys see every team.
    let team_scope: Option<String> = None;
    let readers = state.readers.clone();
    let report = web::block(move || {
        readers
            .with_conn(|conn| export_lake(conn, &dir, range, team_scope.as_deref(), LakeOptions::default()))
    })
    .await?
    .map_err(|error| match error {
        // The reason names no path: paths are not echoed to clients.
        ExportError::Lake { reason, .. } => ApiError::LakeUnavailable(reason),
        other => ApiError::Internal(crate::store::writer::error_chain(&other)),
    })?;
    tracing::info!(
        written = report.written,
        rewritten = report.rewritten,
        unchanged = report.unchanged,
        kept = report.kept,
        "lake updated"
    );
    Ok(HttpResponse::Ok().json(report))
}
