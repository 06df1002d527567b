//! Exact dedupe on `(source, event_id)` without an index on history.
//!
//! The writer keeps a 64-bit fingerprint of every stored identity in memory, as a 52-bit
//! signature in a compact sorted set (`store::signatures`: about 4 bytes per event, plus those
//! added since its last rebuild in a small hash set). The fingerprint is a hash keyed afresh at
//! each start, and nothing stores it: at startup the writer hashes the stored identities again (one
//! scan of `event_id` per source). Keeping it out of the table saves 8 bytes per event on disk,
//! and a key nobody knows makes colliding event ids hard to craft (foldhash is fast, not a
//! cryptographic hash: a crafted collision would cost exact checks, never an event).
//!
//! A record whose signature is absent is new — the common case costs one lookup. A record whose
//! signature is present is checked against the stored identities exactly (one query per batch,
//! first within the time span of the suspects, since a resent record normally keeps its
//! timestamp, then over all history for those not found there), so a signature collision, about
//! one in 2^52 per pair, never drops an event. A signature that more than one identity produced
//! is never forgotten by retention, so forgetting an expired identity cannot unmask another. The
//! cost of dedupe does not grow with history, and no index has to be written at every checkpoint.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};

use chrono::{DateTime, Utc};
use duckdb::Connection;
use duckdb::arrow::array::{Array, AsArray};
use duckdb::arrow::datatypes::DataType;
use duckdb::types::Value;

use super::StoreError;
use super::reader::timestamp_value;
use super::signatures::Signatures;
use crate::model::Source;

/// A record that may already be stored: its identity and timestamp.
#[derive(Clone, Copy, Debug)]
pub struct Suspect<'a> {
    pub source: &'a str,
    pub event_id: &'a str,
    pub ts: DateTime<Utc>,
}

/// The fingerprints of every stored event.
#[derive(Default)]
pub struct Fingerprints {
    /// This process's hash key.
    key: foldhash::quality::RandomState,
    /// The fingerprints, compactly (about 4 bytes each).
    set: Signatures,
    /// Signatures that more than one identity produced: never forgotten.
    shared: HashSet<u64, foldhash::fast::RandomState>,
    /// False when they could not be loaded: then nothing may be stored.
    available: bool,
}

const SOURCES_SQL: &str = "SELECT DISTINCT source FROM usage_events";

const SOURCE_IDS_SQL: &str = "SELECT event_id FROM usage_events WHERE source = ?";

/// Stored identities among the suspects' ids, within their time span.
const CANDIDATES_IN_SPAN_SQL: &str = "SELECT source, event_id FROM usage_events \
     WHERE ts BETWEEN ?::TIMESTAMP AND ?::TIMESTAMP AND event_id IN (SELECT unnest(?::VARCHAR[]))";

/// Stored identities among the suspects' ids, at any time.
const CANDIDATES_SQL: &str = "SELECT source, event_id FROM usage_events \
     WHERE event_id IN (SELECT unnest(?::VARCHAR[]))";

impl Fingerprints {
    /// Hashes the identity of every stored event, with a key new to this process.
    ///
    /// # Errors
    /// Database failures.
    pub fn load(conn: &Connection) -> Result<Fingerprints, StoreError> {
        let count: i64 = conn
            .query_row("SELECT count(*) FROM usage_events", [], |row| row.get(0))
            .map_err(StoreError::db("counting stored events"))?;
        let mut fingerprints = Fingerprints {
            available: true,
            ..Fingerprints::default()
        };
        let mut loaded = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        let sources: Vec<String> = {
            let mut statement = conn
                .prepare(SOURCES_SQL)
                .map_err(StoreError::db("preparing the source listing"))?;
            let rows = statement
                .query_map([], |row| row.get(0))
                .map_err(StoreError::db("listing sources"))?;
            rows.collect::<Result<_, _>>()
                .map_err(StoreError::db("reading sources"))?
        };
        for source in sources {
            let mut statement = conn
                .prepare(SOURCE_IDS_SQL)
                .map_err(StoreError::db("preparing the identity scan"))?;
            // Streamed as Arrow batches: ten times faster than row by row for millions of
            // events, and startup waits for it.
            let batches = statement
                .stream_arrow([source.as_str()])
                .map_err(StoreError::db("reading stored identities"))?;
            for batch in batches {
                let batch = batch.map_err(StoreError::db("reading stored identities"))?;
                let column = batch.column(0);
                let ids: Box<dyn Iterator<Item = Option<&str>>> = match column.data_type() {
                    DataType::Utf8 => Box::new(column.as_string::<i32>().iter()),
                    DataType::LargeUtf8 => Box::new(column.as_string::<i64>().iter()),
                    DataType::Utf8View => Box::new(column.as_string_view().iter()),
                    other => {
                        return Err(StoreError::Rows(format!(
                            "event_id arrived as {other}, not as text"
                        )));
                    }
                };
                loaded.extend(ids.flatten().map(|event_id| fingerprints.of(&source, event_id)));
            }
        }
        let (set, repeated) = Signatures::from_fingerprints(loaded);
        fingerprints.set = set;
        fingerprints.shared.extend(repeated);
        Ok(fingerprints)
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
        self.set.len() == 0
    }

    /// The fingerprint of `(source, event_id)` under this process's key.
    #[must_use]
    pub fn of(&self, source: &str, event_id: &str) -> u64 {
        let mut hasher = self.key.build_hasher();
        hasher.write(source.as_bytes());
        hasher.write_u8(0x1f);
        hasher.write(event_id.as_bytes());
        hasher.finish()
    }

    /// The fingerprint of a record's identity.
    #[must_use]
    pub fn of_record(&self, source: Source, event_id: &str) -> u64 {
        self.of(source.as_str(), event_id)
    }

    /// Whether some stored event may have this identity (then [`Fingerprints::stored_among`]
    /// says for sure).
    #[must_use]
    pub fn may_contain(&self, fingerprint: u64) -> bool {
        self.set.contains(fingerprint)
    }

    /// Bytes the fingerprints take in memory.
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.set.heap_bytes()
    }

    fn insert(&mut self, fingerprint: u64) {
        if !self.set.insert(fingerprint) {
            self.shared.insert(Signatures::signature(fingerprint));
        }
    }

    /// The stored identities `(source, event_id)` among `suspects`: first within the suspects'
    /// time span (a resent record keeps its timestamp, and the span skips most of history), then,
    /// for the suspects not found there, over all stored events.
    ///
    /// # Errors
    /// Database failures.
    pub fn stored_among(
        conn: &Connection,
        suspects: &[Suspect<'_>],
    ) -> Result<HashSet<(String, String)>, StoreError> {
        let (Some(earliest), Some(latest)) = (
            suspects.iter().map(|suspect| suspect.ts).min(),
            suspects.iter().map(|suspect| suspect.ts).max(),
        ) else {
            return Ok(HashSet::new());
        };
        let mut found = HashSet::new();
        collect_stored(
            conn,
            CANDIDATES_IN_SPAN_SQL,
            &[
                timestamp_value(earliest),
                timestamp_value(latest),
                id_list(suspects.iter()),
            ],
            &mut found,
        )?;
        let missing: Vec<&Suspect<'_>> = suspects
            .iter()
            .filter(|suspect| !found.contains(&(suspect.source.to_owned(), suspect.event_id.to_owned())))
            .collect();
        if !missing.is_empty() {
            collect_stored(conn, CANDIDATES_SQL, &[id_list(missing.into_iter())], &mut found)?;
        }
        Ok(found)
    }

    /// Adds the fingerprints of committed events.
    pub fn extend(&mut self, fingerprints: impl IntoIterator<Item = u64>) {
        for fingerprint in fingerprints {
            self.insert(fingerprint);
        }
    }

    /// Forgets the fingerprints of deleted events (after the deletion committed), keeping the
    /// signatures another identity also produced.
    pub fn forget(&mut self, fingerprints: &[u64]) {
        let forgotten: Vec<u64> = fingerprints
            .iter()
            .map(|fingerprint| Signatures::signature(*fingerprint))
            .filter(|signature| !self.shared.contains(signature))
            .collect();
        self.set.remove(forgotten);
    }
}

/// The suspects' event ids as one list parameter.
fn id_list<'a>(suspects: impl Iterator<Item = &'a Suspect<'a>>) -> Value {
    Value::List(
        suspects
            .map(|suspect| Value::Text(suspect.event_id.to_owned()))
            .collect(),
    )
}

/// Adds the `(source, event_id)` rows `sql` returns to `found`.
fn collect_stored(
    conn: &Connection,
    sql: &str,
    params: &[Value],
    found: &mut HashSet<(String, String)>,
) -> Result<(), StoreError> {
    let mut statement = conn
        .prepare_cached(sql)
        .map_err(StoreError::db("preparing the duplicate check"))?;
    let rows = statement
        .query_map(duckdb::params_from_iter(params), |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .map_err(StoreError::db("checking duplicates"))?;
    for row in rows {
        found.insert(row.map_err(StoreError::db("reading duplicates"))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(conn: &Connection, source: &str, event_id: &str, ts: &str) {
        conn.execute(
            "INSERT INTO usage_events (event_id, source, ts, team, tags, provider, model_requested, model,
                 model_key, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
                 cache_write_1h_tokens, reasoning_tokens, service_tier, cost_source, request_count, attempts,
                 status_code, is_error, cache_hit, ingested_at)
             VALUES (?, ?, ?::TIMESTAMP, 't', MAP {}, 'openai', 'm', 'm', 'm', 0, 0, 0, 0, 0, 0,
                 'default', 'unpriced', 1, 1, 200, false, false, now()::TIMESTAMP)",
            [event_id, source, ts],
        )
        .unwrap();
    }

    fn ledger() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&mut conn).unwrap();
        conn
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn loading_hashes_every_stored_identity_of_every_source() {
        let conn = ledger();
        stored(&conn, "canonical", "a", "2026-03-01 10:00:00");
        stored(&conn, "litellm", "a", "2026-03-01 10:00:00");
        stored(&conn, "litellm", "ünïcödé", "2026-03-02 10:00:00");
        let fingerprints = Fingerprints::load(&conn).unwrap();
        assert!(fingerprints.is_available());
        assert_eq!(fingerprints.len(), 3);
        for (source, event_id) in [("canonical", "a"), ("litellm", "a"), ("litellm", "ünïcödé")] {
            assert!(fingerprints.may_contain(fingerprints.of(source, event_id)));
        }
        assert!(!fingerprints.may_contain(fingerprints.of("canonical", "b")));
        // The separator keeps `(ab, c)` and `(a, bc)` apart.
        assert_ne!(fingerprints.of("ab", "c"), fingerprints.of("a", "bc"));
    }

    #[test]
    fn suspects_are_checked_exactly_in_their_span_then_over_all_history() {
        let conn = ledger();
        stored(&conn, "canonical", "a", "2026-03-01 10:00:00");
        stored(&conn, "canonical", "old", "2025-01-01 00:00:00");
        let suspects = [
            // Resent unchanged: found within the span.
            Suspect {
                source: "canonical",
                event_id: "a",
                ts: at("2026-03-01T10:00:00Z"),
            },
            // Resent with another timestamp: found over all history.
            Suspect {
                source: "canonical",
                event_id: "old",
                ts: at("2026-03-01T12:00:00Z"),
            },
            // Same id, another source: a different identity.
            Suspect {
                source: "litellm",
                event_id: "a",
                ts: at("2026-03-01T10:00:00Z"),
            },
            // A fingerprint collision: nothing stored.
            Suspect {
                source: "canonical",
                event_id: "b",
                ts: at("2026-03-01T11:00:00Z"),
            },
        ];
        let found = Fingerprints::stored_among(&conn, &suspects).unwrap();
        let expected: HashSet<(String, String)> = [("canonical", "a"), ("canonical", "old")]
            .map(|(source, id)| (source.to_owned(), id.to_owned()))
            .into();
        assert_eq!(found, expected);
        assert!(Fingerprints::stored_among(&conn, &[]).unwrap().is_empty());
    }

    #[test]
    fn a_fingerprint_two_identities_produced_is_never_forgotten() {
        let conn = ledger();
        let mut fingerprints = Fingerprints::load(&conn).unwrap();
        let a = fingerprints.of("canonical", "a");
        let b = fingerprints.of("canonical", "b");
        // As if another identity hashed to `a`'s fingerprint.
        fingerprints.extend([a, a, b]);
        fingerprints.forget(&[a, b]);
        assert!(fingerprints.may_contain(a));
        assert!(!fingerprints.may_contain(b));
    }

    #[test]
    fn each_set_of_fingerprints_draws_its_own_key() {
        let one = Fingerprints::unavailable();
        let other = Fingerprints::unavailable();
        assert!(!one.is_available());
        assert_ne!(one.of("canonical", "a"), other.of("canonical", "a"));
    }
}
