//! Checkpoints off the writer thread.
//!
//! DuckDB checkpoints inside the commit that pushes its write-ahead log over
//! `checkpoint_threshold`, so that commit, and every ack waiting on it, stalled for as long as the
//! checkpoint ran (0.6–1.6 s at ingest rates). The [`Checkpointer`] runs them on a thread and
//! connection of its own instead, once the log passes `checkpoint_wal` bytes; DuckDB's own
//! threshold stays as the backstop, at four times that.
//!
//! A checkpoint the writer does not wait for must be DuckDB's *concurrent* kind: a full one takes
//! the vacuum lock that every insert also takes, so the writer's next append would wait for all
//! of it. DuckDB runs a concurrent checkpoint when an open transaction began before the last
//! commit (it may still read versions the checkpoint must keep), so the thread opens a read
//! transaction, waits for a commit the writer began after it, and checkpoints. Meanwhile the
//! writer's commits, which only append, go to a second log that replaces the first when the
//! checkpoint is done. They still wait while the checkpoint writes `usage_events` itself (a
//! table-level lock), but no longer for the other tables, the metadata and the file syncs.
//!
//! A concurrent checkpoint leaves deleted rows (the rollup compactions delete) and partly filled
//! row groups in place (the writer's next rows begin a new group). A full checkpoint, which
//! vacuums them (a bounded number of merges, [`super::MAX_VACUUM_TASKS`]), runs when the writer
//! is idle (no commit within [`PIN_WAIT`] and none being written) and at shutdown. The writer
//! says when it is writing a group ([`WriterActivity`]): a group commit that takes longer than
//! [`PIN_WAIT`] (seconds, once the machine is saturated) used to look idle, and the full
//! checkpoint that followed stalled every ack for 2.7–3.9 s and rewrote the partial row groups
//! of millions of events in memory (+1.2 GiB of RSS at 3 million, BENCHMARKS.md), which slowed
//! the next commit, which looked idle again. Every [`FULL_EVERY`] one is also asked for while
//! the writer is busy, without the read transaction; DuckDB still makes it concurrent when the
//! writer's transaction is open at that moment (it cannot take the vacuum lock then), so under
//! sustained load the vacuum may wait for the next idle moment.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use duckdb::Connection;

use super::StoreError;

/// Write-ahead log bytes after which the thread checkpoints, by default. What was appended since
/// the last checkpoint waits in DuckDB's buffer pool, so this sets part of the peak memory while
/// ingesting: 128 MiB against 256 MiB took 70–100 MB off the server's peak onto 10 million
/// stored events (BENCHMARKS.md, 2026-12-04). Smaller ones shorten the ack tail, since a
/// checkpoint holds `usage_events` against the writer's commit while it writes it: 64 MiB against
/// 128 MiB gave p99s of 489/468 against 616/573 ms over 3 million events and 408 against 488 ms
/// over 10 million, with the same events/s within the noise, the same peak RSS and the same bytes
/// per event in use (78.9 against 79.8 at 10 million). 32 MiB went further (p99 408 against 583
/// ms over 10 million on another machine) but cost 4 % of events/s and 82 bytes per event in
/// use, as more partly filled row groups are left (BENCHMARKS.md, 2026-12-05).
pub const CHECKPOINT_AFTER: u64 = 64 << 20;

/// How often the log's size is looked at.
const POLL: Duration = Duration::from_millis(100);

/// How long a checkpoint waits for a commit of the writer to run concurrently with it; without
/// one, and with no group being written, the writer is idle and the checkpoint is a full one.
pub const PIN_WAIT: Duration = Duration::from_millis(500);

/// How long a checkpoint waits for the commit of a group the writer is writing before it runs
/// anyway (DuckDB then makes it concurrent itself if the writer's transaction is still open).
const BUSY_WAIT: Duration = Duration::from_secs(30);
const PIN_POLL: Duration = Duration::from_millis(2);

/// A full checkpoint is asked for at least this often, even while the writer is busy.
pub const FULL_EVERY: Duration = Duration::from_secs(600);

/// A failing checkpoint is logged as a warning at most this often.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// What the writer tells the checkpoint thread: whether it is writing a group, and how many it
/// has committed.
#[derive(Debug, Default)]
pub struct WriterActivity {
    commits: AtomicU64,
    writing: AtomicBool,
}

impl WriterActivity {
    /// The writer begins a group.
    pub fn writing(&self) {
        self.writing.store(true, Ordering::Release);
    }

    /// The writer committed the group it was writing.
    pub fn committed(&self) {
        self.commits.fetch_add(1, Ordering::Release);
        self.writing.store(false, Ordering::Release);
    }

    /// The group the writer was writing failed and was rolled back.
    pub fn failed(&self) {
        self.writing.store(false, Ordering::Release);
    }

    fn commits(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }

    fn is_writing(&self) -> bool {
        self.writing.load(Ordering::Acquire)
    }
}

/// The checkpoint thread. Stopping or dropping it waits for a checkpoint it is running.
pub struct Checkpointer {
    activity: Arc<WriterActivity>,
    done: Arc<Done>,
    stop: Option<mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread for the database file `db_path`, with two connections of its own (one
    /// checkpoints, one holds the read transaction that makes the checkpoint concurrent).
    ///
    /// # Errors
    /// When the OS refuses a thread.
    pub fn spawn(
        conn: Connection,
        pin: Connection,
        db_path: PathBuf,
        after: u64,
    ) -> std::io::Result<Checkpointer> {
        let activity = Arc::new(WriterActivity::default());
        let thread_activity = activity.clone();
        let done = Arc::new(Done::default());
        let thread_done = done.clone();
        let mut wal = db_path.into_os_string();
        wal.push(".wal");
        let wal = PathBuf::from(wal);
        let (stop, stopped) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("ledger-checkpoint".to_owned())
            .spawn(move || {
                let thread = CheckpointThread {
                    conn,
                    pin,
                    wal,
                    after,
                    activity: thread_activity,
                    done: thread_done,
                    stopped,
                };
                thread.run();
            })?;
        Ok(Checkpointer {
            activity,
            done,
            stop: Some(stop),
            handle: Some(handle),
        })
    }

    /// What the writer updates as it writes and commits groups.
    #[must_use]
    pub fn activity(&self) -> Arc<WriterActivity> {
        self.activity.clone()
    }

    /// Checkpoints done so far: (concurrent, full).
    #[must_use]
    pub fn done(&self) -> (u64, u64) {
        (
            self.done.concurrent.load(Ordering::Relaxed),
            self.done.full.load(Ordering::Relaxed),
        )
    }

    /// Stops the thread, after a checkpoint it may be running.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.stop = None;
        if let Some(handle) = self.handle.take()
            && handle.join().is_err()
        {
            tracing::error!("the checkpoint thread panicked");
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shut();
    }
}

/// How waiting for a commit of the writer ended.
enum Pin {
    /// A commit came: the read transaction is open, the checkpoint will be concurrent.
    Pinned,
    /// None came (or the transaction could not be opened): the checkpoint will be full.
    Idle,
    /// The thread is to stop.
    Stopped,
}

#[derive(Default)]
struct Done {
    concurrent: AtomicU64,
    full: AtomicU64,
}

struct CheckpointThread {
    conn: Connection,
    pin: Connection,
    wal: PathBuf,
    after: u64,
    activity: Arc<WriterActivity>,
    done: Arc<Done>,
    /// Disconnected when the thread is to stop.
    stopped: mpsc::Receiver<()>,
}

impl CheckpointThread {
    fn run(&self) {
        let mut last_full = Instant::now();
        let mut last_warned: Option<Instant> = None;
        // Sleeps POLL, returning false once stopped.
        while matches!(self.stopped.recv_timeout(POLL), Err(RecvTimeoutError::Timeout)) {
            let wal_bytes = size_of(&self.wal);
            if wal_bytes < self.after {
                continue;
            }
            let started = Instant::now();
            let pinned = if last_full.elapsed() < FULL_EVERY {
                match self.pin_snapshot() {
                    Pin::Pinned => true,
                    Pin::Idle => false,
                    // The writer checkpoints once more as it stops.
                    Pin::Stopped => return,
                }
            } else {
                false
            };
            let result = self.conn.execute_batch("CHECKPOINT");
            if pinned {
                self.unpin();
            }
            match result {
                Ok(()) => {
                    if pinned {
                        self.done.concurrent.fetch_add(1, Ordering::Relaxed);
                    } else {
                        self.done.full.fetch_add(1, Ordering::Relaxed);
                        last_full = Instant::now();
                    }
                    tracing::debug!(
                        wal_mib = wal_bytes >> 20,
                        concurrent = pinned,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        duckdb_held_mib = super::cache::held_bytes(&self.conn).ok().map(|bytes| bytes >> 20),
                        "checkpointed"
                    );
                }
                // A transaction that does more than append holds the checkpoint off (a retention
                // pass, a re-price, stored prices); the next poll tries again. Anything else (a
                // full disk) is worth a warning, once a minute while it lasts.
                Err(error) if error.to_string().contains("other write transactions") => {
                    tracing::debug!(%error, wal_mib = wal_bytes >> 20, "checkpoint deferred");
                }
                Err(error) => {
                    if last_warned.is_none_or(|warned| warned.elapsed() >= WARN_EVERY) {
                        tracing::warn!(%error, wal_mib = wal_bytes >> 20, "checkpoint failed; retried, and DuckDB checkpoints inside a commit once the log is 4 × checkpoint_wal");
                        last_warned = Some(Instant::now());
                    }
                }
            }
        }
    }

    /// Opens a read transaction and waits for a commit of the writer after it began. When one
    /// comes the transaction stays open ([`CheckpointThread::unpin`] ends it). The writer is idle
    /// when no commit came within [`PIN_WAIT`] of the last one seen and it is not writing a
    /// group; one it is writing is waited for up to [`BUSY_WAIT`].
    fn pin_snapshot(&self) -> Pin {
        // A transaction begins at its first statement on the database, not at BEGIN.
        if let Err(error) = self
            .pin
            .execute_batch("BEGIN TRANSACTION; SELECT count(*) FROM schema_migrations")
        {
            tracing::error!(%error, "opening the checkpoint's read transaction failed");
            let _ = self.pin.execute_batch("ROLLBACK"); // There may be no transaction to end.
            return Pin::Idle;
        }
        // Counted only once the transaction has begun, and two commits waited for: the writer
        // counts a commit just after DuckDB made it, so the first one counted from here may have
        // been made before the transaction began; the second began after the first was counted.
        // (Counting before BEGIN let a commit made while the transaction was being opened pass
        // for one after it: DuckDB then saw no older reader and ran a full checkpoint, which
        // stalled the writer and rewrote the partly filled row groups, 3 of 16 checkpoints in a
        // 3M-event run.)
        let mut seen = self.activity.commits();
        let wanted = seen + 2;
        // Idleness is measured from the last commit seen, as with one commit to wait for.
        let mut began = Instant::now();
        while seen < wanted {
            let waited = began.elapsed();
            let outcome = if waited >= BUSY_WAIT || (waited >= PIN_WAIT && !self.activity.is_writing()) {
                Some(Pin::Idle)
            } else if matches!(
                self.stopped.recv_timeout(PIN_POLL),
                Err(RecvTimeoutError::Timeout)
            ) {
                None
            } else {
                Some(Pin::Stopped)
            };
            if let Some(outcome) = outcome {
                self.unpin();
                return outcome;
            }
            let now = self.activity.commits();
            if now != seen {
                seen = now;
                began = Instant::now();
            }
        }
        Pin::Pinned
    }

    fn unpin(&self) {
        if let Err(error) = self.pin.execute_batch("ROLLBACK") {
            tracing::error!(%error, "ending the checkpoint's read transaction failed");
        }
    }
}

/// The size of the file at `path`, 0 when there is none.
fn size_of(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |metadata| metadata.len())
}

/// The file of the database `conn` is attached to, `None` in memory.
///
/// # Errors
/// Database failures.
pub fn database_path(conn: &Connection) -> Result<Option<PathBuf>, StoreError> {
    conn.query_row(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()",
        [],
        |row| row.get::<_, Option<String>>(0),
    )
    .map(|path| path.filter(|path| !path.is_empty()).map(PathBuf::from))
    .map_err(StoreError::db("finding the database file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ledger in a temp dir (kept while the returned guard lives) with `setup` run on its write
    /// connection; returns that connection and the database file.
    fn ledger(setup: &str) -> (tempfile::TempDir, Connection, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::Store::open(dir.path(), &super::super::StoreOptions::default()).unwrap();
        let conn = store.write_conn;
        conn.execute_batch(setup).unwrap();
        let path = database_path(&conn).unwrap().expect("a file database");
        (dir, conn, path)
    }

    /// A checkpoint thread that checkpoints as soon as the log holds anything.
    fn checkpoint_every_byte(conn: &Connection, path: &Path) -> Checkpointer {
        Checkpointer::spawn(
            conn.try_clone().unwrap(),
            conn.try_clone().unwrap(),
            path.to_path_buf(),
            1,
        )
        .unwrap()
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Commits 100 rows at a time into `appended`, `pause` apart, saying so in `activity` as the
    /// writer does, until `enough` (failing after 60 s); returns the rows committed.
    fn commit_until(
        conn: &Connection,
        activity: &WriterActivity,
        pause: Duration,
        mut enough: impl FnMut() -> bool,
    ) -> i64 {
        let started = Instant::now();
        let mut appended: i64 = 0;
        while !enough() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "timed out committing"
            );
            activity.writing();
            conn.execute(
                "INSERT INTO appended SELECT range FROM range(?, ? + 100)",
                duckdb::params![appended, appended],
            )
            .unwrap();
            appended += 100;
            activity.committed();
            std::thread::sleep(pause);
        }
        appended
    }

    /// While a writer appends and commits, checkpoints run concurrently with it and lose
    /// nothing; once it is idle, a full checkpoint empties the log.
    #[test]
    fn checkpoints_run_beside_a_committing_writer_and_fully_when_it_is_idle() {
        let (_dir, conn, path) = ledger("CREATE TABLE appended (n BIGINT, label VARCHAR)");
        let checkpointer = checkpoint_every_byte(&conn, &path);
        let activity = checkpointer.activity();
        let mut appended: i64 = 0;
        let mut append = |rows: i64| {
            activity.writing();
            conn.execute(
                "INSERT INTO appended SELECT range, 'row ' || range FROM range(?, ? + ?)",
                duckdb::params![appended, appended, rows],
            )
            .unwrap();
            appended += rows;
            activity.committed();
        };
        let started = Instant::now();
        while checkpointer.done().0 < 2 {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no concurrent checkpoint"
            );
            append(2_000);
            std::thread::sleep(Duration::from_millis(3));
        }
        let (_, full_before) = checkpointer.done();
        append(2_000);
        wait_for("a full checkpoint of the idle writer", || {
            checkpointer.done().1 > full_before
        });
        checkpointer.stop();
        let wal = PathBuf::from(format!("{}.wal", path.display()));
        assert_eq!(size_of(&wal), 0, "the full checkpoint emptied the log");
        let (rows, distinct): (i64, i64) = conn
            .query_row("SELECT count(*), count(DISTINCT n) FROM appended", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .unwrap();
        assert_eq!((rows, distinct), (appended, appended));
    }

    /// A group the writer takes longer than [`PIN_WAIT`] to write is not idleness: the checkpoint
    /// waits for its commit and runs concurrently, instead of a full checkpoint that would stall
    /// the writer and rewrite the partly filled row groups.
    #[test]
    fn a_slow_group_is_waited_for_not_taken_for_idleness() {
        let (_dir, conn, path) = ledger("CREATE TABLE appended (n BIGINT)");
        let checkpointer = checkpoint_every_byte(&conn, &path);
        // The log of the setup is checkpointed fully: nothing is writing.
        wait_for("the first checkpoint", || checkpointer.done().1 > 0);
        let activity = checkpointer.activity();
        let before = checkpointer.done();
        activity.writing();
        conn.execute_batch("INSERT INTO appended SELECT range FROM range(1000)")
            .unwrap();
        activity.committed();
        // The next group begins at once and takes three times PIN_WAIT.
        activity.writing();
        conn.execute_batch("BEGIN TRANSACTION; INSERT INTO appended SELECT range FROM range(1000, 2000)")
            .unwrap();
        std::thread::sleep(PIN_WAIT * 3);
        conn.execute_batch("COMMIT").unwrap();
        activity.committed();
        // And the writer goes on: the checkpoint waits for a second commit (see pin_snapshot).
        activity.writing();
        conn.execute_batch("INSERT INTO appended SELECT range FROM range(2000, 3000)")
            .unwrap();
        activity.committed();
        wait_for("a concurrent checkpoint", || checkpointer.done().0 > before.0);
        assert_eq!(
            checkpointer.done().1,
            before.1,
            "no full checkpoint while the group was written"
        );
        checkpointer.stop();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM appended", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 3000);
    }

    /// A writer that commits every 300 ms is busy, not idle: the two commits a checkpoint waits
    /// for take longer than [`PIN_WAIT`], but no gap between them does.
    #[test]
    fn commits_less_than_pin_wait_apart_are_not_idleness() {
        let (_dir, conn, path) = ledger("CREATE TABLE appended (n BIGINT)");
        let checkpointer = checkpoint_every_byte(&conn, &path);
        wait_for("the first checkpoint", || checkpointer.done().1 > 0);
        let activity = checkpointer.activity();
        let before = checkpointer.done();
        commit_until(&conn, &activity, Duration::from_millis(300), || {
            checkpointer.done().0 > before.0
        });
        assert_eq!(checkpointer.done().1, before.1, "no full checkpoint");
        checkpointer.stop();
    }

    /// Beside a writer that commits back to back, every checkpoint the thread counts as
    /// concurrent is one in DuckDB's eyes too: a full one would vacuum, merging the partly filled
    /// row groups the concurrent ones leave behind. The full one that comes later merges a few.
    #[test]
    fn checkpoints_beside_back_to_back_commits_are_all_concurrent() {
        let (_dir, conn, path) = ledger("CREATE TABLE appended (n BIGINT)");
        let checkpointer = checkpoint_every_byte(&conn, &path);
        wait_for("the first checkpoint", || checkpointer.done().1 > 0);
        let activity = checkpointer.activity();
        let full_before = checkpointer.done().1;
        let appended = commit_until(&conn, &activity, Duration::ZERO, || checkpointer.done().0 >= 40);
        assert_eq!(
            checkpointer.done().1,
            full_before,
            "no idle moment for a full checkpoint"
        );
        checkpointer.stop();
        let row_groups = || -> Vec<(i64, i64)> {
            conn.prepare(
                "SELECT row_group_id, max(count) FROM pragma_storage_info('appended') \
                 WHERE column_id = 0 GROUP BY ALL ORDER BY ALL",
            )
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        let left = row_groups();
        // Each concurrent checkpoint leaves at least one group (the writer's next rows begin a
        // new one); a full one merges up to ten of these small ones per vacuum task.
        assert!(
            left.len() >= 40,
            "{appended} rows in {left:?}: a checkpoint vacuumed"
        );
        // A full checkpoint merges them a few at a time (MAX_VACUUM_TASKS), not all at once.
        conn.execute_batch("CHECKPOINT").unwrap();
        let merged = row_groups();
        assert!(
            merged.len() < left.len() && merged.len() > left.len() / 2,
            "{} row groups became {merged:?}",
            left.len()
        );
    }

    /// A transaction that updates rows holds checkpoints off until it ends; then the next one
    /// runs.
    #[test]
    fn an_open_update_defers_the_checkpoint_until_it_commits() {
        let (_dir, conn, path) = ledger("CREATE TABLE counters (n BIGINT); INSERT INTO counters VALUES (1)");
        let updater = conn.try_clone().unwrap();
        updater
            .execute_batch("BEGIN TRANSACTION; UPDATE counters SET n = n + 1")
            .unwrap();
        let checkpointer = checkpoint_every_byte(&conn, &path);
        // Long enough for a poll, the wait for a commit and a refused checkpoint.
        std::thread::sleep(PIN_WAIT + POLL * 5);
        assert_eq!(
            checkpointer.done(),
            (0, 0),
            "no checkpoint while the update is open"
        );
        updater.execute_batch("COMMIT").unwrap();
        wait_for("the deferred checkpoint", || checkpointer.done().1 > 0);
        checkpointer.stop();
        let n: i64 = conn
            .query_row("SELECT n FROM counters", [], |row| row.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }
}
