//! The store: one DuckDB file under the data directory, written by exactly one writer thread and
//! read through a small pool of read connections.
//!
//! What lives here: [`Store::open`] (open, lock, migrate), [`writer`] (the only code that runs
//! INSERT/UPDATE/DELETE), [`reader`] (connections for reports), [`schema`] (migrations),
//! [`rows`] (priced records → Arrow record batches for the appender), [`checkpoint`] (the thread
//! that checkpoints beside the writer instead of inside its commits).
//!
//! Invariants: nothing outside `store::writer` writes to the database; a write is acknowledged
//! only after its transaction committed; DuckDB calls never run on an async worker.

pub mod cache;
pub mod checkpoint;
pub mod dedupe;
pub mod encoded;
pub mod export;
pub mod focus;
pub mod reader;
pub mod reprice;
pub mod retention;
pub mod rollup;
pub mod rows;
pub mod schema;
mod signatures;
pub mod writer;

use std::path::{Path, PathBuf};

use duckdb::{Config, Connection};

pub use encoded::{Encoded, IngestBatch};
pub use reader::Readers;
pub use writer::{IngestOutcome, Writer, WriterOptions};

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "ledger.duckdb";

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory `{path}`")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the ledger at `{path}`")]
    Open {
        path: PathBuf,
        #[source]
        source: duckdb::Error,
    },
    #[error(
        "the ledger at `{path}` is in use by another process (a running `llm-ledger serve`?); stop it or talk to it with --server"
    )]
    Locked { path: PathBuf },
    #[error("schema migration {version} failed")]
    Migration {
        version: i32,
        #[source]
        source: duckdb::Error,
    },
    #[error("database error while {context}")]
    Db {
        context: &'static str,
        #[source]
        source: duckdb::Error,
    },
    #[error("cannot convert rows for the database: {0}")]
    Rows(String),
    #[error("the writer queue is full")]
    WriterBusy,
    #[error("the writer has stopped")]
    WriterGone,
    #[error(
        "the dedupe fingerprints could not be loaded at startup; nothing is stored until a restart succeeds"
    )]
    DedupeUnavailable,
}

/// Whether DuckDB failed because the instance reached its `memory_limit` (operators that cannot
/// spill, such as exact quantiles, fail this way; DuckDB's C API gives the message only).
#[must_use]
pub fn is_out_of_memory(error: &duckdb::Error) -> bool {
    match error {
        duckdb::Error::DuckDBFailure(_, Some(message)) => message.starts_with(OUT_OF_MEMORY),
        other => other.to_string().starts_with(OUT_OF_MEMORY),
    }
}

/// How DuckDB's out-of-memory messages begin.
const OUT_OF_MEMORY: &str = "Out of Memory Error";

impl StoreError {
    pub(crate) fn db(context: &'static str) -> impl FnOnce(duckdb::Error) -> StoreError {
        move |source| StoreError::Db { context, source }
    }
}

/// Row-group merges one full checkpoint does per table (DuckDB's default is 100).
///
/// Why: every concurrent checkpoint leaves a partly filled row group of `usage_events` behind
/// ([`checkpoint`]), and a full checkpoint merges any three neighbouring groups that fit in two.
/// After a sustained load, the first full one (the writer idle, or shutdown) rewrote most of the
/// table in one go: 3M events took 5 s and +1 GiB of RSS, and left 240 MiB of free blocks in a
/// 480 MiB file. The merges gain no space (83 bytes per event in use either way); bounded, they
/// still compact what deletes leave (rollup compactions, retention) a few groups at a time.
pub const MAX_VACUUM_TASKS: u32 = 2;

/// Tuning of the embedded database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// DuckDB's memory limit, e.g. `"1GB"`; `None` keeps DuckDB's default (80 % of RAM).
    pub memory_limit: Option<String>,
    /// Read connections kept open for reports.
    pub readers: usize,
    /// Write-ahead log bytes after which the checkpoint thread checkpoints
    /// ([`checkpoint::Checkpointer`]); DuckDB's own checkpoint in a commit is the backstop at
    /// four times this.
    pub checkpoint_wal: u64,
    /// DuckDB's `threads`; `None` keeps DuckDB's default (one per core).
    ///
    /// DuckDB runs a query's tasks on its worker threads as well as on the thread that asked,
    /// and that thread spins (`Executor::ExecuteTask`, taking and dropping the scheduler's
    /// mutexes) while a worker holds a task of its query. The writer's queries (an appender
    /// flush, a commit) are small and many, so a worker woken for each took the writer's work
    /// while the writer spun. On 2 cores `threads = 1` took 13 % off the server's CPU per
    /// ingested event and added 13–15 % events/s, and made the events-grain reports 1.9× slower
    /// on an idle server (BENCHMARKS.md, "DuckDB's worker threads"), hence not the default.
    pub threads: Option<usize>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            memory_limit: None,
            readers: 4,
            checkpoint_wal: checkpoint::CHECKPOINT_AFTER,
            threads: None,
        }
    }
}

/// The opened store: the connection the writer will own, and the read pool.
pub struct Store {
    pub path: PathBuf,
    /// [`StoreOptions::checkpoint_wal`].
    pub checkpoint_wal: u64,
    pub(crate) write_conn: Connection,
    pub readers: Readers,
}

impl Store {
    /// Opens (creating if needed) `<data_dir>/ledger.duckdb` and migrates it.
    ///
    /// # Errors
    /// [`StoreError::Locked`] when another process holds the file; other open and migration
    /// failures as such.
    pub fn open(data_dir: &Path, options: &StoreOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        let mut config = Config::default()
            // The bundled extensions are linked in; nothing is ever downloaded.
            .with("autoinstall_known_extensions", "false")
            .and_then(|config| config.with("autoload_known_extensions", "true"))
            // The checkpoint thread checkpoints after `checkpoint_wal` bytes of log, off the
            // writer; DuckDB's own, inside the commit that passes its threshold, is the backstop
            // for when that thread falls behind (its default 16 MB came every second at ingest
            // rates). Recovery replays at most this much log.
            .and_then(|config| {
                let backstop = options.checkpoint_wal.saturating_mul(4);
                config.with("checkpoint_threshold", format!("{backstop} bytes"))
            })
            .and_then(|config| config.with("max_vacuum_tasks", MAX_VACUUM_TASKS.to_string()))
            .and_then(|config| match options.threads {
                Some(threads) => config.with("threads", threads.to_string()),
                None => Ok(config),
            })
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        if let Some(limit) = &options.memory_limit {
            config = config
                .with("memory_limit", limit)
                .map_err(|source| StoreError::Open {
                    path: path.clone(),
                    source,
                })?;
        }
        let mut conn = Connection::open_with_flags(&path, config).map_err(|source| {
            if source.to_string().contains("lock") {
                StoreError::Locked { path: path.clone() }
            } else {
                StoreError::Open {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        schema::migrate(&mut conn)?;
        let readers = Readers::new(&conn, options.readers)?;
        Ok(Store {
            path,
            checkpoint_wal: options.checkpoint_wal,
            write_conn: conn,
            readers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threads_of(options: &StoreOptions) -> i64 {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), options).unwrap();
        store
            .readers
            .with_conn(|conn| {
                conn.query_row("SELECT current_setting('threads')::BIGINT", [], |row| row.get(0))
                    .map_err(StoreError::db("reading threads"))
            })
            .unwrap()
    }

    #[test]
    fn duckdb_threads_are_set_only_when_asked() {
        let one = StoreOptions {
            threads: Some(1),
            ..StoreOptions::default()
        };
        assert_eq!(threads_of(&one), 1);
        let duckdb_default: i64 = Connection::open_in_memory()
            .unwrap()
            .query_row("SELECT current_setting('threads')::BIGINT", [], |row| row.get(0))
            .unwrap();
        assert_eq!(threads_of(&StoreOptions::default()), duckdb_default);
    }
}
