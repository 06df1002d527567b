//! The HTTP API (actix-web): thin handlers that parse a request into typed values, hand the work
//! to `ingest`, `pricing`, `reports` or the store's writer off the async workers, and turn the
//! outcome into a response.
//!
//! Entry points: [`routes`] (the route table), [`AppState`] (handles only: writer, readers,
//! price book, limits). Errors become HTTP only in [`error`].
//!
//! Invariants: `api` never opens a DuckDB connection itself and never runs DuckDB or polars on
//! an actix worker (everything goes through `web::block` or the writer). `sql` runs user SQL
//! only through `crate::sql::Sandbox`, never on `readers`.

pub mod admin;
pub mod auth;
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
pub mod sql;
pub mod traces;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use crate::config::IngestLimits;
use crate::pricing::PriceBook;
use crate::sql::Sandbox;
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
    /// The ad-hoc SQL sandbox (its own connections, not `readers`), once `serve` has opened it
    /// ([`AppState::sandbox`]).
    pub sql: tokio::sync::watch::Receiver<Option<Arc<Sandbox>>>,
    /// The API keys; empty when the ledger runs without keys.
    pub keys: Arc<crate::auth::KeyRing>,
    /// Bodies decoded and parsed at once ([`AppState::parsing_slot`]).
    pub parsing: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Parse slots: one per CPU. Parsing is CPU work, so more bodies at once would not finish
    /// sooner, but each holds its decompressed text and records meanwhile: with 16 clients
    /// parsing 1,000-record LiteLLM bodies at once the server's peak RSS was 1.06 GiB, with
    /// 8 it was 0.79 GiB.
    #[must_use]
    pub fn parsing_slots() -> Arc<tokio::sync::Semaphore> {
        let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Arc::new(tokio::sync::Semaphore::new(cpus))
    }

    /// The SQL sandbox, waiting for it while the server is still opening it (until the writer
    /// has loaded the dedupe fingerprints).
    ///
    /// # Errors
    /// When it could not be opened (the server is stopping then).
    pub async fn sandbox(&self) -> Result<Arc<Sandbox>, error::ApiError> {
        let mut opened = self.sql.clone();
        let sandbox = opened
            .wait_for(Option::is_some)
            .await
            .map_err(|_| error::ApiError::Internal("the SQL sandbox could not be opened".to_owned()))?;
        sandbox
            .clone()
            .ok_or_else(|| error::ApiError::Internal("the SQL sandbox is not open".to_owned()))
    }

    /// Waits for a parse slot; the body is parsed while the permit lives.
    ///
    /// # Errors
    /// Never in practice: the semaphore is never closed.
    pub async fn parsing_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, error::ApiError> {
        self.parsing
            .acquire()
            .await
            .map_err(|closed| error::ApiError::Internal(closed.to_string()))
    }
}

/// Who may call a route: anyone, or a key allowing a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Key(crate::auth::Role),
}

/// Every route with the access its handler's extractor requires (the OpenAPI document's
/// security and the auth tests read this table; the handlers enforce it).
pub const ROUTE_ACCESS: &[(&str, &str, Access)] = {
    use crate::auth::Role::{Admin, Ingest, Read};
    &[
        ("get", "/healthz", Access::Public),
        ("get", "/readyz", Access::Public),
        ("post", "/v1/ingest", Access::Key(Ingest)),
        ("post", "/v1/traces", Access::Key(Ingest)),
        ("get", "/v1/reports/{name}", Access::Key(Read)),
        ("get", "/v1/export", Access::Key(Read)),
        ("post", "/v1/sql", Access::Key(Read)),
        ("get", "/v1/prices", Access::Key(Read)),
        ("post", "/v1/prices", Access::Key(Admin)),
        ("post", "/v1/prices/import", Access::Key(Admin)),
        ("get", "/v1/contracts", Access::Key(Read)),
        ("post", "/v1/contracts", Access::Key(Admin)),
        ("post", "/v1/admin/reprice", Access::Key(Admin)),
        ("post", "/v1/admin/retention", Access::Key(Admin)),
        ("post", "/v1/admin/lake", Access::Key(Admin)),
        ("get", "/v1/budgets", Access::Key(Read)),
        ("get", "/v1/budgets/{id}", Access::Key(Read)),
        ("put", "/v1/budgets/{id}", Access::Key(Admin)),
        ("delete", "/v1/budgets/{id}", Access::Key(Admin)),
        ("get", "/openapi.json", Access::Public),
        ("get", "/docs", Access::Public),
    ]
};

/// The access rule of a documented path (each report's own path is a report).
#[must_use]
pub fn access_of(method: &str, path: &str) -> Option<Access> {
    let path = if path.starts_with("/v1/reports/") {
        "/v1/reports/{name}"
    } else {
        path
    };
    ROUTE_ACCESS
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, access)| *access)
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
        .route("/v1/sql", web::post().to(sql::sql))
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
