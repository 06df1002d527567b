//! `spend`: requests, errors, each token kind, computed (contracted and list) and gateway-reported
//! cost per group
//! and time bucket. SQL: `queries/spend.sql`.

use std::sync::LazyLock;

use duckdb::Connection;
use polars::prelude::{DataFrame, DataType};
use serde::Serialize;

use super::Report;
use super::ReportError;
use super::buckets::Bucket;
use super::buckets::buckets;
use super::filters::{Bindings, Grain, bind_dimensions, bind_event_unit, bind_range, choose_grain};
use super::output::{query_frame, shape_grouped, totals};
use super::params::CommonParams;

pub const SQL: &str = include_str!("../../queries/spend.sql");
/// `spend_rollup.sql`, a template over either rollup.
pub const ROLLUP_SQL: &str = include_str!("../../queries/spend_rollup.sql");
/// `spend_rollup.sql` over `rollup_hourly`.
pub static HOURLY_SQL: LazyLock<String> = LazyLock::new(|| {
    ROLLUP_SQL
        .replace("{rollup}", "rollup_hourly")
        .replace("{unit}", "hour")
});
/// `spend_rollup.sql` over `rollup_daily`.
pub static DAILY_SQL: LazyLock<String> = LazyLock::new(|| {
    ROLLUP_SQL
        .replace("{rollup}", "rollup_daily")
        .replace("{unit}", "day")
});

/// The metric columns of a spend row, in output order.
pub const METRICS: &[&str] = &[
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "list_cost_usd",
    "reported_cost_usd",
    "unpriced_requests",
];

/// Every metric column `spend.sql` returns.
pub const SQL_METRICS: &[&str] = &[
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "cost_usd",
    "list_cost_usd",
    "reported_cost_usd",
    "unpriced_requests",
    "cache_hits",
    "cache_savings_usd",
    "cache_hit_savings_usd",
    "fallbacks",
    "attempts",
];

/// One row of the spend report (documentation of the JSON shape; dimension columns appear only
/// when grouped by, tag columns as `tag:<key>`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpendRow {
    /// Local start of the time bucket (RFC 3339 with offset); present when `bucket` is set.
    pub bucket: Option<String>,
    pub team: Option<String>,
    pub project: Option<String>,
    pub user: Option<String>,
    pub api_key: Option<String>,
    pub provider: Option<String>,
    /// The normalised model (`model_key`).
    pub model: Option<String>,
    pub model_requested: Option<String>,
    pub route: Option<String>,
    pub source: Option<String>,
    pub status: Option<i32>,
    /// Calls (sum of `request_count`).
    pub requests: i64,
    /// Calls with `status_code >= 400` or an `error_type`.
    pub errors: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    /// Computed cost of the priced calls, exact decimal.
    #[schema(example = "0.012345000000")]
    pub cost_usd: Option<String>,
    /// The same calls at list price (before contracts).
    pub list_cost_usd: Option<String>,
    /// What the gateways reported, exact decimal.
    pub reported_cost_usd: Option<String>,
    /// Calls of models without a price: not in `cost_usd`, never counted as $0.
    pub unpriced_requests: i64,
}

fn empty_schema() -> Vec<(&'static str, DataType)> {
    let mut schema = vec![(
        "bucket_start",
        DataType::Datetime(polars::prelude::TimeUnit::Microseconds, None),
    )];
    for name in [
        "team",
        "project",
        "user",
        "api_key",
        "provider",
        "model",
        "model_requested",
        "route",
        "source",
    ] {
        schema.push((name, DataType::String));
    }
    schema.push(("status", DataType::Int32));
    schema.push(("error_type", DataType::String));
    for name in ["tag1", "tag2", "tag3"] {
        schema.push((name, DataType::String));
    }
    for name in SQL_METRICS {
        let dtype = if name.ends_with("_usd") {
            DataType::Decimal(Some(38), Some(12))
        } else {
            DataType::Int64
        };
        schema.push((name, dtype));
    }
    schema
}

/// The grouped usage rows of `params`: from the hourly rollup when it can answer, from the
/// events otherwise. `spend`, `model-mix` and `cache-savings` are shaped from these rows.
pub struct Usage {
    pub frame: DataFrame,
    pub buckets: Vec<Bucket>,
    pub tag_keys: Vec<String>,
    pub grain: Grain,
}

/// Runs `spend.sql` or `spend_rollup.sql` (over the coarsest rollup that answers) for `params`.
///
/// # Errors
/// Invalid parameters, or a failing query.
pub fn usage(conn: &Connection, params: &CommonParams) -> Result<Usage, ReportError> {
    let buckets = buckets(params.from, params.to, params.bucket, params.tz)?;
    let grain = choose_grain(params, &buckets)?;
    let mut bindings = Bindings::default();
    bind_range(&mut bindings, params.from, params.to, &buckets);
    let tag_keys = bind_dimensions(params, &mut bindings, grain)?;
    let sql: &str = match grain {
        Grain::Events => {
            bind_event_unit(&mut bindings, &buckets);
            SQL
        }
        Grain::Hourly => &HOURLY_SQL,
        Grain::Daily => &DAILY_SQL,
    };
    let frame = query_frame(conn, sql, &bindings, &empty_schema())?;
    Ok(Usage {
        frame,
        buckets,
        tag_keys,
        grain,
    })
}

/// Runs the spend report.
///
/// # Errors
/// Invalid parameters, or a failing query.
pub fn run(conn: &Connection, params: &CommonParams) -> Result<Report, ReportError> {
    let usage = usage(conn, params)?;
    let shaped = shape_grouped(usage.frame, params, &usage.buckets, &usage.tag_keys, METRICS)?;
    let totals = totals(&shaped, METRICS)?;
    let limited = super::output::limited(shaped, params.limit);
    Ok(Report::new("spend", params, limited, totals).with_grain(usage.grain))
}
