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

/// One row of the `spend` report, as JSON (the rows are built by polars from `spend.sql`; this
/// struct only describes them). Dimension columns appear only when grouped by; a `tag:<key>`
/// column appears for each tag grouped by. Money is an exact decimal string with twelve places.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpendRow {
    /// Local start of the time bucket (RFC 3339 with the zone's offset); present when `bucket`
    /// is set.
    #[schema(required = false, example = "2026-11-23T00:00:00-05:00")]
    pub bucket: String,
    /// Present when grouped by `team`.
    #[schema(required = false)]
    pub team: String,
    /// Present when grouped by `project`; null for calls without one.
    pub project: Option<String>,
    /// Present when grouped by `user`; null for calls without one.
    pub user: Option<String>,
    /// Present when grouped by `api_key` (the key's alias or hash, never a secret); null for
    /// calls without one.
    pub api_key: Option<String>,
    /// Present when grouped by `provider`.
    #[schema(required = false)]
    pub provider: String,
    /// The normalised model (`model_key`); present when grouped by `model`.
    #[schema(required = false)]
    pub model: String,
    /// Present when grouped by `model_requested`.
    #[schema(required = false)]
    pub model_requested: String,
    /// Present when grouped by `route`; null for calls without one.
    pub route: Option<String>,
    /// The gateway format the calls came from; present when grouped by `source`.
    #[schema(required = false)]
    pub source: String,
    /// HTTP status; present when grouped by `status`.
    #[schema(required = false)]
    pub status: i32,
    /// Present when grouped by `error_type`; null for calls without an error.
    pub error_type: Option<String>,
    /// `tag:<key>`: the tag's value (null when a call has no such tag), one column per tag
    /// grouped by.
    #[serde(flatten)]
    pub tags: std::collections::BTreeMap<String, Option<String>>,
    /// Calls (sum of `request_count`).
    pub requests: i64,
    /// Calls with `status_code >= 400` or an `error_type`.
    pub errors: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    /// Computed cost of the priced calls (after contracts); null when no call of the row is
    /// priced.
    #[schema(required = true, example = "0.012345000000")]
    pub cost_usd: Option<String>,
    /// The same calls at list price (before contracts); null when no call of the row is priced.
    #[schema(required = true)]
    pub list_cost_usd: Option<String>,
    /// What the gateways reported; null when none did.
    #[schema(required = true)]
    pub reported_cost_usd: Option<String>,
    /// Calls of models without a price: not in `cost_usd`, never counted as $0.
    pub unpriced_requests: i64,
}

/// The `totals` of the `spend` report: each metric summed over every row, before `limit`. A
/// money total is null only when every row's value is null.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpendTotals {
    pub requests: i64,
    pub errors: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    #[schema(required = true)]
    pub cost_usd: Option<String>,
    #[schema(required = true)]
    pub list_cost_usd: Option<String>,
    #[schema(required = true)]
    pub reported_cost_usd: Option<String>,
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
