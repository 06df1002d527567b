//! `llm-ledger query "SQL"`: one read-only statement through the same sandbox as `POST /v1/sql`,
//! from the data directory or a running server, printed to standard output.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use llm_ledger::config::{Config, parse_duration};
use llm_ledger::server;
use llm_ledger::sql::{Sandbox, SqlFormat};

#[derive(Args, Debug)]
pub(super) struct QueryArgs {
    /// One read-only statement (SELECT, WITH, FROM, VALUES, DESCRIBE, SUMMARIZE, EXPLAIN) over
    /// the views events, rollup_hourly, rollup_daily, focus_lines, prices, contracts, budgets.
    sql: String,
    /// table (default), json, csv, arrow (Arrow IPC stream) or parquet.
    #[arg(long, default_value = "table")]
    format: String,
    /// Most rows (at most the configured `sql_max_rows`).
    #[arg(long)]
    max_rows: Option<usize>,
    /// Time limit (`10s`, `500ms`; at most the configured `sql_timeout`).
    #[arg(long)]
    timeout: Option<String>,
    /// Ask a running server (`http://127.0.0.1:8080`) instead of opening the data directory.
    #[arg(long)]
    server: Option<String>,
}

pub(super) fn query(config: &Config, args: &QueryArgs) -> anyhow::Result<ExitCode> {
    let table = args.format == "table";
    let format = if table {
        SqlFormat::Json
    } else {
        SqlFormat::parse(&args.format).with_context(|| {
            format!(
                "--format: expected table, {}; got `{}`",
                SqlFormat::NAMES,
                args.format
            )
        })?
    };
    let timeout = match &args.timeout {
        Some(text) => Some(
            parse_duration(text)
                .with_context(|| format!("--timeout: expected `10s` or `500ms`, got `{text}`"))?,
        ),
        None => None,
    };
    if args.max_rows == Some(0) {
        bail!("--max-rows must be at least 1");
    }
    let body = match &args.server {
        Some(url) => ask_server(url, args, format, timeout)?,
        None => run_locally(config, args, format, timeout)?,
    };
    let mut stdout = std::io::stdout().lock();
    if table {
        let document: serde_json::Value = serde_json::from_slice(&body)?;
        super::write_table(&mut stdout, &document)?;
        if document["truncated"].as_bool() == Some(true) {
            writeln!(stdout, "(truncated at {} rows)", document["row_count"])?;
        }
    } else {
        stdout.write_all(&body)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_locally(
    config: &Config,
    args: &QueryArgs,
    format: SqlFormat,
    timeout: Option<std::time::Duration>,
) -> anyhow::Result<Vec<u8>> {
    let ledger = server::open_ledger(config)?;
    let outcome = (|| {
        let sandbox = Sandbox::open(&ledger.readers, config.sql)?;
        let admission = sandbox.admit()?;
        let limits = sandbox.limits().lowered(timeout, args.max_rows);
        let output = sandbox.run(&admission, &args.sql, limits, None)?;
        output.encode(format)
    })();
    ledger.close()?;
    Ok(outcome?)
}

fn ask_server(
    url: &str,
    args: &QueryArgs,
    format: SqlFormat,
    timeout: Option<std::time::Duration>,
) -> anyhow::Result<Vec<u8>> {
    let endpoint = format!("{}/v1/sql", url.trim_end_matches('/'));
    let format_name = match format {
        SqlFormat::Json => "json",
        SqlFormat::Csv => "csv",
        SqlFormat::Arrow => "arrow",
        SqlFormat::Parquet => "parquet",
    };
    let body = serde_json::json!({
        "sql": args.sql,
        "format": format_name,
        "max_rows": args.max_rows,
        "timeout_ms": timeout.map(|limit| limit.as_millis() as u64),
    });
    let response = super::server_client()?
        .post(&endpoint)
        .json(&body)
        .send()
        .with_context(|| format!("posting to {endpoint}"))?;
    let status = response.status();
    let bytes = response.bytes()?.to_vec();
    if !status.is_success() {
        bail!(
            "the server answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    Ok(bytes)
}
