//! The `llm-ledger` command: parse arguments, build the config once, and call into the library.

mod cli;
mod cli_export;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: ingest allocates many short-lived strings per record, and
/// glibc's allocator was 15 % of the server's profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (libmimalloc-sys names only some).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory mapped instead of handing it back to the OS a second later. Ingest frees
/// and reallocates hundreds of MiB a second (bodies, parsed records, DuckDB's vectors); handing
/// it back cost 200,000 page faults per million events, each one zeroing a page again
/// (`clear_page_erms` was 5 % of the server's profile). Peak RSS is what it was (the memory is
/// reused, not leaked); it just no longer shrinks after a peak. `MIMALLOC_PURGE_DELAY` in the
/// environment still decides when set.
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option of the allocator; valid at any time.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
