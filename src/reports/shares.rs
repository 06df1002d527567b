//! Reports shaped from the grouped usage rows of `spend.sql` (or `spend_rollup.sql`): `model-mix`
//! (each model's share of requests, tokens and spend within its group), `errors` (error rate by
//! error type and status within each group) and `cache-savings` (what prompt caching and the
//! gateway response cache saved). polars does the within-group arithmetic (window sums over the
//! group columns).

use duckdb::Connection;
use polars::prelude::*;

use super::output::{label_buckets, totals};
use super::params::{CommonParams, Dimension};
use super::spend::usage;
use super::{Report, ReportError};

/// One row of the `model-mix` report, as JSON (shaped by polars; this struct only describes
/// it): one model within its group. Dimension columns appear only when grouped by (grouping by
/// `model` adds nothing: the model is always a column); a `tag:<key>` column appears for each
/// tag grouped by. Shares are ratios rounded to six places.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ModelMixRow {
    /// Local start of the time bucket (RFC 3339 with the zone's offset); present when `bucket`
    /// is set.
    #[schema(required = false)]
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
    /// The normalised model (`model_key`).
    pub model: String,
    pub requests: i64,
    /// The model's share of the group's requests (0 when the group has none).
    pub share_of_requests: f64,
    /// Input plus output tokens.
    pub tokens: i64,
    pub share_of_tokens: f64,
    /// Computed cost; null when none of the model's calls is priced.
    #[schema(required = true)]
    pub cost_usd: Option<String>,
    /// The model's share of the group's cost; null when `cost_usd` is null, 0 when the group
    /// cost nothing.
    #[schema(required = true)]
    pub share_of_cost: Option<f64>,
    /// Calls without a price (not in `cost_usd`).
    pub unpriced_requests: i64,
}

/// The `totals` of the `model-mix` report, over every row before `limit`; `cost_usd` is null
/// only when every row's is.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ModelMixTotals {
    pub requests: i64,
    pub tokens: i64,
    #[schema(required = true)]
    pub cost_usd: Option<String>,
    pub unpriced_requests: i64,
}

/// One row of the `errors` report, as JSON (shaped by polars; this struct only describes it):
/// one status and error type within its group. Dimension columns appear only when grouped by
/// (`status` and `error_type` are always columns); a `tag:<key>` column appears for each tag
/// grouped by. Rates are ratios rounded to six places.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorsRow {
    /// Local start of the time bucket (RFC 3339 with the zone's offset); present when `bucket`
    /// is set.
    #[schema(required = false)]
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
    /// `tag:<key>`: the tag's value (null when a call has no such tag), one column per tag
    /// grouped by.
    #[serde(flatten)]
    pub tags: std::collections::BTreeMap<String, Option<String>>,
    /// HTTP status.
    pub status: i32,
    /// The error type; null for calls without one.
    #[schema(required = true)]
    pub error_type: Option<String>,
    /// Calls with this status and error type.
    pub requests: i64,
    /// Those of them that count as errors (`status_code >= 400` or an `error_type`).
    pub errors: i64,
    /// All calls of the group.
    pub group_requests: i64,
    /// `requests` ÷ `group_requests`.
    pub share_of_requests: f64,
    /// The group's errors ÷ `group_requests`.
    pub group_error_rate: f64,
}

/// The `totals` of the `errors` report, over every row before `limit`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorsTotals {
    pub requests: i64,
    pub errors: i64,
}

/// One row of the `cache-savings` report, as JSON (shaped by polars; this struct only
/// describes it). Dimension columns appear only when grouped by; a `tag:<key>` column appears
/// for each tag grouped by.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CacheSavingsRow {
    /// Local start of the time bucket (RFC 3339 with the zone's offset); present when `bucket`
    /// is set.
    #[schema(required = false)]
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
    pub requests: i64,
    pub input_tokens: i64,
    /// Input tokens read from the prompt cache.
    pub cached_input_tokens: i64,
    /// Input tokens written to the prompt cache (all lifetimes).
    pub cache_write_tokens: i64,
    /// Of those, written with a one-hour lifetime.
    pub cache_write_1h_tokens: i64,
    /// `cached_input_tokens` ÷ `input_tokens`, six places (0 without input).
    pub cached_share_of_input: f64,
    /// What prompt caching saved at contracted rates, net of the write premium; null when no
    /// call of the row is priced from the catalog.
    #[schema(required = true)]
    pub cache_savings_usd: Option<String>,
    /// Calls answered from the gateway's response cache.
    pub cache_hits: i64,
    /// What those response-cache hits saved; null when no call of the row is priced from the
    /// catalog.
    #[schema(required = true)]
    pub cache_hit_savings_usd: Option<String>,
    /// Computed cost paid; null when no call of the row is priced.
    #[schema(required = true)]
    pub cost_usd: Option<String>,
}

/// The `totals` of the `cache-savings` report, over every row before `limit`; a money total
/// is null only when every row's is.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CacheSavingsTotals {
    pub requests: i64,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    #[schema(required = true)]
    pub cache_savings_usd: Option<String>,
    pub cache_hits: i64,
    #[schema(required = true)]
    pub cache_hit_savings_usd: Option<String>,
    #[schema(required = true)]
    pub cost_usd: Option<String>,
}

/// The group columns of the shaped rows: the bucket (when bucketed) and the dimensions asked for.
fn group_columns(params: &CommonParams, exclude: &[Dimension]) -> Vec<String> {
    let mut columns = Vec::new();
    if params.bucket.is_some() {
        columns.push("bucket".to_owned());
    }
    columns.extend(
        params
            .group_by
            .iter()
            .filter(|dimension| !exclude.contains(dimension))
            .map(Dimension::label),
    );
    columns
}

/// Runs the usage query with `extra` dimensions added to `group_by`, and labels buckets and tags.
fn grouped_usage(
    conn: &Connection,
    params: &CommonParams,
    extra: &[Dimension],
) -> Result<(DataFrame, super::filters::Grain), ReportError> {
    let mut with_extra = params.clone();
    for dimension in extra {
        if !with_extra.group_by.contains(dimension) {
            with_extra.group_by.push(dimension.clone());
        }
    }
    let usage = usage(conn, &with_extra)?;
    let mut frame = usage.frame;
    label_buckets(&mut frame, &usage.buckets)?;
    for (slot, key) in usage.tag_keys.iter().enumerate() {
        frame.rename(&format!("tag{}", slot + 1), format!("tag:{key}").into())?;
    }
    Ok((frame, usage.grain))
}

/// A share of a within-group sum, as a ratio rounded to six places (0 when the group sums to 0).
fn share(column: &str, groups: &[String]) -> Expr {
    let value = col(column).cast(DataType::Float64);
    let total = if groups.is_empty() {
        value.clone().sum()
    } else {
        value
            .clone()
            .sum()
            .over(groups.iter().map(|name| col(name.as_str())).collect::<Vec<_>>())
    };
    when(total.clone().eq(lit(0.0)))
        .then(lit(0.0))
        .otherwise(value / total)
        .round(6, RoundMode::HalfToEven)
}

fn sort_keys(groups: &[String], then: &[(&str, bool)]) -> (Vec<PlSmallStr>, Vec<bool>) {
    let mut by: Vec<PlSmallStr> = groups.iter().map(|name| name.as_str().into()).collect();
    let mut descending = vec![false; by.len()];
    for (name, desc) in then {
        by.push((*name).into());
        descending.push(*desc);
    }
    (by, descending)
}

/// `model-mix`: per group (and bucket), each model's requests, tokens and spend, and its share
/// of the group's.
///
/// # Errors
/// Invalid parameters, or a failing query.
pub fn model_mix(conn: &Connection, params: &CommonParams) -> Result<Report, ReportError> {
    let (frame, grain) = grouped_usage(conn, params, &[Dimension::Model])?;
    let groups = group_columns(params, &[Dimension::Model]);
    let (by, descending) = sort_keys(&groups, &[("cost_usd", true), ("requests", true)]);
    let mut keep: Vec<Expr> = groups.iter().map(|name| col(name.as_str())).collect();
    keep.extend([
        col("model"),
        col("requests"),
        share("requests", &groups).alias("share_of_requests"),
        (col("input_tokens") + col("output_tokens")).alias("tokens"),
        share("tokens", &groups).alias("share_of_tokens"),
        col("cost_usd"),
        share("cost_usd", &groups).alias("share_of_cost"),
        col("unpriced_requests"),
    ]);
    let shaped = frame
        .lazy()
        .with_column((col("input_tokens") + col("output_tokens")).alias("tokens"))
        .select(keep)
        .sort(
            by,
            SortMultipleOptions::new()
                .with_order_descending_multi(descending)
                .with_nulls_last(true),
        )
        .collect()?;
    let totals = totals(&shaped, &["requests", "tokens", "cost_usd", "unpriced_requests"])?;
    Ok(Report::new(
        "model-mix",
        params,
        super::output::limited(shaped, params.limit),
        totals,
    )
    .with_grain(grain))
}

/// `errors`: per group (and bucket), requests by status and error type, and each one's share of
/// the group's requests (the error rate of that kind of failure).
///
/// # Errors
/// Invalid parameters, or a failing query.
pub fn errors(conn: &Connection, params: &CommonParams) -> Result<Report, ReportError> {
    let (frame, grain) = grouped_usage(conn, params, &[Dimension::Status, Dimension::ErrorType])?;
    let groups = group_columns(params, &[Dimension::Status, Dimension::ErrorType]);
    let group_exprs: Vec<Expr> = groups.iter().map(|name| col(name.as_str())).collect();
    let group_total = if groups.is_empty() {
        col("requests").sum()
    } else {
        col("requests").sum().over(group_exprs.clone())
    };
    let group_errors = if groups.is_empty() {
        col("errors").sum()
    } else {
        col("errors").sum().over(group_exprs.clone())
    };
    let (by, descending) = sort_keys(&groups, &[("errors", true), ("status", false)]);
    let mut keep = group_exprs;
    keep.extend([
        col("status"),
        col("error_type"),
        col("requests"),
        col("errors"),
        group_total.clone().alias("group_requests"),
        ratio(col("requests"), group_total.clone()).alias("share_of_requests"),
        ratio(group_errors, group_total).alias("group_error_rate"),
    ]);
    let shaped = frame
        .lazy()
        .select(keep)
        .sort(
            by,
            SortMultipleOptions::new()
                .with_order_descending_multi(descending)
                .with_nulls_last(true),
        )
        .collect()?;
    let totals = totals(&shaped, &["requests", "errors"])?;
    Ok(Report::new(
        "errors",
        params,
        super::output::limited(shaped, params.limit),
        totals,
    )
    .with_grain(grain))
}

fn ratio(numerator: Expr, denominator: Expr) -> Expr {
    let denominator = denominator.cast(DataType::Float64);
    when(denominator.clone().eq(lit(0.0)))
        .then(lit(0.0))
        .otherwise(numerator.cast(DataType::Float64) / denominator)
        .round(6, RoundMode::HalfToEven)
}

/// `cache-savings`: per group (and bucket), the prompt-cache reads and writes, what they saved
/// at contracted rates (net of the write premium), the gateway response-cache hits and what they
/// saved, next to the cost paid.
///
/// # Errors
/// Invalid parameters, or a failing query.
pub fn cache_savings(conn: &Connection, params: &CommonParams) -> Result<Report, ReportError> {
    let (frame, grain) = grouped_usage(conn, params, &[])?;
    let groups = group_columns(params, &[]);
    let mut keep: Vec<Expr> = groups.iter().map(|name| col(name.as_str())).collect();
    keep.extend([
        col("requests"),
        col("input_tokens"),
        col("cached_input_tokens"),
        col("cache_write_tokens"),
        col("cache_write_1h_tokens"),
        ratio(col("cached_input_tokens"), col("input_tokens")).alias("cached_share_of_input"),
        col("cache_savings_usd"),
        col("cache_hits"),
        col("cache_hit_savings_usd"),
        col("cost_usd"),
    ]);
    let (by, descending) = sort_keys(&groups, &[("cache_savings_usd", true)]);
    let shaped = frame
        .lazy()
        .select(keep)
        .sort(
            by,
            SortMultipleOptions::new()
                .with_order_descending_multi(descending)
                .with_nulls_last(true),
        )
        .collect()?;
    let totals = totals(
        &shaped,
        &[
            "requests",
            "input_tokens",
            "cached_input_tokens",
            "cache_write_tokens",
            "cache_savings_usd",
            "cache_hits",
            "cache_hit_savings_usd",
            "cost_usd",
        ],
    )?;
    Ok(Report::new(
        "cache-savings",
        params,
        super::output::limited(shaped, params.limit),
        totals,
    )
    .with_grain(grain))
}
