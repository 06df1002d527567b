//! The `llm-ledger` command: parse arguments, build the config once, and call into the library.

mod cli;
mod cli_export;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: ingest allocates many short-lived strings per record, and
/// glibc's allocator was 15 % of the server's profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
