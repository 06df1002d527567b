//! Settings: defaults < optional TOML file < `LEDGER_*` environment < command-line flags.
//!
//! The raw layer ([`RawConfig`]) is what each source says, all optional; [`Config::resolve`]
//! merges the layers and validates them once into typed values. A bad value stops startup with a
//! message naming the key. Nothing else in the crate reads the environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth::KeyRing;

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file `{path}`")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the config file `{path}` is invalid: {reason}")]
    ParseFile { path: PathBuf, reason: String },
    #[error("`{key}` is invalid: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// One layer of settings as a source states them. Field names are the TOML keys; the env
/// variables are `LEDGER_` + the upper-cased key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Address to listen on (`127.0.0.1:8080`).
    pub bind: Option<String>,
    /// Directory of the DuckDB file (`./data`).
    pub data_dir: Option<PathBuf>,
    /// `tracing` filter (`info`, `llm_ledger=debug`).
    pub log: Option<String>,
    /// Largest request body after decompression (`64MiB`).
    pub max_body: Option<String>,
    /// Ingest requests that may wait for the writer before `503 writer_busy`.
    pub writer_queue: Option<usize>,
    /// Time limit of one request (`60s`).
    pub request_timeout: Option<String>,
    /// Price overrides file (TOML or CSV).
    pub prices_file: Option<PathBuf>,
    /// DuckDB memory limit (`2GB`); DuckDB's default when absent.
    pub memory_limit: Option<String>,
    /// Write-ahead log size after which the store checkpoints, off the ingest path (`64MiB`).
    pub checkpoint_wal: Option<String>,
    /// DuckDB's worker threads; DuckDB's default (one per core) when absent.
    pub duckdb_threads: Option<usize>,
    /// API keys, `ROLE[@TEAM]=KEY` (`KEY` = `sha256:<hex>` or the secret); none = open access.
    pub api_keys: Option<Vec<String>>,
    /// Serve a non-loopback address without API keys.
    pub insecure: Option<bool>,
    /// How long events are kept (`400d`, whole days, or `forever`, the default).
    pub retention: Option<String>,
    /// Directory of the Parquet lake `POST /v1/admin/lake` writes; none by default.
    pub lake_dir: Option<PathBuf>,
    /// Time limit of one ad-hoc SQL query (`30s`); a request may ask for less.
    pub sql_timeout: Option<String>,
    /// Most rows one ad-hoc SQL query returns (`100000`); a request may ask for fewer.
    pub sql_max_rows: Option<usize>,
    /// Ad-hoc SQL queries that may run at once before `503 sql_busy` (`2`).
    pub sql_max_concurrent: Option<usize>,
    /// Memory (and spilled temporary storage) one ad-hoc SQL query may add to the database
    /// instance before it is stopped (`1GiB`).
    pub sql_memory_limit: Option<String>,
}

impl RawConfig {
    /// Reads a TOML config file.
    ///
    /// # Errors
    /// When the file cannot be read or has unknown keys or wrong types.
    pub fn from_file(path: &Path) -> Result<RawConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|error| ConfigError::ParseFile {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })
    }

    /// Overlays `higher` on `self`: every value `higher` sets wins.
    pub fn overlay(self, higher: RawConfig) -> RawConfig {
        RawConfig {
            bind: higher.bind.or(self.bind),
            data_dir: higher.data_dir.or(self.data_dir),
            log: higher.log.or(self.log),
            max_body: higher.max_body.or(self.max_body),
            writer_queue: higher.writer_queue.or(self.writer_queue),
            request_timeout: higher.request_timeout.or(self.request_timeout),
            prices_file: higher.prices_file.or(self.prices_file),
            memory_limit: higher.memory_limit.or(self.memory_limit),
            checkpoint_wal: higher.checkpoint_wal.or(self.checkpoint_wal),
            duckdb_threads: higher.duckdb_threads.or(self.duckdb_threads),
            api_keys: higher.api_keys.or(self.api_keys),
            insecure: higher.insecure.or(self.insecure),
            retention: higher.retention.or(self.retention),
            lake_dir: higher.lake_dir.or(self.lake_dir),
            sql_timeout: higher.sql_timeout.or(self.sql_timeout),
            sql_max_rows: higher.sql_max_rows.or(self.sql_max_rows),
            sql_max_concurrent: higher.sql_max_concurrent.or(self.sql_max_concurrent),
            sql_memory_limit: higher.sql_memory_limit.or(self.sql_memory_limit),
        }
    }
}

/// Limits of one ingest request.
#[derive(Debug, Clone, Copy)]
pub struct IngestLimits {
    /// Largest body, compressed and after decompression.
    pub max_body_bytes: u64,
}

/// How long the store keeps events: the last `keep_days` whole UTC days before today (and
/// today), or forever. Rollups and the FOCUS ledger are kept regardless.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// `None` keeps events forever.
    pub keep_days: Option<u32>,
}

impl RetentionPolicy {
    /// Parses `400d` (a duration in whole days: `d`, or `h`/`s` that add up to whole days) or
    /// `forever`.
    pub fn parse(text: &str) -> Option<RetentionPolicy> {
        let text = text.trim();
        if matches!(text, "forever" | "none" | "off") {
            return Some(RetentionPolicy::default());
        }
        let seconds = parse_duration(text)?.as_secs();
        if seconds == 0 || seconds % 86_400 != 0 {
            return None;
        }
        let keep_days = u32::try_from(seconds / 86_400).ok()?;
        Some(RetentionPolicy {
            keep_days: Some(keep_days),
        })
    }

    /// The instant before which events are deleted: UTC midnight `keep_days` days before the
    /// day of `now`, so that retention always removes whole UTC days. `None` keeps everything.
    pub fn cutoff(&self, now: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
        let keep_days = self.keep_days?;
        let day = now
            .date_naive()
            .checked_sub_days(chrono::Days::new(u64::from(keep_days)))?;
        Some(day.and_time(chrono::NaiveTime::MIN).and_utc())
    }
}

/// Caps of ad-hoc SQL (`POST /v1/sql`, `llm-ledger query`); a request may lower the first two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlLimits {
    pub timeout: Duration,
    pub max_rows: usize,
    pub max_concurrent: usize,
    /// Growth of the instance's memory and temporary storage past which a query is stopped.
    pub max_memory_bytes: u64,
}

/// The validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub log: String,
    pub ingest: IngestLimits,
    pub writer_queue: usize,
    pub request_timeout: Duration,
    pub prices_file: Option<PathBuf>,
    pub memory_limit: Option<String>,
    /// Write-ahead log bytes after which the store checkpoints.
    pub checkpoint_wal_bytes: u64,
    /// DuckDB's `threads`; `None` keeps DuckDB's default.
    pub duckdb_threads: Option<usize>,
    pub retention: RetentionPolicy,
    pub lake_dir: Option<PathBuf>,
    pub sql: SqlLimits,
    /// The API keys (only their hashes).
    pub keys: KeyRing,
    /// A non-loopback `bind` without keys is allowed.
    pub insecure: bool,
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./data";
const DEFAULT_MAX_BODY: u64 = 64 * 1024 * 1024;
const DEFAULT_SQL_MEMORY: u64 = 1024 * 1024 * 1024;

impl Config {
    /// Validates merged settings.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub fn resolve(raw: RawConfig) -> Result<Config, ConfigError> {
        let bind = raw.bind.as_deref().unwrap_or(DEFAULT_BIND);
        let bind: SocketAddr = bind.parse().map_err(|_| ConfigError::Invalid {
            key: "bind",
            reason: format!("expected an address such as `127.0.0.1:8080`, got `{bind}`"),
        })?;
        let max_body_bytes = match raw.max_body.as_deref() {
            None => DEFAULT_MAX_BODY,
            Some(text) => parse_byte_size(text).ok_or_else(|| ConfigError::Invalid {
                key: "max_body",
                reason: format!("expected a size such as `64MiB`, got `{text}`"),
            })?,
        };
        let checkpoint_wal_bytes = match raw.checkpoint_wal.as_deref() {
            None => crate::store::checkpoint::CHECKPOINT_AFTER,
            Some(text) => {
                parse_byte_size(text)
                    .filter(|size| *size > 0)
                    .ok_or_else(|| ConfigError::Invalid {
                        key: "checkpoint_wal",
                        reason: format!("expected a size such as `256MiB`, got `{text}`"),
                    })?
            }
        };
        if raw.duckdb_threads == Some(0) {
            return Err(ConfigError::Invalid {
                key: "duckdb_threads",
                reason: "expected at least 1 thread, got 0".to_owned(),
            });
        }
        let request_timeout = match raw.request_timeout.as_deref() {
            None => Duration::from_secs(60),
            Some(text) => parse_duration(text).ok_or_else(|| ConfigError::Invalid {
                key: "request_timeout",
                reason: format!("expected a duration such as `60s`, got `{text}`"),
            })?,
        };
        let writer_queue = raw.writer_queue.unwrap_or(64);
        if writer_queue == 0 {
            return Err(ConfigError::Invalid {
                key: "writer_queue",
                reason: "must be at least 1".to_owned(),
            });
        }
        let retention = match raw.retention.as_deref() {
            None => RetentionPolicy::default(),
            Some(text) => RetentionPolicy::parse(text).ok_or_else(|| ConfigError::Invalid {
                key: "retention",
                reason: format!("expected whole days such as `400d`, or `forever`, got `{text}`"),
            })?,
        };
        let keys = KeyRing::parse(raw.api_keys.as_deref().unwrap_or_default()).map_err(|error| {
            ConfigError::Invalid {
                key: "api_keys",
                reason: error.to_string(),
            }
        })?;
        let sql =
            SqlLimits {
                timeout: match raw.sql_timeout.as_deref() {
                    None => Duration::from_secs(30),
                    Some(text) => parse_duration(text)
                        .filter(|limit| !limit.is_zero())
                        .ok_or_else(|| ConfigError::Invalid {
                            key: "sql_timeout",
                            reason: format!("expected a duration such as `30s`, got `{text}`"),
                        })?,
                },
                max_rows: at_least_one("sql_max_rows", raw.sql_max_rows.unwrap_or(100_000))?,
                max_concurrent: at_least_one("sql_max_concurrent", raw.sql_max_concurrent.unwrap_or(2))?,
                max_memory_bytes: match raw.sql_memory_limit.as_deref() {
                    None => DEFAULT_SQL_MEMORY,
                    Some(text) => parse_byte_size(text).filter(|limit| *limit > 0).ok_or_else(|| {
                        ConfigError::Invalid {
                            key: "sql_memory_limit",
                            reason: format!("expected a size such as `1GiB`, got `{text}`"),
                        }
                    })?,
                },
            };
        Ok(Config {
            bind,
            data_dir: raw.data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            log: raw.log.unwrap_or_else(|| "info".to_owned()),
            ingest: IngestLimits { max_body_bytes },
            writer_queue,
            request_timeout,
            prices_file: raw.prices_file,
            memory_limit: raw.memory_limit,
            checkpoint_wal_bytes,
            duckdb_threads: raw.duckdb_threads,
            retention,
            lake_dir: raw.lake_dir,
            sql,
            keys,
            insecure: raw.insecure.unwrap_or(false),
        })
    }
}

fn at_least_one(key: &'static str, value: usize) -> Result<usize, ConfigError> {
    if value == 0 {
        return Err(ConfigError::Invalid {
            key,
            reason: "must be at least 1".to_owned(),
        });
    }
    Ok(value)
}

/// Parses `64MiB`, `10MB`, `512k`, `1048576`.
pub fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1024,
        "m" | "mb" => 1000 * 1000,
        "mib" => 1024 * 1024,
        "g" | "gb" => 1000 * 1000 * 1000,
        "gib" => 1024 * 1024 * 1024,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// Parses `30s`, `5m`, `2h`, `1d`, `250ms`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "ms" => return Some(Duration::from_millis(number)),
        "" | "s" => number,
        "m" => number.checked_mul(60)?,
        "h" => number.checked_mul(3600)?,
        "d" => number.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_config_has_safe_defaults() {
        let config = Config::resolve(RawConfig::default()).unwrap();
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.ingest.max_body_bytes, 64 * 1024 * 1024);
        assert_eq!(config.checkpoint_wal_bytes, 64 * 1024 * 1024);
        assert_eq!(config.duckdb_threads, None);
    }

    #[test]
    fn duckdb_threads_are_at_least_one() {
        let with = |threads: usize| {
            Config::resolve(RawConfig {
                duckdb_threads: Some(threads),
                ..RawConfig::default()
            })
        };
        assert_eq!(with(1).unwrap().duckdb_threads, Some(1));
        match with(0) {
            Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "duckdb_threads"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_checkpoint_log_size_is_a_positive_size() {
        let with = |text: &str| {
            Config::resolve(RawConfig {
                checkpoint_wal: Some(text.to_owned()),
                ..RawConfig::default()
            })
        };
        assert_eq!(with("64MiB").unwrap().checkpoint_wal_bytes, 64 * 1024 * 1024);
        for bad in ["0", "much"] {
            match with(bad) {
                Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "checkpoint_wal"),
                other => panic!("{bad}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn higher_layers_win_and_bad_values_name_their_key() {
        let file = RawConfig {
            bind: Some("127.0.0.1:9000".to_owned()),
            log: Some("debug".to_owned()),
            ..RawConfig::default()
        };
        let flags = RawConfig {
            bind: Some("127.0.0.1:9100".to_owned()),
            ..RawConfig::default()
        };
        let config = Config::resolve(file.overlay(flags)).unwrap();
        assert_eq!(config.bind.port(), 9100);
        assert_eq!(config.log, "debug");
        let bad = RawConfig {
            max_body: Some("lots".to_owned()),
            ..RawConfig::default()
        };
        match Config::resolve(bad) {
            Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "max_body"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn retention_is_whole_days_and_cuts_at_utc_midnight() {
        assert_eq!(
            RetentionPolicy::parse("forever"),
            Some(RetentionPolicy::default())
        );
        assert_eq!(RetentionPolicy::parse("400d").unwrap().keep_days, Some(400));
        assert_eq!(RetentionPolicy::parse("48h").unwrap().keep_days, Some(2));
        assert_eq!(RetentionPolicy::parse("36h"), None);
        assert_eq!(RetentionPolicy::parse("0d"), None);
        let now = chrono::DateTime::parse_from_rfc3339("2026-07-10T15:30:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let cutoff = RetentionPolicy::parse("5d").unwrap().cutoff(now).unwrap();
        assert_eq!(cutoff.to_rfc3339(), "2026-07-05T00:00:00+00:00");
        assert_eq!(RetentionPolicy::default().cutoff(now), None);
        let bad = RawConfig {
            retention: Some("a while".to_owned()),
            ..RawConfig::default()
        };
        match Config::resolve(bad) {
            Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "retention"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_byte_size("64MiB"), Some(64 << 20));
        assert_eq!(parse_byte_size("10 kb"), Some(10_000));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("soon"), None);
    }
}
