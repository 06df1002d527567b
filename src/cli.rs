//! Command-line glue: flags and `LEDGER_*` variables (clap merges the two, flags winning) over
//! the optional TOML file over defaults, then one call into the library per command.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use llm_ledger::config::{Config, RawConfig};
use llm_ledger::ingest::FormatChoice;
use llm_ledger::ingest::body::Encoding;
use llm_ledger::pipeline::{self, IngestResponse, RejectedOut};
use llm_ledger::pricing::{self, spec::parse_instant};
use llm_ledger::synth::formats::{SynthFormat, write_ndjson};
use llm_ledger::synth::{Synth, SynthOptions};
use llm_ledger::{api, bench, reports, server, store};

mod query;

/// The API key `--server` requests send (`--api-key` / `LEDGER_API_KEY`).
static SERVER_API_KEY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// An HTTP client for `--server` commands: no overall time limit (exports and imports can be
/// long), and the API key as a bearer token when one is given.
pub(crate) fn server_client() -> anyhow::Result<reqwest::blocking::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = SERVER_API_KEY.get().and_then(Option::as_deref) {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}"))
            .context("the API key has characters a header cannot carry")?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(reqwest::blocking::Client::builder()
        .timeout(None)
        .default_headers(headers)
        .build()?)
}

#[derive(Parser, Debug)]
#[command(
    name = "llm-ledger",
    version,
    about = "One exact ledger for LLM traffic from every gateway"
)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct GlobalArgs {
    /// Optional TOML config file (keys: bind, data_dir, log, max_body, writer_queue,
    /// request_timeout, prices_file, memory_limit, checkpoint_wal, duckdb_threads, retention, lake_dir,
    /// sql_timeout, sql_max_rows, sql_max_concurrent, sql_memory_limit, api_keys, insecure).
    #[arg(long, env = "LEDGER_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Directory of the ledger's DuckDB file [default: ./data].
    #[arg(long, env = "LEDGER_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Log filter (`info`, `llm_ledger=debug`) [default: info].
    #[arg(long, env = "LEDGER_LOG", global = true)]
    log: Option<String>,
    /// Price overrides file (TOML or CSV).
    #[arg(long, env = "LEDGER_PRICES_FILE", global = true)]
    prices_file: Option<PathBuf>,
    /// DuckDB memory limit (`2GB`) [default: DuckDB's, 80% of RAM].
    #[arg(long, env = "LEDGER_MEMORY_LIMIT", global = true)]
    memory_limit: Option<String>,
    /// API key for commands that talk to a server (`--server`).
    #[arg(long, env = "LEDGER_API_KEY", global = true, hide_env_values = true)]
    api_key: Option<String>,
    /// How long events are kept (`400d`) [default: forever]; older records are refused at ingest.
    #[arg(long, env = "LEDGER_RETENTION", global = true)]
    retention: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the HTTP API (zero config: 127.0.0.1:8080, data in ./data).
    Serve(ServeArgs),
    /// Load log files through the same pipeline as POST /v1/ingest.
    Import(ImportArgs),
    /// Print a report.
    Report(ReportArgs),
    /// Run one read-only SQL statement over the documented views (the sandbox of POST /v1/sql).
    Query(query::QueryArgs),
    /// Print the OpenAPI document (or write it with --out).
    Openapi {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Price catalog tools.
    #[command(subcommand)]
    Prices(PricesCommand),
    /// Price the stored events of a period again (after prices or contracts changed).
    Reprice(RepriceArgs),
    /// Write the hive-partitioned Parquet lake (`--lake DIR`), or the events as one file.
    Export(crate::cli_export::ExportArgs),
    /// Retention: delete events older than the retention period.
    #[command(subcommand)]
    Retention(crate::cli_export::RetentionCommand),
    /// Write synthetic LLM traffic (deterministic from a seed) in a gateway's format.
    Generate(GenerateArgs),
    /// Benchmarks on generated traffic.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// API keys: make a new one, or hash an existing one, as a configuration entry.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Print a new random key and its configuration entry (only the entry's hash is stored).
    New {
        /// ingest, read or admin.
        #[arg(long)]
        role: String,
        /// Limit a read key to one team.
        #[arg(long)]
        team: Option<String>,
    },
    /// Read a key from standard input and print its configuration entry.
    Hash {
        /// ingest, read or admin.
        #[arg(long)]
        role: String,
        /// Limit a read key to one team.
        #[arg(long)]
        team: Option<String>,
    },
}

#[derive(Args, Debug)]
struct GenerateArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "canonical")]
    format: SynthFormat,
    /// Number of calls.
    #[arg(long, default_value_t = 1000)]
    events: u64,
    /// Seed: the same seed and options write the same file.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Days of traffic, ending at --end.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// End of the traffic, exclusive (YYYY-MM-DD or RFC 3339) [default: today 00:00 UTC].
    #[arg(long)]
    end: Option<String>,
    /// Spans per OTLP document (otel only).
    #[arg(long, default_value_t = 100)]
    spans_per_document: usize,
    /// Write here instead of standard output; `.gz` or `.zst` compresses.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Load N generated events into a ledger directory (reused when it already holds them), then
    /// time every report.
    Reports(BenchReportsArgs),
    /// Post N generated events through HTTP to a real server from concurrent clients, and load
    /// the same file with DuckDB's read_json for comparison.
    Ingest(BenchIngestArgs),
}

#[derive(Args, Debug)]
struct BenchIngestArgs {
    /// Events to send.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Format of the generated records.
    #[arg(long, value_enum, default_value = "litellm")]
    format: SynthFormat,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Records per request.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Events stored before the timed run (measures a ledger that is not empty).
    #[arg(long, default_value_t = 0)]
    preload: u64,
    /// Keep the preloaded ledger in the working directory and start later runs with the same
    /// --preload, --seed and --days (on the same day) from a copy of it.
    #[arg(long)]
    preload_cache: bool,
    /// Seed of the generated traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Days the events span.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Working directory [default: <data_dir>/bench-ingest].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Skip the DuckDB read_json comparison.
    #[arg(long)]
    no_duckdb: bool,
    /// Time only what an HTTP worker does per body (decompress, parse, price, encode) on one
    /// thread: no server, HTTP or DuckDB; µs per event by phase.
    #[arg(long)]
    cpu_only: bool,
    /// The server's log filter (`llm_ledger::store=debug` logs the writer's time per phase).
    #[arg(long, default_value = "warn")]
    server_log: String,
    /// Also write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct BenchReportsArgs {
    /// Events to store.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Days the events span (the reports cover the last 30 of them, or all when fewer).
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Seed of the generated traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Timed runs per report, after one warm-up run.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Events per write transaction while loading.
    #[arg(long, default_value_t = 50_000)]
    batch: usize,
    /// Ledger directory of the benchmark [default: <data_dir>/bench-<events>].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also write the timings as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct RepriceArgs {
    /// Start, inclusive (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long)]
    from: String,
    /// End, exclusive.
    #[arg(long)]
    to: String,
    /// Only this model (model key or gateway model string).
    #[arg(long)]
    model: Option<String>,
    /// Only this provider.
    #[arg(long)]
    provider: Option<String>,
    /// Ask a running server instead of opening the data directory.
    #[arg(long)]
    server: Option<String>,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "LEDGER_BIND")]
    bind: Option<String>,
    /// Largest request body after decompression [default: 64MiB].
    #[arg(long, env = "LEDGER_MAX_BODY")]
    max_body: Option<String>,
    /// Ingest requests that may wait for the writer before 503 writer_busy [default: 64].
    #[arg(long, env = "LEDGER_WRITER_QUEUE")]
    writer_queue: Option<usize>,
    /// Time limit of one request [default: 60s].
    #[arg(long, env = "LEDGER_REQUEST_TIMEOUT")]
    request_timeout: Option<String>,
    /// Directory of the Parquet lake that POST /v1/admin/lake writes [default: none].
    #[arg(long, env = "LEDGER_LAKE_DIR")]
    lake_dir: Option<PathBuf>,
    /// Write-ahead log size after which the store checkpoints, off the ingest path
    /// [default: 64MiB].
    #[arg(long, env = "LEDGER_CHECKPOINT_WAL")]
    checkpoint_wal: Option<String>,
    /// DuckDB's worker threads [default: DuckDB's, one per core]. `1` on a 2-core host that
    /// mostly ingests: the writer no longer spins while a worker runs its queries.
    #[arg(long, env = "LEDGER_DUCKDB_THREADS")]
    duckdb_threads: Option<usize>,
    /// Time limit of one ad-hoc SQL query [default: 30s].
    #[arg(long, env = "LEDGER_SQL_TIMEOUT")]
    sql_timeout: Option<String>,
    /// Most rows one ad-hoc SQL query returns [default: 100000].
    #[arg(long, env = "LEDGER_SQL_MAX_ROWS")]
    sql_max_rows: Option<usize>,
    /// Ad-hoc SQL queries that may run at once [default: 2].
    #[arg(long, env = "LEDGER_SQL_MAX_CONCURRENT")]
    sql_max_concurrent: Option<usize>,
    /// Memory and spilled storage one ad-hoc SQL query may add before it is stopped
    /// [default: 1GiB].
    #[arg(long, env = "LEDGER_SQL_MEMORY_LIMIT")]
    sql_memory_limit: Option<String>,
    /// API keys as ROLE[@TEAM]=KEY, comma-separated (KEY: `sha256:<hex>` or the secret; see
    /// `llm-ledger keys new`) [default: none, open access on loopback only].
    #[arg(long, env = "LEDGER_API_KEYS", value_delimiter = ',', hide_env_values = true)]
    api_keys: Option<Vec<String>>,
    /// Listen on a non-loopback address without API keys (anyone who can reach it may do
    /// anything).
    #[arg(long, env = "LEDGER_INSECURE")]
    insecure: bool,
}

#[derive(Args, Debug)]
struct ImportArgs {
    /// Files to load (.gz and .zst are decompressed).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// `auto` or a format name.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Store nothing of a file that has any bad record.
    #[arg(long)]
    strict: bool,
    /// Send to a running server (`http://127.0.0.1:8080`) instead of opening the data directory.
    #[arg(long)]
    server: Option<String>,
    /// NDJSON records per batch.
    #[arg(long, default_value_t = 5000)]
    batch_records: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct ReportArgs {
    /// Report name: spend, latency, model-mix, errors, cache-savings, routing, budgets, anomalies,
    /// unpriced, reconciliation or focus.
    name: String,
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
    /// Comma list of dimensions (team, project, user, api_key, provider, model, model_requested,
    /// route, source, status, error_type, tag:KEY).
    #[arg(long)]
    group_by: Option<String>,
    /// hour, day, week or month.
    #[arg(long)]
    bucket: Option<String>,
    /// IANA time zone.
    #[arg(long)]
    tz: Option<String>,
    /// Filter as DIMENSION=VALUE (repeatable; `tag:env=prod`).
    #[arg(long = "filter")]
    filters: Vec<String>,
    /// Any other report parameter as NAME=VALUE (repeatable): `candidates=a,b`, `at=2026-11-30`,
    /// `baseline_days=14`, `records=20`, `grain=events`, `order=group`, …
    #[arg(long = "param")]
    params: Vec<String>,
    #[arg(long)]
    limit: Option<usize>,
    /// table (default), json or csv.
    #[arg(long, default_value = "table")]
    output: String,
    /// Ask a running server instead of opening the data directory.
    #[arg(long)]
    server: Option<String>,
}

#[derive(Subcommand, Debug)]
enum PricesCommand {
    /// Import a LiteLLM-style price map as prices effective from a date (only changed models
    /// become new entries; stored costs are not touched until you re-price).
    Import {
        /// The price map file.
        file: PathBuf,
        /// When the prices take effect (YYYY-MM-DD or RFC 3339) [default: now].
        #[arg(long)]
        effective_from: Option<String>,
        /// Noted on each entry [default: the file name].
        #[arg(long)]
        note: Option<String>,
        /// Send to a running server instead of opening the data directory.
        #[arg(long)]
        server: Option<String>,
    },
    /// Rebuild the shipped catalog (JSON Lines) from a LiteLLM price map.
    BuildCatalog {
        /// The LiteLLM price map (model_prices_and_context_window.json).
        #[arg(long)]
        litellm_map: PathBuf,
        /// When the prices take effect (YYYY-MM-DD or RFC 3339).
        #[arg(long, default_value = "1970-01-01")]
        effective_from: String,
        /// Where the source of the map is noted in each entry.
        #[arg(long, default_value = "litellm model_prices_and_context_window.json")]
        note: String,
        /// Output file [default: standard output].
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs a parsed command line.
///
/// # Errors
/// Whatever stops the command, with context for people.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Cli { global, command } = cli;
    let _ = SERVER_API_KEY.set(global.api_key.clone()); // Set once, here.
    match command {
        Command::Serve(args) => {
            let config = build_config(&global, Some(&args))?;
            init_logging(&config.log);
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(server::serve(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(args) => {
            let config = build_config(&global, None)?;
            init_logging(config.log.as_str().replace("info", "warn").as_str());
            import(&config, &args)
        }
        Command::Report(args) => {
            let config = build_config(&global, None)?;
            init_logging("warn");
            report(&config, &args)
        }
        Command::Query(args) => {
            let config = build_config(&global, None)?;
            init_logging("warn");
            query::query(&config, &args)
        }
        Command::Openapi { out } => {
            let text = api::openapi::document_json().context("serialising the OpenAPI document")?;
            match out {
                Some(path) => {
                    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?
                }
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Prices(PricesCommand::Import {
            file,
            effective_from,
            note,
            server,
        }) => {
            let config = build_config(&global, None)?;
            init_logging("warn");
            import_prices(&config, &file, effective_from.as_deref(), note, server.as_deref())
        }
        Command::Reprice(args) => {
            let config = build_config(&global, None)?;
            init_logging("warn");
            reprice(&config, &args)
        }
        Command::Generate(args) => generate(&args),
        Command::Keys(command) => keys(&command),
        Command::Bench(BenchCommand::Ingest(args)) => {
            let config = build_config(&global, None)?;
            init_logging("warn");
            bench_ingest(&config, &args)
        }
        Command::Bench(BenchCommand::Reports(args)) => {
            let config = build_config(&global, None)?;
            init_logging("warn");
            bench_reports(config, &args)
        }
        Command::Export(args) => {
            let config = build_config(&global, None)?;
            init_logging("warn");
            crate::cli_export::export(&config, &args)
        }
        Command::Retention(command) => {
            let config = build_config(&global, None)?;
            init_logging("warn");
            crate::cli_export::retention(&config, &command)
        }
        Command::Prices(PricesCommand::BuildCatalog {
            litellm_map,
            effective_from,
            note,
            out,
        }) => {
            let text = std::fs::read_to_string(&litellm_map)
                .with_context(|| format!("reading {}", litellm_map.display()))?;
            let from = parse_instant(&effective_from)
                .context("--effective-from: expected YYYY-MM-DD or RFC 3339")?;
            let summary = pricing::litellm_map::convert(&text, from, &note)?;
            let mut lines = String::new();
            for spec in &summary.specs {
                lines.push_str(&serde_json::to_string(spec)?);
                lines.push('\n');
            }
            match out {
                Some(path) => {
                    std::fs::write(&path, lines).with_context(|| format!("writing {}", path.display()))?
                }
                None => print!("{lines}"),
            }
            eprintln!(
                "{} models read: {} entries written, {} without token prices skipped, {} duplicate keys skipped",
                summary.models_read,
                summary.specs.len(),
                summary.skipped_no_token_price,
                summary.skipped_duplicates
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn import_prices(
    config: &Config,
    file: &Path,
    effective_from: Option<&str>,
    note: Option<String>,
    server: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let note = note.unwrap_or_else(|| format!("import of {}", file.display()));
    let answer: serde_json::Value = match server {
        Some(url) => {
            let mut query: Vec<(&str, String)> = vec![("note", note)];
            if let Some(from) = effective_from {
                query.push(("effective_from", from.to_owned()));
            }
            let endpoint = reqwest::Url::parse_with_params(
                &format!("{}/v1/prices/import", url.trim_end_matches('/')),
                &query,
            )
            .with_context(|| format!("bad server URL `{url}`"))?;
            let response = server_client()?
                .post(endpoint)
                .header("content-type", "application/json")
                .body(text)
                .send()
                .context("posting the price map")?;
            let status = response.status();
            let body = response.text()?;
            if !status.is_success() {
                bail!("the server answered {status}: {body}");
            }
            serde_json::from_str(&body)?
        }
        None => {
            let from = match effective_from {
                Some(text) => {
                    parse_instant(text).context("--effective-from: expected YYYY-MM-DD or RFC 3339")?
                }
                None => chrono::Utc::now(),
            };
            let ledger = server::open_ledger(config)?;
            let plan = pricing::import::plan(&text, from, &note, &ledger.prices.current())?;
            let entries = pricing::PriceBook::validate_user(&plan.to_add)?;
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            if !entries.is_empty() {
                runtime.block_on(ledger.writer.add_prices(entries.clone()))?;
            }
            ledger.close()?;
            serde_json::json!({"effective_from": from.to_rfc3339(), "models_read": plan.models_read,
                "added": entries.len(), "unchanged": plan.unchanged,
                "skipped": plan.skipped_no_token_price + plan.skipped_duplicates})
        }
    };
    println!(
        "{} models read · {} prices added (effective {}) · {} unchanged · {} skipped",
        answer["models_read"],
        answer["added"],
        answer["effective_from"].as_str().unwrap_or("?"),
        answer["unchanged"],
        answer["skipped"]
    );
    Ok(ExitCode::SUCCESS)
}

fn reprice(config: &Config, args: &RepriceArgs) -> anyhow::Result<ExitCode> {
    let body =
        serde_json::json!({"from": args.from, "to": args.to, "model": args.model, "provider": args.provider});
    let answer: serde_json::Value = match &args.server {
        Some(url) => {
            let endpoint = format!("{}/v1/admin/reprice", url.trim_end_matches('/'));
            let response = server_client()?
                .post(&endpoint)
                .json(&body)
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
            let from = parse_instant(&args.from).context("--from: expected YYYY-MM-DD or RFC 3339")?;
            let to = parse_instant(&args.to).context("--to: expected YYYY-MM-DD or RFC 3339")?;
            let ledger = server::open_ledger(config)?;
            let scope = store::reprice::RepriceScope {
                from,
                to,
                model: args.model.clone(),
                provider: args
                    .provider
                    .as_deref()
                    .map(|name| llm_ledger::model::Provider::normalize(name).as_str().to_owned()),
            };
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let outcome = runtime.block_on(ledger.writer.reprice(scope, ledger.prices.current()))?;
            ledger.close()?;
            serde_json::to_value(outcome)?
        }
    };
    println!(
        "examined {} · changed {} · newly priced {} · newly unpriced {} · cost delta {} USD (list {})",
        answer["examined"],
        answer["changed"],
        answer["newly_priced"],
        answer["newly_unpriced"],
        answer["cost_delta_usd"].as_str().unwrap_or("?"),
        answer["list_cost_delta_usd"].as_str().unwrap_or("?")
    );
    Ok(ExitCode::SUCCESS)
}

fn build_config(global: &GlobalArgs, serve: Option<&ServeArgs>) -> anyhow::Result<Config> {
    let file = match &global.config {
        Some(path) => RawConfig::from_file(path)?,
        None => RawConfig::default(),
    };
    let cli = RawConfig {
        bind: serve.and_then(|args| args.bind.clone()),
        data_dir: global.data_dir.clone(),
        log: global.log.clone(),
        max_body: serve.and_then(|args| args.max_body.clone()),
        writer_queue: serve.and_then(|args| args.writer_queue),
        request_timeout: serve.and_then(|args| args.request_timeout.clone()),
        prices_file: global.prices_file.clone(),
        memory_limit: global.memory_limit.clone(),
        checkpoint_wal: serve.and_then(|args| args.checkpoint_wal.clone()),
        duckdb_threads: serve.and_then(|args| args.duckdb_threads),
        retention: global.retention.clone(),
        lake_dir: serve.and_then(|args| args.lake_dir.clone()),
        sql_timeout: serve.and_then(|args| args.sql_timeout.clone()),
        sql_max_rows: serve.and_then(|args| args.sql_max_rows),
        sql_max_concurrent: serve.and_then(|args| args.sql_max_concurrent),
        sql_memory_limit: serve.and_then(|args| args.sql_memory_limit.clone()),
        api_keys: serve.and_then(|args| args.api_keys.clone()),
        insecure: serve.and_then(|args| args.insecure.then_some(true)),
    };
    Ok(Config::resolve(file.overlay(cli))?)
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second initialisation (tests calling in) is harmless; keep the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The totals of an import.
#[derive(Default)]
struct ImportSummary {
    received: usize,
    accepted: usize,
    duplicates: usize,
    rejected: usize,
    errors: Vec<(PathBuf, RejectedOut)>,
}

impl ImportSummary {
    fn add(&mut self, file: &Path, response: &IngestResponse, index_offset: usize, line_offset: usize) {
        self.received += response.received;
        self.accepted += response.accepted;
        self.duplicates += response.duplicates;
        self.rejected += response.rejected;
        for error in &response.errors {
            if self.errors.len() >= 50 {
                break;
            }
            let mut error = error.clone();
            error.index += index_offset;
            error.line = error.line.map(|line| line + line_offset);
            self.errors.push((file.to_path_buf(), error));
        }
    }
}

/// One batch of a file: its text, and where it starts among the file's records and lines.
struct Chunk {
    body: Vec<u8>,
    index_offset: usize,
    line_offset: usize,
}

/// The files to import: each named file, and the data files under each named directory
/// (recursively, in name order; other files there are left out silently), so that a log tree
/// such as Bedrock's `AWSLogs/…/YYYY/MM/DD/HH/` imports without shell globbing.
fn expand_inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading the directory {}", dir.display()))?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<Result<_, _>>()
            .with_context(|| format!("reading the directory {}", dir.display()))?;
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out)?;
            } else if is_data_file(&path) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn import(config: &Config, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let choice = FormatChoice::parse(&args.format).with_context(|| {
        format!(
            "--format: unknown format `{}`; use auto or one of {}",
            args.format,
            llm_ledger::ingest::format_names().join(", ")
        )
    })?;
    let files = expand_inputs(&args.files)?;
    let total_bytes: u64 = files
        .iter()
        .map(|path| std::fs::metadata(path).map(|meta| meta.len()).unwrap_or(0))
        .sum();
    let progress = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(total_bytes);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {bar:40} {bytes}/{total_bytes} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let started = Instant::now();
    let mut summary = ImportSummary::default();
    let ledger = match &args.server {
        Some(_) => None,
        None => Some(server::open_ledger(config)?),
    };
    for path in &files {
        if !is_data_file(path) {
            // `suspend`, not `println`: a hidden bar (`--quiet`, or no terminal) prints nothing.
            progress.suspend(|| {
                eprintln!(
                    "skipped {} (not a .json/.ndjson/.jsonl file, optionally .gz/.zst)",
                    path.display()
                );
            });
            continue;
        }
        progress.set_message(path.display().to_string());
        let chunks = read_chunks(path, args.batch_records)?;
        if args.strict && ledger.is_some() {
            // All or nothing per file: validate every chunk before storing any.
            let catalog = ledger.as_ref().map(|ledger| ledger.prices.current());
            let mut prepared_all = Vec::new();
            let mut bad = false;
            for chunk in chunks {
                let catalog = catalog.clone().context("the ledger is open")?;
                let mut prepared =
                    pipeline::prepare(chunk.body, Encoding::Identity, u64::MAX, choice, &catalog)
                        .with_context(|| format!("reading {}", path.display()))?;
                if let Some(ledger) = &ledger {
                    prepared.expire(ledger.writer.expired_before(chrono::Utc::now()));
                }
                bad |= !prepared.rejected.is_empty();
                prepared_all.push((prepared, chunk.index_offset, chunk.line_offset));
            }
            for (prepared, index_offset, line_offset) in prepared_all {
                let response = if bad {
                    IngestResponse::new(
                        prepared.format,
                        prepared.received,
                        &prepared.rejected,
                        Default::default(),
                    )
                } else {
                    let writer = &ledger.as_ref().context("the ledger is open")?.writer;
                    runtime
                        .block_on(pipeline::store(writer, prepared, false, true))?
                        .0
                };
                summary.add(path, &response, index_offset, line_offset);
            }
        } else {
            for chunk in chunks {
                let size = chunk.body.len() as u64;
                let response = match (&ledger, &args.server) {
                    (Some(ledger), _) => {
                        let catalog = ledger.prices.current();
                        let prepared =
                            pipeline::prepare(chunk.body, Encoding::Identity, u64::MAX, choice, &catalog)
                                .with_context(|| format!("reading {}", path.display()))?;
                        runtime
                            .block_on(pipeline::store(&ledger.writer, prepared, args.strict, true))?
                            .0
                    }
                    (None, Some(url)) => post_chunk(url, &chunk.body, &args.format, args.strict)?,
                    (None, None) => bail!("no ledger to import into"),
                };
                summary.add(path, &response, chunk.index_offset, chunk.line_offset);
                progress.inc(size);
            }
        }
    }
    progress.finish_and_clear();
    if let Some(ledger) = ledger {
        ledger.close()?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "received {} · accepted {} · duplicates {} · rejected {}  ({:.1} s, {:.0} records/s)",
        summary.received,
        summary.accepted,
        summary.duplicates,
        summary.rejected,
        elapsed,
        summary.received as f64 / elapsed.max(1e-9)
    );
    for (file, error) in &summary.errors {
        println!(
            "  {}: record {}{} {}{}: {}",
            file.display(),
            error.index,
            error
                .line
                .map(|line| format!(" (line {line})"))
                .unwrap_or_default(),
            error.code,
            error
                .field
                .as_deref()
                .map(|field| format!(" `{field}`"))
                .unwrap_or_default(),
            error.message
        );
    }
    if summary.rejected > summary.errors.len() {
        println!("  … and {} more", summary.rejected - summary.errors.len());
    }
    Ok(if summary.rejected > 0 && args.strict {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Whether a path names a log file (`.json`, `.ndjson`, `.jsonl`, optionally `.gz`/`.zst`), so
/// that `import sample_data/*` skips READMEs and scripts.
fn is_data_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .or_else(|| name.strip_suffix(".zstd"))
        .unwrap_or(&name);
    path.is_file()
        && [".json", ".ndjson", ".jsonl"]
            .iter()
            .any(|extension| name.ends_with(extension))
}

/// Reads a file into batches: NDJSON is cut every `batch_records` lines (bounded memory, a
/// progress bar that moves); a JSON array or a single document is one batch.
fn read_chunks(path: &Path, batch_records: usize) -> anyhow::Result<Vec<Chunk>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let name = path.to_string_lossy();
    let reader: Box<dyn Read> = match Encoding::from_file_name(&name) {
        Encoding::Identity => Box::new(file),
        Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Encoding::Zstd => Box::new(zstd::stream::read::Decoder::new(file).context("opening zstd stream")?),
    };
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut first_line = Vec::new();
    reader
        .read_until(b'\n', &mut first_line)
        .with_context(|| format!("reading {}", path.display()))?;
    let trimmed: &[u8] = first_line.trim_ascii();
    let first_is_record =
        trimmed.first() == Some(&b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_ok();
    let first_is_blank = trimmed.is_empty();
    if !first_is_record {
        let mut body = first_line;
        reader
            .read_to_end(&mut body)
            .with_context(|| format!("reading {}", path.display()))?;
        return Ok(vec![Chunk {
            body,
            index_offset: 0,
            line_offset: 0,
        }]);
    }
    let batch_records = batch_records.max(1);
    let mut chunks = Vec::new();
    let mut body = first_line;
    let mut records_in_chunk = usize::from(!first_is_blank);
    let (mut index_offset, mut line_offset, mut lines_in_chunk) = (0, 0, 1);
    loop {
        if records_in_chunk >= batch_records {
            chunks.push(Chunk {
                body: std::mem::take(&mut body),
                index_offset,
                line_offset,
            });
            index_offset += records_in_chunk;
            line_offset += lines_in_chunk;
            records_in_chunk = 0;
            lines_in_chunk = 0;
        }
        let mut line = Vec::new();
        let read = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {}", path.display()))?;
        if read == 0 {
            break;
        }
        lines_in_chunk += 1;
        if !line.trim_ascii().is_empty() {
            records_in_chunk += 1;
        }
        body.extend_from_slice(&line);
    }
    if !body.trim_ascii().is_empty() {
        chunks.push(Chunk {
            body,
            index_offset,
            line_offset,
        });
    }
    Ok(chunks)
}

fn post_chunk(url: &str, body: &[u8], format: &str, strict: bool) -> anyhow::Result<IngestResponse> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body)?;
    let compressed = encoder.finish()?;
    let endpoint = format!(
        "{}/v1/ingest?format={format}&strict={strict}",
        url.trim_end_matches('/')
    );
    let client = server_client()?;
    let mut attempt = 0;
    loop {
        let response = client
            .post(&endpoint)
            .header("content-type", "application/x-ndjson")
            .header("content-encoding", "gzip")
            .body(compressed.clone())
            .send()
            .with_context(|| format!("posting to {endpoint}"))?;
        let status = response.status();
        if status.as_u16() == 503 && attempt < 20 {
            attempt += 1;
            std::thread::sleep(std::time::Duration::from_millis(250 * attempt));
            continue;
        }
        let text = response.text()?;
        if status.is_success() || status.as_u16() == 422 {
            return serde_json::from_str(&text)
                .with_context(|| format!("reading the server's answer: {text}"));
        }
        bail!("the server answered {status}: {text}");
    }
}

fn report(config: &Config, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut push = |name: &str, value: &Option<String>| {
        if let Some(value) = value {
            pairs.push((name.to_owned(), value.clone()));
        }
    };
    push("from", &args.from);
    push("to", &args.to);
    push("group_by", &args.group_by);
    push("bucket", &args.bucket);
    push("tz", &args.tz);
    push("limit", &args.limit.map(|limit| limit.to_string()));
    for filter in &args.filters {
        let (name, value) = filter
            .split_once('=')
            .with_context(|| format!("--filter `{filter}`: expected DIMENSION=VALUE"))?;
        pairs.push((name.to_owned(), value.to_owned()));
    }
    for param in &args.params {
        let (name, value) = param
            .split_once('=')
            .with_context(|| format!("--param `{param}`: expected NAME=VALUE"))?;
        pairs.push((name.to_owned(), value.to_owned()));
    }
    let output = args.output.as_str();
    let wire_format = if output == "csv" { "csv" } else { "json" };
    pairs.push(("format".to_owned(), wire_format.to_owned()));

    let body: Vec<u8> = match &args.server {
        Some(url) => {
            let endpoint = format!("{}/v1/reports/{}", url.trim_end_matches('/'), args.name);
            let endpoint = reqwest::Url::parse_with_params(&endpoint, &pairs)
                .with_context(|| format!("bad server URL `{url}`"))?;
            let response = server_client()?
                .get(endpoint.clone())
                .send()
                .with_context(|| format!("asking {endpoint}"))?;
            let status = response.status();
            let bytes = response.bytes()?.to_vec();
            if !status.is_success() {
                bail!(
                    "the server answered {status}: {}",
                    String::from_utf8_lossy(&bytes)
                );
            }
            bytes
        }
        None => {
            let ledger = server::open_ledger(config)?;
            let catalog = ledger.prices.current();
            let report = ledger.readers.with_conn(|conn| {
                reports::run(&args.name, &pairs, conn, &catalog, chrono::Utc::now(), None)
            })?;
            ledger.close()?;
            report.encode()?.0
        }
    };
    let mut stdout = std::io::stdout().lock();
    match output {
        "csv" => stdout.write_all(&body)?,
        "json" => {
            let document: serde_json::Value = serde_json::from_slice(&body)?;
            writeln!(stdout, "{}", serde_json::to_string_pretty(&document)?)?;
        }
        _ => {
            let document: serde_json::Value = serde_json::from_slice(&body)?;
            write_table(&mut stdout, &document)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints report rows as an aligned text table, then the totals.
fn write_table(out: &mut impl Write, document: &serde_json::Value) -> anyhow::Result<()> {
    let rows = document
        .get("rows")
        .and_then(|rows| rows.as_array())
        .cloned()
        .unwrap_or_default();
    let text = |value: &serde_json::Value| match value {
        serde_json::Value::Null => "-".to_owned(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let Some(first) = rows.first().and_then(|row| row.as_object()) else {
        writeln!(out, "(no rows)")?;
        return Ok(());
    };
    let columns: Vec<String> = first.keys().cloned().collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| columns.iter().map(|column| text(&row[column.as_str()])).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(idx, column)| {
            cells
                .iter()
                .map(|row| row[idx].len())
                .max()
                .unwrap_or(0)
                .max(column.len())
        })
        .collect();
    let line = |values: &[String]| -> String {
        values
            .iter()
            .zip(&widths)
            .map(|(value, width)| format!("{value:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    writeln!(out, "{}", line(&columns))?;
    for row in &cells {
        writeln!(out, "{}", line(row))?;
    }
    if let Some(totals) = document.get("totals").and_then(|totals| totals.as_object()) {
        let summary: Vec<String> = totals
            .iter()
            .map(|(name, value)| format!("{name}={}", text(value)))
            .collect();
        writeln!(out, "totals: {}", summary.join("  "))?;
    }
    Ok(())
}

fn today() -> chrono::DateTime<chrono::Utc> {
    use chrono::DurationRound;
    let now = chrono::Utc::now();
    now.duration_trunc(chrono::Duration::days(1)).unwrap_or(now)
}

fn generate(args: &GenerateArgs) -> anyhow::Result<ExitCode> {
    let end = match &args.end {
        Some(text) => parse_instant(text).context("--end: expected YYYY-MM-DD or RFC 3339")?,
        None => today(),
    };
    let synth = Synth::new(SynthOptions {
        seed: args.seed,
        events: args.events,
        end,
        days: args.days,
    });
    let started = Instant::now();
    let lines = match &args.out {
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let lines = write_ndjson(&mut out, args.format, synth, args.spans_per_document)?;
            out.flush()?;
            lines
        }
        Some(path) => {
            let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let file = std::io::BufWriter::with_capacity(1 << 20, file);
            let name = path.to_string_lossy();
            if name.ends_with(".gz") {
                let mut out = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
                let lines = write_ndjson(&mut out, args.format, synth, args.spans_per_document)?;
                out.finish()?.flush()?;
                lines
            } else if name.ends_with(".zst") {
                let mut out = zstd::Encoder::new(file, 3)?;
                let lines = write_ndjson(&mut out, args.format, synth, args.spans_per_document)?;
                out.finish()?.flush()?;
                lines
            } else {
                let mut out = file;
                let lines = write_ndjson(&mut out, args.format, synth, args.spans_per_document)?;
                out.flush()?;
                lines
            }
        }
    };
    if let Some(path) = &args.out {
        let bytes = std::fs::metadata(path)
            .map(|metadata| metadata.len())
            .unwrap_or(0);
        eprintln!(
            "{} {} calls in {} lines to {} ({}) in {:.1} s",
            args.events,
            args.format.name(),
            lines,
            path.display(),
            bench::human_bytes(bytes),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn bench_reports(mut config: Config, args: &BenchReportsArgs) -> anyhow::Result<ExitCode> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join(format!("bench-{}", args.events)));
    config.data_dir.clone_from(&dir);
    println!("machine: {}", bench::machine());
    println!("ledger:  {}", dir.display());
    let ledger = server::open_ledger(&config)?;
    let (mut count, _) = bench::reports::stored(&ledger)?;
    if count == 0 {
        let options = SynthOptions {
            seed: args.seed,
            events: args.events,
            end: today(),
            days: args.days,
        };
        let bar = indicatif::ProgressBar::new(args.events);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "loading {bar:40} {pos}/{len} events, {per_sec}, eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let summary = bench::reports::load(&ledger, &options, args.batch, |done| bar.set_position(done))?;
        bar.finish_and_clear();
        let teams: Vec<String> = Synth::new(options.clone())
            .teams()
            .iter()
            .map(|team| team.name.to_string())
            .collect();
        bench::reports::add_budgets(&ledger, &teams)?;
        let (rss, peak) = bench::memory().unwrap_or_default();
        #[allow(clippy::cast_precision_loss)]
        let rate = summary.accepted as f64 / summary.seconds;
        println!(
            "loaded:  {} events ({} duplicates) in {:.1} s = {:.0} events/s through parse → price → store; RSS {} (peak {})",
            summary.accepted,
            summary.duplicates,
            summary.seconds,
            rate,
            bench::human_bytes(rss),
            bench::human_bytes(peak)
        );
        count = summary.accepted;
    } else if count != args.events {
        bail!(
            "{} holds {count} events, not {}: choose another --dir or delete it",
            dir.display(),
            args.events
        );
    } else {
        println!("reusing {count} stored events");
    }
    let (_, last) = bench::reports::stored(&ledger)?;
    let end = last.context("the benchmark ledger is empty")?;
    let bytes = bench::store_bytes(&dir);
    #[allow(clippy::cast_precision_loss)]
    let per_event = bytes as f64 / count.max(1) as f64;
    println!(
        "store:   {} on disk ({per_event:.0} bytes per event)",
        bench::human_bytes(bytes)
    );
    bench::reset_peak_memory();
    println!();
    println!(
        "{:<44} {:>8} {:>10} {:>10} {:>10}  grain",
        "report", "rows", "min ms", "median ms", "max ms"
    );
    let timings = bench::reports::time_reports(&ledger, end, args.days.min(30), args.runs, |timing| {
        println!(
            "{:<44} {:>8} {:>10.1} {:>10.1} {:>10.1}  {}",
            timing.label,
            timing.rows,
            timing.min_ms,
            timing.median_ms,
            timing.max_ms,
            timing.grain.as_deref().unwrap_or("-")
        );
    })?;
    let (rss, peak) = bench::memory().unwrap_or_default();
    println!();
    println!(
        "memory:  RSS {} now, peak {} while reporting",
        bench::human_bytes(rss),
        bench::human_bytes(peak)
    );
    if let Some(path) = &args.json {
        let document = serde_json::json!({"machine": bench::machine(), "events": count, "store_bytes": bytes,
            "peak_rss_bytes": peak, "timings": timings});
        std::fs::write(path, serde_json::to_string_pretty(&document)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    ledger.close()?;
    Ok(ExitCode::SUCCESS)
}

fn keys(command: &KeysCommand) -> anyhow::Result<ExitCode> {
    let (role, team, secret, new) = match command {
        KeysCommand::New { role, team } => (role, team, llm_ledger::auth::new_secret(), true),
        KeysCommand::Hash { role, team } => {
            let mut secret = String::new();
            std::io::stdin()
                .read_line(&mut secret)
                .context("reading the key from standard input")?;
            (role, team, secret.trim().to_owned(), false)
        }
    };
    let role = match role.as_str() {
        "ingest" => llm_ledger::auth::Role::Ingest,
        "read" => llm_ledger::auth::Role::Read,
        "admin" => llm_ledger::auth::Role::Admin,
        other => bail!("--role: expected ingest, read or admin, got `{other}`"),
    };
    let entry = llm_ledger::auth::entry_for(&secret, role, team.as_deref());
    // Check the entry the way the server will read it.
    llm_ledger::auth::KeyRing::parse(&[entry.as_str()])
        .map_err(|error| anyhow::anyhow!("{}", error.reason))?;
    if new {
        println!("key:   {secret}");
        println!("entry: {entry}");
        eprintln!(
            "Give the key to its user; put the entry in LEDGER_API_KEYS or the config file's api_keys."
        );
    } else {
        println!("{entry}");
    }
    Ok(ExitCode::SUCCESS)
}

fn bench_ingest(config: &Config, args: &BenchIngestArgs) -> anyhow::Result<ExitCode> {
    let options = bench::ingest::IngestBenchOptions {
        synth: SynthOptions {
            seed: args.seed,
            events: args.events,
            end: today(),
            days: args.days,
        },
        format: args.format,
        clients: args.clients,
        batch: args.batch,
        preload: args.preload,
        preload_cache: args.preload_cache,
        dir: args
            .dir
            .clone()
            .unwrap_or_else(|| config.data_dir.join("bench-ingest")),
        skip_duckdb: args.no_duckdb,
        server_log: args.server_log.clone(),
        memory_limit: config.memory_limit.clone(),
    };
    println!("machine: {}", bench::machine());
    if args.cpu_only {
        let result = bench::ingest::cpu_only(&options, |line| println!("{line}"))?;
        let phases: Vec<String> = result
            .phases_us_per_event
            .iter()
            .map(|(name, us)| format!("{name} {us:.2}"))
            .collect();
        println!(
            "cpu:     {:.2} µs per event on one thread ({}) = {:.0} events per core-second; {} records",
            result.total_us_per_event,
            phases.join(", "),
            result.events_per_core_second,
            result.records
        );
        if let Some(path) = &args.json {
            let document = serde_json::json!({"machine": bench::machine(), "result": result});
            std::fs::write(path, serde_json::to_string_pretty(&document)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let result = bench::ingest::run(&options, |line| println!("{line}"))?;
    println!(
        "ingest:  {} events in {:.1} s = {:.0} events/s, {:.1} MB/s of NDJSON; {} clients × {} records, {} busy retries",
        result.events,
        result.seconds,
        result.events_per_second,
        result.megabytes_per_second,
        result.clients,
        result.batch,
        result.busy_retries
    );
    println!(
        "acks:    p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        result.ack_p50_ms, result.ack_p99_ms, result.ack_max_ms
    );
    println!(
        "server:  peak RSS {}; store {} on disk = {:.1} bytes per event{}",
        bench::human_bytes(result.server_peak_rss_bytes),
        bench::human_bytes(result.store_bytes),
        result.bytes_per_event,
        result.store_free_bytes.map_or_else(String::new, |free| format!(
            " ({} of it free blocks DuckDB reuses)",
            bench::human_bytes(free)
        ))
    );
    if let (Some(server), Some(client)) = (result.server_cpu_us_per_event, result.client_cpu_us_per_event) {
        let steal = result
            .steal_percent
            .map(|steal| format!("; the hypervisor took {steal:.0} % of the machine's CPU time (steal)"))
            .unwrap_or_default();
        let writer = result
            .writer_cpu_us_per_event
            .map(|writer| format!(" ({writer:.1} on the writer thread)"))
            .unwrap_or_default();
        println!(
            "cpu:     server {server:.1} µs per event{writer}, bench clients {client:.1} µs per event{steal}"
        );
    }
    if let (Some(seconds), Some(rate), Some(ratio)) = (
        result.duckdb_seconds,
        result.duckdb_events_per_second,
        result.ratio_to_duckdb,
    ) {
        println!(
            "duckdb:  read_json of the same file in {seconds:.1} s = {rate:.0} events/s; ours ÷ DuckDB's = {ratio:.2}"
        );
    }
    if let Some(path) = &args.json {
        let document = serde_json::json!({"machine": bench::machine(), "result": result});
        std::fs::write(path, serde_json::to_string_pretty(&document)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
