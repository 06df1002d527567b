//! The limits of one running sandbox query that DuckDB cannot enforce per query: a thread that
//! interrupts the connection through DuckDB's interrupt handle when the time limit passes, or
//! when the memory the database instance holds (buffer pool and spilled temporary storage)
//! grows by more than the query's memory cap while it runs, unless it is stopped first.
//!
//! DuckDB's `memory_limit` is one setting for the whole instance, which the sandbox shares with
//! the writer and the reports; a per-query cap therefore has to be watched from outside. The
//! growth is measured for the instance, not the query alone: another query growing at the same
//! time counts against it too, which errs on the side of stopping ad-hoc SQL, never ingest.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use duckdb::{Connection, InterruptHandle};

use super::SqlError;

/// How often the memory is looked at while a query runs.
const MEMORY_POLL: Duration = Duration::from_millis(50);

/// Reads how much memory the database instance holds, on a connection of its own.
#[derive(Clone)]
pub struct MemoryProbe {
    conn: Arc<Mutex<Connection>>,
}

impl MemoryProbe {
    pub fn new(conn: Connection) -> MemoryProbe {
        MemoryProbe {
            conn: Arc::new(Mutex::new(conn)),
        }
    }

    /// The bytes held now, or `None` when they cannot be read (the cap is then not enforced
    /// for that poll; the time limit still is).
    pub fn held_bytes(&self) -> Option<u64> {
        let conn = self.conn.lock().unwrap_or_else(|poison| poison.into_inner());
        crate::store::cache::held_bytes(&conn).ok()
    }
}

/// Why a watchdog stopped a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    Time,
    Memory,
}

const NOT_FIRED: u8 = 0;
const FIRED_TIME: u8 = 1;
const FIRED_MEMORY: u8 = 2;

/// Interrupts a connection after a time limit or past a memory cap.
pub struct Watchdog {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    fired: Arc<AtomicU8>,
}

impl Watchdog {
    /// Starts the clock (and, with a probe, the memory watch: growth over `max_memory_bytes`
    /// from what the instance held at the start).
    ///
    /// # Errors
    /// When the thread cannot be started (the query then does not run).
    pub fn start(
        handle: Arc<InterruptHandle>,
        limit: Duration,
        memory: Option<(MemoryProbe, u64)>,
    ) -> Result<Watchdog, SqlError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicU8::new(NOT_FIRED));
        let baseline = memory
            .as_ref()
            .and_then(|(probe, _)| probe.held_bytes())
            .unwrap_or(0);
        let deadline = Instant::now() + limit;
        let thread = std::thread::Builder::new()
            .name("sql-watchdog".to_owned())
            .spawn({
                let fired = fired.clone();
                move || {
                    loop {
                        let left = deadline.saturating_duration_since(Instant::now());
                        let wait = if memory.is_some() {
                            left.min(MEMORY_POLL)
                        } else {
                            left
                        };
                        // A message or a dropped sender both mean the query is over.
                        match stopped.recv_timeout(wait) {
                            Err(RecvTimeoutError::Timeout) => {}
                            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                        }
                        if Instant::now() >= deadline {
                            fired.store(FIRED_TIME, Ordering::SeqCst);
                            handle.interrupt();
                            return;
                        }
                        if let Some((probe, cap)) = &memory
                            && probe
                                .held_bytes()
                                .is_some_and(|held| held.saturating_sub(baseline) > *cap)
                        {
                            fired.store(FIRED_MEMORY, Ordering::SeqCst);
                            handle.interrupt();
                            return;
                        }
                    }
                }
            })
            .map_err(|error| SqlError::Unsafe(format!("cannot start the query's watchdog: {error}")))?;
        Ok(Watchdog {
            stop: Some(stop),
            thread: Some(thread),
            fired,
        })
    }

    /// Whether a limit was passed (and the connection was interrupted).
    pub fn fired(&self) -> Option<Fired> {
        match self.fired.load(Ordering::SeqCst) {
            FIRED_TIME => Some(Fired::Time),
            FIRED_MEMORY => Some(Fired::Memory),
            _ => None,
        }
    }

    /// Stops the watch and tells whether it had fired. After this returns no interrupt comes.
    pub fn stop(mut self) -> Option<Fired> {
        self.halt();
        self.fired()
    }

    fn halt(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // The thread only waits, reads a figure and interrupts; nothing worth reporting.
            let _ = thread.join();
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.halt();
    }
}
