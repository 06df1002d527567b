//! The HTTP API (actix-web): thin handlers that parse a request into typed values, hand the work
//! to `ingest`, `pricing`, `reports` or the store's writer off the async workers, and turn the
//! outcome into a response.
//!
//! Entry points: [`routes`] (the route table), [`AppState`] (handles only: writer, readers,
//! price book, limits). Errors become HTTP only in [`error`].
//!
//! Invariants: `api` never opens a DuckDB connection itself and never runs DuckDB or polars on
//! an actix worker (everything goes through `web::block` or the writer).

pub mod admin;
pub mod budgets;
pub mod docs;
pub mod error;
pub mod export;
pub mod health;
pub mod ingest;
pub mod lake;
pub mod openapi;
pub mod prices;
pub mod report_docs;
pub mod reports;
pub mod retention;
pub mod traces;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use crate::config::IngestLimits;
use crate::pricing::PriceBook;
use crate::store::{Readers, Writer};

/// What handlers share: handles, no logic.
#[derive(Clone)]
pub struct AppState {
    pub writer: Writer,
    pub readers: Arc<Readers>,
    pub prices: Arc<PriceBook>,
    pub limits: IngestLimits,
    pub request_timeout: Duration,
    /// Where `POST /v1/admin/lake` writes the Parquet lake; `None` when not configured.
    pub lake_dir: Option<std::path::PathBuf>,
}

/// Registers every route, and makes actix's own extractor errors use the one error shape.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .app_data(web::JsonConfig::default().error_handler(|error, _| {
            error::ApiError::InvalidJson(format!("the JSON body is invalid: {error}")).into()
        }))
        .app_data(web::QueryConfig::default().error_handler(|error, _| {
            error::ApiError::InvalidParameter {
                parameter: "query".to_owned(),
                reason: error.to_string(),
            }
            .into()
        }))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/v1/ingest", web::post().to(ingest::ingest))
        .route("/v1/traces", web::post().to(traces::traces))
        .route("/v1/reports/{name}", web::get().to(reports::report))
        .route("/v1/export", web::get().to(export::export))
        .route("/v1/prices", web::get().to(prices::list_prices))
        .route("/v1/prices", web::post().to(prices::add_prices))
        .route("/v1/prices/import", web::post().to(admin::import_prices))
        .route("/v1/contracts", web::get().to(admin::list_contracts))
        .route("/v1/contracts", web::post().to(admin::add_contracts))
        .route("/v1/admin/reprice", web::post().to(admin::reprice))
        .route("/v1/admin/retention", web::post().to(retention::apply_retention))
        .route("/v1/admin/lake", web::post().to(lake::update_lake))
        .route("/v1/budgets", web::get().to(budgets::list_budgets))
        .route("/v1/budgets/{id}", web::get().to(budgets::get_budget))
        .route("/v1/budgets/{id}", web::put().to(budgets::put_budget))
        .route("/v1/budgets/{id}", web::delete().to(budgets::delete_budget))
        .route("/openapi.json", web::get().to(docs::openapi_json))
        .route("/docs", web::get().to(docs::docs_page));
}

/// Reads a request body, refusing more than `limit` bytes (before any decompression).
///
/// # Errors
/// [`error::ApiError::PayloadTooLarge`] past the limit; a broken connection.
pub(crate) async fn read_body(mut payload: web::Payload, limit: u64) -> Result<Vec<u8>, error::ApiError> {
    use futures_util::StreamExt;
    let mut raw = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|error| error::ApiError::InvalidJson(format!("the body could not be read: {error}")))?;
        if (raw.len() + chunk.len()) as u64 > limit {
            return Err(error::ApiError::PayloadTooLarge { limit });
        }
        raw.extend_from_slice(&chunk);
    }
    Ok(raw)
}

/// Runs `work` with a time limit, mapping expiry to `504 timeout`.
pub(crate) async fn with_timeout<T>(
    limit: Duration,
    work: impl std::future::Future<Output = Result<T, error::ApiError>>,
) -> Result<T, error::ApiError> {
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(error::ApiError::Timeout {
            seconds: limit.as_secs(),
        }),
    }
}
