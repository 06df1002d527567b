//! `reconciliation`: computed versus gateway-reported cost per day × source × provider × model,
//! with the absolute and relative difference, and the calls that disagree most. SQL:
//! `queries/reconciliation.sql` (the groups) and `queries/reconciliation_records.sql` (the
//! calls).

use duckdb::Connection;
use duckdb::types::Value;
use polars::prelude::{DataType, TimeUnit};
use serde::Serialize;
use serde_json::Value as Json;

use super::buckets::buckets;
use super::filters::{Bindings, Grain, bind_event_unit, bind_filters, bind_range};
use super::output::{label_buckets, query_frame, rows_json, totals};
use super::params::{CommonParams, TimeBucket};
use super::{Report, ReportError, require_fixed_groups};
use crate::store::reader::timestamp_value;

pub const SQL: &str = include_str!("../../queries/reconciliation.sql");
pub const RECORDS_SQL: &str = include_str!("../../queries/reconciliation_records.sql");

const METRICS: &[&str] = &[
    "compared_requests",
    "computed_cost_usd",
    "reported_cost_usd",
    "difference_usd",
    "not_reported_requests",
    "unpriced_requests",
];

/// How many disagreeing calls are listed by default.
const DEFAULT_RECORDS: i64 = 20;

/// One row of the `reconciliation` report, as JSON (from `reconciliation.sql`; this struct
/// only describes it): computed versus reported cost of one bucket × source × provider × model.
/// The counts and sums are null when no call of the row falls in them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReconciliationRow {
    /// Local start of the day (or `bucket`) in the report's time zone (RFC 3339 with offset).
    pub bucket: String,
    pub source: String,
    pub provider: String,
    /// The normalised model (`model_key`).
    pub model: String,
    /// Calls with both a computed and a reported cost.
    #[schema(required = true)]
    pub compared_requests: Option<i64>,
    /// Their computed cost.
    #[schema(required = true)]
    pub computed_cost_usd: Option<String>,
    /// What the gateways reported for them.
    #[schema(required = true)]
    pub reported_cost_usd: Option<String>,
    /// Computed minus reported (a missing side counts as 0).
    pub difference_usd: String,
    /// `difference_usd` ÷ reported, six places; null when the gateways reported 0.
    #[schema(required = true)]
    pub relative_difference: Option<f64>,
    /// Priced calls the gateway gave no cost for.
    #[schema(required = true)]
    pub not_reported_requests: Option<i64>,
    /// Calls without a catalog price (reported or unpriced).
    #[schema(required = true)]
    pub unpriced_requests: Option<i64>,
}

/// The `totals` of the `reconciliation` report, over every row before `limit`; a total is null
/// only when every row's value is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReconciliationTotals {
    #[schema(required = true)]
    pub compared_requests: Option<i64>,
    #[schema(required = true)]
    pub computed_cost_usd: Option<String>,
    #[schema(required = true)]
    pub reported_cost_usd: Option<String>,
    pub difference_usd: String,
    #[schema(required = true)]
    pub not_reported_requests: Option<i64>,
    #[schema(required = true)]
    pub unpriced_requests: Option<i64>,
}

/// One call of `disagreements` in the `reconciliation` report (from
/// `reconciliation_records.sql`): a call priced from the catalog whose computed cost differs
/// from what its gateway reported, the largest differences first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReconciliationDisagreement {
    pub source: String,
    pub event_id: String,
    /// When the call happened, UTC (RFC 3339 with milliseconds).
    pub ts: String,
    pub provider: String,
    /// The normalised model (`model_key`).
    pub model: String,
    /// The gateway's own model string.
    pub gateway_model: String,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub output_tokens: i64,
    pub reasoning_tokens: i64,
    pub computed_cost_usd: String,
    pub reported_cost_usd: String,
    /// Computed minus reported.
    pub difference_usd: String,
    /// The catalog entry that priced the call.
    pub price_id: String,
}

fn empty_schema() -> Vec<(&'static str, DataType)> {
    let money = || DataType::Decimal(Some(38), Some(12));
    vec![
        ("bucket_start", DataType::Datetime(TimeUnit::Microseconds, None)),
        ("source", DataType::String),
        ("provider", DataType::String),
        ("model", DataType::String),
        ("compared_requests", DataType::Int64),
        ("computed_cost_usd", money()),
        ("reported_cost_usd", money()),
        ("difference_usd", money()),
        ("relative_difference", DataType::Float64),
        ("not_reported_requests", DataType::Int64),
        ("unpriced_requests", DataType::Int64),
    ]
}

fn records_schema() -> Vec<(&'static str, DataType)> {
    let money = || DataType::Decimal(Some(38), Some(12));
    let mut schema: Vec<(&'static str, DataType)> = vec![
        ("source", DataType::String),
        ("event_id", DataType::String),
        ("ts", DataType::Datetime(TimeUnit::Microseconds, None)),
        ("provider", DataType::String),
        ("model", DataType::String),
        ("gateway_model", DataType::String),
    ];
    for name in [
        "input_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "output_tokens",
        "reasoning_tokens",
    ] {
        schema.push((name, DataType::Int64));
    }
    schema.extend([
        ("computed_cost_usd", money()),
        ("reported_cost_usd", money()),
        ("difference_usd", money()),
        ("price_id", DataType::String),
    ]);
    schema
}

/// Runs the reconciliation report. `records` is how many disagreeing calls to list.
///
/// # Errors
/// Invalid parameters (`group_by` is fixed), or a failing query.
pub fn run(conn: &Connection, params: &CommonParams, records: Option<i64>) -> Result<Report, ReportError> {
    require_fixed_groups(params, true)?;
    let mut params = params.clone();
    params.bucket = params.bucket.or(Some(TimeBucket::Day));
    let buckets = buckets(params.from, params.to, params.bucket, params.tz)?;

    let mut bindings = Bindings::default();

    bind_range(&mut bindings, params.from, params.to, &buckets);
    bind_event_unit(&mut bindings, &buckets);
    bind_filters(&params, &mut bindings, Grain::Events)?;
    let mut frame = query_frame(conn, SQL, &bindings, &empty_schema())?;
    label_buckets(&mut frame, &buckets)?;
    let mut columns: Vec<&str> = vec!["bucket", "source", "provider", "model"];
    columns.extend(METRICS.iter().take(4));
    columns.push("relative_difference");
    columns.extend(METRICS.iter().skip(4));
    let frame = frame.select(columns)?;
    let totals = totals(&frame, METRICS)?;

    let mut detail = Bindings::default();
    detail.set("from", timestamp_value(params.from));
    detail.set("to", timestamp_value(params.to));
    detail.set(
        "limit",
        Value::BigInt(records.unwrap_or(DEFAULT_RECORDS).clamp(0, 1000)),
    );
    bind_filters(&params, &mut detail, Grain::Events)?;
    let calls = query_frame(conn, RECORDS_SQL, &detail, &records_schema())?;
    let mut report = Report::new(
        "reconciliation",
        &params,
        super::output::limited(frame, params.limit),
        totals,
    );
    report
        .extra
        .insert("disagreements".to_owned(), Json::Array(rows_json(&calls)?));
    Ok(report)
}
