//! Ad-hoc SQL that cannot escape: one read-only statement over the documented views, with a time
//! limit, a row cap and a cap on concurrent queries (`POST /v1/sql`, `llm-ledger query`).
//!
//! Entry point: [`Sandbox`] — [`Sandbox::open`] locks the database instance down and prepares
//! the sandbox connections; [`Sandbox::admit`] takes one of the concurrent slots;
//! [`Sandbox::run`] runs one query and returns a [`QueryOutput`], which
//! [`QueryOutput::encode`] turns into JSON, CSV, an Arrow IPC stream or Parquet.
//!
//! What stops a query from escaping, outermost first (README "Ad-hoc SQL" has the list of what
//! is blocked):
//! - the instance: external access disabled (no files, network or extension loading), no
//!   extension autoloading, configuration locked (`session::lock_down`);
//! - the statement: DuckDB's parser must find exactly one SELECT, and [`policy`] checks every
//!   node of its parse tree (read-only query nodes, the documented views only, a short list of
//!   table functions, no functions that reach server state);
//! - the transaction: the query runs in `BEGIN TRANSACTION READ ONLY`, rolled back afterwards;
//! - the views: a connection sees the ledger only through temporary views, which for a team
//!   scope show only that team's rows;
//! - the clock and the caps: a watchdog interrupts the connection at the time limit, rows past
//!   the cap are not read, and at most `max_concurrent` queries run at once.
//!
//! Invariants: user text reaches DuckDB only as a bound value (to be parsed) and, once the
//! policy passed it, as the statement itself; nothing runs before the policy has judged the
//! whole text; `sql` never writes.

pub mod encode;
pub mod keyword;
pub mod policy;
pub mod result;
pub mod session;
pub mod watchdog;

use std::sync::Arc;
use std::time::{Duration, Instant};

use duckdb::Connection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use encode::{SqlDocument, SqlFormat};
pub use result::{QueryOutput, SqlColumn};

use crate::config::SqlLimits;
use crate::store::{Readers, StoreError};
use policy::Policy;
use result::Shape;
use session::{Scope, Sessions};
use watchdog::{Fired, MemoryProbe, Watchdog};

/// The longest SQL text accepted.
pub const MAX_SQL_BYTES: usize = 1024 * 1024;

/// A sandbox query that did not produce rows.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The query asks for something the sandbox does not allow.
    #[error("{construct} is not allowed: {reason}")]
    NotAllowed { construct: String, reason: String },
    /// DuckDB could not parse, bind or run the query (its message).
    #[error("{0}")]
    Invalid(String),
    /// The query ran past its time limit and was interrupted.
    #[error("the query ran longer than {} ms and was stopped", .limit.as_millis())]
    Timeout { limit: Duration },
    /// The database instance's memory grew past the query's cap while it ran; it was stopped.
    #[error("the query needed more than {limit_bytes} bytes of memory and was stopped")]
    MemoryLimit { limit_bytes: u64 },
    /// The database instance reached its `memory_limit` (DuckDB's message).
    #[error("{0}")]
    OutOfMemory(String),
    /// Every concurrent slot is taken.
    #[error("{limit} ad-hoc queries are already running; retry shortly")]
    Busy { limit: usize },
    /// The result could not be encoded.
    #[error("cannot encode the result: {0}")]
    Output(String),
    /// The sandbox cannot vouch for its own safety (a defect); nothing ran.
    #[error("the SQL sandbox is not safe to use: {0}")]
    Unsafe(String),
    #[error("database error while {context}")]
    Db {
        context: &'static str,
        #[source]
        source: duckdb::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The limits of one query: the server's caps, lowered by the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    pub timeout: Duration,
    pub max_rows: usize,
}

impl SqlLimits {
    /// The caps, lowered (never raised) by what a request asks for.
    pub fn lowered(&self, timeout: Option<Duration>, max_rows: Option<usize>) -> QueryLimits {
        QueryLimits {
            timeout: timeout.map_or(self.timeout, |asked| asked.min(self.timeout)),
            max_rows: max_rows.map_or(self.max_rows, |asked| asked.min(self.max_rows)),
        }
    }
}

/// One of the concurrent slots, held for the whole query (and its encoding).
pub struct Admission {
    _permit: OwnedSemaphorePermit,
}

/// The SQL sandbox of one database instance.
pub struct Sandbox {
    sessions: Sessions,
    memory: MemoryProbe,
    policy: Policy,
    limits: SqlLimits,
    slots: Arc<Semaphore>,
}

impl Sandbox {
    /// Locks the store's database instance down for good (external access, extensions,
    /// configuration; see `queries/sql_lockdown.sql`) and prepares the sandbox connections.
    /// Call it once the ledger has done its own setup. Blocking.
    ///
    /// # Errors
    /// Database failures; nothing is usable then.
    pub fn open(readers: &Readers, limits: SqlLimits) -> Result<Sandbox, SqlError> {
        let template: Connection = readers.with_conn(|conn| {
            conn.try_clone()
                .map_err(StoreError::db("opening the sandbox connection"))
        })?;
        let memory = readers.with_conn(|conn| {
            conn.try_clone()
                .map_err(StoreError::db("opening the sandbox's memory probe"))
        })?;
        session::lock_down(&template)?;
        let sessions = Sessions::new(template, limits.max_concurrent);
        let probe = sessions.checkout(Scope::All)?;
        let names = session::catalog_names(&probe)?;
        sessions.checkin(Scope::All, probe);
        Ok(Sandbox {
            sessions,
            memory: MemoryProbe::new(memory),
            policy: Policy::new(names),
            limits,
            slots: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
        })
    }

    /// The server's caps.
    pub fn limits(&self) -> SqlLimits {
        self.limits
    }

    /// Takes a concurrent slot without waiting.
    ///
    /// # Errors
    /// [`SqlError::Busy`] when every slot is taken.
    pub fn admit(&self) -> Result<Admission, SqlError> {
        self.slots
            .clone()
            .try_acquire_owned()
            .map(|permit| Admission { _permit: permit })
            .map_err(|_| SqlError::Busy {
                limit: self.limits.max_concurrent,
            })
    }

    /// Runs one query. `team_scope` limits every view to that team's rows (and prices, which
    /// are not team data). Blocking: call it off the async workers.
    ///
    /// # Errors
    /// [`SqlError::NotAllowed`], [`SqlError::Invalid`], [`SqlError::Timeout`]; database
    /// failures.
    pub fn run(
        &self,
        admission: &Admission,
        sql: &str,
        limits: QueryLimits,
        team_scope: Option<&str>,
    ) -> Result<QueryOutput, SqlError> {
        let _ = admission; // Held by the caller for as long as the query and its encoding last.
        let started = Instant::now();
        let statement = Statement::split(sql)?;
        if team_scope.is_some() && statement.explain {
            // A plan's row estimates come from whole-table statistics, not from the team's rows.
            return Err(SqlError::NotAllowed {
                construct: "`EXPLAIN`".to_owned(),
                reason: "a team-scoped key may not see plans: their estimates describe every team's rows"
                    .to_owned(),
            });
        }
        let scope = if team_scope.is_some() {
            Scope::Team
        } else {
            Scope::All
        };
        let conn = self.sessions.checkout(scope)?;
        let watchdog = Watchdog::start(
            conn.interrupt_handle(),
            limits.timeout,
            Some((self.memory.clone(), self.limits.max_memory_bytes)),
        )?;
        let outcome = self.query(&conn, &statement, limits, team_scope, &watchdog);
        if let Some(fired) = watchdog.stop() {
            // The connection may carry the interrupt into its next statement; it is dropped
            // (which rolls its transaction back) rather than reused.
            drop(conn);
            return Err(match fired {
                Fired::Time => SqlError::Timeout {
                    limit: limits.timeout,
                },
                Fired::Memory => SqlError::MemoryLimit {
                    limit_bytes: self.limits.max_memory_bytes,
                },
            });
        }
        match session::roll_back(&conn) {
            Ok(()) => self.sessions.checkin(scope, conn),
            Err(error) => tracing::warn!(error = %error, "a sandbox connection would not roll back; dropped"),
        }
        let mut output = outcome?;
        output.elapsed = started.elapsed();
        Ok(output)
    }

    /// Checks and runs the statement inside a read-only transaction (left open for the caller
    /// to roll back).
    fn query(
        &self,
        conn: &Connection,
        statement: &Statement<'_>,
        limits: QueryLimits,
        team_scope: Option<&str>,
        watchdog: &Watchdog,
    ) -> Result<QueryOutput, SqlError> {
        if let Some(team) = team_scope {
            session::set_team_scope(conn, team)?;
        }
        session::begin_read_only(conn)?;
        let tree = session::parse_tree(conn, statement.checked)?;
        self.policy.check(&tree, statement.first_keyword)?;
        let mut prepared = conn.prepare(&statement.run).map_err(duckdb_error)?;
        let stream = prepared.stream_arrow([]).map_err(duckdb_error)?;
        let shape = Shape::of(&stream.get_schema())?;
        let mut batches = Vec::new();
        let mut row_count = 0;
        let mut truncated = false;
        for batch in stream {
            if watchdog.fired().is_some() {
                break;
            }
            let batch = batch.map_err(duckdb_error)?;
            let room = limits.max_rows - row_count;
            if batch.num_rows() > room {
                truncated = true;
            }
            let kept = batch.slice(0, batch.num_rows().min(room));
            if kept.num_rows() > 0 {
                row_count += kept.num_rows();
                batches.push(shape.apply(&kept)?);
            }
            if truncated {
                break;
            }
        }
        Ok(QueryOutput {
            columns: shape.columns,
            schema: shape.schema,
            batches,
            row_count,
            truncated,
            elapsed: Duration::ZERO,
        })
    }
}

/// What is checked and what is run: the same text, except that `EXPLAIN <query>` checks the
/// query and runs `EXPLAIN` followed by exactly the text that was checked.
struct Statement<'a> {
    checked: &'a str,
    /// `EXPLAIN <query>`: `run` is the plan of `checked`.
    explain: bool,
    run: String,
    first_keyword: Option<&'a str>,
}

impl Statement<'_> {
    fn split(sql: &str) -> Result<Statement<'_>, SqlError> {
        if sql.len() > MAX_SQL_BYTES {
            return Err(SqlError::Invalid(format!(
                "the SQL is longer than {MAX_SQL_BYTES} bytes"
            )));
        }
        if sql.contains('\0') {
            return Err(SqlError::Invalid("the SQL contains a NUL character".to_owned()));
        }
        match keyword::leading_keyword(sql) {
            Some((word, end)) if word.eq_ignore_ascii_case("explain") => {
                let rest = &sql[end..];
                let next = keyword::leading_keyword(rest).map(|(next, _)| next);
                if next.is_some_and(|next| {
                    next.eq_ignore_ascii_case("analyze") || next.eq_ignore_ascii_case("analyse")
                }) {
                    return Err(SqlError::NotAllowed {
                        construct: "`EXPLAIN ANALYZE`".to_owned(),
                        reason: "use EXPLAIN (the plan) or run the query itself".to_owned(),
                    });
                }
                // `rest` must pass the policy as a SELECT of its own; prefixing the keyword to
                // exactly that text makes an EXPLAIN of it and nothing else.
                Ok(Statement {
                    checked: rest,
                    explain: true,
                    run: format!("EXPLAIN {rest}"),
                    first_keyword: next,
                })
            }
            first => Ok(Statement {
                checked: sql,
                explain: false,
                run: sql.to_owned(),
                first_keyword: first.map(|(word, _)| word),
            }),
        }
    }
}

/// A DuckDB failure of the user's statement: refused by DuckDB's own guards (file access,
/// writes) or invalid (parse, bind, run-time errors), with DuckDB's message.
fn duckdb_error(error: duckdb::Error) -> SqlError {
    let message = match &error {
        duckdb::Error::DuckDBFailure(_, Some(message)) => message.clone(),
        other => other.to_string(),
    };
    if crate::store::is_out_of_memory(&error) {
        SqlError::OutOfMemory(message)
    } else if message.starts_with("Permission Error") || message.contains("read-only mode") {
        SqlError::NotAllowed {
            construct: "the statement".to_owned(),
            reason: message,
        }
    } else {
        SqlError::Invalid(message)
    }
}
