//! The integration tests: one binary (DuckDB is linked once), one module per area. Every test
//! starts the real `llm-ledger serve` on a random loopback port with its own DuckDB file in a
//! temp dir and talks HTTP to it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod adapters;
mod analytics;
mod auth;
mod cli;
mod config;
mod crash;
mod ingest;
mod lake;
mod openapi;
mod prices;
mod pricing;
mod queries;
mod reports;
mod retention;
mod sql;
mod traces;
