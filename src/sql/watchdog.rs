//! The time limit of one sandbox query: a thread that interrupts the connection through DuckDB's
//! interrupt handle when the limit passes, unless it is stopped first.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use duckdb::InterruptHandle;

use super::SqlError;

/// Interrupts a connection after a time limit.
pub struct Watchdog {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    fired: Arc<AtomicBool>,
}

impl Watchdog {
    /// Starts the clock.
    ///
    /// # Errors
    /// When the thread cannot be started (the query then does not run).
    pub fn start(handle: Arc<InterruptHandle>, limit: Duration) -> Result<Watchdog, SqlError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("sql-watchdog".to_owned())
            .spawn({
                let fired = fired.clone();
                move || {
                    // A message or a dropped sender both mean the query is over.
                    if let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(limit) {
                        fired.store(true, Ordering::SeqCst);
                        handle.interrupt();
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

    /// Whether the limit has passed (and the connection was interrupted).
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// Stops the clock and tells whether it had fired. After this returns no interrupt comes.
    pub fn stop(mut self) -> bool {
        self.halt();
        self.fired()
    }

    fn halt(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // The thread only waits and interrupts; it cannot panic in a way worth reporting.
            let _ = thread.join();
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.halt();
    }
}
