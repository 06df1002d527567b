//! Exact dedupe on `(source, event_id)` without an index on history.
//!
//! Every stored event carries `event_fp`, a 64-bit fingerprint of its identity (the first 8 bytes
//! of SHA-256 over `source ␟ event_id`), and the writer keeps the fingerprints of every stored
//! event in memory (about 10 bytes each; loaded at startup with one column scan). A record whose
//! fingerprint is absent is new — the common case costs one hash lookup. A record whose
//! fingerprint is present is checked against the stored identities with the same fingerprint
//! (one query per batch over the `event_fp` column), so a fingerprint collision, about one in
//! 2^64 per pair, never drops an event. The cost of dedupe does not grow with history, and no
//! index has to be written at every checkpoint.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use duckdb::Connection;
use duckdb::arrow::array::{Array, Int64Array};
use duckdb::types::Value;
use sha2::{Digest, Sha256};

use super::StoreError;
use crate::model::Source;

/// The fingerprint of `(source, event_id)`: SHA-256 over `source ␟ event_id`, its first 8 bytes
/// as a big-endian integer with the top bit flipped (so that SQL computes the same value:
/// `('0x' || left(sha256(...), 16))::UBIGINT::HUGEINT - 2^63`).
#[must_use]
pub fn fingerprint(source: &str, event_id: &str) -> i64 {
    let mut hasher = Sha256::new();
    hasher.update(source.as_bytes());
    hasher.update([0x1f]);
    hasher.update(event_id.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes) ^ i64::MIN
}

/// The fingerprint of a record's identity.
#[must_use]
pub fn fingerprint_of(source: Source, event_id: &str) -> i64 {
    fingerprint(source.as_str(), event_id)
}

/// Fingerprints are uniformly distributed already: hashing them again would only cost time.
#[derive(Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 << 8) | u64::from(*byte);
        }
    }

    fn write_i64(&mut self, value: i64) {
        self.0 = value.cast_unsigned();
    }
}

/// The fingerprints of every stored event.
#[derive(Default)]
pub struct Fingerprints {
    set: HashSet<i64, BuildHasherDefault<PassThrough>>,
    /// False when they could not be loaded: then nothing may be stored.
    available: bool,
}

const LOAD_SQL: &str = "SELECT event_fp FROM usage_events";

/// Identities stored with one of `fingerprints`.
const CANDIDATES_SQL: &str = "SELECT source, event_id FROM usage_events \
     WHERE event_fp IN (SELECT unnest(?::BIGINT[]))";

/// Which of `fingerprints` some stored event still carries.
const STILL_STORED_SQL: &str = "SELECT DISTINCT event_fp FROM usage_events \
     WHERE event_fp IN (SELECT unnest(?::BIGINT[]))";

impl Fingerprints {
    /// Reads the fingerprints of every stored event.
    ///
    /// # Errors
    /// Database failures.
    pub fn load(conn: &Connection) -> Result<Fingerprints, StoreError> {
        let count: i64 = conn
            .query_row("SELECT count(*) FROM usage_events", [], |row| row.get(0))
            .map_err(StoreError::db("counting stored events"))?;
        let mut set = HashSet::with_capacity_and_hasher(
            usize::try_from(count).unwrap_or(0),
            BuildHasherDefault::<PassThrough>::default(),
        );
        let mut statement = conn
            .prepare(LOAD_SQL)
            .map_err(StoreError::db("preparing the fingerprint scan"))?;
        // Streamed as Arrow batches: ten times faster than row by row for millions of events,
        // and startup waits for it.
        let batches = statement
            .stream_arrow([])
            .map_err(StoreError::db("reading fingerprints"))?;
        for batch in batches {
            let batch = batch.map_err(StoreError::db("reading fingerprints"))?;
            let column = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| StoreError::Rows("event_fp is not a BIGINT column".to_owned()))?;
            set.extend(column.iter().flatten());
        }
        Ok(Fingerprints { set, available: true })
    }

    /// The state after a failed load: every ingest is refused rather than deduped wrongly.
    #[must_use]
    pub fn unavailable() -> Fingerprints {
        Fingerprints::default()
    }

    #[must_use]
    pub fn is_available(&self) -> bool {
        self.available
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.set.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Whether some stored event may have this identity (then [`Fingerprints::stored_among`]
    /// says for sure).
    #[must_use]
    pub fn may_contain(&self, fingerprint: i64) -> bool {
        self.set.contains(&fingerprint)
    }

    /// The stored identities `(source, event_id)` among the events carrying one of
    /// `fingerprints`.
    ///
    /// # Errors
    /// Database failures.
    pub fn stored_among(
        conn: &Connection,
        fingerprints: &[i64],
    ) -> Result<HashSet<(String, String)>, StoreError> {
        if fingerprints.is_empty() {
            return Ok(HashSet::new());
        }
        let list = Value::List(fingerprints.iter().map(|fp| Value::BigInt(*fp)).collect());
        let mut statement = conn
            .prepare_cached(CANDIDATES_SQL)
            .map_err(StoreError::db("preparing the duplicate check"))?;
        let rows = statement
            .query_map([list], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(StoreError::db("checking duplicates"))?;
        rows.collect::<Result<_, _>>()
            .map_err(StoreError::db("reading duplicates"))
    }

    /// Adds the fingerprints of committed events.
    pub fn extend(&mut self, fingerprints: impl IntoIterator<Item = i64>) {
        self.set.extend(fingerprints);
    }

    /// Forgets the fingerprints of deleted events (after the deletion committed), keeping any
    /// that another stored event still carries.
    ///
    /// # Errors
    /// Database failures; then nothing is forgotten, which is safe (a kept fingerprint only
    /// costs an exact check).
    pub fn forget(&mut self, conn: &Connection, fingerprints: &[i64]) -> Result<(), StoreError> {
        let mut kept = HashSet::new();
        for chunk in fingerprints.chunks(100_000) {
            let list = Value::List(chunk.iter().map(|fp| Value::BigInt(*fp)).collect());
            let mut statement = conn
                .prepare_cached(STILL_STORED_SQL)
                .map_err(StoreError::db("preparing the fingerprint check"))?;
            let rows = statement
                .query_map([list], |row| row.get::<_, i64>(0))
                .map_err(StoreError::db("checking fingerprints"))?;
            for fingerprint in rows {
                kept.insert(fingerprint.map_err(StoreError::db("reading a fingerprint"))?);
            }
        }
        for fingerprint in fingerprints {
            if !kept.contains(fingerprint) {
                self.set.remove(fingerprint);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_computes_the_same_fingerprint() {
        let conn = Connection::open_in_memory().unwrap();
        for (source, event_id) in [
            ("canonical", "abc"),
            ("litellm", "chatcmpl-1"),
            ("otel", "ünïcödé-ids"),
        ] {
            let from_sql: i64 = conn
                .query_row(
                    "SELECT (('0x' || left(sha256(? || chr(31) || ?), 16))::UBIGINT::HUGEINT - 9223372036854775808)::BIGINT",
                    [source, event_id],
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(from_sql, fingerprint(source, event_id), "{source} {event_id}");
        }
    }

    #[test]
    fn a_colliding_fingerprint_is_checked_exactly() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO usage_events (event_id, source, ts, team, tags, provider, model_requested, model,
                 model_key, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
                 cache_write_1h_tokens, reasoning_tokens, service_tier, cost_source, request_count, attempts,
                 status_code, is_error, cache_hit, ingested_at, event_fp)
             VALUES ('a', 'canonical', now()::TIMESTAMP, 't', MAP {}, 'openai', 'm', 'm', 'm', 0, 0, 0, 0, 0, 0,
                 'default', 'unpriced', 1, 1, 200, false, false, now()::TIMESTAMP, 42)",
        )
        .unwrap();
        let fingerprints = Fingerprints::load(&conn).unwrap();
        assert!(fingerprints.may_contain(42));
        // Another identity with the same fingerprint is not a duplicate.
        let stored = Fingerprints::stored_among(&conn, &[42]).unwrap();
        assert!(stored.contains(&("canonical".to_owned(), "a".to_owned())));
        assert!(!stored.contains(&("canonical".to_owned(), "b".to_owned())));
    }
}
