//! `llm-ledger bench`: how fast the ledger answers, measured on generated traffic ([`crate::synth`]).
//!
//! [`reports`]: loads N synthetic events into a ledger directory through the real pipeline
//! (parse → price → the writer's transaction with dedupe, rollups and the FOCUS ledger), then
//! times every report the API serves — the same code path as `GET /v1/reports/{name}`, JSON
//! encoding included — and the process's peak memory while doing so. Figures depend on the
//! machine: print them with its core count and memory.
//!
//! [`ingest`]: N generated events in a gateway's format posted through HTTP by concurrent
//! clients to a real server, every ack waited for; throughput, ack latency, the server's memory
//! and bytes on disk, against DuckDB's own `read_json` load of the same file.

pub mod ingest;
pub mod reports;

use std::path::Path;

/// The process's resident memory now and at its peak, in bytes (Linux; `None` elsewhere).
#[must_use]
pub fn memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Starts a new peak-memory window (Linux: resets `VmHWM`).
pub fn reset_peak_memory() {
    // Best effort: without the file the peak covers the whole run, which the output says.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Bytes of the ledger's files in `dir` (the DuckDB file and its WAL).
#[must_use]
pub fn store_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.file_name().to_string_lossy().starts_with("ledger.duckdb"))
                .filter_map(|entry| entry.metadata().ok())
                .map(|metadata| metadata.len())
                .sum()
        })
        .unwrap_or(0)
}

/// A short description of this machine for benchmark output: logical CPUs and memory.
#[must_use]
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or_else(
            || "? GiB".to_owned(),
            |kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0),
        );
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        })
        .unwrap_or_default();
    format!("{cpus} CPUs {model}, {memory} RAM").replace("  ", " ")
}

/// Bytes in binary units, for people.
#[must_use]
pub fn human_bytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let value = bytes as f64;
    if value >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", value / 1024.0 / 1024.0 / 1024.0)
    } else if value >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", value / 1024.0 / 1024.0)
    } else {
        format!("{:.1} KiB", value / 1024.0)
    }
}
