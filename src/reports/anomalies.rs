//! `anomalies`: groups whose daily spend or error rate departs from their own recent baseline,
//! and what drove it.
//!
//! For each group (`group_by`, default `team`) and each day of `[from, to)` in `tz`, the baseline
//! is the mean and standard deviation of the group's previous `baseline_days` days (default 14,
//! zero-filled, at least 7 of them). A day is flagged when its spend departs from the mean by at
//! least `min_change` (relative, default 0.5) and by at least `threshold` standard deviations
//! (default 3; any departure when the baseline never varied); error rates likewise, on days with
//! at least 20 requests and a rise of at least 5 percentage points. The drivers of a spend
//! anomaly are the models and API keys whose spend rose most over their own baseline that day;
//! those of an error-rate anomaly, the ones whose failed calls rose most.
//! polars computes the rolling baselines over the zero-filled daily series.

use std::collections::HashMap;

use chrono::Duration;
use duckdb::Connection;
use polars::prelude::*;

use super::output::{format_decimal, label_buckets};
use super::params::{CommonParams, Dimension, TimeBucket};
use super::spend::usage;
use super::{Report, ReportError};

/// Tuning of the detector, from the report's own parameters.
#[derive(Debug, Clone, Copy)]
pub struct Detector {
    pub baseline_days: usize,
    pub threshold: f64,
    pub min_change: f64,
}

impl Default for Detector {
    fn default() -> Self {
        Detector {
            baseline_days: 14,
            threshold: 3.0,
            min_change: 0.5,
        }
    }
}

/// One row of the `anomalies` report, as JSON (built from polars baselines; this struct only
/// describes it): one day on which one group's spend or error rate left its baseline. The
/// group's dimension columns (those of `group_by`, default `team`) appear as text, a
/// `tag:<key>` column for each tag grouped by.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AnomalyRow {
    /// Local midnight starting the day (RFC 3339 with the zone's offset).
    pub day: String,
    /// Present when grouped by `team` (the default grouping).
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
    /// HTTP status as text (`"429"`, unlike the other reports); present when grouped by
    /// `status`.
    #[schema(required = false, example = "429")]
    pub status: String,
    /// Present when grouped by `error_type`; null for calls without an error.
    pub error_type: Option<String>,
    /// `tag:<key>`: the tag's value (null when a call has no such tag), one column per tag
    /// grouped by.
    #[serde(flatten)]
    pub tags: std::collections::BTreeMap<String, Option<String>>,
    /// `spend` or `error_rate`.
    pub metric: String,
    /// The day's value: a decimal with twelve places (USD) for `spend`, six places (a ratio)
    /// for `error_rate`.
    pub value: String,
    /// The mean of the previous `baseline_days` days, in the same form as `value`.
    pub baseline: String,
    /// Their standard deviation.
    pub baseline_std: f64,
    /// (`value` − `baseline`) ÷ `baseline_std`, two places; null when the baseline never
    /// varied.
    #[schema(required = true)]
    pub z_score: Option<f64>,
    /// (`value` − `baseline`) ÷ `baseline`, three places; null when the baseline is 0.
    #[schema(required = true)]
    pub change: Option<f64>,
    /// For `spend`: up to three models and three API keys whose spend rose most over their own
    /// baseline that day (`model=gpt-4o (+12.500000000000); api_key=… (+…)`); null for
    /// `error_rate` and when nothing rose.
    #[schema(required = true)]
    pub drivers: Option<String>,
}

/// The `totals` of the `anomalies` report.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AnomalyTotals {
    /// Anomalies found (before `limit`).
    pub anomalies: i64,
}

const MIN_ERROR_REQUESTS: f64 = 20.0;
const MIN_ERROR_RATE_RISE: f64 = 0.05;

/// Daily series of `params`' groups (plus `extra` dimensions) over `[from − baseline, to)`,
/// zero-filled, sorted by group and day, with a `day` label and f64 spend and error columns.
fn daily_series(
    conn: &Connection,
    params: &CommonParams,
    extra: Option<Dimension>,
    baseline_days: usize,
) -> Result<(DataFrame, Vec<String>), ReportError> {
    let mut wide = params.clone();
    wide.bucket = Some(TimeBucket::Day);
    wide.from = params.from - Duration::days(i64::try_from(baseline_days).unwrap_or(14));
    if let Some(dimension) = extra
        && !wide.group_by.contains(&dimension)
    {
        wide.group_by.push(dimension);
    }
    let usage = usage(conn, &wide)?;
    let mut frame = usage.frame;
    label_buckets(&mut frame, &usage.buckets)?;
    for (slot, key) in usage.tag_keys.iter().enumerate() {
        frame.rename(&format!("tag{}", slot + 1), format!("tag:{key}").into())?;
    }
    let groups: Vec<String> = wide.group_by.iter().map(Dimension::label).collect();
    let group_exprs: Vec<Expr> = groups.iter().map(|name| col(name.as_str())).collect();
    let mut keep = group_exprs.clone();
    keep.extend([
        col("bucket").alias("day"),
        col("cost_usd")
            .cast(DataType::Float64)
            .fill_null(lit(0.0))
            .alias("spend"),
        // The exact day's spend for the output; the f64 copy above only feeds the statistics.
        col("cost_usd").alias("spend_usd"),
        col("requests").cast(DataType::Float64).alias("requests"),
        col("errors").cast(DataType::Float64).alias("errors"),
    ]);
    let observed = frame.lazy().select(keep);
    // Every group × every day, so quiet days count as zero in the baseline.
    let days = DataFrame::new(vec![Column::new(
        "day".into(),
        usage
            .buckets
            .iter()
            .map(|bucket| bucket.label.clone())
            .collect::<Vec<_>>(),
    )])?;
    let grid = if group_exprs.is_empty() {
        days.lazy()
    } else {
        // A join on a constant key is the cross product (polars' cross_join feature is not built).
        observed
            .clone()
            .select(group_exprs.clone())
            .unique(None, UniqueKeepStrategy::First)
            .with_column(lit(1i32).alias("_all"))
            .join(
                days.lazy().with_column(lit(1i32).alias("_all")),
                [col("_all")],
                [col("_all")],
                JoinArgs::new(JoinType::Inner),
            )
            .select([all().exclude(["_all"])])
    };
    let mut join_on: Vec<Expr> = group_exprs.clone();
    join_on.push(col("day"));
    let filled = grid
        .join(observed, join_on.clone(), join_on, JoinArgs::new(JoinType::Left))
        .with_columns([
            col("spend").fill_null(lit(0.0)),
            col("requests").fill_null(lit(0.0)),
            col("errors").fill_null(lit(0.0)),
        ]);
    let mut by: Vec<PlSmallStr> = groups.iter().map(|name| name.as_str().into()).collect();
    by.push("day".into());
    let sorted = filled.sort(by, SortMultipleOptions::default()).collect()?;
    Ok((sorted, groups))
}

/// A value's rolling baseline over the previous `window` rows of its group.
fn baseline(
    column: &str,
    groups: &[String],
    window: usize,
    statistic: fn(Expr, RollingOptionsFixedWindow) -> Expr,
) -> Expr {
    let options = RollingOptionsFixedWindow {
        window_size: window,
        min_periods: window.min(7),
        ..RollingOptionsFixedWindow::default()
    };
    let expr = statistic(col(column).shift(lit(1)), options);
    if groups.is_empty() {
        expr
    } else {
        expr.over(groups.iter().map(|name| col(name.as_str())).collect::<Vec<_>>())
    }
}

/// Runs the anomalies report.
///
/// # Errors
/// Invalid parameters, or a failing query.
pub fn run(conn: &Connection, params: &CommonParams, detector: Detector) -> Result<Report, ReportError> {
    let mut params = params.clone();
    if params.group_by.is_empty() {
        params.group_by.push(Dimension::Team);
    }
    let window = detector.baseline_days.max(2);
    let (series, groups) = daily_series(conn, &params, None, window)?;
    let first_day = params
        .from
        .with_timezone(&params.tz)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let scored = series
        .lazy()
        .with_columns([(col("errors")
            / when(col("requests").eq(lit(0.0)))
                .then(lit(1.0))
                .otherwise(col("requests")))
        .alias("error_rate")])
        .with_columns([
            baseline("spend", &groups, window, Expr::rolling_mean).alias("spend_baseline"),
            baseline("spend", &groups, window, Expr::rolling_std).alias("spend_std"),
            baseline("error_rate", &groups, window, Expr::rolling_mean).alias("error_rate_baseline"),
            baseline("error_rate", &groups, window, Expr::rolling_std).alias("error_rate_std"),
        ])
        .filter(col("day").gt_eq(lit(first_day)))
        .collect()?;

    // Flag departures; polars gave the baselines, the decision reads row by row.
    let column_f64 = |name: &str| -> Result<Vec<Option<f64>>, ReportError> {
        Ok(scored.column(name)?.f64()?.into_iter().collect())
    };
    let (spend, spend_mean, spend_std) = (
        column_f64("spend")?,
        column_f64("spend_baseline")?,
        column_f64("spend_std")?,
    );
    let (rate, rate_mean, rate_std) = (
        column_f64("error_rate")?,
        column_f64("error_rate_baseline")?,
        column_f64("error_rate_std")?,
    );
    let requests = column_f64("requests")?;
    struct Flag {
        row: usize,
        metric: &'static str,
        value: f64,
        mean: f64,
        std: f64,
    }
    let mut flags: Vec<Flag> = Vec::new();
    for row in 0..scored.height() {
        if let (Some(value), Some(mean), Some(std)) = (spend[row], spend_mean[row], spend_std[row]) {
            let departs = (value - mean).abs() >= detector.min_change * mean.max(1e-9);
            let unusual = if std > 0.0 {
                (value - mean).abs() >= detector.threshold * std
            } else {
                value != mean
            };
            if departs && unusual && value.max(mean) > 0.0 {
                flags.push(Flag {
                    row,
                    metric: "spend",
                    value,
                    mean,
                    std,
                });
            }
        }
        if let (Some(value), Some(mean), Some(std), Some(calls)) =
            (rate[row], rate_mean[row], rate_std[row], requests[row])
        {
            let rises = value - mean >= MIN_ERROR_RATE_RISE;
            let unusual = if std > 0.0 {
                value - mean >= detector.threshold * std
            } else {
                rises
            };
            if calls >= MIN_ERROR_REQUESTS && rises && unusual {
                flags.push(Flag {
                    row,
                    metric: "error_rate",
                    value,
                    mean,
                    std,
                });
            }
        }
    }

    // The drivers of each kind of anomaly: the models and keys whose spend (or failed calls)
    // rose most over their own baseline that day.
    let mut drivers: HashMap<&'static str, Drivers> = HashMap::new();
    for (metric, column) in [("spend", "spend"), ("error_rate", "errors")] {
        if !flags.iter().any(|flag| flag.metric == metric) {
            continue;
        }
        let mut found = driver_index(conn, &params, Dimension::Model, window, &groups, column)?;
        for (key, mut more) in driver_index(conn, &params, Dimension::ApiKey, window, &groups, column)? {
            found.entry(key).or_default().append(&mut more);
        }
        drivers.insert(metric, found);
    }

    let text_of = |name: &str, row: usize| -> Result<Option<String>, ReportError> {
        Ok(match scored.column(name)?.get(row)? {
            AnyValue::Null => None,
            AnyValue::String(text) => Some(text.to_owned()),
            AnyValue::StringOwned(text) => Some(text.to_string()),
            other => Some(other.to_string()),
        })
    };
    let mut columns: Vec<(String, Vec<Option<String>>)> =
        groups.iter().map(|name| (name.clone(), Vec::new())).collect();
    let (mut day, mut metric, mut driver_text) = (Vec::new(), Vec::new(), Vec::new());
    let (mut value, mut mean, mut std, mut z, mut change) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for flag in &flags {
        let mut key = Vec::with_capacity(groups.len() + 1);
        for (name, values) in &mut columns {
            let text = text_of(name, flag.row)?;
            key.push(text.clone().unwrap_or_default());
            values.push(text);
        }
        let flag_day = text_of("day", flag.row)?.unwrap_or_default();
        key.push(flag_day.clone());
        day.push(flag_day);
        metric.push(flag.metric.to_owned());
        let (shown_value, shown_mean) = if flag.metric == "spend" {
            (exact_spend(&scored, flag.row)?, money(flag.mean))
        } else {
            (format!("{:.6}", flag.value), format!("{:.6}", flag.mean))
        };
        value.push(shown_value);
        mean.push(shown_mean);
        std.push(flag.std);
        z.push(if flag.std > 0.0 {
            Some(((flag.value - flag.mean) / flag.std * 100.0).round() / 100.0)
        } else {
            None
        });
        change.push(if flag.mean > 0.0 {
            Some(((flag.value - flag.mean) / flag.mean * 1000.0).round() / 1000.0)
        } else {
            None
        });
        driver_text.push(
            drivers
                .get(flag.metric)
                .and_then(|found| found.get(&key))
                .map(|list| describe(list, flag.metric == "spend")),
        );
    }
    let mut frame_columns: Vec<Column> = vec![Column::new("day".into(), day)];
    for (name, values) in columns {
        frame_columns.push(Column::new(name.into(), values));
    }
    frame_columns.extend([
        Column::new("metric".into(), metric),
        Column::new("value".into(), value),
        Column::new("baseline".into(), mean),
        Column::new("baseline_std".into(), std),
        Column::new("z_score".into(), z),
        Column::new("change".into(), change),
        Column::new("drivers".into(), driver_text),
    ]);
    let frame = DataFrame::new(frame_columns)?;
    let mut totals = serde_json::Map::new();
    totals.insert("anomalies".to_owned(), serde_json::Value::from(flags.len()));
    Ok(Report::new(
        "anomalies",
        &params,
        super::output::limited(frame, params.limit),
        totals,
    ))
}

/// The day's spend as stored (a decimal; no spend on a day of the grid is zero).
fn exact_spend(scored: &DataFrame, row: usize) -> Result<String, ReportError> {
    Ok(match scored.column("spend_usd")?.get(row)? {
        AnyValue::Decimal(units, scale) => format_decimal(units, scale),
        _ => format_decimal(0, 12),
    })
}

/// A statistic of money (a baseline mean) as a twelve-place decimal string.
fn money(value: f64) -> String {
    let units = (value * 1e12).round() as i128;
    format_decimal(units, 12)
}

/// (group values…, day) → the dimension values whose spend rose most over their own baseline.
type Drivers = HashMap<Vec<String>, Vec<(String, f64)>>;

fn driver_index(
    conn: &Connection,
    params: &CommonParams,
    dimension: Dimension,
    window: usize,
    groups: &[String],
    metric: &str,
) -> Result<Drivers, ReportError> {
    let (series, mut keys) = daily_series(conn, params, Some(dimension.clone()), window)?;
    let label = dimension.label();
    keys.retain(|name| name != &label);
    let mut with_dimension = keys.clone();
    with_dimension.push(label.clone());
    let scored = series
        .lazy()
        .with_column(baseline(metric, &with_dimension, window, Expr::rolling_mean).alias("baseline"))
        .with_column((col(metric) - col("baseline").fill_null(lit(0.0))).alias("rise"))
        .filter(col("rise").gt(lit(0.0)))
        .collect()?;
    let mut index: Drivers = HashMap::new();
    let rises: Vec<Option<f64>> = scored.column("rise")?.f64()?.into_iter().collect();
    for (row, rise) in rises.into_iter().enumerate() {
        let Some(rise) = rise else { continue };
        let mut key = Vec::with_capacity(groups.len() + 1);
        for name in groups {
            key.push(match scored.column(name)?.get(row)? {
                AnyValue::String(text) => text.to_owned(),
                AnyValue::StringOwned(text) => text.to_string(),
                AnyValue::Null => String::new(),
                other => other.to_string(),
            });
        }
        key.push(match scored.column("day")?.get(row)? {
            AnyValue::String(text) => text.to_owned(),
            AnyValue::StringOwned(text) => text.to_string(),
            other => other.to_string(),
        });
        let name = match scored.column(&label)?.get(row)? {
            AnyValue::String(text) => text.to_owned(),
            AnyValue::StringOwned(text) => text.to_string(),
            AnyValue::Null => "(none)".to_owned(),
            other => other.to_string(),
        };
        index
            .entry(key)
            .or_default()
            .push((format!("{label}={name}"), rise));
    }
    for list in index.values_mut() {
        list.sort_by(|a, b| b.1.total_cmp(&a.1));
        list.truncate(3);
    }
    Ok(index)
}

/// `model=gpt-4o (+12.500000000000)` for spend; `model=gpt-4o (+37.5 errors)` for errors.
fn describe(drivers: &[(String, f64)], spend: bool) -> String {
    drivers
        .iter()
        .map(|(name, rise)| {
            if spend {
                format!("{name} (+{})", money(*rise))
            } else {
                format!("{name} (+{:.1} errors)", rise)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
