//! The sandbox's DuckDB side: locking the database instance down once, and a pool of sandbox
//! connections that carry the documented views.
//!
//! A sandbox connection is a connection of the store's own database instance (`try_clone`):
//! opening the file a second time would make a second instance reading a file the first one
//! writes. So what protects the ledger is set on the instance and the connection, not on a file:
//!
//! - `queries/sql_lockdown.sql`, once per instance: no external access (files, network,
//!   extension loading), no autoloading, configuration locked;
//! - the connection's temporary views (`queries/sql_views.sql`, or `sql_views_scoped.sql` over
//!   one team's rows), the only names the policy lets a query use;
//! - every query runs in a `READ ONLY` transaction that is rolled back afterwards: DuckDB
//!   refuses any write to the ledger inside it, whatever got past the policy.
//!
//! A connection whose query was interrupted, or whose rollback failed, is dropped rather than
//! reused.

use std::collections::HashSet;
use std::sync::Mutex;

use duckdb::Connection;

use super::SqlError;
use super::policy::{Tree, TreeRow};

pub const LOCKDOWN_SQL: &str = include_str!("../../queries/sql_lockdown.sql");
pub const LOCKDOWN_STATE_SQL: &str = include_str!("../../queries/sql_lockdown_state.sql");
pub const VIEWS_SQL: &str = include_str!("../../queries/sql_views.sql");
pub const VIEWS_SCOPED_SQL: &str = include_str!("../../queries/sql_views_scoped.sql");
pub const AST_SQL: &str = include_str!("../../queries/sql_ast.sql");
pub const CATALOG_NAMES_SQL: &str = include_str!("../../queries/sql_catalog_names.sql");

/// Transaction control around each query; the rollback also discards anything temporary.
const BEGIN_READ_ONLY: &str = "BEGIN TRANSACTION READ ONLY";
const ROLLBACK: &str = "ROLLBACK";
/// Sets the team of a scoped connection's views (a bound value; a session variable, which is not
/// configuration, so the lock does not stop it).
const SET_TEAM_SCOPE: &str = "SET VARIABLE ledger_team_scope = ?";

/// Which rows a connection's views show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every team.
    All,
    /// One team, set per query.
    Team,
}

fn db(context: &'static str) -> impl FnOnce(duckdb::Error) -> SqlError {
    move |source| SqlError::Db { context, source }
}

/// Locks the database instance down (see `queries/sql_lockdown.sql`); idempotent.
///
/// # Errors
/// When a setting cannot be applied, or the instance is locked without external access
/// disabled (someone else locked it; the sandbox would not be safe).
pub fn lock_down(conn: &Connection) -> Result<(), SqlError> {
    let (locked, external_access): (bool, bool) = conn
        .query_row(LOCKDOWN_STATE_SQL, [], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(db("reading the lockdown state"))?;
    match (locked, external_access) {
        (false, _) => conn
            .execute_batch(LOCKDOWN_SQL)
            .map_err(db("locking the database down")),
        (true, false) => Ok(()),
        (true, true) => Err(SqlError::Unsafe(
            "the database configuration is locked with external access enabled".to_owned(),
        )),
    }
}

/// Sandbox connections, by scope, cloned from one template connection of the store.
pub struct Sessions {
    template: Mutex<Connection>,
    idle_all: Mutex<Vec<Connection>>,
    idle_team: Mutex<Vec<Connection>>,
    keep: usize,
}

impl Sessions {
    pub fn new(template: Connection, keep: usize) -> Sessions {
        Sessions {
            template: Mutex::new(template),
            idle_all: Mutex::new(Vec::new()),
            idle_team: Mutex::new(Vec::new()),
            keep: keep.max(1),
        }
    }

    fn idle(&self, scope: Scope) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        let idle = match scope {
            Scope::All => &self.idle_all,
            Scope::Team => &self.idle_team,
        };
        idle.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// A connection whose views show `scope`. Blocking.
    ///
    /// # Errors
    /// When a connection cannot be opened or its views created.
    pub fn checkout(&self, scope: Scope) -> Result<Connection, SqlError> {
        if let Some(conn) = self.idle(scope).pop() {
            return Ok(conn);
        }
        let conn = self
            .template
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .try_clone()
            .map_err(db("opening a sandbox connection"))?;
        let views = match scope {
            Scope::All => VIEWS_SQL,
            Scope::Team => VIEWS_SCOPED_SQL,
        };
        conn.execute_batch(views)
            .map_err(db("creating the sandbox views"))?;
        Ok(conn)
    }

    /// Returns a connection that is out of its transaction.
    pub fn checkin(&self, scope: Scope, conn: Connection) {
        let mut idle = self.idle(scope);
        if idle.len() < self.keep {
            idle.push(conn);
        }
    }
}

/// Every table and view name `conn` can resolve, lower-cased.
///
/// # Errors
/// Database failures.
pub fn catalog_names(conn: &Connection) -> Result<HashSet<String>, SqlError> {
    let mut statement = conn
        .prepare(CATALOG_NAMES_SQL)
        .map_err(db("listing catalog names"))?;
    let names = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(db("listing catalog names"))?
        .collect::<Result<HashSet<_>, _>>()
        .map_err(db("listing catalog names"))?;
    Ok(names)
}

/// DuckDB's parse tree of `sql` (see `queries/sql_ast.sql`).
///
/// # Errors
/// Database failures (an interrupt among them); a tree that does not hold together is refused.
pub fn parse_tree(conn: &Connection, sql: &str) -> Result<Tree, SqlError> {
    let mut statement = conn.prepare(AST_SQL).map_err(db("parsing the query"))?;
    let rows = statement
        .query_map([sql], |row| {
            Ok(TreeRow {
                id: row.get(0)?,
                parent: row.get(1)?,
                key: row.get(2)?,
                json_type: row.get(3)?,
                text: row.get(4)?,
            })
        })
        .map_err(db("parsing the query"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db("parsing the query"))?;
    Tree::from_rows(rows)
        .ok_or_else(|| SqlError::Unsafe("DuckDB's parse tree did not hold together".to_owned()))
}

/// Points a scoped connection's views at `team`.
///
/// # Errors
/// Database failures.
pub fn set_team_scope(conn: &Connection, team: &str) -> Result<(), SqlError> {
    conn.execute(SET_TEAM_SCOPE, [team])
        .map(|_| ())
        .map_err(db("setting the team scope"))
}

/// Opens the read-only transaction a query runs in.
///
/// # Errors
/// Database failures.
pub fn begin_read_only(conn: &Connection) -> Result<(), SqlError> {
    conn.execute_batch(BEGIN_READ_ONLY)
        .map_err(db("beginning a read-only transaction"))
}

/// Ends the query's transaction, discarding whatever it did.
///
/// # Errors
/// Database failures (the caller then drops the connection).
pub fn roll_back(conn: &Connection) -> Result<(), SqlError> {
    conn.execute_batch(ROLLBACK).map_err(db("rolling back"))
}
