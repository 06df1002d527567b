//! `llm-ledger export` (the Parquet lake, or the events as one file) and `llm-ledger retention`:
//! against the data directory, or a running server with `--server`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand};

use llm_ledger::config::Config;
use llm_ledger::export::lake::{LakeOptions, LakeRange, export_lake};
use llm_ledger::export::{ExportFormat, ExportOptions, write_events};
use llm_ledger::pricing::spec::parse_instant;
use llm_ledger::server;
use llm_ledger::store::export::ExportScope;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write the hive-partitioned Parquet lake into this directory (DIR/date=YYYY-MM-DD/…):
    /// new and changed days only.
    #[arg(long, conflicts_with = "out")]
    lake: Option<PathBuf>,
    /// Write the events to this file instead (see --format).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Format of --out: parquet, csv or ndjson.
    #[arg(long, default_value = "parquet", requires = "out")]
    format: String,
    /// Start, inclusive (YYYY-MM-DD, UTC; RFC 3339 also for --out) [default: the first event].
    #[arg(long)]
    from: Option<String>,
    /// End, exclusive [default: the lake: tomorrow; --out: now + 1 day].
    #[arg(long)]
    to: Option<String>,
    /// Only this team (--out).
    #[arg(long, requires = "out")]
    team: Option<String>,
    /// Only this source (--out).
    #[arg(long, requires = "out")]
    source: Option<String>,
    /// Ask a running server: with --out, download its export; without, update the server's
    /// own lake (its `lake_dir`) through POST /v1/admin/lake.
    #[arg(long, conflicts_with = "lake")]
    server: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Delete the events (and their dedupe keys) of whole UTC days before the cutoff; rollups
    /// and the FOCUS ledger are kept.
    Apply {
        /// Keep this many days before today instead of the configured retention (`400d`).
        #[arg(long, conflicts_with = "before")]
        keep: Option<String>,
        /// Delete every day before this date (YYYY-MM-DD).
        #[arg(long)]
        before: Option<String>,
        /// Ask a running server instead of opening the data directory.
        #[arg(long)]
        server: Option<String>,
    },
}

/// Runs `llm-ledger export`.
///
/// # Errors
/// Bad arguments, store, file and server failures, with context.
pub fn export(config: &Config, args: &ExportArgs) -> anyhow::Result<ExitCode> {
    match (&args.out, &args.lake, &args.server) {
        (Some(out), _, server) => export_file(config, args, out, server.as_deref()),
        (None, Some(dir), None) => export_lake_dir(config, args, dir),
        (None, None, Some(url)) => export_lake_on_server(args, url),
        (None, None, None) => bail!("give --lake DIR (the Parquet lake), --out FILE, or --server URL"),
        (None, Some(_), Some(_)) => {
            bail!("--lake writes locally; with --server the server writes its own `lake_dir`")
        }
    }
}

fn day_arg(name: &str, text: Option<&str>) -> anyhow::Result<Option<NaiveDate>> {
    text.map(|text| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").with_context(|| {
            format!("--{name}: expected a date YYYY-MM-DD (the lake is written in whole UTC days)")
        })
    })
    .transpose()
}

fn export_lake_dir(config: &Config, args: &ExportArgs, dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let range = LakeRange {
        from: day_arg("from", args.from.as_deref())?,
        to: day_arg("to", args.to.as_deref())?,
    };
    let ledger = server::open_ledger(config)?;
    let result = ledger
        .readers
        .with_conn(|conn| export_lake(conn, dir, range, None, LakeOptions::default()));
    ledger.close()?;
    let report = result.with_context(|| format!("writing the lake at {}", dir.display()))?;
    print_lake(&dir.display().to_string(), &serde_json::to_value(&report)?);
    Ok(ExitCode::SUCCESS)
}

fn export_lake_on_server(args: &ExportArgs, url: &str) -> anyhow::Result<ExitCode> {
    day_arg("from", args.from.as_deref())?;
    day_arg("to", args.to.as_deref())?;
    let endpoint = format!("{}/v1/admin/lake", url.trim_end_matches('/'));
    let response = crate::cli::server_client()?
        .post(&endpoint)
        .json(&serde_json::json!({"from": args.from, "to": args.to}))
        .send()
        .with_context(|| format!("posting to {endpoint}"))?;
    let status = response.status();
    let text = response.text()?;
    if !status.is_success() {
        bail!("the server answered {status}: {text}");
    }
    print_lake("on the server", &serde_json::from_str(&text)?);
    Ok(ExitCode::SUCCESS)
}

/// Prints a lake report (the JSON of `LakeReport`, local or from the server).
fn print_lake(place: &str, report: &serde_json::Value) {
    println!(
        "lake {place}: {} days written, {} rewritten, {} unchanged, {} kept ({} events written)",
        report["written"], report["rewritten"], report["unchanged"], report["kept"], report["events_written"]
    );
    let no_days = Vec::new();
    for day in report["days"].as_array().unwrap_or(&no_days) {
        let action = day["action"].as_str().unwrap_or("?");
        let what = match action {
            "kept" => "no longer in the ledger (retention); file kept".to_owned(),
            _ => format!(
                "{} events, {} USD",
                day["events"],
                day["cost_usd"].as_str().unwrap_or("unpriced")
            ),
        };
        println!(
            "  {action:<8} date={}  {what}  ({})",
            day["day"].as_str().unwrap_or("?"),
            day["reason"].as_str().unwrap_or("?")
        );
    }
}

fn export_file(
    config: &Config,
    args: &ExportArgs,
    out: &std::path::Path,
    server: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let format = ExportFormat::parse(&args.format)
        .with_context(|| format!("--format: expected parquet, csv or ndjson, got `{}`", args.format))?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    let events = match server {
        Some(url) => {
            let mut query: Vec<(&str, &str)> = vec![("format", format.extension())];
            for (name, value) in [
                ("from", &args.from),
                ("to", &args.to),
                ("team", &args.team),
                ("source", &args.source),
            ] {
                if let Some(value) = value {
                    query.push((name, value));
                }
            }
            let endpoint =
                reqwest::Url::parse_with_params(&format!("{}/v1/export", url.trim_end_matches('/')), &query)
                    .with_context(|| format!("bad server URL `{url}`"))?;
            let mut response = crate::cli::server_client()?
                .get(endpoint.clone())
                .send()
                .with_context(|| format!("asking {endpoint}"))?;
            if !response.status().is_success() {
                let status = response.status();
                bail!("the server answered {status}: {}", response.text()?);
            }
            response
                .copy_to(&mut writer)
                .with_context(|| format!("downloading into {}", out.display()))?;
            None
        }
        None => {
            let bound = |name: &str, text: &Option<String>, default| match text {
                None => Ok(default),
                Some(text) => {
                    parse_instant(text).with_context(|| format!("--{name}: expected YYYY-MM-DD or RFC 3339"))
                }
            };
            let scope = ExportScope {
                from: bound("from", &args.from, chrono::DateTime::<Utc>::UNIX_EPOCH)?,
                to: bound("to", &args.to, Utc::now() + chrono::Duration::days(1))?,
                team: args.team.clone(),
                source: args.source.clone(),
            };
            let ledger = server::open_ledger(config)?;
            let result = ledger.readers.with_conn(|conn| {
                write_events(conn, &scope, None, format, ExportOptions::default(), &mut writer)
            });
            ledger.close()?;
            Some(result.with_context(|| format!("writing {}", out.display()))?)
        }
    };
    use std::io::Write;
    writer
        .flush()
        .with_context(|| format!("writing {}", out.display()))?;
    match events {
        Some(events) => println!("{events} events written to {}", out.display()),
        None => println!("export written to {}", out.display()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `llm-ledger retention`.
///
/// # Errors
/// A bad or missing period, store and server failures.
pub fn retention(config: &Config, command: &RetentionCommand) -> anyhow::Result<ExitCode> {
    let RetentionCommand::Apply { keep, before, server } = command;
    let answer: serde_json::Value = match server {
        Some(url) => {
            let endpoint = format!("{}/v1/admin/retention", url.trim_end_matches('/'));
            let response = crate::cli::server_client()?
                .post(&endpoint)
                .json(&serde_json::json!({"keep": keep, "before": before}))
                .send()
                .with_context(|| format!("posting to {endpoint}"))?;
            let status = response.status();
            let text = response.text()?;
            if !status.is_success() {
                bail!("the server answered {status}: {text}");
            }
            serde_json::from_str(&text)?
        }
        None => {
            let before = llm_ledger::retention::first_kept_day(
                keep.as_deref(),
                before.as_deref(),
                config.retention,
                Utc::now(),
            )
            .map_err(|(name, reason)| anyhow::anyhow!("--{name}: {reason}"))?;
            let ledger = server::open_ledger(config)?;
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let result = runtime.block_on(ledger.writer.apply_retention(before));
            ledger.close()?;
            serde_json::to_value(result?)?
        }
    };
    println!(
        "deleted {} events of {} days before {} ({} dedupe keys); rollups and the FOCUS ledger are kept",
        answer["events_deleted"],
        answer["days"],
        answer["cutoff"].as_str().unwrap_or("?"),
        answer["keys_deleted"]
    );
    Ok(ExitCode::SUCCESS)
}
