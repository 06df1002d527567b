//! Retention: deleting the events of whole UTC days before a cutoff, on the writer thread, one
//! day per transaction, so ingest keeps committing between days.
//!
//! What is deleted: `usage_events` rows; after each day commits the writer forgets their dedupe
//! fingerprints (held in memory, `store::dedupe`), so the in-memory set does not grow forever. What is kept:
//! `rollup_hourly`, `rollup_daily` and `focus_lines`, so reports over old periods still answer
//! from them.
//!
//! The promise that makes forgetting fingerprints safe: before deleting anything, a pass commits its
//! cutoff to `retention_runs`, and from then on the writer refuses records older than the highest
//! cutoff ever started (or than the configured policy's cutoff, whichever is later) as `expired`.
//! A re-sent old record therefore cannot be stored again as new spend that the rollups already
//! count.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use duckdb::Connection;
use serde::Serialize;
use tokio::sync::mpsc;

use super::StoreError;
use super::dedupe::Fingerprints;
use super::reader::timestamp_value;
use super::writer::{Request, WriterOptions, WriterState, commit_ingest_group};
use crate::config::RetentionPolicy;

const DAYS_SQL: &str = include_str!("../../queries/retention_days.sql");
const DAY_EVENTS_SQL: &str = include_str!("../../queries/retention_day_events.sql");
const DELETE_EVENTS_SQL: &str = include_str!("../../queries/retention_delete_events.sql");
const WATERMARK_SQL: &str = include_str!("../../queries/retention_watermark.sql");
const START_SQL: &str = include_str!("../../queries/retention_start.sql");
const FINISH_SQL: &str = include_str!("../../queries/retention_finish.sql");

/// What a retention pass deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RetentionOutcome {
    /// Events before this instant (a UTC midnight) are gone; ingest refuses them as `expired`.
    #[schema(example = "2025-06-01T00:00:00Z")]
    pub cutoff: String,
    /// UTC days that had events and were deleted.
    pub days: u64,
    pub events_deleted: u64,
    /// Dedupe keys deleted with the events (equal to `events_deleted`).
    pub keys_deleted: u64,
}

/// UTC midnight at the start of `day`.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// The expiry rule the writer thread and every writer handle share: the configured policy and
/// the highest cutoff a retention pass ever started with.
#[derive(Debug)]
pub struct RetentionGate {
    policy: RetentionPolicy,
    /// Microseconds since the epoch; `i64::MIN` when no pass ever ran.
    watermark_micros: AtomicI64,
}

impl RetentionGate {
    pub(crate) fn new(policy: RetentionPolicy, watermark: Option<DateTime<Utc>>) -> RetentionGate {
        RetentionGate {
            policy,
            watermark_micros: AtomicI64::new(
                watermark.map_or(i64::MIN, |instant| instant.timestamp_micros()),
            ),
        }
    }

    /// The configured policy.
    pub fn policy(&self) -> RetentionPolicy {
        self.policy
    }

    /// Records with `ts` before this instant are refused as `expired`: the later of the policy's
    /// cutoff at `now` and the highest cutoff a pass started with. `None` when nothing expires.
    pub fn expired_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let micros = self.watermark_micros.load(Ordering::Acquire);
        let watermark = (micros != i64::MIN)
            .then(|| DateTime::<Utc>::from_timestamp_micros(micros))
            .flatten();
        match (self.policy.cutoff(now), watermark) {
            (Some(policy), Some(watermark)) => Some(policy.max(watermark)),
            (policy, watermark) => policy.or(watermark),
        }
    }

    fn raise(&self, cutoff: DateTime<Utc>) {
        self.watermark_micros
            .fetch_max(cutoff.timestamp_micros(), Ordering::AcqRel);
    }
}

/// Reads the highest cutoff any pass started with.
///
/// # Errors
/// Database failures.
pub(crate) fn load_watermark(conn: &Connection) -> Result<Option<DateTime<Utc>>, StoreError> {
    conn.query_row(WATERMARK_SQL, [], |row| {
        row.get::<_, Option<chrono::NaiveDateTime>>(0)
    })
    .map(|cutoff| cutoff.map(|naive| naive.and_utc()))
    .map_err(StoreError::db("reading the retention watermark"))
}

/// A retention pass in progress (on the writer thread).
struct Pass {
    started_at: DateTime<Utc>,
    cutoff: DateTime<Utc>,
    days: Vec<NaiveDate>,
    next: usize,
    outcome: RetentionOutcome,
}

impl Pass {
    /// Commits the cutoff (and raises `gate`), then lists the days to delete. Nothing is deleted
    /// yet: the caller runs [`Pass::step`] until it returns false, then [`Pass::finish`].
    ///
    /// # Errors
    /// Database failures; nothing is then changed.
    fn begin(conn: &Connection, before: NaiveDate, gate: &RetentionGate) -> Result<Pass, StoreError> {
        let started_at = Utc::now();
        let cutoff = day_start(before);
        conn.execute(
            START_SQL,
            duckdb::named_params! {
                "started_at": timestamp_value(started_at),
                "cutoff": timestamp_value(cutoff),
            },
        )
        .map_err(StoreError::db("recording a retention pass"))?;
        gate.raise(cutoff);
        let days = {
            let mut statement = conn
                .prepare_cached(DAYS_SQL)
                .map_err(StoreError::db("preparing the retention days"))?;
            let days = statement
                .query_map(duckdb::named_params! {"cutoff": timestamp_value(cutoff)}, |row| {
                    row.get::<_, NaiveDate>(0)
                })
                .map_err(StoreError::db("listing the days to delete"))?;
            days.collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::db("reading the days to delete"))?
        };
        Ok(Pass {
            started_at,
            cutoff,
            days,
            next: 0,
            outcome: RetentionOutcome {
                cutoff: cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ..RetentionOutcome::default()
            },
        })
    }

    /// Deletes the next day in its own transaction; false when no day is left.
    ///
    /// # Errors
    /// Database failures; that day is then unchanged.
    fn step(&mut self, conn: &mut Connection, fingerprints: &mut Fingerprints) -> Result<bool, StoreError> {
        let Some(day) = self.days.get(self.next).copied() else {
            return Ok(false);
        };
        let (events, keys) = delete_day(conn, day, fingerprints)?;
        self.next += 1;
        self.outcome.days += 1;
        self.outcome.events_deleted += events;
        self.outcome.keys_deleted += keys;
        tracing::debug!(%day, events, keys, "retention deleted a day");
        Ok(self.next < self.days.len())
    }

    /// Records what the pass deleted.
    ///
    /// # Errors
    /// Database failures (the deletions stay committed).
    fn finish(self, conn: &Connection) -> Result<RetentionOutcome, StoreError> {
        let count = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        conn.execute(
            FINISH_SQL,
            duckdb::named_params! {
                "started_at": timestamp_value(self.started_at),
                "cutoff": timestamp_value(self.cutoff),
                "finished_at": timestamp_value(Utc::now()),
                "days": count(self.outcome.days),
                "events_deleted": count(self.outcome.events_deleted),
                "keys_deleted": count(self.outcome.keys_deleted),
            },
        )
        .map_err(StoreError::db("recording a finished retention pass"))?;
        Ok(self.outcome)
    }
}

/// Runs a retention pass: commits the cutoff, then deletes a day per transaction, committing
/// waiting ingest requests (and answering pings) between days.
pub(super) fn run_retention(
    conn: &mut Connection,
    before: NaiveDate,
    state: &mut WriterState,
    requests: &mut mpsc::Receiver<Request>,
    deferred: &mut VecDeque<Request>,
    options: WriterOptions,
) -> Result<RetentionOutcome, StoreError> {
    let mut pass = Pass::begin(conn, before, &state.gate)?;
    while pass.step(conn, &mut state.fingerprints)? {
        serve_waiting(conn, requests, deferred, options, state);
    }
    pass.finish(conn)
}

/// Serves what waits in the queue without blocking: ingest is committed (as one group) and
/// pings answered now; anything else is deferred until the current long operation ends.
fn serve_waiting(
    conn: &mut Connection,
    requests: &mut mpsc::Receiver<Request>,
    deferred: &mut VecDeque<Request>,
    options: WriterOptions,
    state: &mut WriterState,
) {
    let mut group = Vec::new();
    let mut rows = 0;
    // At most a queue's worth, so a steady stream of ingest cannot starve the pass.
    for _ in 0..options.queue_capacity.max(1) {
        match requests.try_recv() {
            Ok(Request::Ingest { batch, reply }) => {
                rows += batch.records.len();
                group.push((batch, reply));
                if rows >= options.max_group_rows {
                    break;
                }
            }
            Ok(Request::Ping { reply }) => {
                let result = conn
                    .execute_batch("SELECT 1")
                    .map_err(StoreError::db("answering a ping"));
                let _ = reply.send(result); // The caller may have gone away.
            }
            Ok(other) => deferred.push_back(other),
            Err(_) => break,
        }
    }
    if !group.is_empty() {
        commit_ingest_group(conn, group, state);
    }
}

/// Deletes one UTC day's events in one transaction, then forgets their dedupe fingerprints;
/// returns how many events were deleted and how many fingerprints were theirs.
fn delete_day(
    conn: &mut Connection,
    day: NaiveDate,
    fingerprints: &mut Fingerprints,
) -> Result<(u64, u64), StoreError> {
    let from = timestamp_value(day_start(day));
    let to = timestamp_value(day_start(day.checked_add_days(Days::new(1)).unwrap_or(day)));
    let tx = conn
        .transaction()
        .map_err(StoreError::db("beginning a retention transaction"))?;
    let deleted: Vec<u64> = {
        let mut statement = tx
            .prepare_cached(DAY_EVENTS_SQL)
            .map_err(StoreError::db("preparing the retention identity listing"))?;
        let rows = statement
            .query_map(
                duckdb::named_params! {"from": from.clone(), "to": to.clone()},
                |row| {
                    let source: String = row.get(0)?;
                    let event_id: String = row.get(1)?;
                    Ok(fingerprints.of(&source, &event_id))
                },
            )
            .map_err(StoreError::db("listing the identities of expired events"))?;
        rows.collect::<Result<_, _>>()
            .map_err(StoreError::db("reading the identities of expired events"))?
    };
    let events_deleted = tx
        .prepare_cached(DELETE_EVENTS_SQL)
        .and_then(|mut statement| statement.execute(duckdb::named_params! {"from": from, "to": to}))
        .map_err(StoreError::db("deleting expired events"))? as u64;
    tx.commit()
        .map_err(StoreError::db("committing a retention day"))?;
    // Only after the commit: a fingerprint forgotten too early would let a replay through.
    fingerprints.forget(&deleted);
    Ok((events_deleted, deleted.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::FormatChoice;
    use crate::ingest::body::Encoding;
    use crate::pricing::Catalog;
    use crate::store::{Writer, WriterOptions};

    /// The pipeline refuses expired records before they reach the writer; the writer checks again
    /// at commit time, for records that were in flight when a pass started.
    #[test]
    fn the_writer_refuses_records_before_a_pass_cutoff_at_commit() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&mut conn).unwrap();
        let (writer, thread) = Writer::spawn(conn, WriterOptions::default(), None).unwrap();
        let body = [
            r#"{"event_id": "old", "ts": "2026-01-01T10:00:00Z", "provider": "openai", "model": "m", "input_tokens": 1, "output_tokens": 1}"#,
            r#"{"event_id": "new", "ts": "2026-03-01T10:00:00Z", "provider": "openai", "model": "m", "input_tokens": 1, "output_tokens": 1}"#,
        ]
        .join("\n");
        let prepared = crate::pipeline::prepare(
            body.into_bytes(),
            Encoding::Identity,
            u64::MAX,
            FormatChoice::Auto,
            &Catalog::new(Vec::new()),
        )
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            assert_eq!(writer.expired_before(Utc::now()), None);
            let outcome = writer
                .apply_retention(NaiveDate::from_ymd_opt(2026, 2, 1).unwrap())
                .await
                .unwrap();
            assert_eq!(outcome.cutoff, "2026-02-01T00:00:00Z");
            assert_eq!(
                writer.expired_before(Utc::now()).unwrap().to_rfc3339(),
                "2026-02-01T00:00:00+00:00"
            );
            let outcome = writer
                .ingest(crate::store::IngestBatch::new(prepared.priced))
                .await
                .unwrap();
            assert_eq!((outcome.accepted, outcome.expired), (1, vec![0]));
        });
        drop(writer);
        thread.join().unwrap();
    }

    #[test]
    fn the_gate_takes_the_later_of_policy_and_watermark() {
        let now = DateTime::parse_from_rfc3339("2026-07-10T15:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let forever = RetentionGate::new(RetentionPolicy::default(), None);
        assert_eq!(forever.expired_before(now), None);
        let five_days = RetentionPolicy { keep_days: Some(5) };
        let gate = RetentionGate::new(five_days, None);
        assert_eq!(
            gate.expired_before(now).unwrap().to_rfc3339(),
            "2026-07-05T00:00:00+00:00"
        );
        // A manual pass with a later cutoff wins, and a policy that keeps longer cannot lower it.
        gate.raise(day_start(NaiveDate::from_ymd_opt(2026, 7, 8).unwrap()));
        assert_eq!(
            gate.expired_before(now).unwrap().to_rfc3339(),
            "2026-07-08T00:00:00+00:00"
        );
        let lowered = RetentionGate::new(
            RetentionPolicy::default(),
            Some(day_start(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())),
        );
        assert_eq!(
            lowered.expired_before(now).unwrap().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
    }
}
