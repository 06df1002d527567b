//! The rollups' upkeep: what a batch of new events adds, summed in Rust before DuckDB sees it,
//! and the regular compaction of the rows appended since.
//!
//! Ingest sums one row per (UTC hour or day × rollup dimensions) that the batch touches — usually
//! a few hundred for thousands of events — and appends them to `rollup_hourly` and
//! `rollup_daily` directly ([`RollupDeltas`]). Re-pricing stages its deltas from SQL instead
//! (`queries/rollup_deltas.sql`, from old and new versions of the events with signs) in the temp
//! table `staged_rollup`, and `queries/rollup_append.sql` appends them to both rollups. Appending
//! costs the same however large the rollups are; a key then has several rows until
//! [`Compactor`] merges the hours and days that received rows (`queries/rollup_compact.sql`),
//! and the same days of the FOCUS ledger, which the writer appends to the same way
//! (`queries/focus_compact.sql`). Reports sum rows, so they are exact at every moment. A test compares every rollup with the
//! events after random ingests and re-pricing, so the two ways of summing stay in step.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use duckdb::arrow::array::{
    ArrayRef, BooleanBuilder, Decimal128Builder, Float64Builder, Int16Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use duckdb::arrow::record_batch::RecordBatch;

use super::StoreError;
use super::rows::decimal_units;
use crate::model::USD_SCALE;
use crate::pricing::PricedRecord;

const HOUR_MICROS: i64 = 3_600_000_000;

/// The dimensions of a rollup row (strings borrowed from the batch's records).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key<'a> {
    /// Start of the hour or day, microseconds since the epoch (UTC).
    unit: i64,
    source: &'a str,
    team: &'a str,
    project: Option<&'a str>,
    provider: &'a str,
    model_key: &'a str,
    model_requested: &'a str,
    route: Option<&'a str>,
    fallback_from: Option<&'a str>,
    status_code: i16,
    error_type: Option<&'static str>,
    cost_source: &'static str,
    service_tier: &'static str,
    cache_hit: bool,
}

impl<'a> Key<'a> {
    /// The key of `priced`'s row in a rollup by `unit_micros` (an hour or a day).
    fn of(priced: &'a PricedRecord, unit_micros: i64) -> Key<'a> {
        let record = &priced.record;
        Key {
            unit: record.ts.timestamp_micros().div_euclid(unit_micros) * unit_micros,
            source: record.source.as_str(),
            team: &record.team,
            project: record.project.as_deref(),
            provider: record.provider.as_str(),
            model_key: &priced.model_key,
            model_requested: &record.model_requested,
            route: record.route.as_deref(),
            fallback_from: record.fallback_from.as_deref(),
            status_code: i16::try_from(record.status_code).unwrap_or(i16::MAX),
            error_type: record.error_type.map(|kind| kind.as_str()),
            cost_source: priced.cost.source().as_str(),
            service_tier: record.service_tier.as_str(),
            cache_hit: record.cache_hit,
        }
    }
}

/// The measures of a rollup row, as `rollup_append.sql` sums them (money sums ignore NULLs and
/// stay NULL only when every value is).
#[derive(Debug, Clone, Default, PartialEq)]
struct Sums {
    requests: i64,
    records: i64,
    errors: i64,
    attempts: i64,
    input_tokens: i64,
    output_tokens: i64,
    cached_input_tokens: i64,
    cache_write_tokens: i64,
    cache_write_1h_tokens: i64,
    reasoning_tokens: i64,
    cost_usd: Option<i128>,
    list_cost_usd: Option<i128>,
    reported_cost_usd: Option<i128>,
    reported_requests: i64,
    unpriced_requests: i64,
    cache_savings_usd: Option<i128>,
    cache_hit_savings_usd: Option<i128>,
    latency_ms_sum: f64,
    latency_count: i64,
    ttft_ms_sum: f64,
    ttft_count: i64,
}

impl Sums {
    /// Adds one event.
    fn add(&mut self, priced: &PricedRecord) {
        let record = &priced.record;
        let requests = count(record.request_count);
        let tokens = &record.tokens;
        self.requests += requests;
        self.records += 1;
        if record.is_error() {
            self.errors += requests;
        }
        self.attempts += i64::from(record.attempts);
        self.input_tokens += count(tokens.input().get());
        self.output_tokens += count(tokens.output().get());
        self.cached_input_tokens += count(tokens.cached_input().get());
        self.cache_write_tokens += count(tokens.cache_write().get());
        self.cache_write_1h_tokens += count(tokens.cache_write_1h().get());
        self.reasoning_tokens += count(tokens.reasoning().get());
        add_money(&mut self.cost_usd, priced.cost.usd().map(decimal_units));
        add_money(&mut self.list_cost_usd, priced.cost.list_usd().map(decimal_units));
        add_money(
            &mut self.reported_cost_usd,
            record.reported_cost_usd.map(decimal_units),
        );
        if record.reported_cost_usd.is_some() {
            self.reported_requests += requests;
        }
        if priced.cost.source().as_str() == "unpriced" {
            self.unpriced_requests += requests;
        }
        add_money(
            &mut self.cache_savings_usd,
            priced.cost.cache_savings().map(decimal_units),
        );
        add_money(
            &mut self.cache_hit_savings_usd,
            priced.cost.cache_hit_savings().map(decimal_units),
        );
        if let Some(latency) = record.latency_ms {
            self.latency_ms_sum += latency;
            self.latency_count += 1;
        }
        if let Some(ttft) = record.ttft_ms {
            self.ttft_ms_sum += ttft;
            self.ttft_count += 1;
        }
    }

    /// Adds the sums of another row (of the same key, or of a finer unit).
    fn absorb(&mut self, other: &Sums) {
        self.requests += other.requests;
        self.records += other.records;
        self.errors += other.errors;
        self.attempts += other.attempts;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.cache_write_1h_tokens += other.cache_write_1h_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        add_money(&mut self.cost_usd, other.cost_usd);
        add_money(&mut self.list_cost_usd, other.list_cost_usd);
        add_money(&mut self.reported_cost_usd, other.reported_cost_usd);
        self.reported_requests += other.reported_requests;
        self.unpriced_requests += other.unpriced_requests;
        add_money(&mut self.cache_savings_usd, other.cache_savings_usd);
        add_money(&mut self.cache_hit_savings_usd, other.cache_hit_savings_usd);
        self.latency_ms_sum += other.latency_ms_sum;
        self.latency_count += other.latency_count;
        self.ttft_ms_sum += other.ttft_ms_sum;
        self.ttft_count += other.ttft_count;
    }
}

fn add_money(sum: &mut Option<i128>, value: Option<i128>) {
    if let Some(value) = value {
        *sum = Some(sum.unwrap_or(0) + value);
    }
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A request's hourly rollup sums, made on the thread that parsed it so the writer only merges
/// them: one row per key, named by the first of the request's records that has it (the key
/// borrows from the records, which travel beside the sums to the writer).
#[derive(Debug, Default)]
pub struct RequestSums {
    rows: Vec<(usize, Sums)>,
}

impl RequestSums {
    /// The hourly sums of `records`.
    #[must_use]
    pub fn of(records: &[&PricedRecord]) -> RequestSums {
        let mut index: HashMap<Key<'_>, usize, foldhash::fast::RandomState> = HashMap::default();
        let mut rows: Vec<(usize, Sums)> = Vec::new();
        for (position, priced) in records.iter().enumerate() {
            let row = *index.entry(Key::of(priced, HOUR_MICROS)).or_insert_with(|| {
                rows.push((position, Sums::default()));
                rows.len() - 1
            });
            rows[row].1.add(priced);
        }
        RequestSums { rows }
    }

    /// Rows: distinct hourly keys among the records.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// The deltas of a batch of new events to one rollup, per UTC hour or per UTC day.
#[derive(Debug)]
pub struct RollupDeltas<'a> {
    unit_micros: i64,
    rows: HashMap<Key<'a>, Sums, foldhash::fast::RandomState>,
}

impl<'a> RollupDeltas<'a> {
    /// Deltas to `rollup_hourly`.
    #[must_use]
    pub fn hourly() -> RollupDeltas<'a> {
        RollupDeltas {
            unit_micros: HOUR_MICROS,
            rows: HashMap::default(),
        }
    }

    /// Deltas to `rollup_daily`.
    fn daily() -> RollupDeltas<'a> {
        RollupDeltas {
            unit_micros: DAY_MICROS,
            rows: HashMap::default(),
        }
    }

    /// The deltas to `rollup_daily` of the events summed in `hourly`: its rows folded into
    /// their days, which costs a lookup per hourly row instead of one per event.
    #[must_use]
    pub fn daily_of(hourly: &RollupDeltas<'a>) -> RollupDeltas<'a> {
        let mut daily = RollupDeltas::daily();
        for (key, sums) in &hourly.rows {
            let key = Key {
                unit: key.unit.div_euclid(DAY_MICROS) * DAY_MICROS,
                ..key.clone()
            };
            daily.rows.entry(key).or_default().absorb(sums);
        }
        daily
    }

    /// Adds one stored event.
    pub fn add(&mut self, priced: &'a PricedRecord) {
        self.rows
            .entry(Key::of(priced, self.unit_micros))
            .or_default()
            .add(priced);
    }

    /// Adds the sums of a request's events made off the writer thread (`RequestSums::of`);
    /// `records` are the records they were made from, in the same order.
    pub fn absorb(&mut self, records: &[&'a PricedRecord], sums: &RequestSums) {
        for (first, row) in &sums.rows {
            self.rows
                .entry(Key::of(records[*first], self.unit_micros))
                .or_default()
                .absorb(row);
        }
    }

    /// Rows staged.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The units (hours or days) the deltas touch, microseconds since the epoch.
    pub fn units(&self) -> impl Iterator<Item = i64> + '_ {
        self.rows.keys().map(|key| key.unit)
    }

    /// The deltas in the column order of the rollups (`rollup_hourly`, `rollup_daily`).
    ///
    /// # Errors
    /// [`StoreError::Rows`] when Arrow refuses the arrays (a defect).
    pub fn to_record_batch(&self) -> Result<RecordBatch, StoreError> {
        let n = self.rows.len();
        let text = || StringBuilder::with_capacity(n, n * 16);
        let (mut source, mut team, mut project, mut provider, mut model_key) =
            (text(), text(), text(), text(), text());
        let (mut model_requested, mut route, mut fallback_from, mut error_type) =
            (text(), text(), text(), text());
        let (mut cost_source, mut service_tier) = (text(), text());
        let mut unit = TimestampMicrosecondBuilder::with_capacity(n);
        let mut status_code = Int16Builder::with_capacity(n);
        let mut cache_hit = BooleanBuilder::with_capacity(n);
        let int = || Int64Builder::with_capacity(n);
        let (mut requests, mut records, mut errors, mut attempts) = (int(), int(), int(), int());
        let (mut input, mut output, mut cached, mut write, mut write_1h, mut reasoning) =
            (int(), int(), int(), int(), int(), int());
        let (mut reported_requests, mut unpriced_requests, mut latency_count, mut ttft_count) =
            (int(), int(), int(), int());
        let money = || {
            Decimal128Builder::with_capacity(n)
                .with_precision_and_scale(38, USD_SCALE as i8)
                .map_err(|error| StoreError::Rows(error.to_string()))
        };
        let (mut cost, mut list_cost, mut reported) = (money()?, money()?, money()?);
        let (mut savings, mut hit_savings) = (money()?, money()?);
        let (mut latency_sum, mut ttft_sum) =
            (Float64Builder::with_capacity(n), Float64Builder::with_capacity(n));
        for (key, sums) in &self.rows {
            unit.append_value(key.unit);
            source.append_value(key.source);
            team.append_value(key.team);
            project.append_option(key.project);
            provider.append_value(key.provider);
            model_key.append_value(key.model_key);
            model_requested.append_value(key.model_requested);
            route.append_option(key.route);
            fallback_from.append_option(key.fallback_from);
            status_code.append_value(key.status_code);
            error_type.append_option(key.error_type);
            cost_source.append_value(key.cost_source);
            service_tier.append_value(key.service_tier);
            cache_hit.append_value(key.cache_hit);
            requests.append_value(sums.requests);
            records.append_value(sums.records);
            errors.append_value(sums.errors);
            attempts.append_value(sums.attempts);
            input.append_value(sums.input_tokens);
            output.append_value(sums.output_tokens);
            cached.append_value(sums.cached_input_tokens);
            write.append_value(sums.cache_write_tokens);
            write_1h.append_value(sums.cache_write_1h_tokens);
            reasoning.append_value(sums.reasoning_tokens);
            cost.append_option(sums.cost_usd);
            list_cost.append_option(sums.list_cost_usd);
            reported.append_option(sums.reported_cost_usd);
            reported_requests.append_value(sums.reported_requests);
            unpriced_requests.append_value(sums.unpriced_requests);
            savings.append_option(sums.cache_savings_usd);
            hit_savings.append_option(sums.cache_hit_savings_usd);
            latency_sum.append_value(sums.latency_ms_sum);
            latency_count.append_value(sums.latency_count);
            ttft_sum.append_value(sums.ttft_ms_sum);
            ttft_count.append_value(sums.ttft_count);
        }
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                if self.unit_micros == HOUR_MICROS {
                    "hour"
                } else {
                    "day"
                },
                Arc::new(unit.finish()),
            ),
            ("source", Arc::new(source.finish())),
            ("team", Arc::new(team.finish())),
            ("project", Arc::new(project.finish())),
            ("provider", Arc::new(provider.finish())),
            ("model_key", Arc::new(model_key.finish())),
            ("model_requested", Arc::new(model_requested.finish())),
            ("route", Arc::new(route.finish())),
            ("fallback_from", Arc::new(fallback_from.finish())),
            ("status_code", Arc::new(status_code.finish())),
            ("error_type", Arc::new(error_type.finish())),
            ("cost_source", Arc::new(cost_source.finish())),
            ("service_tier", Arc::new(service_tier.finish())),
            ("cache_hit", Arc::new(cache_hit.finish())),
            ("requests", Arc::new(requests.finish())),
            ("records", Arc::new(records.finish())),
            ("errors", Arc::new(errors.finish())),
            ("attempts", Arc::new(attempts.finish())),
            ("input_tokens", Arc::new(input.finish())),
            ("output_tokens", Arc::new(output.finish())),
            ("cached_input_tokens", Arc::new(cached.finish())),
            ("cache_write_tokens", Arc::new(write.finish())),
            ("cache_write_1h_tokens", Arc::new(write_1h.finish())),
            ("reasoning_tokens", Arc::new(reasoning.finish())),
            ("cost_usd", Arc::new(cost.finish())),
            ("list_cost_usd", Arc::new(list_cost.finish())),
            ("reported_cost_usd", Arc::new(reported.finish())),
            ("reported_requests", Arc::new(reported_requests.finish())),
            ("unpriced_requests", Arc::new(unpriced_requests.finish())),
            ("cache_savings_usd", Arc::new(savings.finish())),
            ("cache_hit_savings_usd", Arc::new(hit_savings.finish())),
            ("latency_ms_sum", Arc::new(latency_sum.finish())),
            ("latency_count", Arc::new(latency_count.finish())),
            ("ttft_ms_sum", Arc::new(ttft_sum.finish())),
            ("ttft_count", Arc::new(ttft_count.finish())),
        ];
        RecordBatch::try_from_iter(columns).map_err(|error| StoreError::Rows(error.to_string()))
    }
}

const DAY_MICROS: i64 = 24 * HOUR_MICROS;

/// Rows appended to the rollups and the FOCUS ledger since their units were last compacted:
/// the writer notes them, and hands the units to a [`CompactionThread`] when enough have
/// accumulated.
#[derive(Debug, Default)]
pub struct Compactor {
    /// Hours (microseconds since the epoch) with rows appended since the last compaction.
    hours: BTreeSet<i64>,
    /// Rows appended since (hourly, daily and FOCUS lines).
    rows: usize,
    since: Option<std::time::Instant>,
    /// Rows the last compaction left in the units it merged (written by the compaction thread).
    last_merged: Arc<AtomicUsize>,
}

/// Compact once this many rows were appended, and at least as many as the last compaction left:
/// a compaction reads every row of the units it merges, so waiting for as many new rows keeps
/// its cost to about two rows read per row appended however large the rollups grow (and the
/// fragments to about half of the rows)…
const COMPACT_AFTER_ROWS: usize = 200_000;
/// …or this long after the first of them, so that a trickle is compacted too.
const COMPACT_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

pub(crate) fn unit_list(units: impl Iterator<Item = i64>) -> duckdb::types::Value {
    duckdb::types::Value::List(
        units
            .map(|micros| duckdb::types::Value::Timestamp(duckdb::types::TimeUnit::Microsecond, micros))
            .collect(),
    )
}

impl Compactor {
    /// Notes rows appended for `hours`.
    pub fn note(&mut self, hours: impl IntoIterator<Item = i64>, rows: usize) {
        self.hours.extend(hours);
        self.rows += rows;
        self.since.get_or_insert_with(std::time::Instant::now);
    }

    /// Whether enough has been appended to compact now.
    #[must_use]
    pub fn due(&self) -> bool {
        self.rows >= COMPACT_AFTER_ROWS.max(self.last_merged.load(Ordering::Relaxed))
            || self.since.is_some_and(|since| since.elapsed() >= COMPACT_AFTER)
    }

    /// The hours noted so far, which it forgets: the caller compacts them.
    pub fn take(&mut self) -> BTreeSet<i64> {
        self.rows = 0;
        self.since = None;
        std::mem::take(&mut self.hours)
    }

    /// Merges the noted hours (and their days) now, on `conn`, in one transaction.
    ///
    /// # Errors
    /// Database failures; nothing is then changed and the units stay noted.
    pub fn compact(&mut self, conn: &mut duckdb::Connection) -> Result<usize, StoreError> {
        let merged = compact_committed(conn, &self.hours)?;
        self.last_merged.store(merged, Ordering::Relaxed);
        self.take();
        Ok(merged)
    }

    /// Starts the thread that compacts what [`Compactor::take`] hands it, on `conn` (a
    /// connection of its own). `exclusive` is held while it compacts: a re-price, which
    /// compacts its own hours, holds it too, so that the two never delete the same rows.
    ///
    /// # Errors
    /// When the OS refuses a thread.
    pub fn spawn_thread(
        &self,
        conn: duckdb::Connection,
        exclusive: Arc<Mutex<()>>,
    ) -> std::io::Result<CompactionThread> {
        let (jobs, received) = std::sync::mpsc::channel::<BTreeSet<i64>>();
        let last_merged = self.last_merged.clone();
        let handle = std::thread::Builder::new()
            .name("ledger-compact".to_owned())
            .spawn(move || run_compactions(conn, &received, &exclusive, &last_merged))?;
        Ok(CompactionThread {
            jobs: Some(jobs),
            handle: Some(handle),
        })
    }
}

/// Merges `hours` and their days in one transaction of its own; returns the rows left.
fn compact_committed(conn: &mut duckdb::Connection, hours: &BTreeSet<i64>) -> Result<usize, StoreError> {
    if hours.is_empty() {
        return Ok(0);
    }
    let tx = conn
        .transaction()
        .map_err(StoreError::db("beginning a rollup compaction"))?;
    let merged = compact_hours(&tx, hours)?;
    tx.commit()
        .map_err(StoreError::db("committing a rollup compaction"))?;
    Ok(merged)
}

/// The compactions of the rollups and the FOCUS ledger, off the writer thread: a compaction
/// rewrites every row of the units it merges (hundreds of milliseconds), and the writer goes on
/// committing meanwhile. It only appends, so the two never touch the same rows: rows it appends
/// to a unit being compacted are not in the compaction's snapshot, and stay as fragments.
pub struct CompactionThread {
    jobs: Option<std::sync::mpsc::Sender<BTreeSet<i64>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl CompactionThread {
    /// Queues `hours` (and their days) for compaction; never waits.
    pub fn submit(&self, hours: BTreeSet<i64>) {
        if hours.is_empty() {
            return;
        }
        if let Some(jobs) = &self.jobs
            && jobs.send(hours).is_err()
        {
            tracing::error!("the compaction thread is gone; rollup fragments stay until the next start");
        }
    }

    /// Finishes the queued compactions and stops the thread.
    pub fn stop(mut self) {
        self.jobs = None;
        if let Some(handle) = self.handle.take()
            && handle.join().is_err()
        {
            tracing::error!("the compaction thread panicked");
        }
    }
}

fn run_compactions(
    mut conn: duckdb::Connection,
    jobs: &std::sync::mpsc::Receiver<BTreeSet<i64>>,
    exclusive: &Mutex<()>,
    last_merged: &AtomicUsize,
) {
    // Hours whose compaction failed are retried with the next job.
    let mut pending = BTreeSet::new();
    while let Ok(hours) = jobs.recv() {
        pending.extend(hours);
        while let Ok(more) = jobs.try_recv() {
            pending.extend(more);
        }
        let started = std::time::Instant::now();
        let _exclusive = exclusive
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match compact_committed(&mut conn, &pending) {
            Ok(merged) => {
                tracing::debug!(
                    hours = pending.len(),
                    merged,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "rollups compacted"
                );
                last_merged.store(merged, Ordering::Relaxed);
                pending.clear();
            }
            // The fragments stay; reports are exact either way.
            Err(error) => tracing::error!(
                error = %super::writer::error_chain(&error),
                "compacting the rollups failed; retried with the next compaction"
            ),
        }
    }
}

/// Merges `hours` of `rollup_hourly`, and their days of `rollup_daily` and `focus_lines`, into
/// one row per key, inside the caller's transaction; returns how many rows remain for them.
///
/// # Errors
/// Database failures.
pub fn compact_hours(
    tx: &duckdb::Connection,
    hours: &std::collections::BTreeSet<i64>,
) -> Result<usize, StoreError> {
    let days: std::collections::BTreeSet<i64> = hours
        .iter()
        .map(|hour| hour.div_euclid(DAY_MICROS) * DAY_MICROS)
        .collect();
    let mut merged = 0;
    for ((rollup, unit), units) in [
        (("rollup_hourly", "hour"), unit_list(hours.iter().copied())),
        (("rollup_daily", "day"), unit_list(days.iter().copied())),
    ] {
        merged += compact_units(tx, rollup, unit, units)?;
    }
    // FOCUS lines are charged on the UTC day of their calls: the same days.
    merged += super::focus::compact_days(tx, unit_list(days.iter().copied()))?;
    Ok(merged)
}

/// The compaction statement of a rollup (`rollup_compact.sql` with the template filled in).
#[must_use]
pub fn compact_sql(rollup: &str, unit: &str) -> String {
    COMPACT_TEMPLATE
        .replace("{rollup}", rollup)
        .replace("{unit}", unit)
}

const COMPACT_TEMPLATE: &str = include_str!("../../queries/rollup_compact.sql");

/// Replaces the rows of `units` in a rollup by their merged rows; returns how many remain.
fn compact_units(
    tx: &duckdb::Connection,
    rollup: &'static str,
    unit: &'static str,
    units: duckdb::types::Value,
) -> Result<usize, StoreError> {
    let select = compact_sql(rollup, unit);
    tx.prepare_cached(&format!(
        "CREATE OR REPLACE TEMP TABLE compacted_rollup AS {select}"
    ))
    .and_then(|mut statement| statement.execute([units.clone()]))
    .map_err(StoreError::db("merging rollup rows"))?;
    tx.prepare_cached(&format!(
        "DELETE FROM {rollup} WHERE {unit} IN (SELECT unnest(?::TIMESTAMP[]))"
    ))
    .and_then(|mut statement| statement.execute([units]))
    .map_err(StoreError::db("removing merged rollup rows"))?;
    tx.prepare_cached(&format!("INSERT INTO {rollup} SELECT * FROM compacted_rollup"))
        .and_then(|mut statement| statement.execute([]))
        .map_err(StoreError::db("storing merged rollup rows"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sums made per request off the writer thread and merged give the same rows as adding
    /// every record of the group one by one, whichever request a key's first record is in.
    #[test]
    fn request_sums_merged_equal_the_records_added_one_by_one() {
        let line = |id: usize, hour: usize, team: &str, model: &str, latency: usize| {
            format!(
                r#"{{"event_id": "e{id}", "ts": "2026-03-01T{hour:02}:{id:02}:00Z", "team": "{team}", "provider": "openai", "model": "{model}", "input_tokens": {id}, "output_tokens": 2, "latency_ms": {latency}, "reported_cost_usd": "0.{id}"}}"#
            )
        };
        let request = |lines: Vec<String>| {
            crate::pipeline::prepare(
                lines.join("\n").into_bytes(),
                crate::ingest::body::Encoding::Identity,
                u64::MAX,
                crate::ingest::FormatChoice::Auto,
                &crate::pricing::Catalog::new(Vec::new()),
            )
            .unwrap()
            .priced
        };
        let first = request(vec![
            line(1, 10, "search", "gpt-4o", 100),
            line(2, 10, "search", "gpt-4o", 300),
            line(3, 11, "search", "gpt-4o", 50),
            line(4, 10, "growth", "gpt-4o-mini", 20),
        ]);
        let second = request(vec![
            line(5, 10, "growth", "gpt-4o-mini", 40),
            line(6, 12, "search", "gpt-4o", 70),
            line(7, 10, "search", "gpt-4o", 10),
        ]);
        let requests: Vec<Vec<&PricedRecord>> = [&first, &second]
            .into_iter()
            .map(|records| records.iter().collect())
            .collect();

        let mut merged = RollupDeltas::hourly();
        let mut one_by_one = RollupDeltas::hourly();
        for records in &requests {
            let sums = RequestSums::of(records);
            merged.absorb(records, &sums);
            for priced in records {
                one_by_one.add(priced);
            }
        }
        assert_eq!(RequestSums::of(&requests[0]).len(), 3);
        assert_eq!(merged.len(), 4);
        assert_eq!(merged.rows, one_by_one.rows);
        let search_10 = merged
            .rows
            .iter()
            .find(|(key, _)| key.team == "search" && key.unit % DAY_MICROS == 10 * HOUR_MICROS)
            .map(|(_, sums)| sums)
            .unwrap();
        assert_eq!(
            (
                search_10.records,
                search_10.input_tokens,
                search_10.latency_ms_sum
            ),
            (3, 10, 410.0)
        );
        assert_eq!(search_10.reported_cost_usd, Some(10_i128.pow(USD_SCALE)));
    }

    fn row(unit: &str, team: &str, records: i64, cost: &str) -> String {
        format!(
            "(TIMESTAMP '{unit}', 'canonical', '{team}', NULL, 'openai', 'gpt-4o', 'gpt-4o', NULL, NULL, 200, NULL,
              'catalog', 'default', false, {records}, {records}, 0, {records}, {tokens}, 0, 0, 0, 0, 0, {cost}, {cost},
              NULL, 0, 0, NULL, NULL, 0.0, 0, 0.0, 0)",
            tokens = records * 100
        )
    }

    #[test]
    fn compaction_merges_fragments_and_drops_keys_that_moved_away() {
        let mut conn = duckdb::Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&mut conn).unwrap();
        for (rollup, unit) in [
            ("rollup_hourly", "2026-11-23 10:00:00"),
            ("rollup_daily", "2026-11-23 00:00:00"),
        ] {
            // Two batches for `search`, and a `growth` row whose event a re-price moved away.
            let rows = [
                row(unit, "search", 1, "0.5"),
                row(unit, "search", 2, "1.25"),
                row(unit, "growth", 1, "0.1"),
                row(unit, "growth", -1, "-0.1"),
            ]
            .join(",");
            conn.execute_batch(&format!("INSERT INTO {rollup} VALUES {rows}"))
                .unwrap();
        }
        // An hour nobody noted stays as it is.
        conn.execute_batch(&format!(
            "INSERT INTO rollup_hourly VALUES {}, {}",
            row("2026-11-23 11:00:00", "search", 1, "1"),
            row("2026-11-23 11:00:00", "search", 1, "1")
        ))
        .unwrap();
        let mut compactor = Compactor::default();
        assert!(!compactor.due());
        let hour = chrono::DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .timestamp_micros();
        compactor.note([hour], 8);
        compactor.compact(&mut conn).unwrap();
        let rows = |sql: &str| -> Vec<(String, i64, String)> {
            let mut statement = conn.prepare(sql).unwrap();
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get::<_, String>(2)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(
            rows(
                "SELECT team, requests, cost_usd::VARCHAR FROM rollup_hourly WHERE hour = '2026-11-23 10:00:00'"
            ),
            [("search".to_owned(), 3, "1.750000000000".to_owned())]
        );
        assert_eq!(
            rows("SELECT team, requests, cost_usd::VARCHAR FROM rollup_daily"),
            [("search".to_owned(), 3, "1.750000000000".to_owned())]
        );
        let untouched: i64 = conn
            .query_row(
                "SELECT count(*) FROM rollup_hourly WHERE hour = '2026-11-23 11:00:00'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(untouched, 2);
        // Nothing is left to do.
        assert!(!compactor.due());
        assert_eq!(compactor.compact(&mut conn).unwrap(), 0);
    }

    /// A compaction waits for as many new rows as the last one left, so its cost per appended
    /// row stays bounded as the rollups grow.
    #[test]
    fn compaction_waits_for_as_many_rows_as_the_last_one_left() {
        let mut compactor = Compactor::default();
        compactor.note([0], COMPACT_AFTER_ROWS - 1);
        assert!(!compactor.due());
        compactor.note([0], 1);
        assert!(compactor.due());

        let mut compactor = Compactor {
            last_merged: Arc::new(AtomicUsize::new(3 * COMPACT_AFTER_ROWS)),
            ..Compactor::default()
        };
        compactor.note([0], 2 * COMPACT_AFTER_ROWS);
        assert!(!compactor.due(), "fewer new rows than the last compaction left");
        compactor.note([0], COMPACT_AFTER_ROWS);
        assert!(compactor.due());
    }
}
