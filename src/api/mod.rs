//! The HTTP API (actix-web): thin handlers that parse a request into typed values, hand the work
//! to `ingest`, `pricing`, `reports` or the store's writer off the async workers, and turn the
//! outcome into a response.
//!
//! Entry points: [`routes`] (the route table), [`AppState`] (handles only: writer, readers,
//! price book, limits). Errors become HTTP only in [`error`].
//!
//! Invariants: `api` never opens a DuckDB connection itself and never runs DuckDB or polars on
//! an actix worker (everything goes through `web::block` or the writer).

pub mod docs;
pub mod error;
pub mod export;
pub mod health;
pub mod ingest;
pub mod openapi;
pub mod prices;
pub mod reports;
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
}

/// Registers every route.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/v1/ingest", web::post().to(ingest::ingest))
        .route("/v1/traces", web::post().to(traces::traces))
        .route("/v1/reports/{name}", web::get().to(reports::report))
        .route("/v1/export", web::get().to(export::export))
        .route("/v1/prices", web::get().to(prices::list_prices))
        .route("/v1/prices", web::post().to(prices::add_prices))
        .route("/openapi.json", web::get().to(docs::openapi_json))
        .route("/docs", web::get().to(docs::docs_page));
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
