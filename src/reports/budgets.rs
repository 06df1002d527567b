//! Budgets: an amount per month or per day for a team, project, API key, user or tag, in the
//! budget's own time zone. The `budgets` report gives, for each budget, the spend of its current
//! window, the burn rate, a month-end (or day-end) forecast from the daily series, and a status:
//! `exceeded` (spent ≥ amount), `warning` (spent ≥ warn percent, or forecast ≥ amount) or `ok`.
//!
//! The forecast adds to the spend so far the average of the last seven complete days (fewer
//! early in the window; the whole-window burn rate before one complete day) times the days left.
//! The forecast is exact decimal arithmetic (money never passes through a float); the spend
//! comes from the usage rows of `spend.sql` (or its rollup), filtered to the budget's scope.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use duckdb::Connection;
use polars::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::buckets::local_midnight;
use super::output::format_decimal;
use super::params::{CommonParams, Dimension, Filter, GrainChoice, Order, OutputFormat, TimeBucket};
use super::spend::usage;
use super::{Report, ReportError};
use crate::pricing::spec::opt_decimal;

/// A budget's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BudgetPeriod {
    Month,
    Day,
}

/// What a budget covers: every field given must match (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetScope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A tag key and value: `{"env": "prod"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<std::collections::BTreeMap<String, String>>,
}

/// A budget as people write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    pub name: String,
    /// The amount per period, USD, exact decimal.
    #[serde(with = "opt_decimal")]
    #[schema(value_type = String, example = "500")]
    pub amount_usd: Option<Decimal>,
    pub period: BudgetPeriod,
    /// IANA time zone of the budget's months or days (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    pub scope: BudgetScope,
    /// Warn from this percentage of the amount (default 80).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>, example = "80")]
    pub warn_percent: Option<Decimal>,
}

/// A validated budget.
#[derive(Debug, Clone)]
pub struct Budget {
    pub budget_id: String,
    pub amount: Decimal,
    pub tz: Tz,
    pub warn_fraction: Decimal,
    pub spec: BudgetSpec,
}

impl Budget {
    /// Whether a caller limited to `team_scope` may see this budget: everyone without a scope;
    /// a team-scoped caller only the budgets of its team.
    #[must_use]
    pub fn visible_to(&self, team_scope: Option<&str>) -> bool {
        team_scope.is_none_or(|team| self.spec.scope.team.as_deref() == Some(team))
    }

    /// Validates a spec.
    ///
    /// # Errors
    /// [`ReportError::InvalidParameter`] naming the field.
    pub fn from_spec(budget_id: &str, spec: BudgetSpec) -> Result<Budget, ReportError> {
        if budget_id.is_empty()
            || budget_id.len() > 128
            || !budget_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(ReportError::invalid(
                "budget_id",
                "use 1 to 128 letters, digits, `-`, `_` or `.`",
            ));
        }
        let amount = spec
            .amount_usd
            .filter(|amount| amount.is_sign_positive() && !amount.is_zero())
            .ok_or_else(|| ReportError::invalid("amount_usd", "must be a positive amount"))?;
        let tz: Tz = spec
            .tz
            .as_deref()
            .unwrap_or("UTC")
            .parse()
            .map_err(|_| ReportError::invalid("tz", "unknown IANA time zone"))?;
        let warn = spec.warn_percent.unwrap_or(Decimal::from(80));
        if warn.is_sign_negative() || warn > Decimal::ONE_HUNDRED {
            return Err(ReportError::invalid("warn_percent", "must be between 0 and 100"));
        }
        let scope = &spec.scope;
        if scope == &BudgetScope::default() {
            return Err(ReportError::invalid(
                "scope",
                "name a team, project, api_key, user or tag",
            ));
        }
        if scope.tag.as_ref().is_some_and(|tag| tag.len() != 1) {
            return Err(ReportError::invalid("scope.tag", "exactly one tag key and value"));
        }
        Ok(Budget {
            budget_id: budget_id.to_owned(),
            amount,
            tz,
            warn_fraction: warn / Decimal::ONE_HUNDRED,
            spec,
        })
    }

    fn filters(&self) -> Vec<Filter> {
        let scope = &self.spec.scope;
        let mut filters = Vec::new();
        let mut push = |dimension: Dimension, value: &Option<String>| {
            if let Some(value) = value {
                filters.push(Filter {
                    dimension,
                    values: vec![value.clone()],
                });
            }
        };
        push(Dimension::Team, &scope.team);
        push(Dimension::Project, &scope.project);
        push(Dimension::ApiKey, &scope.api_key);
        push(Dimension::User, &scope.user);
        if let Some((key, value)) = scope.tag.as_ref().and_then(|tag| tag.iter().next()) {
            filters.push(Filter {
                dimension: Dimension::Tag(key.clone()),
                values: vec![value.clone()],
            });
        }
        filters
    }

    /// The budget window holding `at`, in the budget's time zone.
    fn window(&self, at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let local = at.with_timezone(&self.tz).date_naive();
        match self.spec.period {
            BudgetPeriod::Day => (
                local_midnight(self.tz, local),
                local_midnight(self.tz, local + Duration::days(1)),
            ),
            BudgetPeriod::Month => {
                let first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).unwrap_or(local);
                let next = if local.month() == 12 {
                    NaiveDate::from_ymd_opt(local.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(local.year(), local.month() + 1, 1)
                }
                .unwrap_or(local + Duration::days(31));
                (local_midnight(self.tz, first), local_midnight(self.tz, next))
            }
        }
    }
}

fn money(value: Decimal) -> String {
    let mut scaled = value.round_dp(12);
    scaled.rescale(12);
    format_decimal(scaled.mantissa(), 12)
}

/// The status of one budget at `at`.
struct Status {
    spend: Decimal,
    unpriced_requests: i64,
    burn_rate: Decimal,
    forecast: Decimal,
    status: &'static str,
    window: (DateTime<Utc>, DateTime<Utc>),
}

fn evaluate(conn: &Connection, budget: &Budget, at: DateTime<Utc>) -> Result<Status, ReportError> {
    let (start, end) = budget.window(at);
    let until = at.min(end);
    let (spend, unpriced, daily) = if until <= start {
        (Decimal::ZERO, 0, Vec::new())
    } else {
        let params = CommonParams {
            from: start,
            to: until,
            group_by: Vec::new(),
            bucket: Some(TimeBucket::Day),
            tz: budget.tz,
            filters: budget.filters(),
            limit: None,
            order: Order::Group,
            format: OutputFormat::Json,
            grain: GrainChoice::Auto,
        };
        let usage = usage(conn, &params)?;
        let frame = usage.frame;
        let mut total = Decimal::ZERO;
        let mut unpriced = 0i64;
        let mut daily: Vec<(i64, Decimal)> = Vec::new();
        let starts = frame.column("bucket_start")?.as_materialized_series().clone();
        let costs = frame.column("cost_usd")?.as_materialized_series().clone();
        let unpriced_column = frame
            .column("unpriced_requests")?
            .as_materialized_series()
            .clone();
        for row in 0..frame.height() {
            let cost = match costs.get(row)? {
                AnyValue::Decimal(units, scale) => {
                    Decimal::try_from_i128_with_scale(units, scale as u32).unwrap_or_default()
                }
                _ => Decimal::ZERO,
            };
            total += cost;
            if let AnyValue::Int64(count) = unpriced_column.get(row)? {
                unpriced += count;
            }
            if let AnyValue::Datetime(micros, _, _) = starts.get(row)? {
                daily.push((micros, cost));
            }
        }
        (total, unpriced, daily)
    };

    // Complete days of the window so far, zero-filled; the forecast is money, so it is
    // computed in exact decimals (rounded to 12 places), never through a float.
    let mut days: Vec<Decimal> = Vec::new();
    let mut day_start = start;
    while day_start < until {
        let next = local_midnight(
            budget.tz,
            day_start.with_timezone(&budget.tz).date_naive() + Duration::days(1),
        );
        if next <= until {
            let micros = day_start.timestamp_micros();
            days.push(
                daily
                    .iter()
                    .filter(|(start, _)| *start == micros)
                    .map(|(_, cost)| *cost)
                    .sum(),
            );
        }
        day_start = next;
    }
    let seconds_per_day = Decimal::from(86_400);
    let elapsed_days = (Decimal::from((until - start).num_seconds()) / seconds_per_day)
        .max(Decimal::ONE / Decimal::from(24));
    let remaining_days = (Decimal::from((end - until).num_seconds()) / seconds_per_day).max(Decimal::ZERO);
    let burn_rate = spend / elapsed_days;
    // The mean of the last seven complete days (fewer early in the window).
    let recent = &days[days.len().saturating_sub(7)..];
    let recent_rate = if recent.is_empty() {
        burn_rate
    } else {
        recent.iter().copied().sum::<Decimal>() / Decimal::from(recent.len())
    };
    let forecast = match budget.spec.period {
        BudgetPeriod::Month => spend + recent_rate * remaining_days,
        // A day has no complete days before its end: extrapolate the rate so far.
        BudgetPeriod::Day => spend + burn_rate * remaining_days,
    }
    .max(spend)
    .round_dp(12);
    let status = if spend >= budget.amount {
        "exceeded"
    } else if spend >= budget.amount * budget.warn_fraction || forecast >= budget.amount {
        "warning"
    } else {
        "ok"
    };
    Ok(Status {
        spend,
        unpriced_requests: unpriced,
        burn_rate: burn_rate.round_dp(12),
        forecast,
        status,
        window: (start, end),
    })
}

/// Reads every stored budget.
///
/// # Errors
/// A failing query or an unreadable stored budget.
pub fn load(conn: &Connection) -> Result<Vec<Budget>, ReportError> {
    let mut statement = conn
        .prepare_cached("SELECT budget_id, spec FROM budgets ORDER BY budget_id")
        .map_err(ReportError::Query)?;
    let rows = statement
        .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
        .map_err(ReportError::Query)?;
    let mut budgets = Vec::new();
    for row in rows {
        let (budget_id, text) = row.map_err(ReportError::Query)?;
        let spec: BudgetSpec = serde_json::from_str(&text)
            .map_err(|error| ReportError::Shape(format!("stored budget `{budget_id}`: {error}")))?;
        budgets.push(Budget::from_spec(&budget_id, spec)?);
    }
    Ok(budgets)
}

/// One row of the `budgets` report: one stored budget at `at`. Money is an exact decimal
/// string with twelve places.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BudgetRow {
    pub budget_id: String,
    pub name: String,
    /// `month` or `day`.
    pub period: String,
    /// The budget's IANA time zone (`UTC` when it names none).
    pub tz: String,
    /// Start of the window holding `at`, local time with offset.
    pub window_start: String,
    /// End of that window (exclusive), local time with offset.
    pub window_end: String,
    pub amount_usd: String,
    /// Spent in the window up to `at` (priced calls in scope).
    pub spend_usd: String,
    /// `spend_usd` as a percentage of `amount_usd`, two decimals.
    pub percent_used: f64,
    /// Average spend per day of the window so far.
    pub burn_rate_usd_per_day: String,
    /// Expected spend at the end of the window: the spend so far plus, times the days left, the
    /// mean daily spend of the last seven complete days of the window (fewer early on; the burn
    /// rate before the first complete day, and always for daily budgets).
    pub forecast_usd: String,
    /// `exceeded` (spent ≥ amount), `warning` (spent ≥ warn percent of it, or forecast ≥
    /// amount) or `ok`.
    pub status: String,
    /// Calls in scope without a price (not in the spend).
    pub unpriced_requests: i64,
}

/// The `totals` of the `budgets` report: how many budgets are in each status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BudgetTotals {
    pub ok: i64,
    pub warning: i64,
    pub exceeded: i64,
}

/// Runs the budgets report for `budgets` at `at`.
///
/// # Errors
/// A failing query.
pub fn run(
    conn: &Connection,
    budgets: &[Budget],
    at: DateTime<Utc>,
    params: &CommonParams,
) -> Result<Report, ReportError> {
    let mut rows: Vec<BudgetRow> = Vec::with_capacity(budgets.len());
    for budget in budgets {
        let status = evaluate(conn, budget, at)?;
        let local = |instant: DateTime<Utc>| {
            instant
                .with_timezone(&budget.tz)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        let percent = (status.spend / budget.amount * Decimal::ONE_HUNDRED)
            .round_dp(2)
            .to_f64()
            .unwrap_or(0.0);
        rows.push(BudgetRow {
            budget_id: budget.budget_id.clone(),
            name: budget.spec.name.clone(),
            period: match budget.spec.period {
                BudgetPeriod::Month => "month".to_owned(),
                BudgetPeriod::Day => "day".to_owned(),
            },
            tz: budget.tz.name().to_owned(),
            window_start: local(status.window.0),
            window_end: local(status.window.1),
            amount_usd: money(budget.amount),
            spend_usd: money(status.spend),
            percent_used: percent,
            burn_rate_usd_per_day: money(status.burn_rate),
            forecast_usd: money(status.forecast),
            status: status.status.to_owned(),
            unpriced_requests: status.unpriced_requests,
        });
    }
    let frame = df!(
        "budget_id" => rows.iter().map(|row| row.budget_id.clone()).collect::<Vec<_>>(),
        "name" => rows.iter().map(|row| row.name.clone()).collect::<Vec<_>>(),
        "period" => rows.iter().map(|row| row.period.clone()).collect::<Vec<_>>(),
        "tz" => rows.iter().map(|row| row.tz.clone()).collect::<Vec<_>>(),
        "window_start" => rows.iter().map(|row| row.window_start.clone()).collect::<Vec<_>>(),
        "window_end" => rows.iter().map(|row| row.window_end.clone()).collect::<Vec<_>>(),
        "amount_usd" => rows.iter().map(|row| row.amount_usd.clone()).collect::<Vec<_>>(),
        "spend_usd" => rows.iter().map(|row| row.spend_usd.clone()).collect::<Vec<_>>(),
        "percent_used" => rows.iter().map(|row| row.percent_used).collect::<Vec<_>>(),
        "burn_rate_usd_per_day" => rows.iter().map(|row| row.burn_rate_usd_per_day.clone()).collect::<Vec<_>>(),
        "forecast_usd" => rows.iter().map(|row| row.forecast_usd.clone()).collect::<Vec<_>>(),
        "status" => rows.iter().map(|row| row.status.clone()).collect::<Vec<_>>(),
        "unpriced_requests" => rows.iter().map(|row| row.unpriced_requests).collect::<Vec<_>>(),
    )?;
    let mut totals = serde_json::Map::new();
    for status in ["ok", "warning", "exceeded"] {
        totals.insert(
            status.to_owned(),
            serde_json::Value::from(rows.iter().filter(|row| row.status == status).count()),
        );
    }
    let mut report = Report::new("budgets", params, frame, totals);
    report.extra.insert(
        "at".to_owned(),
        serde_json::Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    Ok(report)
}
