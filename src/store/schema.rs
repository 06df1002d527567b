//! Schema migrations: numbered SQL files in `store/migrations/`, applied in order, each in its
//! own transaction, recorded in `schema_migrations`.

use duckdb::Connection;

use super::StoreError;

/// Every migration, in order. Never edit a released one: add the next number.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (2, "rollups", include_str!("migrations/0002_rollups.sql")),
    (
        3,
        "daily_rollup",
        include_str!("migrations/0003_daily_rollup.sql"),
    ),
    (4, "retention", include_str!("migrations/0004_retention.sql")),
    (
        5,
        "fingerprints",
        include_str!("migrations/0005_fingerprints.sql"),
    ),
    (
        6,
        "rollups_append_only",
        include_str!("migrations/0006_rollups_append_only.sql"),
    ),
    (
        7,
        "focus_lines_append_only",
        include_str!("migrations/0007_focus_lines_append_only.sql"),
    ),
    (
        8,
        "fingerprints_in_memory_only",
        include_str!("migrations/0008_fingerprints_in_memory_only.sql"),
    ),
];

/// Brings the database up to the latest schema.
///
/// # Errors
/// [`StoreError::Migration`] naming the migration that failed; nothing of it is applied.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_through(conn, latest_version())
}

/// Applies the migrations up to version `last`.
fn migrate_through(conn: &mut Connection, last: i32) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)",
    )
    .map_err(|source| StoreError::Migration { version: 0, source })?;
    for (version, name, sql) in MIGRATIONS.iter().filter(|(version, _, _)| *version <= last) {
        let applied: i64 = conn
            .query_row(
                "SELECT count(*) FROM schema_migrations WHERE version = ?",
                [version],
                |row| row.get(0),
            )
            .map_err(|source| StoreError::Migration {
                version: *version,
                source,
            })?;
        if applied > 0 {
            continue;
        }
        let tx = conn.transaction().map_err(|source| StoreError::Migration {
            version: *version,
            source,
        })?;
        tx.execute_batch(sql)
            .and_then(|()| {
                tx.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, now()::TIMESTAMP)",
                    duckdb::params![version, name],
                )
            })
            .map_err(|source| StoreError::Migration {
                version: *version,
                source,
            })?;
        tx.commit().map_err(|source| StoreError::Migration {
            version: *version,
            source,
        })?;
        tracing::info!(version, name, "schema migration applied");
    }
    Ok(())
}

/// The latest schema version this build knows.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |(version, _, _)| *version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dedupe::Fingerprints;

    /// A ledger written before 0008 keeps its events and their dedupe; the stored fingerprint
    /// column goes.
    #[test]
    fn dropping_the_stored_fingerprints_keeps_events_and_dedupe() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_through(&mut conn, 7).unwrap();
        conn.execute_batch(
            "INSERT INTO usage_events (event_id, source, ts, team, tags, provider, model_requested, model,
                 model_key, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
                 cache_write_1h_tokens, reasoning_tokens, service_tier, cost_source, request_count, attempts,
                 status_code, is_error, cache_hit, ingested_at, event_fp)
             VALUES ('a', 'litellm', now()::TIMESTAMP, 't', MAP {}, 'openai', 'm', 'm', 'm', 0, 0, 0, 0, 0, 0,
                 'default', 'unpriced', 1, 1, 200, false, false, now()::TIMESTAMP, 42)",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let columns: i64 = conn
            .query_row(
                "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'usage_events' AND column_name = 'event_fp'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(columns, 0);
        let fingerprints = Fingerprints::load(&conn).unwrap();
        assert_eq!(fingerprints.len(), 1);
        assert!(fingerprints.may_contain(fingerprints.of("litellm", "a")));
    }
}
