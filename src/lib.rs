//! llm-ledger: one exact ledger for LLM traffic from every gateway.
//!
//! Records flow top to bottom through these modules (ARCHITECTURE.md has the code map):
//! gateway logs → [`ingest`] (parse and validate any format into [`model::UsageRecord`]s) →
//! [`pricing`] (an exact decimal cost from the effective-dated catalog) → [`store`] (one writer
//! commits to DuckDB, then acknowledges) → [`reports`] (SQL in `queries/`, shaped with polars) →
//! [`api`] (actix-web handlers and the OpenAPI document). [`pipeline`] is the ingest path both
//! the HTTP endpoint and the CLI importer use; [`server`] wires a running ledger together.

// `serde_json::json!` documents of the synthetic LiteLLM payloads nest deeper than the default.
#![recursion_limit = "256"]

pub mod model;

pub mod auth;
pub mod config;
pub mod ingest;
pub mod pricing;
pub mod store;

pub mod pipeline;
pub mod reports;
pub mod sql;

pub mod export;
pub mod retention;

pub mod api;
pub mod server;

pub mod bench;
pub mod synth;
