//! `routing`: was routing worth it? Per requested model (and the `group_by` dimensions), which
//! models served, how often after a fallback, how many attempts, what it cost — and what the
//! same traffic would have cost on each candidate model (`candidates=`), priced from the
//! catalog in force now. Shaped from the usage rows of `spend.sql`.
//!
//! Candidate costs reprice each row's token sums as one aggregate (long-context tiers are
//! evaluated on the average request; response-cache hits are priced as calls), so they are an
//! estimate of the alternative, while `cost_usd` is what was booked.

use duckdb::Connection;
use polars::prelude::*;
use rust_decimal::Decimal;

use super::output::{format_decimal, label_buckets, totals};
use super::params::{CommonParams, Dimension};
use super::spend::usage;
use super::{Report, ReportError};
use crate::model::{Provider, ServiceTier, TokenCounts, TokenUsage};
use crate::pricing::{Catalog, PriceQuery, quote};

/// Most candidate models one report prices.
const MAX_CANDIDATES: usize = 10;

/// One row of the `routing` report, as JSON (shaped by polars; this struct only describes it):
/// one served model of one requested model within its group. Dimension columns appear only when
/// grouped by (`model_requested` and `model_served` are always columns); with `candidates`, a
/// `cost_on:<candidate>` column per candidate and `cheapest_candidate` and
/// `savings_vs_cheapest_usd` are added. Ratios are rounded to six places.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RoutingRow {
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
    /// `tag:<key>`: a tag's value (null when a call has no such tag), one column per tag
    /// grouped by; `cost_on:<candidate>`: the row's tokens priced on that candidate now (null
    /// when the catalog has no price for it), one column per candidate.
    #[serde(flatten)]
    pub dynamic_columns: std::collections::BTreeMap<String, Option<String>>,
    /// The model the callers asked for.
    pub model_requested: String,
    /// The normalised model that answered (`model_key`).
    pub model_served: String,
    pub requests: i64,
    /// `requests` ÷ all requests for `model_requested` (across groups and buckets).
    pub share_of_requested: f64,
    /// Calls served after a fallback from another model.
    pub fallbacks: i64,
    /// `fallbacks` ÷ `requests`.
    pub fallback_rate: f64,
    /// Attempts ÷ `requests`.
    pub attempts_per_request: f64,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub cache_write_1h_tokens: i64,
    pub output_tokens: i64,
    pub reasoning_tokens: i64,
    /// Computed (booked) cost; null when no call of the row is priced.
    #[schema(required = true)]
    pub cost_usd: Option<String>,
    /// Calls without a price (not in `cost_usd`).
    pub unpriced_requests: i64,
    /// The candidate with the lowest `cost_on:` of the row; present with `candidates`, null
    /// when no candidate has a price.
    pub cheapest_candidate: Option<String>,
    /// `cost_usd` minus the cheapest candidate's cost; present with `candidates`, null when
    /// either is unknown.
    pub savings_vs_cheapest_usd: Option<String>,
}

/// The `totals` of the `routing` report, over every row before `limit`; `cost_usd` is null
/// only when every row's is.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RoutingTotals {
    pub requests: i64,
    pub fallbacks: i64,
    #[schema(required = true)]
    pub cost_usd: Option<String>,
    pub unpriced_requests: i64,
}

/// A candidate as written (`model` or `provider/model`).
struct Candidate {
    label: String,
    provider: Provider,
    model: String,
}

fn parse_candidates(text: &str) -> Result<Vec<Candidate>, ReportError> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
        let (provider, model) = match part.split_once('/') {
            Some((prefix, rest)) if !matches!(Provider::normalize(prefix), Provider::Other(_)) => {
                (Provider::normalize(prefix), rest.to_owned())
            }
            _ => (Provider::Unknown, part.to_owned()),
        };
        out.push(Candidate {
            label: part.to_owned(),
            provider,
            model,
        });
    }
    if out.len() > MAX_CANDIDATES {
        return Err(ReportError::invalid(
            "candidates",
            format!("at most {MAX_CANDIDATES} candidate models"),
        ));
    }
    Ok(out)
}

fn column_u64(frame: &DataFrame, name: &str, row: usize) -> Result<u64, ReportError> {
    Ok(match frame.column(name)?.get(row)? {
        AnyValue::Int64(value) => u64::try_from(value).unwrap_or(0),
        AnyValue::Int32(value) => u64::try_from(value).unwrap_or(0),
        _ => 0,
    })
}

/// Runs the routing report; `candidates` is the comma list of the `candidates` parameter.
///
/// # Errors
/// Invalid parameters, or a failing query.
pub fn run(
    conn: &Connection,
    params: &CommonParams,
    candidates: Option<&str>,
    catalog: &Catalog,
) -> Result<Report, ReportError> {
    let candidates = parse_candidates(candidates.unwrap_or(""))?;
    let mut with_models = params.clone();
    for dimension in [Dimension::ModelRequested, Dimension::Model] {
        if !with_models.group_by.contains(&dimension) {
            with_models.group_by.push(dimension);
        }
    }
    let usage = usage(conn, &with_models)?;
    let mut frame = usage.frame;
    label_buckets(&mut frame, &usage.buckets)?;
    for (slot, key) in usage.tag_keys.iter().enumerate() {
        frame.rename(&format!("tag{}", slot + 1), format!("tag:{key}").into())?;
    }
    let mut groups: Vec<String> = Vec::new();
    if params.bucket.is_some() {
        groups.push("bucket".to_owned());
    }
    groups.extend(
        params
            .group_by
            .iter()
            .filter(|dimension| !matches!(dimension, Dimension::ModelRequested | Dimension::Model))
            .map(Dimension::label),
    );
    let ratio = |numerator: Expr, denominator: Expr| {
        let denominator = denominator.cast(DataType::Float64);
        when(denominator.clone().eq(lit(0.0)))
            .then(lit(0.0))
            .otherwise(numerator.cast(DataType::Float64) / denominator)
            .round(6, RoundMode::HalfToEven)
    };
    let mut keep: Vec<Expr> = groups.iter().map(|name| col(name.as_str())).collect();
    keep.extend([
        col("model_requested"),
        col("model").alias("model_served"),
        col("requests"),
        ratio(
            col("requests"),
            col("requests").sum().over([col("model_requested")]),
        )
        .alias("share_of_requested"),
        col("fallbacks"),
        ratio(col("fallbacks"), col("requests")).alias("fallback_rate"),
        ratio(col("attempts"), col("requests")).alias("attempts_per_request"),
        col("input_tokens"),
        col("cached_input_tokens"),
        col("cache_write_tokens"),
        col("cache_write_1h_tokens"),
        col("output_tokens"),
        col("reasoning_tokens"),
        col("cost_usd"),
        col("unpriced_requests"),
    ]);
    let mut by: Vec<PlSmallStr> = groups.iter().map(|name| name.as_str().into()).collect();
    by.extend(["model_requested".into(), "requests".into()]);
    let mut descending = vec![false; groups.len() + 1];
    descending.push(true);
    let mut shaped = frame
        .lazy()
        .select(keep)
        .sort(
            by,
            SortMultipleOptions::new()
                .with_order_descending_multi(descending)
                .with_nulls_last(true),
        )
        .collect()?;

    // What each row's traffic would have cost on each candidate, priced now.
    let now = chrono::Utc::now();
    for candidate in &candidates {
        let mut costs: Vec<Option<String>> = Vec::with_capacity(shaped.height());
        for row in 0..shaped.height() {
            let counts = TokenCounts {
                input: column_u64(&shaped, "input_tokens", row)?,
                output: column_u64(&shaped, "output_tokens", row)?,
                cached_input: column_u64(&shaped, "cached_input_tokens", row)?,
                cache_write: column_u64(&shaped, "cache_write_tokens", row)?,
                cache_write_1h: column_u64(&shaped, "cache_write_1h_tokens", row)?,
                reasoning: column_u64(&shaped, "reasoning_tokens", row)?,
            };
            let Ok(tokens) = TokenUsage::new(counts) else {
                costs.push(None);
                continue;
            };
            let query = PriceQuery {
                provider: &candidate.provider,
                model: &candidate.model,
                ts: now,
                team: "",
                tokens,
                service_tier: ServiceTier::Standard,
                request_count: column_u64(&shaped, "requests", row)?.max(1),
                cache_hit: false,
                reported_cost_usd: None,
            };
            let priced = quote(catalog, &query);
            costs.push(
                priced
                    .cost
                    .price_id()
                    .and(priced.cost.usd())
                    .map(|usd| usd.to_fixed_string()),
            );
        }
        shaped.with_column(Column::new(format!("cost_on:{}", candidate.label).into(), costs))?;
    }
    if !candidates.is_empty() {
        // The cheapest candidate per row, and what it would have saved against the booked cost.
        let mut cheapest: Vec<Option<String>> = Vec::with_capacity(shaped.height());
        let mut savings: Vec<Option<String>> = Vec::with_capacity(shaped.height());
        for row in 0..shaped.height() {
            let booked = match shaped.column("cost_usd")?.get(row)? {
                AnyValue::Decimal(units, scale) => {
                    Decimal::try_from_i128_with_scale(units, scale as u32).ok()
                }
                _ => None,
            };
            let mut best: Option<(String, Decimal)> = None;
            for candidate in &candidates {
                let value = shaped.column(&format!("cost_on:{}", candidate.label))?.get(row)?;
                let cost = match value {
                    AnyValue::String(text) => text.parse::<Decimal>().ok(),
                    AnyValue::StringOwned(text) => text.parse::<Decimal>().ok(),
                    _ => None,
                };
                if let Some(cost) = cost
                    && best.as_ref().is_none_or(|(_, current)| cost < *current)
                {
                    best = Some((candidate.label.clone(), cost));
                }
            }
            savings.push(match (&best, booked) {
                (Some((_, cost)), Some(booked)) => {
                    let mut delta = booked - *cost;
                    delta.rescale(12);
                    Some(format_decimal(delta.mantissa(), 12))
                }
                _ => None,
            });
            cheapest.push(best.map(|(label, _)| label));
        }
        shaped.with_column(Column::new("cheapest_candidate".into(), cheapest))?;
        shaped.with_column(Column::new("savings_vs_cheapest_usd".into(), savings))?;
    }
    let totals = totals(
        &shaped,
        &["requests", "fallbacks", "cost_usd", "unpriced_requests"],
    )?;
    Ok(Report::new(
        "routing",
        params,
        super::output::limited(shaped, params.limit),
        totals,
    )
    .with_grain(usage.grain))
}
