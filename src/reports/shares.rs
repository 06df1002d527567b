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
