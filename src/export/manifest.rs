//! The lake's manifest, `_ledger_manifest.json`: which days the lake holds and the fingerprint
//! of the store's events each day file was written from. Engines ignore it (a leading `_` hides a
//! file from Spark, Hive/Trino and Athena, and it is not `*.parquet`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::ExportError;
use crate::store::export::DayFingerprint;

pub const MANIFEST_FILE: &str = "_ledger_manifest.json";
const FORMAT: &str = "llm-ledger-lake";
const VERSION: u32 = 1;
/// The version of the day files' columns; a day written with another is rewritten.
pub const SCHEMA_VERSION: u32 = 1;

/// What the lake holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// The team a scoped export was limited to; `null` for every team.
    pub team_scope: Option<String>,
    pub days: BTreeMap<NaiveDate, DayEntry>,
}

/// One day file and the fingerprint of the events it was written from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayEntry {
    /// Relative to the lake directory: `date=2026-11-23/part-0.parquet`.
    pub file: String,
    pub schema: u32,
    pub events: u64,
    /// The exact sum of `cost_usd` (null when nothing of the day is priced).
    pub cost_usd: Option<String>,
    pub last_ingested_at: DateTime<Utc>,
    /// bit_xor of a hash of every exported column of every event, 16 hex digits.
    pub content_hash: String,
    pub written_at: DateTime<Utc>,
}

impl DayEntry {
    /// The entry of a day file just written from `fingerprint`.
    pub fn written(fingerprint: &DayFingerprint, file: String, written_at: DateTime<Utc>) -> DayEntry {
        DayEntry {
            file,
            schema: SCHEMA_VERSION,
            events: fingerprint.events,
            cost_usd: fingerprint.cost_usd.clone(),
            last_ingested_at: fingerprint.last_ingested_at,
            content_hash: hash_text(fingerprint.content_hash),
            written_at,
        }
    }

    /// Whether the file was written from events with exactly this fingerprint, in the current
    /// column layout.
    pub fn matches(&self, fingerprint: &DayFingerprint) -> bool {
        self.schema == SCHEMA_VERSION
            && self.events == fingerprint.events
            && self.cost_usd == fingerprint.cost_usd
            && self.last_ingested_at == fingerprint.last_ingested_at
            && self.content_hash == hash_text(fingerprint.content_hash)
    }
}

fn hash_text(hash: u64) -> String {
    format!("{hash:016x}")
}

impl Manifest {
    pub fn new(team_scope: Option<&str>) -> Manifest {
        Manifest {
            format: FORMAT.to_owned(),
            version: VERSION,
            team_scope: team_scope.map(str::to_owned),
            days: BTreeMap::new(),
        }
    }

    /// Reads the manifest of the lake at `dir`; `None` when there is none yet.
    ///
    /// # Errors
    /// An unreadable or foreign manifest.
    pub fn load(dir: &Path) -> Result<Option<Manifest>, ExportError> {
        let path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ExportError::File { path, source }),
        };
        let manifest: Manifest = serde_json::from_str(&text).map_err(|error| ExportError::Lake {
            path: dir.to_path_buf(),
            reason: format!("`{MANIFEST_FILE}` is unreadable: {error}"),
        })?;
        if manifest.format != FORMAT || manifest.version != VERSION {
            return Err(ExportError::Lake {
                path: dir.to_path_buf(),
                reason: format!(
                    "`{MANIFEST_FILE}` is format `{}` version {}, this build writes `{FORMAT}` version {VERSION}",
                    manifest.format, manifest.version
                ),
            });
        }
        Ok(Some(manifest))
    }

    /// Writes the manifest atomically (a temp file renamed over the old one).
    ///
    /// # Errors
    /// File-system failures.
    pub fn save(&self, dir: &Path) -> Result<(), ExportError> {
        let path = dir.join(MANIFEST_FILE);
        let temp = dir.join(format!(".{MANIFEST_FILE}.tmp"));
        let file_error = |path: &PathBuf| {
            let path = path.clone();
            move |source| ExportError::File { path, source }
        };
        let mut text = serde_json::to_vec_pretty(self).map_err(|error| ExportError::Lake {
            path: dir.to_path_buf(),
            reason: format!("the manifest cannot be serialised: {error}"),
        })?;
        text.push(b'\n');
        let mut file = std::fs::File::create(&temp).map_err(file_error(&temp))?;
        file.write_all(&text).map_err(file_error(&temp))?;
        file.sync_all().map_err(file_error(&temp))?;
        drop(file);
        std::fs::rename(&temp, &path).map_err(file_error(&path))
    }
}
