//! Canonical events out of the ledger: one stream in a file format ([`write_events`], behind
//! `GET /v1/export`) and the hive-partitioned Parquet lake ([`lake`], behind
//! `llm-ledger export --lake`), which ClickHouse, Trino/Athena, Spark and DuckDB query unchanged.
//!
//! Memory stays bounded whatever the range: the store plans windows of whole UTC hours with a
//! bounded number of events ([`crate::store::export::plan_windows`]), each window is read as one
//! DataFrame and written out (a Parquet row group, a CSV chunk, NDJSON lines) before the next
//! is read. All reads of one export happen in one read transaction, so an export is a
//! consistent snapshot even while ingest commits.
//!
//! Invariants: files are written from Rust (polars), never by DuckDB (the ledger's database
//! instance may forbid file access); money stays exact (`DECIMAL(38,12)` in Parquet, decimal
//! text in CSV and NDJSON, never a float).

pub mod frames;
pub mod lake;
pub mod manifest;

use std::io::Write;
use std::path::PathBuf;

use duckdb::Connection;
use polars::prelude::*;

use crate::store::StoreError;
use crate::store::export::{ExportScope, Snapshot, plan_windows, read_window, write_window_ndjson};

/// Events per window (one Parquet row group at most, or one CSV / NDJSON chunk).
const PARQUET_WINDOW_ROWS: u64 = 100_000;
const CSV_WINDOW_ROWS: u64 = 20_000;
const NDJSON_WINDOW_ROWS: u64 = 10_000;

/// The file formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Parquet,
    Csv,
    Ndjson,
}

impl ExportFormat {
    /// `parquet`, `csv`, or `ndjson` (also `jsonl`).
    pub fn parse(name: &str) -> Option<ExportFormat> {
        match name {
            "parquet" => Some(ExportFormat::Parquet),
            "csv" => Some(ExportFormat::Csv),
            "ndjson" | "jsonl" => Some(ExportFormat::Ndjson),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "application/vnd.apache.parquet",
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Ndjson => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "parquet",
            ExportFormat::Csv => "csv",
            ExportFormat::Ndjson => "ndjson",
        }
    }

    fn window_rows(self) -> u64 {
        match self {
            ExportFormat::Parquet => PARQUET_WINDOW_ROWS,
            ExportFormat::Csv => CSV_WINDOW_ROWS,
            ExportFormat::Ndjson => NDJSON_WINDOW_ROWS,
        }
    }
}

/// A failed export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot encode the export")]
    Encode(#[from] PolarsError),
    #[error("cannot write the export")]
    Write(#[source] std::io::Error),
    #[error("cannot write `{path}`")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the lake at `{path}` cannot be used: {reason}")]
    Lake { path: PathBuf, reason: String },
}

impl ExportError {
    /// Whether the export failed because its reader went away (a closed HTTP connection), which
    /// is not a fault of the ledger.
    pub fn is_disconnect(&self) -> bool {
        let io = match self {
            ExportError::Write(error) => Some(error),
            ExportError::Encode(PolarsError::IO { error, .. }) => Some(error.as_ref()),
            _ => None,
        };
        io.is_some_and(|error| error.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// Tuning of one export (tests use tiny windows to exercise many row groups).
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// Events per window; `None` picks the format's default.
    pub window_rows: Option<u64>,
}

/// Writes the events of `scope` to `out` in `format`, a window at a time; returns how many.
/// `team_scope` limits the export to one team (API keys scoped to a team).
///
/// Blocking: call it from a blocking thread.
///
/// # Errors
/// Store failures, encoding failures, and failures of `out` (a reader that went away).
pub fn write_events<W: Write>(
    conn: &Connection,
    scope: &ExportScope,
    team_scope: Option<&str>,
    format: ExportFormat,
    options: ExportOptions,
    mut out: W,
) -> Result<u64, ExportError> {
    let snapshot = Snapshot::begin(conn)?;
    let conn = snapshot.conn();
    let window_rows = options.window_rows.unwrap_or(format.window_rows()).max(1);
    let windows = plan_windows(conn, scope, team_scope, window_rows)?;
    let schema = frames::event_schema();
    let mut written = 0u64;
    match format {
        ExportFormat::Parquet => {
            let mut writer = ParquetWriter::new(&mut out).batched(&schema)?;
            for window in &windows {
                if let Some(frame) = read_window(conn, scope, team_scope, window)? {
                    let frame = frames::conform(frame, &schema)?;
                    written += frame.height() as u64;
                    writer.write_batch(&frame)?;
                }
            }
            writer.finish()?;
        }
        ExportFormat::Csv => {
            let mut writer = CsvWriter::new(&mut out)
                .include_header(true)
                .with_datetime_format(Some("%Y-%m-%dT%H:%M:%S%.6fZ".to_owned()))
                .batched(&frames::csv_schema(&schema))?;
            for window in &windows {
                if let Some(frame) = read_window(conn, scope, team_scope, window)? {
                    let frame = frames::conform(frame, &schema)?;
                    written += frame.height() as u64;
                    writer.write_batch(&frames::to_csv_frame(&frame)?)?;
                }
            }
            writer.finish()?;
        }
        ExportFormat::Ndjson => {
            let mut buffer = Vec::new();
            for window in &windows {
                buffer.clear();
                written += write_window_ndjson(conn, scope, team_scope, window, &mut buffer)? as u64;
                out.write_all(&buffer).map_err(ExportError::Write)?;
            }
        }
    }
    out.flush().map_err(ExportError::Write)?;
    Ok(written)
}

#[cfg(test)]
mod tests;
