//! Canonical events out of the store, read a window at a time so that an export of any size
//! holds one window in memory: [`plan_windows`] cuts a range into runs of whole UTC hours of at
//! most N events (from per-hour counts), [`read_window`] reads one as a polars DataFrame (for
//! Parquet and CSV) and [`write_window_ndjson`] as NDJSON lines (valid canonical input for
//! re-ingest: an exported file dedupes against the original feed). [`day_fingerprints`] is what
//! the Parquet lake compares to decide which days to rewrite.
//!
//! Run the reads of one export inside one [`Snapshot`], so that they see one committed state
//! even while the writer commits between them.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use duckdb::Connection;
use duckdb::types::Value;
use polars::prelude::DataFrame;
use rust_decimal::Decimal;
use serde_json::{Map, Value as Json};

use super::StoreError;
use super::reader::timestamp_value;
use crate::model::Usd;

pub const EXPORT_SQL: &str = include_str!("../../queries/export.sql");
pub const EXPORT_HOURS_SQL: &str = include_str!("../../queries/export_hours.sql");
pub const LAKE_DAYS_SQL: &str = include_str!("../../queries/lake_days.sql");

/// Which events an export reads: `[from, to)`, optionally one team and one source.
#[derive(Debug, Clone)]
pub struct ExportScope {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub team: Option<String>,
    pub source: Option<String>,
}

impl ExportScope {
    /// Every event of `[from, to)`.
    pub fn range(from: DateTime<Utc>, to: DateTime<Utc>) -> ExportScope {
        ExportScope {
            from,
            to,
            team: None,
            source: None,
        }
    }

    /// The named parameters of `export.sql` and `export_hours.sql` for `[from, to)` of this
    /// scope. `team_scope` is the team an API key is limited to (an extra `team = ?`).
    fn params(&self, from: DateTime<Utc>, to: DateTime<Utc>, team_scope: Option<&str>) -> Params {
        let text = |value: Option<&str>| value.map_or(Value::Null, |text| Value::Text(text.to_owned()));
        Params(vec![
            ("from", timestamp_value(from)),
            ("to", timestamp_value(to)),
            ("team", text(self.team.as_deref())),
            ("scope_team", text(team_scope)),
            ("source", text(self.source.as_deref())),
        ])
    }
}

/// Named parameters of one statement.
struct Params(Vec<(&'static str, Value)>);

impl Params {
    fn as_params(&self) -> Vec<(&str, &dyn duckdb::ToSql)> {
        self.0
            .iter()
            .map(|(name, value)| (*name, value as &dyn duckdb::ToSql))
            .collect()
    }
}

/// A run of whole UTC hours (clipped to the export's range) read with one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Events in the window when it was planned (within the same snapshot: exactly).
    pub events: u64,
}

/// A read transaction on a read connection: every query through [`Snapshot::conn`] sees the
/// same committed state. Dropping it ends the transaction.
pub struct Snapshot<'conn> {
    conn: &'conn Connection,
}

impl<'conn> Snapshot<'conn> {
    /// Begins a transaction on `conn`.
    ///
    /// # Errors
    /// Database failures.
    pub fn begin(conn: &'conn Connection) -> Result<Snapshot<'conn>, StoreError> {
        conn.execute_batch("BEGIN TRANSACTION")
            .map_err(StoreError::db("beginning a read transaction"))?;
        Ok(Snapshot { conn })
    }

    pub fn conn(&self) -> &'conn Connection {
        self.conn
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        // Nothing was written; ending the transaction either way only releases the snapshot.
        if let Err(error) = self.conn.execute_batch("ROLLBACK") {
            tracing::warn!(%error, "ending a read transaction failed");
        }
    }
}

/// Cuts the scope into windows of whole UTC hours holding at most `max_rows` events each (an
/// hour with more is a window of its own). Hours without events belong to no window.
///
/// # Errors
/// Query failures.
pub fn plan_windows(
    conn: &Connection,
    scope: &ExportScope,
    team_scope: Option<&str>,
    max_rows: u64,
) -> Result<Vec<Window>, StoreError> {
    let params = scope.params(scope.from, scope.to, team_scope);
    let mut statement = conn
        .prepare_cached(EXPORT_HOURS_SQL)
        .map_err(StoreError::db("preparing the export plan"))?;
    let hours = statement
        .query_map(params.as_params().as_slice(), |row| {
            Ok((row.get::<_, chrono::NaiveDateTime>(0)?, row.get::<_, i64>(1)?))
        })
        .map_err(StoreError::db("planning the export"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::db("reading the export plan"))?;
    let mut windows: Vec<Window> = Vec::new();
    for (hour, events) in hours {
        let start = hour.and_utc().max(scope.from);
        let end = (hour.and_utc() + Duration::hours(1)).min(scope.to);
        let events = u64::try_from(events).unwrap_or(0);
        match windows.last_mut() {
            Some(last) if last.events + events <= max_rows => {
                last.to = end;
                last.events += events;
            }
            _ => windows.push(Window {
                from: start,
                to: end,
                events,
            }),
        }
    }
    Ok(windows)
}

/// Reads one window's events as a DataFrame in the columns of `export.sql`, oldest first;
/// `None` when the window holds none.
///
/// # Errors
/// Query failures.
pub fn read_window(
    conn: &Connection,
    scope: &ExportScope,
    team_scope: Option<&str>,
    window: &Window,
) -> Result<Option<DataFrame>, StoreError> {
    let params = scope.params(window.from, window.to, team_scope);
    let mut statement = conn
        .prepare_cached(EXPORT_SQL)
        .map_err(StoreError::db("preparing the export"))?;
    let frames = statement
        .query_polars(params.as_params().as_slice())
        .map_err(StoreError::db("running the export"))?;
    let mut combined: Option<DataFrame> = None;
    for frame in frames {
        match &mut combined {
            None => combined = Some(frame),
            Some(all) => {
                all.vstack_mut_owned(frame)
                    .map_err(|error| StoreError::Rows(error.to_string()))?;
            }
        }
    }
    Ok(combined)
}

fn instant_json(value: Value) -> Json {
    match value {
        Value::Timestamp(_, micros) => DateTime::<Utc>::from_timestamp_micros(micros)
            .map_or(Json::Null, |instant| {
                Json::String(instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            }),
        _ => Json::Null,
    }
}

fn money_json(value: Option<Decimal>) -> Json {
    value.map_or(Json::Null, |amount| {
        Json::String(Usd::signed(amount).to_fixed_string())
    })
}

fn plain_json(value: Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(flag) => Json::Bool(flag),
        Value::TinyInt(v) => Json::from(v),
        Value::SmallInt(v) => Json::from(v),
        Value::Int(v) => Json::from(v),
        Value::BigInt(v) => Json::from(v),
        Value::Double(v) => serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number),
        Value::Text(text) => Json::String(text),
        Value::Map(entries) => {
            let mut object = Map::new();
            for (key, value) in entries.iter() {
                if let (Value::Text(key), Value::Text(value)) = (key, value) {
                    object.insert(key.clone(), Json::String(value.clone()));
                }
            }
            Json::Object(object)
        }
        other => Json::String(format!("{other:?}")),
    }
}

/// Appends one window's events to `buffer` as NDJSON (money as exact strings, instants as
/// RFC 3339); returns how many.
///
/// # Errors
/// Query failures.
pub fn write_window_ndjson(
    conn: &Connection,
    scope: &ExportScope,
    team_scope: Option<&str>,
    window: &Window,
    buffer: &mut Vec<u8>,
) -> Result<usize, StoreError> {
    let params = scope.params(window.from, window.to, team_scope);
    let mut statement = conn
        .prepare_cached(EXPORT_SQL)
        .map_err(StoreError::db("preparing the export"))?;
    let mut rows = statement
        .query(params.as_params().as_slice())
        .map_err(StoreError::db("running the export"))?;
    // Column names exist once the statement ran.
    let names: Vec<String> = rows
        .as_ref()
        .map(|statement| statement.column_names())
        .unwrap_or_default();
    let mut written = 0;
    while let Some(row) = rows.next().map_err(StoreError::db("reading exported rows"))? {
        let mut object = Map::with_capacity(names.len());
        for (idx, name) in names.iter().enumerate() {
            let json = match name.as_str() {
                "ts" | "ingested_at" => {
                    instant_json(row.get(idx).map_err(StoreError::db("reading a timestamp"))?)
                }
                "cost_usd" | "list_cost_usd" | "reported_cost_usd" => {
                    money_json(row.get(idx).map_err(StoreError::db("reading an amount"))?)
                }
                _ => plain_json(row.get(idx).map_err(StoreError::db("reading a column"))?),
            };
            object.insert(name.clone(), json);
        }
        serde_json::to_writer(&mut *buffer, &Json::Object(object))
            .map_err(|error| StoreError::Rows(error.to_string()))?;
        buffer.push(b'\n');
        written += 1;
    }
    Ok(written)
}

/// What identifies the content of one UTC day of events (`lake_days.sql`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayFingerprint {
    pub day: NaiveDate,
    pub events: u64,
    /// The exact sum of `cost_usd`; `None` when nothing of the day is priced.
    pub cost_usd: Option<String>,
    pub last_ingested_at: DateTime<Utc>,
    /// bit_xor of a hash of every exported column of every event.
    pub content_hash: u64,
}

/// The fingerprint of every UTC day of `[from, to)` that holds events, oldest first.
///
/// # Errors
/// Query failures.
pub fn day_fingerprints(
    conn: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    team_scope: Option<&str>,
) -> Result<Vec<DayFingerprint>, StoreError> {
    let mut statement = conn
        .prepare_cached(LAKE_DAYS_SQL)
        .map_err(StoreError::db("preparing the day fingerprints"))?;
    let scope_team = team_scope.map_or(Value::Null, |team| Value::Text(team.to_owned()));
    let days = statement
        .query_map(
            duckdb::named_params! {
                "from": timestamp_value(from),
                "to": timestamp_value(to),
                "scope_team": scope_team,
            },
            |row| {
                Ok(DayFingerprint {
                    day: row.get(0)?,
                    events: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                    cost_usd: row.get(2)?,
                    last_ingested_at: row.get::<_, chrono::NaiveDateTime>(3)?.and_utc(),
                    content_hash: row.get(4)?,
                })
            },
        )
        .map_err(StoreError::db("fingerprinting days"))?;
    days.collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::db("reading day fingerprints"))
}
