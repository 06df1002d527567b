//! Handing back what DuckDB's buffer pool keeps cached after the writer's startup scan.
//!
//! DuckDB evicts a cached block only when it needs the room, so with its default limit (80 % of
//! RAM) the blocks of every stored `event_id` that the dedupe load read stay in memory for the
//! life of the process, although the writer never reads them again (196 MiB held before and
//! 63 MiB after at 10 million events). Lowering `memory_limit` for a moment evicts them; the
//! limit is then set back. The writer does this once for the server ([`CacheRelease`]), after
//! the load and before its first request; the server locks the configuration for the SQL
//! sandbox only after that.

use std::time::Instant;

use duckdb::Connection;

use super::StoreError;

/// `queries/memory_limit_set.sql`.
const SET_MEMORY_LIMIT_SQL: &str = include_str!("../../queries/memory_limit_set.sql");
/// `queries/memory_limit_reset.sql`.
const RESET_MEMORY_LIMIT_SQL: &str = include_str!("../../queries/memory_limit_reset.sql");
/// `queries/sql_memory.sql`.
const HELD_SQL: &str = include_str!("../../queries/sql_memory.sql");

/// The buffer pool is cut down to this for a moment; what is pinned stays.
const RELEASE_TO: &str = "64MiB";

/// Asks the writer to [`release`] once it has loaded the dedupe fingerprints, before it takes
/// its first request (so no commit runs under the lowered limit). Only for a caller that locks
/// the configuration after the writer answered its first request (`server::serve`): a
/// lockdown between the lowering and the restoring would keep the lowered limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRelease {
    /// The configured `memory_limit` to set back; `None` = DuckDB's default.
    pub memory_limit: Option<String>,
}

/// What [`release`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    pub held_before: u64,
    pub held_after: u64,
    /// Whether the lowered limit was reached (it is not when more than it is pinned).
    pub complete: bool,
}

/// Evicts the unpinned blocks of DuckDB's buffer pool and sets `memory_limit` back to
/// `configured`, or to DuckDB's default when none was configured. Blocks that are needed again
/// are read again; blocks not yet written are spilled to the temporary directory.
///
/// # Errors
/// When the limit cannot be set back (the configuration is locked, or the database fails); a
/// lowering that could not free enough is not an error ([`Released::complete`]).
pub fn release(conn: &Connection, configured: Option<&str>) -> Result<Released, StoreError> {
    release_to(conn, configured, RELEASE_TO)
}

fn release_to(conn: &Connection, configured: Option<&str>, lowered_to: &str) -> Result<Released, StoreError> {
    let started = Instant::now();
    let held_before = held_bytes(conn)?;
    let lowered = conn.execute(SET_MEMORY_LIMIT_SQL, [lowered_to]);
    match configured {
        Some(limit) => conn.execute(SET_MEMORY_LIMIT_SQL, [limit]),
        None => conn.execute(RESET_MEMORY_LIMIT_SQL, []),
    }
    .map_err(StoreError::db("setting the memory limit back"))?;
    let released = Released {
        held_before,
        held_after: held_bytes(conn)?,
        complete: lowered.is_ok(),
    };
    tracing::info!(
        held_before_mib = released.held_before >> 20,
        held_after_mib = released.held_after >> 20,
        complete = released.complete,
        memory_limit = configured.unwrap_or("DuckDB's default"),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "buffer pool released"
    );
    Ok(released)
}

/// The bytes the database instance holds, in its buffer pool and spilled to its temporary
/// directory (`queries/sql_memory.sql`).
///
/// # Errors
/// When DuckDB cannot answer.
pub fn held_bytes(conn: &Connection) -> Result<u64, StoreError> {
    let bytes: i64 = conn
        .prepare_cached(HELD_SQL)
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map_err(StoreError::db("reading the memory held"))?;
    Ok(u64::try_from(bytes).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_evicts_cached_blocks_and_sets_the_limit_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.duckdb");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE t AS SELECT i, md5(i::VARCHAR) AS s FROM range(400000) r(i); CHECKPOINT;",
            )
            .unwrap();
        }
        let conn = Connection::open(&path).unwrap();
        let limit = |conn: &Connection| -> String {
            conn.query_row("SELECT current_setting('memory_limit')", [], |row| row.get(0))
                .unwrap()
        };
        let before = limit(&conn);
        let distinct: i64 = conn
            .query_row("SELECT count(DISTINCT s) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(distinct, 400_000);
        let released = release_to(&conn, None, "1MiB").unwrap();
        assert!(released.complete, "{released:?}");
        assert!(released.held_after < released.held_before, "{released:?}");
        assert_eq!(limit(&conn), before);
        // A configured limit is set back exactly as configured.
        release_to(&conn, Some("3GiB"), "1MiB").unwrap();
        assert_eq!(limit(&conn), "3.0 GiB");
    }
}
