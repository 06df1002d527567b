//! A running ledger: open the store, load prices, start the writer, serve HTTP, and shut down
//! gracefully (stop accepting, let in-flight requests finish, let the writer drain and commit,
//! checkpoint).

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::api::{self, AppState};
use crate::config::Config;
use crate::pricing::{self, ContractSpec, PriceBook, PriceLayers, PriceSpec};
use crate::sql::Sandbox;
use crate::store::cache::CacheRelease;
use crate::store::{Readers, Store, StoreError, StoreOptions, Writer, WriterOptions};

/// Refuses to serve a non-loopback address without API keys unless `insecure` says so: an open
/// ledger on a network would let anyone read every team's spend and rewrite prices.
///
/// # Errors
/// When the address is not loopback, no keys are configured and `insecure` is off.
pub fn refuse_open_network(config: &Config) -> anyhow::Result<()> {
    if !config.bind.ip().is_loopback() && config.keys.is_empty() && !config.insecure {
        anyhow::bail!(
            "refusing to listen on {} without API keys: anyone who can reach it could read every team's \
             spend and change prices. Configure keys (LEDGER_API_KEYS or api_keys in the config file; \
             `llm-ledger keys new --role admin` makes one), bind 127.0.0.1, or pass --insecure \
             (LEDGER_INSECURE=true) to accept this",
            config.bind
        );
    }
    Ok(())
}

/// What an opened ledger is made of, for the server and the CLI.
pub struct Ledger {
    pub writer: Writer,
    pub writer_thread: std::thread::JoinHandle<()>,
    pub readers: Arc<Readers>,
    pub prices: Arc<PriceBook>,
}

impl Ledger {
    /// Stops the writer of a ledger a command opened: drops this (last) handle, so the writer
    /// commits what is queued and stops, and waits for its thread.
    ///
    /// # Errors
    /// When the writer thread panicked.
    pub fn close(self) -> anyhow::Result<()> {
        drop(self.writer);
        self.writer_thread
            .join()
            .map_err(|_| anyhow::anyhow!("the writer thread panicked"))
    }
}

/// Opens the store, loads the price layers and starts the writer.
///
/// # Errors
/// Store, price-file and thread failures, with context.
pub fn open_ledger(config: &Config) -> anyhow::Result<Ledger> {
    open(config, None)
}

fn open(config: &Config, release: Option<CacheRelease>) -> anyhow::Result<Ledger> {
    let store = Store::open(
        &config.data_dir,
        &StoreOptions {
            memory_limit: config.memory_limit.clone(),
            checkpoint_wal: config.checkpoint_wal_bytes,
            threads: config.duckdb_threads,
            ..StoreOptions::default()
        },
    )?;
    let (user_specs, user_contracts) = store
        .readers
        .with_conn(|conn| Ok::<_, StoreError>((load_user_prices(conn)?, load_user_contracts(conn)?)))
        .context("loading stored prices and contracts")?;
    let overrides = match &config.prices_file {
        Some(path) => pricing::overrides::read(path)
            .with_context(|| format!("reading prices file `{}`", path.display()))?,
        None => pricing::overrides::Overrides::default(),
    };
    let shipped = pricing::shipped_specs().context("loading the shipped catalog")?;
    let book = PriceBook::new(PriceLayers {
        shipped,
        file: overrides.prices,
        user: user_specs,
        file_contracts: overrides.contracts,
        user_contracts,
    })
    .context("building the price catalog")?;
    let (writer, writer_thread, readers) = Writer::start(
        store,
        WriterOptions {
            queue_capacity: config.writer_queue,
            retention: config.retention,
            ..WriterOptions::default()
        },
        release,
    )
    .context("starting the writer thread")?;
    Ok(Ledger {
        writer,
        writer_thread,
        readers: Arc::new(readers),
        prices: Arc::new(book),
    })
}

fn load_user_prices(conn: &duckdb::Connection) -> Result<Vec<PriceSpec>, StoreError> {
    let mut statement = conn
        .prepare("SELECT spec FROM prices WHERE layer = 'user' ORDER BY created_at, price_id")
        .map_err(StoreError::db("reading stored prices"))?;
    let texts = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(StoreError::db("reading stored prices"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::db("reading stored prices"))?;
    texts
        .iter()
        .map(|text| {
            serde_json::from_str(text)
                .map_err(|error| StoreError::Rows(format!("a stored price is unreadable: {error}")))
        })
        .collect()
}

fn load_user_contracts(conn: &duckdb::Connection) -> Result<Vec<ContractSpec>, StoreError> {
    let mut statement = conn
        .prepare("SELECT spec FROM contracts WHERE layer = 'user' ORDER BY created_at, contract_id")
        .map_err(StoreError::db("reading stored contracts"))?;
    let texts = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(StoreError::db("reading stored contracts"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::db("reading stored contracts"))?;
    texts
        .iter()
        .map(|text| {
            serde_json::from_str(text)
                .map_err(|error| StoreError::Rows(format!("a stored contract is unreadable: {error}")))
        })
        .collect()
}

/// Opens the SQL sandbox once the writer has answered a ping, that is after it loaded the dedupe
/// fingerprints and handed back the buffer pool blocks of that load ([`CacheRelease`]):
/// [`Sandbox::open`] locks the configuration, and the writer's release must not straddle it.
/// Requests to `/v1/sql` wait for it meanwhile; the other routes do not.
///
/// # Errors
/// When the writer is gone or the sandbox cannot be opened: the server then stops.
async fn open_sandbox(
    writer: Writer,
    readers: Arc<Readers>,
    limits: crate::config::SqlLimits,
    opened: tokio::sync::watch::Sender<Option<Arc<Sandbox>>>,
) -> anyhow::Result<()> {
    writer.ping().await.context("waiting for the writer to load")?;
    let sandbox = tokio::task::spawn_blocking(move || Sandbox::open(&readers, limits))
        .await
        .context("opening the SQL sandbox")?
        .context("opening the SQL sandbox")?;
    opened.send_replace(Some(Arc::new(sandbox)));
    Ok(())
}

/// Serves HTTP until SIGINT/SIGTERM, then shuts down gracefully. Prints the bound address on
/// standard output once listening (`llm-ledger listening on http://…`).
///
/// # Errors
/// Startup failures (store locked, port taken, bad prices file).
pub async fn serve(config: Config) -> anyhow::Result<()> {
    refuse_open_network(&config)?;
    let ledger = tokio::task::spawn_blocking({
        let config = config.clone();
        move || {
            open(
                &config,
                Some(CacheRelease {
                    memory_limit: config.memory_limit.clone(),
                }),
            )
        }
    })
    .await
    .context("opening the ledger")??;
    // Locks the database instance down (no files, network, extensions or settings) once the
    // writer has done its own setup; the port opens meanwhile.
    let (opened, sandbox) = tokio::sync::watch::channel(None);
    let sandbox_opening = tokio::spawn(open_sandbox(
        ledger.writer.clone(),
        ledger.readers.clone(),
        config.sql,
        opened,
    ));
    let state = AppState {
        writer: ledger.writer.clone(),
        readers: ledger.readers.clone(),
        prices: ledger.prices.clone(),
        limits: config.ingest,
        request_timeout: config.request_timeout,
        lake_dir: config.lake_dir.clone(),
        sql: sandbox,
        keys: Arc::new(config.keys.clone()),
        parsing: AppState::parsing_slots(),
    };
    let Ledger {
        writer,
        writer_thread,
        ..
    } = ledger;
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(RequestId)
            .configure(api::routes)
    })
    .bind(config.bind)
    .with_context(|| format!("binding {}", config.bind))?
    .shutdown_timeout(30);
    let addresses: Vec<SocketAddr> = server.addrs();
    for address in &addresses {
        println!("llm-ledger listening on http://{address}");
    }
    tracing::info!(bind = ?addresses, data_dir = %config.data_dir.display(), api_keys = config.keys.len(), "serving");
    if config.keys.is_empty() && !config.bind.ip().is_loopback() {
        tracing::warn!(
            "no API keys and --insecure: anyone who can reach this address may ingest, read and administer"
        );
    }
    let retention = tokio::spawn(crate::retention::run_periodically(writer.clone()));
    let mut running = server.run();
    let handle = running.handle();
    let mut sandbox_opening = sandbox_opening;
    let served = tokio::select! {
        served = &mut running => served.context("running the HTTP server"),
        opening = &mut sandbox_opening => match opening.context("opening the SQL sandbox") {
            Ok(Ok(())) => (&mut running).await.context("running the HTTP server"),
            Ok(Err(error)) | Err(error) => {
                tracing::error!(error = format!("{error:#}"), "stopping: the SQL sandbox could not be opened");
                handle.stop(true).await;
                let _ = (&mut running).await; // Stopping; the sandbox's error is the one to report.
                Err(error)
            }
        },
    };
    // Stopped before the writer finished loading: the sandbox is no longer needed.
    sandbox_opening.abort();
    // The periodic retention task holds a writer handle too; a pass it started finishes on the
    // writer thread before the queue drains.
    retention.abort();
    let _ = retention.await; // Cancelled (or finished: retention is off); nothing to report.
    // Every handler's state is gone with the server; dropping the last writer handle lets the
    // writer drain its queue, commit and stop.
    drop(writer);
    tokio::task::spawn_blocking(move || writer_thread.join())
        .await
        .context("waiting for the writer")?
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Middleware that gives each request an id (the `x-request-id` header, echoed or generated) and
/// a tracing span carrying it.
pub struct RequestId;

impl<S, B> actix_web::dev::Transform<S, actix_web::dev::ServiceRequest> for RequestId
where
    S: actix_web::dev::Service<
            actix_web::dev::ServiceRequest,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        > + 'static,
    B: 'static,
{
    type Response = actix_web::dev::ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RequestIdService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(RequestIdService {
            service: std::rc::Rc::new(service),
        }))
    }
}

pub struct RequestIdService<S> {
    service: std::rc::Rc<S>,
}

impl<S, B> actix_web::dev::Service<actix_web::dev::ServiceRequest> for RequestIdService<S>
where
    S: actix_web::dev::Service<
            actix_web::dev::ServiceRequest,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        > + 'static,
    B: 'static,
{
    type Response = actix_web::dev::ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, request: actix_web::dev::ServiceRequest) -> Self::Future {
        use tracing::Instrument;
        let id = request
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty() && value.len() <= 128)
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        let span = tracing::debug_span!("request", request_id = %id, method = %request.method(), path = %request.path());
        let service = self.service.clone();
        Box::pin(
            async move {
                let mut response = service.call(request).await?;
                if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&id) {
                    response.headers_mut().insert(
                        actix_web::http::header::HeaderName::from_static("x-request-id"),
                        value,
                    );
                }
                tracing::debug!(status = response.status().as_u16(), "request done");
                Ok(response)
            }
            .instrument(span),
        )
    }
}
