//! `latency`: p50/p90/p95/p99 of latency and time to first token, and output tokens per second,
//! per group and time bucket. SQL: `queries/latency.sql`. Percentiles are exact and read the
//! events (rollups cannot merge percentiles).

use duckdb::Connection;
use polars::prelude::{DataType, TimeUnit};
use serde::Serialize;

use super::buckets::buckets;
use super::filters::{Bindings, Grain, bind_dimensions, bind_event_unit, bind_range};
use super::output::{query_frame, shape_grouped, totals};
use super::params::CommonParams;
use super::{Report, ReportError};

pub const SQL: &str = include_str!("../../queries/latency.sql");

/// The metric columns of a latency row.
pub const METRICS: &[&str] = &[
    "calls",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_mean_ms",
    "ttft_calls",
    "ttft_p50_ms",
    "ttft_p90_ms",
    "ttft_p95_ms",
    "ttft_p99_ms",
    "tokens_per_second_p50",
    "tokens_per_second_p90",
];

/// One row of the `latency` report, as JSON (built by polars from `latency.sql`; this struct only
/// describes it). Only calls with a latency count. Dimension columns appear only when grouped
/// by; a `tag:<key>` column appears for each tag grouped by.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LatencyRow {
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
    /// Present when grouped by `api_key`; null for calls without one.
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
    /// Present when grouped by `source`.
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
    /// Calls with a latency.
    pub calls: i64,
    /// Percentiles and mean of the latency, ms, three decimals (exact, from the events).
    pub latency_p50_ms: f64,
    pub latency_p90_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_mean_ms: f64,
    /// Calls with a time to first token (streams).
    pub ttft_calls: i64,
    /// Percentiles of the time to first token, ms; null when no call of the row has one.
    #[schema(required = true)]
    pub ttft_p50_ms: Option<f64>,
    #[schema(required = true)]
    pub ttft_p90_ms: Option<f64>,
    #[schema(required = true)]
    pub ttft_p95_ms: Option<f64>,
    #[schema(required = true)]
    pub ttft_p99_ms: Option<f64>,
    /// Output tokens per second after the first token (over the whole call without a TTFT);
    /// null when no call of the row has output tokens and time after its first token.
    #[schema(required = true)]
    pub tokens_per_second_p50: Option<f64>,
    #[schema(required = true)]
    pub tokens_per_second_p90: Option<f64>,
}

/// The `totals` of the `latency` report (percentiles do not add up, so only the counts).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LatencyTotals {
    pub calls: i64,
    pub ttft_calls: i64,
}

fn empty_schema() -> Vec<(&'static str, DataType)> {
    let mut schema = vec![("bucket_start", DataType::Datetime(TimeUnit::Microseconds, None))];
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
    for name in ["error_type", "tag1", "tag2", "tag3"] {
        schema.push((name, DataType::String));
    }
    for name in METRICS {
        let dtype = if *name == "calls" || *name == "ttft_calls" {
            DataType::Int64
        } else {
            DataType::Float64
        };
        schema.push((name, dtype));
    }
    schema
}

/// Runs the latency report.
///
/// # Errors
/// Invalid parameters, or a failing query.
pub fn run(conn: &Connection, params: &CommonParams) -> Result<Report, ReportError> {
    let buckets = buckets(params.from, params.to, params.bucket, params.tz)?;
    let mut bindings = Bindings::default();
    bind_range(&mut bindings, params.from, params.to, &buckets);
    bind_event_unit(&mut bindings, &buckets);
    let tag_keys = bind_dimensions(params, &mut bindings, Grain::Events)?;
    let frame = query_frame(conn, SQL, &bindings, &empty_schema())?;
    let shaped = shape_grouped(frame, params, &buckets, &tag_keys, METRICS)?;
    let totals = totals(&shaped, &["calls", "ttft_calls"])?;
    Ok(Report::new(
        "latency",
        params,
        super::output::limited(shaped, params.limit),
        totals,
    )
    .with_grain(Grain::Events))
}
