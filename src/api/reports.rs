//! `GET /v1/reports/{name}`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;

use super::AppState;
use super::auth::ReadKey;
use super::error::{ApiError, ErrorBody};
use crate::reports::{self, ReportError};

/// The parameters every report takes (documentation of the query string).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ReportQuery {
    /// Start, inclusive: RFC 3339, or `YYYY-MM-DD` (midnight in `tz`). Default: `to` − 30 days.
    from: Option<String>,
    /// End, exclusive: RFC 3339, or `YYYY-MM-DD` (midnight in `tz`). Default: now.
    to: Option<String>,
    /// Comma list of `team, project, user, api_key, provider, model, model_requested, route,
    /// source, status, tag:KEY` (at most three tags).
    group_by: Option<String>,
    /// `hour`, `day`, `week` or `month`; absent = one bucket for the range.
    bucket: Option<String>,
    /// IANA time zone for buckets and date-only bounds (default `UTC`); DST-correct.
    tz: Option<String>,
    /// Most rows returned (totals still cover all rows).
    limit: Option<usize>,
    /// `cost` (default: largest cost first within each bucket) or `group`.
    order: Option<String>,
    /// `json` (default), `csv` or `parquet`.
    format: Option<String>,
    /// Filter: only these teams (repeat the parameter for OR). Every dimension filters the same
    /// way: `project=`, `user=`, `api_key=`, `provider=`, `model=`, `model_requested=`, `route=`,
    /// `source=`, `status=`, `tag:KEY=`.
    team: Option<String>,
}

/// A report.
///
/// `spend`: requests, errors, each token kind, computed, list and reported cost per group and
/// time bucket. Calls of unpriced models are counted in `unpriced_requests`, never priced at $0.
///
/// `unpriced`: the models nobody has a price for, with their calls, tokens, reported cost and
/// first/last seen (`group_by` and `bucket` are fixed).
///
/// `reconciliation`: computed versus gateway-reported cost per day (or `bucket`) × source ×
/// provider × model, with the absolute and relative difference, plus `disagreements`: the calls
/// that differ most (`records=N`, default 20).
///
/// Money is a string with twelve decimals.
#[utoipa::path(get, path = "/v1/reports/{name}", tag = "reports",
    params(("name" = String, Path, description = "Report name: `spend`, `unpriced`, `reconciliation`"), ReportQuery),
    responses(
        (status = 200, description = "The report (JSON document; CSV or Parquet rows with `format=`)", body = ReportDocument,
            content(
                (ReportDocument = "application/json"),
                (String = "text/csv"),
                (Vec<u8> = "application/vnd.apache.parquet"))),
        (status = 400, description = "A parameter is invalid (`invalid_parameter`)", body = ErrorBody),
        (status = 404, description = "No such report (`not_found`)", body = ErrorBody),
    ))]
pub async fn report(
    state: web::Data<AppState>,
    request: HttpRequest,
    name: web::Path<String>,
    caller: ReadKey,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    if !reports::REPORT_NAMES.contains(&name.as_str()) {
        return Err(ApiError::NotFound {
            what: format!("report `{name}`"),
        });
    }
    let pairs: Vec<(String, String)> =
        web::Query::<Vec<(String, String)>>::from_query(request.query_string())
            .map_err(|error| ApiError::InvalidParameter {
                parameter: "query".to_owned(),
                reason: error.to_string(),
            })?
            .into_inner();
    let readers = state.readers.clone();
    let catalog = state.prices.current();
    let team_scope = caller.team_scope().map(str::to_owned);
    let started = std::time::Instant::now();
    let work = async move {
        let report_name = name.clone();
        let encoded = web::block(move || {
            readers.with_conn(|conn| -> Result<_, ReportError> {
                let report = reports::run(
                    &report_name,
                    &pairs,
                    conn,
                    &catalog,
                    Utc::now(),
                    team_scope.as_deref(),
                )?;
                let rows = report.rows.height();
                report.encode().map(|encoded| (encoded, rows))
            })
        })
        .await??;
        Ok((name, encoded))
    };
    let (name, ((body, content_type), rows)) = super::with_timeout(state.request_timeout, work).await?;
    tracing::info!(report = %name, rows, elapsed_ms = started.elapsed().as_millis() as u64, "report served");
    let mut response = HttpResponse::Ok().body(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

/// The JSON document of a report.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReportDocument {
    #[schema(example = "spend")]
    report: String,
    /// Start of the range, in the report's time zone.
    from: String,
    /// End of the range (exclusive), in the report's time zone.
    to: String,
    tz: String,
    bucket: Option<String>,
    group_by: Vec<String>,
    /// One of the row shapes below, by report.
    #[schema(value_type = Vec<Object>)]
    rows: Vec<serde_json::Value>,
    /// Sums of the metric columns over all rows (before `limit`).
    #[schema(value_type = Object)]
    totals: serde_json::Value,
}
