//! `unpriced`: the models the catalog has no price for (calls `unpriced`, or counted at the
//! gateway's `reported` cost), with their calls, tokens, reported cost and first/last seen.
//! SQL: `queries/unpriced.sql`.

use duckdb::Connection;
use polars::prelude::{DataType, TimeUnit};
use serde::Serialize;

use super::filters::{Bindings, Grain, bind_filters};
use super::output::{query_frame, totals};
use super::params::CommonParams;
use super::{Report, ReportError, require_fixed_groups};
use crate::store::reader::timestamp_value;

pub const SQL: &str = include_str!("../../queries/unpriced.sql");

const METRICS: &[&str] = &[
    "requests",
    "records",
    "input_tokens",
    "output_tokens",
    "reported_cost_usd",
];

/// One row of the `unpriced` report, as JSON (from `unpriced.sql`; this struct only describes
/// it): one model without a price, per source.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnpricedRow {
    pub provider: String,
    /// The normalised model (`model_key`).
    pub model: String,
    pub source: String,
    /// `unpriced` (no cost, listed instead of $0) or `reported` (counted at the gateway's own
    /// figure, which the catalog cannot check).
    #[schema(example = "unpriced")]
    pub cost_source: String,
    /// The gateways' own model strings for it, comma-separated.
    pub gateway_models: String,
    /// Calls (sum of `request_count`).
    pub requests: i64,
    /// Stored rows.
    pub records: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// What the gateways reported for these calls; null when none did.
    #[schema(required = true)]
    pub reported_cost_usd: Option<String>,
    /// The first call, UTC (RFC 3339 with milliseconds).
    #[schema(example = "2026-11-23T10:00:00.000Z")]
    pub first_seen: String,
    /// The last call, UTC (RFC 3339 with milliseconds).
    pub last_seen: String,
}

/// The `totals` of the `unpriced` report, over every row before `limit`; `reported_cost_usd`
/// is null only when every row's is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnpricedTotals {
    pub requests: i64,
    pub records: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    #[schema(required = true)]
    pub reported_cost_usd: Option<String>,
}

fn empty_schema() -> Vec<(&'static str, DataType)> {
    let mut schema: Vec<(&'static str, DataType)> =
        ["provider", "model", "source", "cost_source", "gateway_models"]
            .into_iter()
            .map(|name| (name, DataType::String))
            .collect();
    for name in ["requests", "records", "input_tokens", "output_tokens"] {
        schema.push((name, DataType::Int64));
    }
    schema.push(("reported_cost_usd", DataType::Decimal(Some(38), Some(12))));
    for name in ["first_seen", "last_seen"] {
        schema.push((name, DataType::Datetime(TimeUnit::Microseconds, None)));
    }
    schema
}

/// Runs the unpriced report.
///
/// # Errors
/// Invalid parameters (`group_by` and `bucket` are fixed), or a failing query.
pub fn run(conn: &Connection, params: &CommonParams) -> Result<Report, ReportError> {
    require_fixed_groups(params, false)?;
    let mut bindings = Bindings::default();
    bindings.set("from", timestamp_value(params.from));
    bindings.set("to", timestamp_value(params.to));
    bind_filters(params, &mut bindings, Grain::Events)?;
    let frame = query_frame(conn, SQL, &bindings, &empty_schema())?;
    let totals = totals(&frame, METRICS)?;
    Ok(Report::new(
        "unpriced",
        params,
        super::output::limited(frame, params.limit),
        totals,
    ))
}
