//! The hive-partitioned Parquet lake: `DIR/date=YYYY-MM-DD/part-0.parquet`, one file per UTC day
//! in the export columns ([`super::frames::event_schema`]), plus `DIR/_ledger_manifest.json`.
//!
//! Incremental: the store fingerprints every day (`queries/lake_days.sql`: events, exact cost
//! sum, last `ingested_at`, and a bit_xor of row hashes that a re-price changes), the manifest
//! keeps the fingerprint each file was written from, and a run writes new days, rewrites days
//! whose fingerprint changed (late arrivals, re-priced events) or whose file is missing, and
//! leaves every other file untouched.
//!
//! Atomic per day: a day is written to a hidden temp file in its directory, synced, and renamed
//! over `part-0.parquet`, so a reader sees the old day or the new one, never half of one and
//! never both (a second file name would expose both between the rename and the removal of the
//! old one). The manifest is updated after the files (a crash in between only causes a rewrite).
//!
//! Days are never deleted: the lake is the long-term archive, so a day that retention removed
//! from the store stays in the lake (reported as `kept`). One writer at a time: a run holds
//! `DIR/_ledger_lake.lock`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Days, NaiveDate, Utc};
use duckdb::Connection;
use polars::prelude::ParquetWriter;
use serde::Serialize;

use super::frames::{conform, event_schema};
use super::manifest::{DayEntry, MANIFEST_FILE, Manifest};
use super::{ExportError, PARQUET_WINDOW_ROWS};
use crate::store::export::{
    DayFingerprint, ExportScope, Snapshot, day_fingerprints, plan_windows, read_window,
};
use crate::store::retention::day_start;

const LOCK_FILE: &str = "_ledger_lake.lock";
/// The manifest is saved after this many written days too, so an interrupted first export of a
/// long history does not start over.
const SAVE_EVERY_DAYS: usize = 32;

/// The days to export, `[from, to)` in UTC; open ends mean the first stored day and today.
#[derive(Debug, Clone, Copy, Default)]
pub struct LakeRange {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Tuning of a lake export.
#[derive(Debug, Clone, Copy, Default)]
pub struct LakeOptions {
    /// Events per Parquet row group; `None` for the default.
    pub window_rows: Option<u64>,
}

/// What happened to one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayAction {
    /// A day the lake did not have.
    Wrote,
    /// A day whose events changed since it was written (or whose file was missing).
    Rewrote,
    /// A day the store no longer has (retention); its file is kept.
    Kept,
}

/// Why a day was written or kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayReason {
    /// The lake did not have the day.
    New,
    /// The day's events changed since its file was written (late arrivals, re-pricing).
    Changed,
    /// The manifest lists the day but its file is gone.
    FileMissing,
    /// The file was written with an older column layout.
    SchemaChanged,
    /// A file the manifest does not list (a lost manifest): written again to be sure.
    Unrecorded,
    /// The store no longer has the day (retention); the lake keeps it.
    Retained,
}

/// A day the run wrote, rewrote or kept (unchanged days are only counted).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LakeDay {
    #[schema(value_type = String, format = Date, example = "2026-11-23")]
    pub day: NaiveDate,
    pub action: DayAction,
    pub reason: DayReason,
    /// Events in the day file.
    pub events: u64,
    /// The exact sum of `cost_usd` in the day file (null when nothing is priced).
    #[schema(value_type = Option<String>, example = "12.345000000000")]
    pub cost_usd: Option<String>,
}

/// The outcome of a lake export.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct LakeReport {
    /// Days written for the first time.
    pub written: u64,
    /// Days written again because their events changed.
    pub rewritten: u64,
    /// Days whose file already matched the store.
    pub unchanged: u64,
    /// Days in the lake that the store no longer has (left as they are).
    pub kept: u64,
    /// Events in the files written by this run.
    pub events_written: u64,
    /// Each written, rewritten or kept day, oldest first.
    pub days: Vec<LakeDay>,
}

/// The file of `day` relative to the lake directory.
pub fn day_file(day: NaiveDate) -> String {
    format!("date={}/part-0.parquet", day.format("%Y-%m-%d"))
}

/// Holds `DIR/_ledger_lake.lock` while a run writes; removes it when dropped.
struct LakeLock {
    path: PathBuf,
}

impl LakeLock {
    fn acquire(dir: &Path) -> Result<LakeLock, ExportError> {
        let path = dir.join(LOCK_FILE);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                use std::io::Write;
                // The pid helps whoever finds a stale lock; failing to write it changes nothing.
                let _ = writeln!(file, "{}", std::process::id());
                Ok(LakeLock { path })
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Err(ExportError::Lake {
                path: dir.to_path_buf(),
                reason: format!(
                    "another export is writing it (`{LOCK_FILE}` exists; remove it if no export is running)"
                ),
            }),
            Err(source) => Err(ExportError::File { path, source }),
        }
    }
}

impl Drop for LakeLock {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_file(&self.path) {
            tracing::warn!(%error, path = %self.path.display(), "removing the lake lock failed");
        }
    }
}

/// Brings the lake at `dir` up to date with the store for `range`: writes new days, rewrites
/// changed ones, keeps days the store no longer has. `team_scope` limits the lake to one team
/// (a lake is written for one scope; the manifest records it).
///
/// Blocking: call it from a blocking thread.
///
/// # Errors
/// Store and file-system failures, a foreign or differently scoped lake, a concurrent run.
/// Days finished before a failure stay written (and recorded when the manifest could be saved).
pub fn export_lake(
    conn: &Connection,
    dir: &Path,
    range: LakeRange,
    team_scope: Option<&str>,
    options: LakeOptions,
) -> Result<LakeReport, ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| ExportError::File {
        path: dir.to_path_buf(),
        source,
    })?;
    let _lock = LakeLock::acquire(dir)?;
    let mut manifest = Manifest::load(dir)?.unwrap_or_else(|| Manifest::new(team_scope));
    if manifest.team_scope.as_deref() != team_scope {
        return Err(ExportError::Lake {
            path: dir.to_path_buf(),
            reason: format!(
                "it was written for team scope {:?}, not {team_scope:?}",
                manifest.team_scope
            ),
        });
    }
    let from = range.from.map_or(DateTime::<Utc>::UNIX_EPOCH, day_start);
    let today = Utc::now().date_naive();
    let to = day_start(
        range
            .to
            .unwrap_or_else(|| today.checked_add_days(Days::new(1)).unwrap_or(today)),
    );
    if from >= to {
        return Err(ExportError::Lake {
            path: dir.to_path_buf(),
            reason: "the range is empty: `from` must be before `to`".to_owned(),
        });
    }
    let window_rows = options.window_rows.unwrap_or(PARQUET_WINDOW_ROWS).max(1);

    let snapshot = Snapshot::begin(conn)?;
    let conn = snapshot.conn();
    let fingerprints = day_fingerprints(conn, from, to, team_scope)?;
    let mut report = LakeReport::default();
    let mut unsaved = 0usize;
    for fingerprint in &fingerprints {
        let file = day_file(fingerprint.day);
        let exists = dir.join(&file).is_file();
        let (action, reason) = match manifest.days.get(&fingerprint.day) {
            Some(entry) if entry.matches(fingerprint) && exists => {
                report.unchanged += 1;
                continue;
            }
            Some(_) if !exists => (DayAction::Rewrote, DayReason::FileMissing),
            Some(entry) if entry.schema != super::manifest::SCHEMA_VERSION => {
                (DayAction::Rewrote, DayReason::SchemaChanged)
            }
            Some(_) => (DayAction::Rewrote, DayReason::Changed),
            None if exists => (DayAction::Rewrote, DayReason::Unrecorded),
            None => (DayAction::Wrote, DayReason::New),
        };
        let events = write_day(conn, dir, fingerprint, team_scope, window_rows)?;
        manifest
            .days
            .insert(fingerprint.day, DayEntry::written(fingerprint, file, Utc::now()));
        match action {
            DayAction::Wrote => report.written += 1,
            _ => report.rewritten += 1,
        }
        report.events_written += events;
        report.days.push(LakeDay {
            day: fingerprint.day,
            action,
            reason,
            events,
            cost_usd: fingerprint.cost_usd.clone(),
        });
        unsaved += 1;
        if unsaved >= SAVE_EVERY_DAYS {
            manifest.save(dir)?;
            unsaved = 0;
        }
    }
    drop(snapshot);

    let from_day = from.date_naive();
    let to_day = to.date_naive();
    let mut stored = fingerprints.iter().map(|fingerprint| fingerprint.day).peekable();
    for (day, entry) in manifest.days.range(from_day..to_day) {
        while stored.next_if(|stored_day| stored_day < day).is_some() {}
        if stored.peek() != Some(day) {
            report.kept += 1;
            report.days.push(LakeDay {
                day: *day,
                action: DayAction::Kept,
                reason: DayReason::Retained,
                events: entry.events,
                cost_usd: entry.cost_usd.clone(),
            });
        }
    }
    report.days.sort_by_key(|day| day.day);
    if report.written + report.rewritten > 0 || !dir.join(MANIFEST_FILE).is_file() {
        manifest.save(dir)?;
    }
    Ok(report)
}

/// Removes a temp file unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: a leftover hidden temp file is ignored by readers and overwritten by
            // nothing (each run picks a new name); it only costs space.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes one day's events to a temp file and renames it over the day's file; returns how many
/// events it holds.
fn write_day(
    conn: &Connection,
    dir: &Path,
    fingerprint: &DayFingerprint,
    team_scope: Option<&str>,
    window_rows: u64,
) -> Result<u64, ExportError> {
    let day_dir = dir.join(format!("date={}", fingerprint.day.format("%Y-%m-%d")));
    std::fs::create_dir_all(&day_dir).map_err(|source| ExportError::File {
        path: day_dir.clone(),
        source,
    })?;
    let final_path = dir.join(day_file(fingerprint.day));
    let mut temp = TempFile {
        path: day_dir.join(format!(".part-0.{}.tmp", uuid::Uuid::new_v4().simple())),
        keep: false,
    };
    let file_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::File { path, source }
    };
    let file = std::fs::File::create(&temp.path).map_err(file_error(&temp.path))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let day_end = fingerprint
        .day
        .checked_add_days(Days::new(1))
        .map_or(DateTime::<Utc>::MAX_UTC, day_start);
    let scope = ExportScope::range(day_start(fingerprint.day), day_end);
    let schema = event_schema();
    let mut events = 0u64;
    {
        let mut writer = ParquetWriter::new(&mut out).batched(&schema)?;
        for window in plan_windows(conn, &scope, team_scope, window_rows)? {
            if let Some(frame) = read_window(conn, &scope, team_scope, &window)? {
                let frame = conform(frame, &schema)?;
                events += frame.height() as u64;
                writer.write_batch(&frame)?;
            }
        }
        writer.finish()?;
    }
    let file = out.into_inner().map_err(|error| ExportError::File {
        path: temp.path.clone(),
        source: error.into_error(),
    })?;
    file.sync_all().map_err(file_error(&temp.path))?;
    drop(file);
    std::fs::rename(&temp.path, &final_path).map_err(file_error(&final_path))?;
    temp.keep = true;
    // Make the rename durable; a failure here leaves a correct file that may be the old one
    // after a power loss, which the next run's fingerprint check repairs.
    if let Ok(handle) = std::fs::File::open(&day_dir) {
        let _ = handle.sync_all();
    }
    Ok(events)
}
