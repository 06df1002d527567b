//! `llm-ledger bench reports`: N generated events in a ledger directory, then every report timed.
//!
//! Loading goes through the real pipeline: a producer thread generates canonical NDJSON batches,
//! parses and prices them (`pipeline::prepare`), and the writer stores them as it stores any
//! request — dedupe, events, hourly rollups and FOCUS lines in one transaction — while the next
//! batch is being prepared. A directory that already holds the events is reused, so the reports
//! can be timed again without reloading.

use std::sync::mpsc;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::ingest::body::Encoding;
use crate::ingest::{FormatChoice, Rejected};
use crate::model::Source;
use crate::pipeline;
use crate::server::Ledger;
use crate::store::IngestBatch;
use crate::synth::formats::{SynthFormat, write_ndjson};
use crate::synth::{Synth, SynthOptions};

/// What was loaded.
#[derive(Debug, Clone, Default)]
pub struct LoadSummary {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub seconds: f64,
    pub ndjson_bytes: u64,
}

/// Generates `options.events` calls and stores them through the pipeline, `batch` per
/// transaction. `progress` gets the number of events stored so far.
///
/// # Errors
/// Generation, parsing (a rejected generated record is a bug and stops the load) or storage
/// failures.
pub fn load(
    ledger: &Ledger,
    options: &SynthOptions,
    batch: usize,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<LoadSummary> {
    let started = Instant::now();
    let catalog = ledger.prices.current();
    let (sender, receiver) = mpsc::sync_channel::<anyhow::Result<(pipeline::Prepared, u64)>>(2);
    let synth = Synth::new(options.clone());
    let batch = batch.max(1);
    let producer = std::thread::Builder::new()
        .name("bench-producer".to_owned())
        .spawn(move || {
            let mut calls = synth.peekable();
            while calls.peek().is_some() {
                let mut body = Vec::with_capacity(batch * 600);
                let chunk = calls.by_ref().take(batch);
                let result = write_ndjson(&mut body, SynthFormat::Canonical, chunk, 1)
                    .context("generating events")
                    .and_then(|_| {
                        let bytes = body.len() as u64;
                        pipeline::prepare(
                            body,
                            Encoding::Identity,
                            u64::MAX,
                            FormatChoice::Forced(Source::Canonical),
                            &catalog,
                        )
                        .map(|prepared| (prepared, bytes))
                        .context("parsing generated events")
                    });
                if sender.send(result).is_err() {
                    return;
                }
            }
        })
        .context("starting the generator thread")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .context("starting the async runtime")?;
    let mut summary = LoadSummary::default();
    for prepared in receiver {
        let (prepared, bytes) = prepared?;
        if let Some(Rejected {
            index, code, message, ..
        }) = prepared.rejected.first()
        {
            anyhow::bail!("a generated record was rejected (#{index}, {code}): {message}");
        }
        let outcome = runtime.block_on(ledger.writer.ingest_waiting(IngestBatch {
            records: prepared.priced,
            encoded: prepared.encoded,
        }))?;
        summary.accepted += outcome.accepted as u64;
        summary.duplicates += outcome.duplicates as u64;
        summary.rejected += prepared.rejected.len() as u64;
        summary.ndjson_bytes += bytes;
        progress(summary.accepted + summary.duplicates);
    }
    producer
        .join()
        .map_err(|_| anyhow::anyhow!("the generator thread panicked"))?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The events stored, and the instant after the last one.
///
/// # Errors
/// Query failures.
pub fn stored(ledger: &Ledger) -> anyhow::Result<(u64, Option<DateTime<Utc>>)> {
    ledger
        .readers
        .with_conn(|conn| {
            conn.query_row("SELECT count(*), max(ts) FROM usage_events", [], |row| {
                Ok((row.get::<_, u64>(0)?, row.get::<_, Option<DateTime<Utc>>>(1)?))
            })
            .map_err(crate::store::StoreError::db("counting stored events"))
        })
        .context("counting stored events")
}

/// One report to time: a label, the report name and its query string. `{from}`, `{to}` and
/// `{week}` (seven days before `to`) are filled in from the stored data.
pub struct Case {
    pub label: &'static str,
    pub report: &'static str,
    pub query: &'static str,
}

/// The reports timed, the standard dashboard questions first.
pub const CASES: &[Case] = &[
    Case {
        label: "spend team × model × day, 30 d",
        report: "spend",
        query: "from={from}&to={to}&group_by=team,model&bucket=day",
    },
    Case {
        label: "spend total by day, 30 d",
        report: "spend",
        query: "from={from}&to={to}&bucket=day",
    },
    Case {
        label: "spend team × model × day, New York days",
        report: "spend",
        query: "from={from}&to={to}&group_by=team,model&bucket=day&tz=America/New_York",
    },
    Case {
        label: "spend project × provider × hour, 7 d",
        report: "spend",
        query: "from={week}&to={to}&group_by=project,provider&bucket=hour",
    },
    Case {
        label: "spend by API key, 30 d (events)",
        report: "spend",
        query: "from={from}&to={to}&group_by=api_key",
    },
    Case {
        label: "spend top 50 users, 30 d (events)",
        report: "spend",
        query: "from={from}&to={to}&group_by=user&limit=50",
    },
    Case {
        label: "spend by tag:feature, 30 d (events)",
        report: "spend",
        query: "from={from}&to={to}&group_by=tag:feature",
    },
    Case {
        label: "latency by model, 30 d",
        report: "latency",
        query: "from={from}&to={to}&group_by=model",
    },
    Case {
        label: "latency team × model, 7 d",
        report: "latency",
        query: "from={week}&to={to}&group_by=team,model",
    },
    Case {
        label: "latency by model × day, 30 d",
        report: "latency",
        query: "from={from}&to={to}&group_by=model&bucket=day",
    },
    Case {
        label: "model-mix by team, 30 d",
        report: "model-mix",
        query: "from={from}&to={to}&group_by=team",
    },
    Case {
        label: "errors provider × day, 30 d",
        report: "errors",
        query: "from={from}&to={to}&group_by=provider&bucket=day",
    },
    Case {
        label: "cache-savings by team, 30 d",
        report: "cache-savings",
        query: "from={from}&to={to}&group_by=team",
    },
    Case {
        label: "routing on 3 candidates, 30 d",
        report: "routing",
        query: "from={from}&to={to}&candidates=gpt-4o-mini,claude-haiku-4-5,gemini-2.5-flash",
    },
    Case {
        label: "unpriced, 30 d",
        report: "unpriced",
        query: "from={from}&to={to}",
    },
    Case {
        label: "reconciliation by source × model, 30 d",
        report: "reconciliation",
        query: "from={from}&to={to}",
    },
    Case {
        label: "anomalies, 30 d",
        report: "anomalies",
        query: "from={from}&to={to}",
    },
    Case {
        label: "budgets (12 team budgets)",
        report: "budgets",
        query: "at={to}",
    },
    Case {
        label: "focus, 30 d",
        report: "focus",
        query: "from={from}&to={to}",
    },
];

/// The timing of one case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Timing {
    pub label: String,
    pub report: String,
    pub query: String,
    pub grain: Option<String>,
    pub rows: usize,
    pub min_ms: f64,
    pub median_ms: f64,
    pub max_ms: f64,
}

/// Stores one monthly budget per team (for the budgets report).
///
/// # Errors
/// Storage failures.
pub fn add_budgets(ledger: &Ledger, teams: &[String]) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .context("starting the async runtime")?;
    for team in teams {
        let spec = serde_json::json!({"name": format!("{team} monthly"), "amount_usd": "5000", "period": "month",
                                      "scope": {"team": team}});
        runtime.block_on(
            ledger
                .writer
                .put_budget(format!("bench-{team}"), spec.to_string()),
        )?;
    }
    Ok(())
}

/// Runs each case once to warm up, then `runs` times, on one read connection.
///
/// # Errors
/// A report that fails (with its label).
pub fn time_reports(
    ledger: &Ledger,
    end: DateTime<Utc>,
    days: u32,
    runs: usize,
    mut progress: impl FnMut(&Timing),
) -> anyhow::Result<Vec<Timing>> {
    let to = end.duration_trunc(Duration::days(1)).unwrap_or(end) + Duration::days(1);
    let from = to - Duration::days(i64::from(days.max(1)));
    let week = to - Duration::days(7);
    let day = |instant: DateTime<Utc>| instant.format("%Y-%m-%d").to_string();
    let catalog = ledger.prices.current();
    let mut timings = Vec::new();
    for case in CASES {
        let query = case
            .query
            .replace("{from}", &day(from))
            .replace("{to}", &day(to))
            .replace("{week}", &day(week.max(from)));
        let pairs: Vec<(String, String)> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        let mut samples = Vec::with_capacity(runs);
        let mut rows = 0;
        let mut grain = None;
        for run in 0..=runs.max(1) {
            let started = Instant::now();
            let report = ledger
                .readers
                .with_conn(|conn| crate::reports::run(case.report, &pairs, conn, &catalog, to, None))
                .with_context(|| format!("{} ({}?{query})", case.label, case.report))?;
            let document = report.to_json()?;
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            rows = document["rows"].as_array().map_or(0, Vec::len);
            grain = document
                .get("grain")
                .and_then(|grain| grain.as_str())
                .map(str::to_owned);
            if run > 0 {
                samples.push(elapsed);
            }
        }
        samples.sort_by(f64::total_cmp);
        let timing = Timing {
            label: case.label.to_owned(),
            report: case.report.to_owned(),
            query,
            grain,
            rows,
            min_ms: samples[0],
            median_ms: samples[samples.len() / 2],
            max_ms: samples[samples.len() - 1],
        };
        progress(&timing);
        timings.push(timing);
    }
    Ok(timings)
}
