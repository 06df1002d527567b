//! `GET /v1/reports/{name}`. Its OpenAPI description, one path per report, is in
//! `report_docs`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;

use super::AppState;
use super::auth::ReadKey;
use super::error::ApiError;
use crate::reports::{self, ReportError};

/// Serves every report: `name` picks it, the query string is its parameters. The OpenAPI
/// document describes each report on its own path (`report_docs`), not this route.
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
