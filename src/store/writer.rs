//! The writer: the only code that changes the database. One OS thread owns the write connection
//! and serves a bounded queue of requests; callers await a reply that is sent only after the
//! transaction committed (ack = durable).
//!
//! Ingest requests are grouped: whatever is queued when the writer is free (up to
//! [`WriterOptions::max_group_rows`]) is committed in one transaction, so a burst of small
//! batches costs one commit, not one each. Dedupe is exact on `(source, event_id)`: within a
//! group the first occurrence wins, and against history the in-memory fingerprints of every
//! stored event ([`super::dedupe`]) say which records are certainly new; a fingerprint match is
//! checked exactly. The rollups receive the batch's summed rows ([`super::rollup`]) and the FOCUS
//! ledger its lines, in the same transaction.
//!
//! Retention passes ([`Writer::apply_retention`]) run here too, a day per transaction; between
//! days the writer commits waiting ingest requests, so a long first pass does not stall ingest.
//! Records older than the retention cutoff are refused at commit time ([`RetentionGate`]).

use std::collections::{HashSet, VecDeque};
use std::thread::JoinHandle;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::Connection;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info};

use super::cache::CacheRelease;
use super::checkpoint::{CHECKPOINT_AFTER, Checkpointer, WriterActivity, database_path};
use super::dedupe::{Fingerprints, Suspect};
use super::encoded::{Encoded, IngestBatch};
use super::focus::LineLedger;
use super::rollup::{CompactionThread, Compactor, RollupDeltas};
use super::{Store, StoreError};
use duckdb::arrow::record_batch::RecordBatch;
use std::sync::Arc;

use super::reprice::{RepriceOutcome, RepriceScope, reprice_committed};
use super::retention::{RetentionGate, RetentionOutcome, load_watermark, run_retention};
use crate::config::RetentionPolicy;
use crate::pricing::{Catalog, Contract, PriceEntry, PricedRecord};

/// Writer tuning.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Requests that may wait in the queue before callers get `writer_busy`.
    pub queue_capacity: usize,
    /// Rows committed together at most.
    pub max_group_rows: usize,
    /// How long events are kept; older records are refused as expired.
    pub retention: RetentionPolicy,
    /// Write-ahead log bytes after which the checkpoint thread checkpoints.
    pub checkpoint_wal: u64,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            queue_capacity: 64,
            max_group_rows: 100_000,
            retention: RetentionPolicy::default(),
            checkpoint_wal: CHECKPOINT_AFTER,
        }
    }
}

/// What happened to one ingest request's rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IngestOutcome {
    pub accepted: usize,
    pub duplicates: usize,
    /// Positions (in the request's records) of rows refused because their `ts` was before the
    /// retention cutoff when the group committed.
    pub expired: Vec<usize>,
}

pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub(super) enum Request {
    Ingest {
        batch: IngestBatch,
        reply: Reply<IngestOutcome>,
    },
    AddPrices {
        entries: Vec<PriceEntry>,
        reply: Reply<usize>,
    },
    AddContracts {
        contracts: Vec<Contract>,
        reply: Reply<usize>,
    },
    Reprice {
        scope: RepriceScope,
        catalog: Arc<Catalog>,
        reply: Reply<RepriceOutcome>,
    },
    PutBudget {
        budget_id: String,
        spec: String,
        reply: Reply<bool>,
    },
    DeleteBudget {
        budget_id: String,
        reply: Reply<bool>,
    },
    Retention {
        before: NaiveDate,
        reply: Reply<RetentionOutcome>,
    },
    Ping {
        reply: Reply<()>,
    },
}

/// A handle to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Request>,
    gate: Arc<RetentionGate>,
}

impl Writer {
    /// Starts the writer thread on the store's write connection.
    ///
    /// # Errors
    /// When the OS refuses a thread, or the retention watermark cannot be read.
    pub fn spawn(
        store_conn: Connection,
        options: WriterOptions,
        release: Option<CacheRelease>,
    ) -> std::io::Result<(Writer, JoinHandle<()>)> {
        let watermark =
            load_watermark(&store_conn).map_err(|error| std::io::Error::other(error_chain(&error)))?;
        let gate = Arc::new(RetentionGate::new(options.retention, watermark));
        let (queue, requests) = mpsc::channel(options.queue_capacity.max(1));
        let thread_gate = gate.clone();
        let compactor = Compactor::default();
        let exclusive = Arc::new(std::sync::Mutex::new(()));
        let compaction_conn = store_conn
            .try_clone()
            .map_err(|error| std::io::Error::other(error_chain(&error)))?;
        let compaction = Compaction {
            thread: compactor.spawn_thread(compaction_conn, exclusive.clone())?,
            compactor,
            exclusive,
        };
        let checkpointer =
            match database_path(&store_conn).map_err(|error| std::io::Error::other(error_chain(&error)))? {
                Some(path) => {
                    let clone = || {
                        store_conn
                            .try_clone()
                            .map_err(|error| std::io::Error::other(error_chain(&error)))
                    };
                    Some(Checkpointer::spawn(
                        clone()?,
                        clone()?,
                        path,
                        options.checkpoint_wal,
                    )?)
                }
                None => None,
            };
        let handle = std::thread::Builder::new()
            .name("ledger-writer".to_owned())
            .spawn(move || {
                run(
                    store_conn,
                    requests,
                    Startup { options, release },
                    thread_gate,
                    compaction,
                    checkpointer,
                );
            })?;
        Ok((Writer { queue, gate }, handle))
    }

    /// Records with `ts` before this instant are refused as `expired` (the retention cutoff).
    pub fn expired_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.gate.expired_before(now)
    }

    /// The configured retention policy.
    pub fn retention_policy(&self) -> RetentionPolicy {
        self.gate.policy()
    }

    /// Deletes the events of the UTC days before `before` (and forgets their fingerprints), a day per
    /// transaction, waiting for room in the queue. From the moment it starts, ingest refuses
    /// records before `before` as expired.
    ///
    /// # Errors
    /// Database failures; days deleted before the failure stay deleted.
    pub async fn apply_retention(&self, before: NaiveDate) -> Result<RetentionOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request::Retention { before, reply })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Starts the writer on an opened store, returning the writer and the read pool.
    ///
    /// # Errors
    /// When the OS refuses a thread.
    pub fn start(
        store: Store,
        options: WriterOptions,
        release: Option<CacheRelease>,
    ) -> std::io::Result<(Writer, JoinHandle<()>, super::Readers)> {
        let options = WriterOptions {
            checkpoint_wal: store.checkpoint_wal,
            ..options
        };
        let (writer, handle) = Writer::spawn(store.write_conn, options, release)?;
        Ok((writer, handle, store.readers))
    }

    fn submit(&self, request: Request) -> Result<(), StoreError> {
        self.queue.try_send(request).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => StoreError::WriterBusy,
            mpsc::error::TrySendError::Closed(_) => StoreError::WriterGone,
        })
    }

    /// Stores priced records, returning once they are committed.
    ///
    /// # Errors
    /// [`StoreError::WriterBusy`] when the queue is full (retry later); database failures.
    pub async fn ingest(&self, batch: IngestBatch) -> Result<IngestOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Request::Ingest { batch, reply })?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Like [`Writer::ingest`], waiting for room in the queue instead of failing when it is full
    /// (for the CLI importer, which has nobody to answer `busy` to).
    ///
    /// # Errors
    /// Database failures.
    pub async fn ingest_waiting(&self, batch: IngestBatch) -> Result<IngestOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request::Ingest { batch, reply })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Stores user price entries (replacing entries with the same price id).
    ///
    /// # Errors
    /// Database failures.
    pub async fn add_prices(&self, entries: Vec<PriceEntry>) -> Result<usize, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Request::AddPrices { entries, reply })?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Stores user contracts (replacing contracts with the same id).
    ///
    /// # Errors
    /// Database failures.
    pub async fn add_contracts(&self, contracts: Vec<Contract>) -> Result<usize, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Request::AddContracts { contracts, reply })?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Re-prices the events of `scope` with `catalog`, waiting for room in the queue (an admin
    /// action, not a flood).
    ///
    /// # Errors
    /// Database failures; nothing is then changed.
    pub async fn reprice(
        &self,
        scope: RepriceScope,
        catalog: Arc<Catalog>,
    ) -> Result<RepriceOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request::Reprice {
                scope,
                catalog,
                reply,
            })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Creates or replaces a budget (its spec as JSON); true when it replaced one.
    ///
    /// # Errors
    /// Database failures.
    pub async fn put_budget(&self, budget_id: String, spec: String) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Request::PutBudget {
            budget_id,
            spec,
            reply,
        })?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Deletes a budget; true when it existed.
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_budget(&self, budget_id: String) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Request::DeleteBudget { budget_id, reply })?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Round-trips through the writer: it is alive and its connection answers.
    ///
    /// # Errors
    /// When it is busy, gone, or the database fails.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Request::Ping { reply })?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

/// The writer's bookkeeping of rows to compact, the thread that compacts them, and the lock
/// that keeps a re-price (which compacts the hours it changed) and that thread apart: the two
/// would delete the same rows.
struct Compaction {
    compactor: Compactor,
    thread: CompactionThread,
    exclusive: Arc<std::sync::Mutex<()>>,
}

/// What the writer thread starts with besides its connections.
struct Startup {
    options: WriterOptions,
    release: Option<CacheRelease>,
}

fn run(
    mut conn: Connection,
    mut requests: mpsc::Receiver<Request>,
    startup: Startup,
    gate: Arc<RetentionGate>,
    compaction: Compaction,
    checkpointer: Option<Checkpointer>,
) {
    if let Err(error) = create_staging(&conn) {
        // Without staging tables no batch can commit; every request will report the failure.
        error!(error = %error_chain(&error), "creating the writer's staging tables failed");
    }
    let started = Instant::now();
    let fingerprints = match Fingerprints::load(&conn) {
        Ok(fingerprints) => fingerprints,
        Err(error) => {
            // Without the fingerprints dedupe would be wrong: refuse every ingest instead.
            error!(error = %error_chain(&error), "loading the dedupe fingerprints failed");
            Fingerprints::unavailable()
        }
    };
    info!(
        events = fingerprints.len(),
        bytes = fingerprints.heap_bytes(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "dedupe fingerprints loaded"
    );
    let Startup { options, release } = startup;
    if let Some(release) = release
        && let Err(error) = super::cache::release(&conn, release.memory_limit.as_deref())
    {
        tracing::warn!(error = %error_chain(&error), "handing back the buffer pool after the load failed");
    }
    let Compaction {
        compactor,
        thread: compaction,
        exclusive,
    } = compaction;
    let mut state = WriterState {
        gate,
        fingerprints,
        compactor,
        compaction,
        release: Release::spawn(),
        activity: checkpointer
            .as_ref()
            .map_or_else(Arc::default, Checkpointer::activity),
    };
    // Requests taken off the queue out of turn (while grouping ingest, or between the days of a
    // retention pass), served next in the order they arrived.
    let mut deferred: VecDeque<Request> = VecDeque::new();
    loop {
        let request = match deferred.pop_front() {
            Some(request) => request,
            None => match requests.blocking_recv() {
                Some(request) => request,
                // Every sender is gone: the server is shutting down and the queue is drained.
                None => break,
            },
        };
        match request {
            Request::Ingest { batch, reply } => {
                let mut rows: usize = batch.records.len();
                let mut group = vec![(batch, reply)];
                while rows < options.max_group_rows {
                    match requests.try_recv() {
                        Ok(Request::Ingest { batch, reply }) => {
                            rows += batch.records.len();
                            group.push((batch, reply));
                        }
                        Ok(other) => {
                            deferred.push_back(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                commit_ingest_group(&mut conn, group, &mut state);
            }
            Request::Retention { before, reply } => {
                let started = Instant::now();
                let result = run_retention(
                    &mut conn,
                    before,
                    &mut state,
                    &mut requests,
                    &mut deferred,
                    options,
                );
                match &result {
                    Ok(outcome) => info!(
                        cutoff = %outcome.cutoff,
                        days = outcome.days,
                        events_deleted = outcome.events_deleted,
                        keys_deleted = outcome.keys_deleted,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "retention applied"
                    ),
                    Err(error) => {
                        error!(error = %error_chain(error), "retention failed; the day in progress was not changed")
                    }
                }
                let _ = reply.send(result); // The caller may have gone away; the work is committed.
            }
            Request::AddPrices { entries, reply } => {
                let result = insert_prices(&mut conn, &entries);
                if let Err(error) = &result {
                    error!(error = %error_chain(error), "storing prices failed");
                }
                let _ = reply.send(result); // The caller may have gone away; nothing to undo.
            }
            Request::AddContracts { contracts, reply } => {
                let result = insert_contracts(&mut conn, &contracts);
                if let Err(error) = &result {
                    error!(error = %error_chain(error), "storing contracts failed");
                }
                let _ = reply.send(result); // The caller may have gone away; nothing to undo.
            }
            Request::Reprice {
                scope,
                catalog,
                reply,
            } => {
                let started = Instant::now();
                let result = {
                    let _exclusive = exclusive
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    reprice_committed(&mut conn, &scope, &catalog)
                };
                match &result {
                    Ok(outcome) => info!(
                        examined = outcome.examined,
                        changed = outcome.changed,
                        cost_delta_usd = %outcome.cost_delta_usd,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "re-priced"
                    ),
                    Err(error) => {
                        error!(error = %error_chain(error), "re-pricing failed; nothing was changed")
                    }
                }
                let _ = reply.send(result); // The caller may have gone away; the work is committed.
            }
            Request::PutBudget {
                budget_id,
                spec,
                reply,
            } => {
                let result = put_budget(&conn, &budget_id, &spec);
                let _ = reply.send(result); // The caller may have gone away; the budget is stored.
            }
            Request::DeleteBudget { budget_id, reply } => {
                let result = conn
                    .execute("DELETE FROM budgets WHERE budget_id = ?", [&budget_id])
                    .map(|deleted| deleted > 0)
                    .map_err(StoreError::db("deleting a budget"));
                let _ = reply.send(result); // The caller may have gone away.
            }
            Request::Ping { reply } => {
                let result = conn
                    .execute_batch("SELECT 1")
                    .map_err(StoreError::db("answering a ping"));
                let _ = reply.send(result); // The caller may have gone away.
            }
        }
    }
    state.compaction.stop();
    if let Some(checkpointer) = checkpointer {
        checkpointer.stop();
    }
    if let Err(error) = conn.execute_batch("CHECKPOINT") {
        error!(%error, "final checkpoint failed; the write-ahead log will be replayed on the next start");
    }
    info!("writer stopped");
}

/// What the writer thread keeps between requests.
pub(super) struct WriterState {
    pub(super) gate: Arc<RetentionGate>,
    pub(super) fingerprints: Fingerprints,
    pub(super) compactor: Compactor,
    pub(super) compaction: CompactionThread,
    pub(super) release: Release,
    /// Whether an ingest group is being written, and how many were committed (the checkpoint
    /// thread waits for a commit, and for one being written).
    pub(super) activity: Arc<WriterActivity>,
}

/// Frees what a committed group held (its records and Arrow arrays) on a thread of its own:
/// dropping them was 4.6 % of the writer thread's samples, time every queued request waited.
pub(super) struct Release {
    /// `None` when the thread could not start: then the writer frees groups itself.
    sender: Option<std::sync::mpsc::SyncSender<Vec<IngestBatch>>>,
}

impl Release {
    /// Groups waiting to be freed before the writer frees one itself, which bounds the memory
    /// they hold.
    const BACKLOG: usize = 4;

    fn spawn() -> Release {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<IngestBatch>>(Self::BACKLOG);
        let spawned = std::thread::Builder::new()
            .name("ledger-release".to_owned())
            .spawn(move || receiver.into_iter().for_each(drop));
        match spawned {
            Ok(_) => Release { sender: Some(sender) },
            Err(error) => {
                error!(%error, "starting the release thread failed; the writer frees memory itself");
                Release { sender: None }
            }
        }
    }

    /// Frees `batches` off this thread when the release thread keeps up, here otherwise.
    fn free(&self, batches: Vec<IngestBatch>) {
        if let Some(sender) = &self.sender {
            // A full backlog or a gone thread hands the batches back, and they drop here.
            let _ = sender.try_send(batches);
        }
    }
}

pub(super) fn commit_ingest_group(
    conn: &mut Connection,
    mut group: Vec<(IngestBatch, Reply<IngestOutcome>)>,
    state: &mut WriterState,
) {
    let started = Instant::now();
    state.activity.writing();
    let expired_before = state.gate.expired_before(Utc::now());
    let written = write_group(
        conn,
        &mut group,
        expired_before,
        &mut state.fingerprints,
        &mut state.compactor,
    );
    match written {
        Ok(outcomes) => {
            state.activity.committed();
            let accepted: usize = outcomes.iter().map(|outcome| outcome.accepted).sum();
            let duplicates: usize = outcomes.iter().map(|outcome| outcome.duplicates).sum();
            let expired: usize = outcomes.iter().map(|outcome| outcome.expired.len()).sum();
            info!(
                requests = group.len(),
                accepted,
                duplicates,
                expired,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "batch committed"
            );
            let mut batches = Vec::with_capacity(group.len());
            for ((batch, reply), outcome) in group.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome)); // The caller may have gone away; the data is stored.
                batches.push(batch);
            }
            state.release.free(batches);
        }
        Err(error) => {
            state.activity.failed();
            error!(error = %error_chain(&error), requests = group.len(), "batch commit failed; nothing of it was stored");
            let message = error.to_string();
            for (_, reply) in group {
                let _ = reply.send(Err(StoreError::Rows(message.clone()))); // Caller may be gone.
            }
        }
    }
    if state.compactor.due() {
        state.compaction.submit(state.compactor.take());
    }
}

/// `rollup_deltas.sql`: a re-price's staged events summed into `staged_rollup`.
pub const ROLLUP_DELTAS_SQL: &str = include_str!("../../queries/rollup_deltas.sql");

/// `rollup_append.sql`, a template over either rollup.
pub const ROLLUP_APPEND_TEMPLATE: &str = include_str!("../../queries/rollup_append.sql");

/// The appends of both rollups, hourly then daily.
pub static ROLLUP_APPEND_SQL: std::sync::LazyLock<[String; 2]> = std::sync::LazyLock::new(|| {
    [("rollup_hourly", "hour"), ("rollup_daily", "day")].map(|(rollup, unit)| {
        ROLLUP_APPEND_TEMPLATE
            .replace("{rollup}", rollup)
            .replace("{unit}", unit)
            .trim_end()
            .trim_end_matches(';')
            .to_owned()
    })
});

/// Runs one statement through the connection's prepared-statement cache: the writer's
/// statements are long (planning them costs milliseconds) and run for every batch.
fn execute_cached(tx: &Connection, sql: &str, context: &'static str) -> Result<(), StoreError> {
    tx.prepare_cached(sql)
        .and_then(|mut statement| statement.execute([]))
        .map(|_| ())
        .map_err(StoreError::db(context))
}

/// Creates the writer's temp staging tables (per connection, empty between transactions):
/// `staged_events` (the columns of `usage_events` and a `sign`) and `staged_rollup` carry a
/// re-price's changes to the rollups.
///
/// # Errors
/// Database failures.
pub fn create_staging(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS staged_events AS SELECT *, 1::INTEGER AS sign FROM usage_events LIMIT 0;
         CREATE TEMP TABLE IF NOT EXISTS staged_rollup AS SELECT * FROM rollup_hourly LIMIT 0;",
    )
    .map_err(StoreError::db("creating staging tables"))
}

/// Folds events staged in `staged_events` (with signs: a re-price) into both rollups and `lines`
/// into the FOCUS ledger, then empties the staging tables. Runs inside the caller's transaction.
pub(crate) fn apply_staged(tx: &Connection, lines: &LineLedger) -> Result<(), StoreError> {
    execute_cached(tx, ROLLUP_DELTAS_SQL, "summing the rollup deltas")?;
    // A re-price is rare: its hours are compacted at once, in the same transaction.
    let hours: std::collections::BTreeSet<i64> = {
        let mut statement = tx
            .prepare_cached("SELECT DISTINCT epoch_us(hour) FROM staged_rollup")
            .map_err(StoreError::db("listing re-priced hours"))?;
        let rows = statement
            .query_map([], |row| row.get::<_, i64>(0))
            .map_err(StoreError::db("listing re-priced hours"))?;
        rows.collect::<Result<_, _>>()
            .map_err(StoreError::db("reading re-priced hours"))?
    };
    for sql in ROLLUP_APPEND_SQL.iter() {
        execute_cached(tx, sql, "appending to the rollups")?;
    }
    append_focus_lines(tx, lines)?;
    super::rollup::compact_hours(tx, &hours)?;
    for sql in ["DELETE FROM staged_events", "DELETE FROM staged_rollup"] {
        execute_cached(tx, sql, "emptying the staging tables")?;
    }
    Ok(())
}

/// Appends `lines` to the FOCUS ledger. A line may then have several rows until the compactor
/// merges its day (`queries/focus_compact.sql`); readers sum them.
fn append_focus_lines(tx: &Connection, lines: &LineLedger) -> Result<(), StoreError> {
    if lines.is_empty() {
        return Ok(());
    }
    append_batches(
        tx,
        "focus_lines",
        vec![lines.to_record_batch()?],
        "appending FOCUS lines",
    )
}

/// Writes a group of ingest requests in one transaction. Records before `expired_before` are
/// refused (their dedupe keys may have been deleted by retention).
fn write_group(
    conn: &mut Connection,
    group: &mut [(IngestBatch, Reply<IngestOutcome>)],
    expired_before: Option<DateTime<Utc>>,
    fingerprints: &mut Fingerprints,
    compactor: &mut Compactor,
) -> Result<Vec<IngestOutcome>, StoreError> {
    if !fingerprints.is_available() {
        return Err(StoreError::DedupeUnavailable);
    }
    let mut encoded: Vec<Option<Encoded>> = group.iter_mut().map(|(batch, _)| batch.encoded.take()).collect();
    let group: &[(IngestBatch, Reply<IngestOutcome>)] = group;
    // First occurrence within the group wins.
    let mut seen: HashSet<(&str, &str), foldhash::fast::RandomState> = HashSet::default();
    // (request, record, fingerprint, whether a stored event may have its identity)
    let mut firsts: Vec<(usize, &PricedRecord, u64, bool)> = Vec::new();
    let mut outcomes = vec![IngestOutcome::default(); group.len()];
    for (request_idx, (batch, _)) in group.iter().enumerate() {
        for (position, priced) in batch.records.iter().enumerate() {
            if expired_before.is_some_and(|cutoff| priced.record.ts < cutoff) {
                outcomes[request_idx].expired.push(position);
                continue;
            }
            let record = &priced.record;
            if seen.insert((record.source.as_str(), record.event_id.as_str())) {
                let fingerprint = fingerprints.of_record(record.source, record.event_id.as_str());
                firsts.push((
                    request_idx,
                    priced,
                    fingerprint,
                    fingerprints.may_contain(fingerprint),
                ));
            } else {
                outcomes[request_idx].duplicates += 1;
            }
        }
    }
    if firsts.is_empty() {
        return Ok(outcomes);
    }

    let mut clock = PhaseClock::start();
    let tx = conn
        .transaction()
        .map_err(StoreError::db("beginning a transaction"))?;
    // Records whose fingerprint is already stored are checked exactly; the rest are new.
    let suspects: Vec<Suspect<'_>> = firsts
        .iter()
        .filter(|(_, _, _, suspect)| *suspect)
        .map(|(_, priced, _, _)| Suspect {
            source: priced.record.source.as_str(),
            event_id: priced.record.event_id.as_str(),
            ts: priced.record.ts,
        })
        .collect();
    let stored = Fingerprints::stored_among(&tx, &suspects)?;
    clock.lap("dedupe");
    // The new records of each request.
    let mut fresh: Vec<Vec<&PricedRecord>> = vec![Vec::new(); group.len()];
    let mut fresh_fingerprints = Vec::with_capacity(firsts.len());
    for (request_idx, priced, fingerprint, suspect) in &firsts {
        let record = &priced.record;
        let duplicate = *suspect
            && stored.contains(&(
                record.source.as_str().to_owned(),
                record.event_id.as_str().to_owned(),
            ));
        if duplicate {
            outcomes[*request_idx].duplicates += 1;
        } else {
            outcomes[*request_idx].accepted += 1;
            fresh[*request_idx].push(*priced);
            fresh_fingerprints.push(*fingerprint);
        }
    }
    // Each request's encoding: the one made off this thread when all its records are new,
    // otherwise one of the new ones made here.
    let now = Utc::now();
    // Each encoding with the records it encodes, in its order.
    let mut encodings: Vec<(&[&PricedRecord], Encoded)> = Vec::with_capacity(group.len());
    for (((batch, _), fresh), encoded) in group.iter().zip(&fresh).zip(&mut encoded) {
        if fresh.is_empty() {
            continue;
        }
        match encoded.take() {
            Some(encoded) if encoded.records == fresh.len() && fresh.len() == batch.records.len() => {
                encodings.push((fresh, encoded));
            }
            _ => encodings.push((fresh, Encoded::of(fresh.iter().copied(), now)?)),
        }
    }
    clock.lap("encode");
    let mut touched: Option<(Vec<i64>, usize)> = None;
    if !encodings.is_empty() {
        let mut lines = LineLedger::default();
        let mut events = Vec::with_capacity(encodings.len());
        let mut hourly = RollupDeltas::hourly();
        for (records, encoded) in encodings {
            lines.merge(encoded.lines);
            events.push(encoded.events);
            hourly.absorb(records, &encoded.hourly);
        }
        clock.lap("merge");
        let daily = RollupDeltas::daily_of(&hourly);
        let hours: Vec<i64> = hourly.units().collect();
        let rollups = [
            ("rollup_hourly", hourly.to_record_batch()?),
            ("rollup_daily", daily.to_record_batch()?),
        ];
        touched = Some((hours, hourly.len() + daily.len() + lines.len()));
        clock.lap("deltas");
        append_batches(&tx, "usage_events", events, "appending events")?;
        clock.lap("append");
        // The deltas go straight to the rollups: appending costs the same however large they
        // are, and the compactor merges the fragments later.
        for (rollup, deltas) in rollups {
            append_batches(&tx, rollup, vec![deltas], "appending rollup deltas")?;
        }
        clock.lap("rollups");
        append_focus_lines(&tx, &lines)?;
        clock.lap("focus");
    }
    tx.commit().map_err(StoreError::db("committing a batch"))?;
    fingerprints.extend(fresh_fingerprints);
    if let Some((hours, rows)) = touched {
        compactor.note(hours, rows);
    }
    clock.lap("commit");
    tracing::debug!(records = firsts.len(), phases = %clock, "ingest group written");
    Ok(outcomes)
}

/// Appends Arrow batches to `table` with one appender. Their schemas may differ in nullability
/// (Arrow infers it from each batch's values), so each is appended as it is.
fn append_batches(
    tx: &Connection,
    table: &str,
    batches: Vec<RecordBatch>,
    context: &'static str,
) -> Result<(), StoreError> {
    let mut appender = tx.appender(table).map_err(StoreError::db(context))?;
    for batch in batches {
        appender
            .append_record_batch(batch)
            .map_err(StoreError::db(context))?;
    }
    appender.flush().map_err(StoreError::db(context))
}

/// Wall time per phase of a write, for the debug log (`LEDGER_LOG=llm_ledger::store=debug`):
/// where the writer's time goes.
pub(crate) struct PhaseClock {
    last: std::time::Instant,
    phases: Vec<(&'static str, std::time::Duration)>,
}

impl PhaseClock {
    pub(crate) fn start() -> PhaseClock {
        PhaseClock {
            last: std::time::Instant::now(),
            phases: Vec::new(),
        }
    }

    /// Ends the current phase under `name`.
    pub(crate) fn lap(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        self.phases.push((name, now - self.last));
        self.last = now;
    }
}

impl std::fmt::Display for PhaseClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (index, (name, duration)) in self.phases.iter().enumerate() {
            let separator = if index == 0 { "" } else { " " };
            write!(f, "{separator}{name}={:.1}ms", duration.as_secs_f64() * 1000.0)?;
        }
        Ok(())
    }
}

fn insert_prices(conn: &mut Connection, entries: &[PriceEntry]) -> Result<usize, StoreError> {
    let tx = conn
        .transaction()
        .map_err(StoreError::db("beginning a transaction"))?;
    {
        let mut statement = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO prices
                 (price_id, layer, provider, model, model_key, effective_from, effective_to, spec, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .map_err(StoreError::db("preparing the price insert"))?;
        let now = super::reader::timestamp_value(Utc::now());
        for entry in entries {
            let spec =
                serde_json::to_string(&entry.spec).map_err(|error| StoreError::Rows(error.to_string()))?;
            statement
                .execute(duckdb::params![
                    entry.price_id,
                    entry.layer.as_str(),
                    entry.provider.as_str(),
                    entry.model,
                    entry.model_key,
                    super::reader::timestamp_value(entry.effective_from),
                    entry.effective_to.map(super::reader::timestamp_value),
                    spec,
                    now.clone(),
                ])
                .map_err(StoreError::db("storing a price"))?;
        }
    }
    tx.commit().map_err(StoreError::db("committing prices"))?;
    Ok(entries.len())
}

fn put_budget(conn: &Connection, budget_id: &str, spec: &str) -> Result<bool, StoreError> {
    let now = super::reader::timestamp_value(Utc::now());
    let existed: i64 = conn
        .query_row(
            "SELECT count(*) FROM budgets WHERE budget_id = ?",
            [budget_id],
            |row| row.get(0),
        )
        .map_err(StoreError::db("reading a budget"))?;
    conn.execute(
        "INSERT INTO budgets (budget_id, spec, created_at, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (budget_id) DO UPDATE SET spec = EXCLUDED.spec, updated_at = EXCLUDED.updated_at",
        duckdb::params![budget_id, spec, now.clone(), now],
    )
    .map_err(StoreError::db("storing a budget"))?;
    Ok(existed > 0)
}

fn insert_contracts(conn: &mut Connection, contracts: &[Contract]) -> Result<usize, StoreError> {
    let tx = conn
        .transaction()
        .map_err(StoreError::db("beginning a transaction"))?;
    {
        let mut statement = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO contracts (contract_id, layer, spec, created_at) VALUES (?, ?, ?, ?)",
            )
            .map_err(StoreError::db("preparing the contract insert"))?;
        let now = super::reader::timestamp_value(Utc::now());
        for contract in contracts {
            let spec =
                serde_json::to_string(&contract.spec).map_err(|error| StoreError::Rows(error.to_string()))?;
            statement
                .execute(duckdb::params![
                    contract.contract_id,
                    contract.layer.as_str(),
                    spec,
                    now.clone()
                ])
                .map_err(StoreError::db("storing a contract"))?;
        }
    }
    tx.commit().map_err(StoreError::db("committing contracts"))?;
    Ok(contracts.len())
}

/// Formats an error with its sources, for logs.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::FormatChoice;
    use crate::ingest::body::Encoding;
    use crate::pricing::Catalog;

    fn prepared(lines: &[&str]) -> IngestBatch {
        let prepared = crate::pipeline::prepare(
            lines.join("\n").into_bytes(),
            Encoding::Identity,
            u64::MAX,
            FormatChoice::Auto,
            &Catalog::new(Vec::new()),
        )
        .unwrap();
        assert!(prepared.encoded.is_some());
        IngestBatch {
            records: prepared.priced,
            encoded: prepared.encoded,
        }
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |row| row.get(0)).unwrap()
    }

    /// One group mixes requests encoded off the writer thread whose Arrow schemas differ (a
    /// column nullable in one, not in the other), and a request repeating a record of another,
    /// which the writer encodes again without the repeat.
    #[test]
    fn a_group_stores_each_new_record_once_whatever_its_requests_encodings() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        create_staging(&conn).unwrap();
        let reported = prepared(&[
            r#"{"event_id": "a1", "ts": "2026-03-01T10:00:00Z", "provider": "openai", "model": "m", "input_tokens": 1, "output_tokens": 1, "reported_cost_usd": "0.5"}"#,
            r#"{"event_id": "a2", "ts": "2026-03-01T11:00:00Z", "provider": "openai", "model": "m", "input_tokens": 1, "output_tokens": 1, "reported_cost_usd": "0.25"}"#,
        ]);
        let unpriced = prepared(&[
            r#"{"event_id": "b1", "ts": "2026-03-01T10:30:00Z", "provider": "openai", "model": "m", "input_tokens": 1, "output_tokens": 1}"#,
        ]);
        let repeating = prepared(&[
            r#"{"event_id": "a2", "ts": "2026-03-01T11:00:00Z", "provider": "openai", "model": "m", "input_tokens": 1, "output_tokens": 1, "reported_cost_usd": "0.25"}"#,
            r#"{"event_id": "c1", "ts": "2026-03-02T09:00:00Z", "provider": "openai", "model": "m", "input_tokens": 1, "output_tokens": 1, "reported_cost_usd": "2"}"#,
        ]);
        let mut group: Vec<_> = [reported, unpriced, repeating]
            .into_iter()
            .map(|batch| (batch, oneshot::channel().0))
            .collect();
        let mut fingerprints = Fingerprints::load(&conn).unwrap();
        let mut compactor = Compactor::default();
        let outcomes = write_group(&mut conn, &mut group, None, &mut fingerprints, &mut compactor).unwrap();
        let counts: Vec<_> = outcomes
            .iter()
            .map(|outcome| (outcome.accepted, outcome.duplicates))
            .collect();
        assert_eq!(counts, [(2, 0), (1, 0), (1, 1)]);
        assert_eq!(count(&conn, "SELECT count(*) FROM usage_events"), 4);
        for (records, reported) in [
            (
                "SELECT sum(records)::BIGINT FROM rollup_hourly",
                "SELECT (sum(reported_cost_usd) * 100)::BIGINT FROM rollup_hourly",
            ),
            (
                "SELECT sum(records)::BIGINT FROM rollup_daily",
                "SELECT (sum(reported_cost_usd) * 100)::BIGINT FROM rollup_daily",
            ),
        ] {
            assert_eq!(count(&conn, records), 4);
            assert_eq!(count(&conn, reported), 275);
        }
        assert_eq!(count(&conn, "SELECT sum(requests)::BIGINT FROM focus_lines"), 4);
    }

    /// The writer never waits for the release thread: past the backlog it frees groups itself.
    #[test]
    fn a_full_release_backlog_frees_on_the_writer_instead_of_waiting() {
        let (sender, receiver) = std::sync::mpsc::sync_channel(Release::BACKLOG);
        let release = Release { sender: Some(sender) };
        for _ in 0..Release::BACKLOG + 3 {
            release.free(vec![prepared(&[
                r#"{"event_id": "a1", "ts": "2026-03-01T10:00:00Z", "provider": "openai", "model": "m", "input_tokens": 1, "output_tokens": 1}"#,
            ])]);
        }
        assert_eq!(receiver.try_iter().count(), Release::BACKLOG);
        drop(receiver);
        release.free(Vec::new());
    }

    /// FOCUS lines are appended per group: a line two groups bill has two rows until the
    /// compactor merges its day. The FOCUS report sums them, so it is the same before and after.
    #[test]
    fn focus_line_fragments_sum_in_the_report_and_compact_into_one_row() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        create_staging(&conn).unwrap();
        let mut fingerprints = Fingerprints::load(&conn).unwrap();
        let mut compactor = Compactor::default();
        for (id, hour) in [("f1", 10), ("f2", 14)] {
            let line = format!(
                r#"{{"event_id": "{id}", "ts": "2026-03-01T{hour}:00:00Z", "team": "search", "provider": "openai", "model": "m", "input_tokens": 1, "output_tokens": 1, "reported_cost_usd": "0.5"}}"#
            );
            let mut group = vec![(prepared(&[&line]), oneshot::channel().0)];
            write_group(&mut conn, &mut group, None, &mut fingerprints, &mut compactor).unwrap();
        }
        let pairs = [("from", "2026-03-01"), ("to", "2026-03-02")]
            .map(|(name, value)| (name.to_owned(), value.to_owned()));
        let params = crate::reports::params::CommonParams::parse(&pairs, &[], Utc::now()).unwrap();
        let focus = |conn: &Connection| {
            let report = crate::reports::focus::run(conn, &params, ("acct", "Acct")).unwrap();
            let frame = report.rows;
            let column = |name: &str| frame.column(name).unwrap().get(0).unwrap().to_string();
            (frame.height(), column("x_Requests"), column("EffectiveCost"))
        };
        assert_eq!(count(&conn, "SELECT count(*) FROM focus_lines"), 2);
        assert_eq!(
            count(&conn, "SELECT count(DISTINCT line_key) FROM focus_lines"),
            1
        );
        let before = focus(&conn);
        assert_eq!(before.0, 1, "one FOCUS row per line: {before:?}");
        assert_eq!(before.1, "2");
        compactor.compact(&mut conn).unwrap();
        assert_eq!(count(&conn, "SELECT count(*) FROM focus_lines"), 1);
        assert_eq!(count(&conn, "SELECT requests FROM focus_lines"), 2);
        assert_eq!(focus(&conn), before);
    }
}
