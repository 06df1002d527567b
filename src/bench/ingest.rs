//! `llm-ledger bench ingest`: end-to-end ingest throughput through HTTP with durable acks, against
//! DuckDB's own bulk load of the same file.
//!
//! 1. The generator writes N calls in a format as one NDJSON file, and the same calls as gzip
//!    batches of B records (compressed before the clock starts: clients should not compete
//!    with the server for the CPU while compressing).
//! 2. A real server (`llm-ledger serve`, this binary) starts on a loopback port with a fresh data
//!    directory — after `preload` events were stored in it, to measure a ledger that is not
//!    empty.
//! 3. C client threads post the batches (`Content-Encoding: gzip`), each waiting for its ack
//!    (the commit) before sending the next; a `503 writer_busy` is retried after its
//!    `Retry-After`. The run reports events/s, MB/s of uncompressed NDJSON, ack latency
//!    percentiles, the server's peak RSS (sampled from `/proc`), and bytes on disk per event
//!    after a graceful stop (which checkpoints).
//! 4. DuckDB (a separate in-process instance) loads the NDJSON file with `read_json` into a table
//!    in a new database file; the ratio of the two rates is the headline.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::synth::formats::{SynthFormat, write_ndjson};
use crate::synth::{Synth, SynthOptions};

/// What to run.
#[derive(Debug, Clone)]
pub struct IngestBenchOptions {
    pub synth: SynthOptions,
    pub format: SynthFormat,
    pub clients: usize,
    /// Records per request (OTLP: spans per document × documents per request).
    pub batch: usize,
    /// Events stored before the timed run.
    pub preload: u64,
    /// Keep a copy of the preloaded ledger in the working directory and start from it when a
    /// later run asks for the same preload (the preload of 10M events takes minutes).
    pub preload_cache: bool,
    /// Working directory (the NDJSON file, the batches, the server's data, DuckDB's file).
    pub dir: PathBuf,
    /// Skip the DuckDB comparison.
    pub skip_duckdb: bool,
    /// The server's log filter (`warn`; `llm_ledger::store=debug` shows the writer's phases).
    pub server_log: String,
    /// DuckDB's memory limit for the server (`--memory-limit`); DuckDB's default otherwise.
    pub memory_limit: Option<String>,
}

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct IngestBenchResult {
    pub format: &'static str,
    pub events: u64,
    pub preloaded: u64,
    /// From starting the server to its first 200 on `/readyz` (before the timed traffic).
    pub server_ready_seconds: f64,
    pub clients: usize,
    pub batch: usize,
    pub requests: usize,
    pub busy_retries: u64,
    pub seconds: f64,
    pub events_per_second: f64,
    pub ndjson_bytes: u64,
    pub gzip_bytes: u64,
    pub megabytes_per_second: f64,
    pub ack_p50_ms: f64,
    pub ack_p99_ms: f64,
    pub ack_max_ms: f64,
    pub server_peak_rss_bytes: u64,
    /// CPU time (user + system) the server spent during the timed traffic, per event: steadier
    /// than events/s on a shared machine, and what an optimisation must lower.
    pub server_cpu_us_per_event: Option<f64>,
    /// The part of `server_cpu_us_per_event` spent on the writer thread, which commits one
    /// group at a time: its share bounds the throughput however many cores serve HTTP.
    pub writer_cpu_us_per_event: Option<f64>,
    /// CPU time of the bench's own HTTP clients (this process) per event, on the same cores.
    pub client_cpu_us_per_event: Option<f64>,
    /// Share of the machine's CPU time the hypervisor gave to other guests during the timed
    /// traffic (`steal` in `/proc/stat`): on a shared virtual machine, why two runs differ.
    pub steal_percent: Option<f64>,
    pub store_bytes: u64,
    pub bytes_per_event: f64,
    /// The part of `store_bytes` in blocks DuckDB freed and will reuse (a checkpoint writes
    /// rewritten row groups to new blocks; the file only shrinks when they are at its end).
    pub store_free_bytes: Option<u64>,
    pub duckdb_seconds: Option<f64>,
    pub duckdb_events_per_second: Option<f64>,
    /// Ours ÷ DuckDB's (events per second).
    pub ratio_to_duckdb: Option<f64>,
}

/// Writes the NDJSON file and the gzip batches; returns (NDJSON bytes, gzip batches).
/// The generated input in the working directory: the NDJSON file (its path and size) and the
/// gzip bodies of the requests.
struct Input {
    ndjson: PathBuf,
    ndjson_bytes: u64,
    batches: Vec<Vec<u8>>,
}

fn prepare_input(options: &IngestBenchOptions) -> anyhow::Result<Input> {
    std::fs::create_dir_all(&options.dir).with_context(|| format!("creating {}", options.dir.display()))?;
    let ndjson = options
        .dir
        .join(format!("bench-{}.ndjson", options.format.name()));
    let file = std::fs::File::create(&ndjson).with_context(|| format!("creating {}", ndjson.display()))?;
    let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut batches = Vec::new();
    let mut total = 0u64;
    let mut calls = Synth::new(options.synth.clone()).peekable();
    // OTLP: one document per 100 spans, `batch / 100` documents per request.
    let spans_per_document = 100;
    while calls.peek().is_some() {
        let mut raw = Vec::with_capacity(options.batch * 1600);
        let chunk = calls.by_ref().take(options.batch.max(1));
        write_ndjson(&mut raw, options.format, chunk, spans_per_document)?;
        file.write_all(&raw)?;
        total += raw.len() as u64;
        let mut gz =
            flate2::write::GzEncoder::new(Vec::with_capacity(raw.len() / 6), flate2::Compression::fast());
        gz.write_all(&raw)?;
        batches.push(gz.finish()?);
    }
    file.flush()?;
    Ok(Input {
        ndjson,
        ndjson_bytes: total,
        batches,
    })
}

/// A running server and its address.
struct Server {
    child: Child,
    base: String,
}

fn start_server(options: &IngestBenchOptions, data_dir: &Path) -> anyhow::Result<Server> {
    let exe = std::env::current_exe().context("finding this binary")?;
    let mut command = Command::new(exe);
    command.arg("--data-dir").arg(data_dir);
    if let Some(limit) = &options.memory_limit {
        command.args(["--memory-limit", limit]);
    }
    let mut child = command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(["--writer-queue", &(options.clients * 2).max(8).to_string()])
        .env("LEDGER_LOG", &options.server_log)
        .env_remove("LEDGER_API_KEYS")
        .env_remove("LEDGER_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the server")?;
    let stdout = child.stdout.take().context("the server's output")?;
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(address) = line.strip_prefix("llm-ledger listening on ") {
                    break address.trim().to_owned();
                }
            }
            _ => bail!("the server exited before listening"),
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let server = Server { child, base };
    wait_ready(&server.base)?;
    Ok(server)
}

/// Waits until `/readyz` answers 200: the server listens before its writer has loaded the dedupe
/// fingerprints (seconds for a large ledger), and the timed traffic must not include that.
fn wait_ready(base: &str) -> anyhow::Result<()> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .context("building an HTTP client")?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .is_ok_and(|response| response.status().is_success())
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the server was not ready after 300 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop_server(mut server: Server) -> anyhow::Result<()> {
    let pid = server.child.id().to_string();
    // SIGTERM: a graceful stop drains the writer and checkpoints.
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .context("signalling the server")?;
    if !status.success() {
        server.child.kill().ok();
    }
    server.child.wait().context("waiting for the server")?;
    Ok(())
}

/// CPU seconds (user + system, all threads) a process has used, from `/proc/<pid>/stat`.
fn cpu_seconds_of(pid: &str) -> Option<f64> {
    cpu_seconds_in(&format!("/proc/{pid}/stat"))
}

/// CPU seconds the threads of process `pid` named `name` have used (the writer's:
/// `ledger-writer`), from `/proc/<pid>/task/<tid>/stat`.
fn thread_cpu_seconds_of(pid: &str, name: &str) -> Option<f64> {
    let mut total = None;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            let seconds = cpu_seconds_in(&task.path().join("stat").to_string_lossy())?;
            total = Some(total.unwrap_or(0.0) + seconds);
        }
    }
    total
}

/// User + system CPU seconds from a `stat` file of `/proc` (a process's or a thread's).
fn cpu_seconds_in(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) start at the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; in clock
    // ticks, which Linux fixes at 100 per second for this interface (USER_HZ).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The machine's CPU time so far in clock ticks: (steal, total), from the `cpu` line of
/// `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
    // counted in user and nice.
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    Some((*ticks.get(7)?, ticks.iter().sum()))
}

/// Resident memory of a process now (`VmRSS`), from `/proc`.
fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Posts every batch from `clients` threads; returns (seconds, ack latencies in ms, busy
/// retries, accepted events).
fn post_all(base: &str, batches: &[Vec<u8>], clients: usize) -> anyhow::Result<(f64, Vec<f64>, u64, u64)> {
    let next = AtomicUsize::new(0);
    let busy = AtomicU64::new(0);
    let accepted = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let latencies = Mutex::new(Vec::with_capacity(batches.len()));
    let url = format!("{base}/v1/ingest");
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..clients.max(1) {
            scope.spawn(|| {
                let client = match reqwest::blocking::Client::builder().timeout(None).build() {
                    Ok(client) => client,
                    Err(_) => {
                        failed.store(true, Ordering::Relaxed);
                        return;
                    }
                };
                let mut mine = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = batches.get(index) else { break };
                    loop {
                        let sent = Instant::now();
                        let response = client
                            .post(&url)
                            .header("Content-Type", "application/x-ndjson")
                            .header("Content-Encoding", "gzip")
                            .body(body.clone())
                            .send();
                        let Ok(response) = response else {
                            failed.store(true, Ordering::Relaxed);
                            return;
                        };
                        let status = response.status().as_u16();
                        let answer: serde_json::Value = response.json().unwrap_or_default();
                        if status == 503 {
                            busy.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(50));
                            continue;
                        }
                        if status != 200 || answer["rejected"].as_u64() != Some(0) {
                            eprintln!("batch {index}: {status} {answer}");
                            failed.store(true, Ordering::Relaxed);
                            return;
                        }
                        mine.push(sent.elapsed().as_secs_f64() * 1000.0);
                        accepted.fetch_add(answer["accepted"].as_u64().unwrap_or(0), Ordering::Relaxed);
                        break;
                    }
                }
                if let Ok(mut all) = latencies.lock() {
                    all.extend(mine);
                }
            });
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    if failed.load(Ordering::Relaxed) {
        bail!("a request failed (see above)");
    }
    let mut latencies = latencies
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a client thread panicked"))?;
    latencies.sort_by(f64::total_cmp);
    Ok((seconds, latencies, busy.into_inner(), accepted.into_inner()))
}

/// DuckDB's own load of the NDJSON file into a table of a new database file; returns seconds.
/// Bytes in the free blocks of the (stopped) ledger at `path`; `None` when it cannot be read.
fn free_bytes(path: &Path) -> Option<u64> {
    let config = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .ok()?;
    let conn = duckdb::Connection::open_with_flags(path, config).ok()?;
    conn.query_row(
        "SELECT free_blocks * block_size FROM pragma_database_size() LIMIT 1",
        [],
        |row| row.get::<_, i64>(0),
    )
    .ok()
    .and_then(|bytes| u64::try_from(bytes).ok())
}

fn duckdb_load(ndjson: &Path, dir: &Path) -> anyhow::Result<f64> {
    let path = dir.join("duckdb-read-json.duckdb");
    let _ = std::fs::remove_file(&path); // A previous run's file; absent is fine.
    let conn = duckdb::Connection::open(&path).context("opening DuckDB")?;
    let started = Instant::now();
    conn.execute(
        "CREATE TABLE loaded AS SELECT * FROM read_json(?, format = 'newline_delimited', maximum_object_size = 268435456)",
        [ndjson.to_string_lossy().as_ref()],
    )
    .context("DuckDB read_json")?;
    conn.execute_batch("CHECKPOINT").context("DuckDB checkpoint")?;
    Ok(started.elapsed().as_secs_f64())
}

/// Stores `options.preload` events in `data_dir` through the writer, or copies them from the
/// cache of an earlier run with the same preload (`options.preload_cache`).
fn preload_ledger(
    options: &IngestBenchOptions,
    data_dir: &Path,
    progress: &mut impl FnMut(&str),
) -> anyhow::Result<()> {
    let started = Instant::now();
    // History before the timed traffic, as in a ledger that has been running: the timed events
    // land in hours the preload never touched.
    let preload = SynthOptions {
        seed: options.synth.seed.wrapping_add(1),
        events: options.preload,
        end: options.synth.end - chrono::Duration::days(i64::from(options.synth.days.max(1))),
        ..options.synth.clone()
    };
    let cached = options.dir.join(format!(
        "preload-{}-seed{}-{}-{}d",
        preload.events,
        preload.seed,
        preload.end.format("%Y%m%dT%H%M"),
        preload.days
    ));
    if options.preload_cache && cached.is_dir() {
        copy_dir(&cached, data_dir)?;
        progress(&format!(
            "preload: {} events copied from {} in {:.1} s",
            preload.events,
            cached.display(),
            started.elapsed().as_secs_f64()
        ));
        return Ok(());
    }
    let mut config = crate::config::Config::resolve(crate::config::RawConfig::default())?;
    config.data_dir = data_dir.to_path_buf();
    config.memory_limit.clone_from(&options.memory_limit);
    let ledger = crate::server::open_ledger(&config)?;
    let summary = super::reports::load(&ledger, &preload, 50_000, |_| {})?;
    ledger.close()?;
    progress(&format!(
        "preload: {} events stored first in {:.1} s",
        summary.accepted,
        started.elapsed().as_secs_f64()
    ));
    if options.preload_cache {
        // Copied under a temporary name first: an interrupted copy is never taken for a cache.
        let partial = cached.with_extension("partial");
        if partial.exists() {
            std::fs::remove_dir_all(&partial).context("clearing a partial preload cache")?;
        }
        copy_dir(data_dir, &partial)?;
        std::fs::rename(&partial, &cached).context("keeping the preload cache")?;
    }
    Ok(())
}

/// Copies the files of `from` (and its directories) into `to`, which is created.
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Runs the benchmark. `progress` gets one line per phase.
///
/// # Errors
/// Generation, server, client or DuckDB failures.
pub fn run(
    options: &IngestBenchOptions,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<IngestBenchResult> {
    let started = Instant::now();
    let Input {
        ndjson,
        ndjson_bytes,
        batches,
    } = prepare_input(options)?;
    let gzip_bytes: u64 = batches.iter().map(|batch| batch.len() as u64).sum();
    progress(&format!(
        "input:   {} {} events, {} NDJSON ({} gzip) in {} requests, generated in {:.1} s",
        options.synth.events,
        options.format.name(),
        super::human_bytes(ndjson_bytes),
        super::human_bytes(gzip_bytes),
        batches.len(),
        started.elapsed().as_secs_f64()
    ));
    let data_dir = options.dir.join("data");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir).context("clearing the previous run's data")?;
    }
    if options.preload > 0 {
        preload_ledger(options, &data_dir, &mut progress)?;
    }
    let starting = Instant::now();
    let server = start_server(options, &data_dir)?;
    let server_ready_seconds = starting.elapsed().as_secs_f64();
    progress(&format!(
        "server:  ready in {server_ready_seconds:.1} s (the writer loads the dedupe fingerprints of what is stored)"
    ));
    let pid = server.child.id();
    let sampling = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let sampling = Arc::clone(&sampling);
        let peak = Arc::clone(&peak);
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                if let Some(rss) = rss_of(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let server_pid = pid.to_string();
    let writer_cpu = || thread_cpu_seconds_of(&server_pid, "ledger-writer");
    let cpu_before = (cpu_seconds_of(&server_pid), cpu_seconds_of("self"), writer_cpu());
    let ticks_before = machine_ticks();
    let posted = post_all(&server.base, &batches, options.clients);
    let cpu_after = (cpu_seconds_of(&server_pid), cpu_seconds_of("self"), writer_cpu());
    let ticks_after = machine_ticks();
    sampling.store(false, Ordering::Relaxed);
    sampler
        .join()
        .map_err(|_| anyhow::anyhow!("the memory sampler panicked"))?;
    let stopped = stop_server(server);
    let (seconds, latencies, busy_retries, accepted) = posted?;
    stopped?;
    if accepted != options.synth.events {
        bail!("{accepted} events acknowledged, {} sent", options.synth.events);
    }
    let store_bytes = super::store_bytes(&data_dir);
    let store_free_bytes = free_bytes(&data_dir.join(crate::store::DB_FILE));
    #[allow(clippy::cast_precision_loss)]
    let events = options.synth.events as f64;
    let events_per_second = events / seconds;
    let per_event = |before: Option<f64>, after: Option<f64>| Some((after? - before?) * 1_000_000.0 / events);
    let duckdb_seconds = if options.skip_duckdb {
        None
    } else {
        progress("duckdb:  loading the same file with read_json …");
        Some(duckdb_load(&ndjson, &options.dir)?)
    };
    let duckdb_events_per_second = duckdb_seconds.map(|seconds| events / seconds);
    #[allow(clippy::cast_precision_loss)]
    let result = IngestBenchResult {
        format: options.format.name(),
        events: options.synth.events,
        preloaded: options.preload,
        server_ready_seconds,
        clients: options.clients,
        batch: options.batch,
        requests: batches.len(),
        busy_retries,
        seconds,
        events_per_second,
        ndjson_bytes,
        gzip_bytes,
        megabytes_per_second: ndjson_bytes as f64 / 1_000_000.0 / seconds,
        ack_p50_ms: percentile(&latencies, 0.5),
        ack_p99_ms: percentile(&latencies, 0.99),
        ack_max_ms: latencies.last().copied().unwrap_or(0.0),
        server_peak_rss_bytes: peak.load(Ordering::Relaxed),
        server_cpu_us_per_event: per_event(cpu_before.0, cpu_after.0),
        client_cpu_us_per_event: per_event(cpu_before.1, cpu_after.1),
        writer_cpu_us_per_event: per_event(cpu_before.2, cpu_after.2),
        steal_percent: ticks_before.zip(ticks_after).and_then(|(before, after)| {
            let total = after.1.checked_sub(before.1).filter(|total| *total > 0)?;
            #[allow(clippy::cast_precision_loss)]
            Some(after.0.saturating_sub(before.0) as f64 * 100.0 / total as f64)
        }),
        store_bytes,
        bytes_per_event: store_bytes as f64 / (events + options.preload as f64),
        store_free_bytes,
        duckdb_seconds,
        duckdb_events_per_second,
        ratio_to_duckdb: duckdb_events_per_second.map(|theirs| events_per_second / theirs),
    };
    Ok(result)
}

/// The figures of a `--cpu-only` run: the request path's work per event, by phase, on one thread.
#[derive(Debug, Clone, Serialize)]
pub struct CpuOnlyResult {
    pub format: &'static str,
    pub events: u64,
    pub records: usize,
    pub requests: usize,
    pub ndjson_bytes: u64,
    /// Microseconds per event of each phase, in pipeline order.
    pub phases_us_per_event: Vec<(&'static str, f64)>,
    pub total_us_per_event: f64,
    /// Events per second one core prepares (the HTTP workers' ceiling per core).
    pub events_per_core_second: f64,
}

/// Times (best of three passes) what an HTTP worker does with each request body — decompress, split and parse, price,
/// encode for the writer — on this thread, with no server, HTTP or DuckDB. Separates the CPU cost
/// of the request path from the writer's, and is a stable loop to profile (`perf record`).
///
/// # Errors
/// Generating the input, or a body the pipeline refuses as a whole.
pub fn cpu_only(
    options: &IngestBenchOptions,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<CpuOnlyResult> {
    use crate::ingest::{self, FormatChoice, ParseContext, body::Encoding};
    use crate::pricing::{self, PriceBook, PriceLayers};

    let Input {
        ndjson_bytes,
        batches,
        ..
    } = prepare_input(options)?;
    progress(&format!(
        "input:   {} {} events, {} NDJSON in {} requests",
        options.synth.events,
        options.format.name(),
        super::human_bytes(ndjson_bytes),
        batches.len(),
    ));
    let book = PriceBook::new(PriceLayers {
        shipped: pricing::shipped_specs()?,
        ..PriceLayers::default()
    })?;
    let catalog = book.current();
    let names = ["decompress", "parse", "price", "encode"];
    let ctx = ParseContext::now();
    // Three passes over the same bodies, the fastest kept: on a shared machine the slow passes
    // measure the neighbours.
    let mut best: Option<[Duration; 4]> = None;
    let mut records = 0usize;
    for _ in 0..3 {
        let mut spent = [Duration::ZERO; 4];
        records = 0;
        for batch in &batches {
            let mut lap = Instant::now();
            let mut clock = |phase: usize| {
                let now = Instant::now();
                spent[phase] += now - lap;
                lap = now;
            };
            let body = ingest::body::decode(Encoding::Gzip, batch.clone(), u64::MAX)?;
            clock(0);
            let parsed = ingest::parse_body(&body, FormatChoice::Auto, &ctx)?;
            clock(1);
            let priced: Vec<_> = parsed
                .accepted
                .into_iter()
                .map(|located| pricing::price(&catalog, located.record))
                .collect();
            clock(2);
            let encoded = crate::store::Encoded::of(&priced, chrono::Utc::now())?;
            clock(3);
            records += encoded.records;
        }
        let total = |spent: &[Duration; 4]| spent.iter().sum::<Duration>();
        if best.is_none_or(|best| total(&spent) < total(&best)) {
            best = Some(spent);
        }
    }
    let spent = best.unwrap_or_default();
    #[allow(clippy::cast_precision_loss)]
    let events = options.synth.events.max(1) as f64;
    let phases_us_per_event: Vec<(&'static str, f64)> = names
        .iter()
        .zip(spent)
        .map(|(name, spent)| (*name, spent.as_secs_f64() * 1_000_000.0 / events))
        .collect();
    let total_us_per_event: f64 = phases_us_per_event.iter().map(|(_, us)| us).sum();
    Ok(CpuOnlyResult {
        format: options.format.name(),
        events: options.synth.events,
        records,
        requests: batches.len(),
        ndjson_bytes,
        phases_us_per_event,
        total_us_per_event,
        events_per_core_second: 1_000_000.0 / total_us_per_event,
    })
}
