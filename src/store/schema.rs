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
];

/// Brings the database up to the latest schema.
///
/// # Errors
/// [`StoreError::Migration`] naming the migration that failed; nothing of it is applied.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)",
    )
    .map_err(|source| StoreError::Migration { version: 0, source })?;
    for (version, name, sql) in MIGRATIONS {
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
