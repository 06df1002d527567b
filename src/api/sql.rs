//! `POST /v1/sql`: one read-only statement over the documented views (see `crate::sql`).

use std::time::Duration;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AppState;
use super::auth::ReadKey;
use super::error::{ApiError, ErrorBody};
use crate::sql::{SqlDocument, SqlFormat};

/// The body of `POST /v1/sql`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    /// Exactly one read-only statement: SELECT (also WITH …, FROM …, VALUES …), DESCRIBE,
    /// SUMMARIZE or EXPLAIN, over the views `events`, `rollup_hourly`, `rollup_daily`, `focus_lines`, `prices`,
    /// `contracts`, `budgets`.
    #[schema(
        example = "SELECT team, sum(cost_usd) AS cost_usd FROM events GROUP BY team ORDER BY cost_usd DESC"
    )]
    pub sql: String,
    /// `json` (default), `csv`, `arrow` (Arrow IPC stream) or `parquet`. Without it, the
    /// `Accept` header picks (`application/json`, `text/csv`,
    /// `application/vnd.apache.arrow.stream`, `application/vnd.apache.parquet`).
    #[schema(example = "json")]
    pub format: Option<String>,
    /// Most rows to return; at most the server's cap (`sql_max_rows`, default 100000), which a
    /// larger value does not raise. Rows past it are not read and `truncated` is true.
    #[schema(minimum = 1, example = 1000)]
    pub max_rows: Option<usize>,
    /// Time limit in milliseconds; at most the server's cap (`sql_timeout`, default 30 s).
    #[schema(minimum = 1, example = 10000)]
    pub timeout_ms: Option<u64>,
}

fn format_of(request: &HttpRequest, body: &SqlRequest) -> Result<SqlFormat, ApiError> {
    if let Some(name) = &body.format {
        return SqlFormat::parse(name).ok_or_else(|| ApiError::InvalidParameter {
            parameter: "format".to_owned(),
            reason: format!("expected {}, got `{name}`", SqlFormat::NAMES),
        });
    }
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    Ok(accept
        .split(',')
        .filter_map(|range| range.split(';').next())
        .find_map(SqlFormat::from_media_type)
        .unwrap_or(SqlFormat::Json))
}

/// Run ad-hoc SQL.
///
/// One read-only statement over the documented views (README "Ad-hoc SQL" lists them with
/// their columns). The statement is checked on DuckDB's own parse tree and runs in a read-only
/// transaction on a connection that cannot reach files, the network, extensions or settings.
/// Tables other than the views, file readers, `query()`, COPY, ATTACH, SET, PRAGMA, a second
/// statement and writes of any kind are refused with `403 sql_not_allowed`, naming what was
/// refused and why.
///
/// The JSON result: `columns` (name and DuckDB type), `rows` (objects; money and other decimals
/// as exact strings), `row_count`, `truncated`, `elapsed_ms`. CSV, Arrow and Parquet carry the
/// same rows; the headers `x-row-count` and `x-truncated` say what JSON says in its body.
#[utoipa::path(post, path = "/v1/sql", tag = "sql",
    request_body(content = SqlRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The result", body = SqlDocument,
            headers(
                ("x-row-count" = u64, description = "Rows returned"),
                ("x-truncated" = bool, description = "Whether rows past the row cap were left out")),
            content(
                (SqlDocument = "application/json"),
                (String = "text/csv"),
                (Vec<u8> = "application/vnd.apache.arrow.stream"),
                (Vec<u8> = "application/vnd.apache.parquet"))),
        (status = 400, description = "DuckDB cannot parse, bind or run the statement (`sql_invalid`, with its message); a bad field (`invalid_parameter`, `invalid_json`)", body = ErrorBody),
        (status = 403, description = "The statement does something the sandbox does not allow (`sql_not_allowed`); `details` has `construct` and `reason`", body = ErrorBody),
        (status = 422, description = "The query made the database hold more memory than `sql_memory_limit` allows and was stopped (`query_memory_limit`); `details` has `limit_bytes`", body = ErrorBody),
        (status = 503, description = "As many queries as allowed are running (`sql_busy`); retry after `Retry-After` seconds. Or the database reached its `memory_limit` in an operator that cannot spill (`out_of_memory`, with DuckDB's message)", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
        (status = 504, description = "The query ran past its time limit and was stopped (`query_timeout`); `details` has `timeout_ms`", body = ErrorBody),
    ))]
pub async fn sql(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<SqlRequest>,
    caller: ReadKey,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let format = format_of(&request, &body)?;
    if body.max_rows == Some(0) {
        return Err(ApiError::InvalidParameter {
            parameter: "max_rows".to_owned(),
            reason: "must be at least 1".to_owned(),
        });
    }
    if body.timeout_ms == Some(0) {
        return Err(ApiError::InvalidParameter {
            parameter: "timeout_ms".to_owned(),
            reason: "must be at least 1".to_owned(),
        });
    }
    let sandbox = state.sandbox().await?;
    let limits = sandbox
        .limits()
        .lowered(body.timeout_ms.map(Duration::from_millis), body.max_rows);
    let admission = sandbox.admit()?;
    let team_scope = caller.team_scope().map(str::to_owned);
    let (bytes, row_count, truncated, elapsed_ms) = web::block(move || {
        // The admission lives as long as the query and its encoding; a team-scoped key's views
        // hold its team's rows only.
        let output = sandbox.run(&admission, &body.sql, limits, team_scope.as_deref())?;
        let bytes = output.encode(format)?;
        Ok::<_, crate::sql::SqlError>((
            bytes,
            output.row_count,
            output.truncated,
            output.elapsed.as_millis(),
        ))
    })
    .await??;
    tracing::info!(
        rows = row_count,
        truncated,
        elapsed_ms = elapsed_ms as u64,
        "sql query served"
    );
    let mut response = HttpResponse::Ok().body(bytes);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(
        HeaderName::from_static("x-row-count"),
        HeaderValue::from(row_count),
    );
    headers.insert(
        HeaderName::from_static("x-truncated"),
        HeaderValue::from_static(if truncated { "true" } else { "false" }),
    );
    Ok(response)
}
