//! Reports: one report = one SQL file in `queries/` + its typed parameters + its rows.
//!
//! What lives here: [`params`] (the parameters every report takes), [`buckets`] (time buckets
//! in a time zone), [`filters`] (binding group-by and filter parameters), [`output`] (DuckDB
//! result → polars DataFrame → JSON/CSV/Parquet), and one module per report.
//!
//! Invariants: reports only read (through [`crate::store::Readers`]); user values are always
//! bound parameters; the only identifiers that vary come from the closed [`params::Dimension`]
//! list; money stays decimal from DuckDB to the response.

pub mod anomalies;
pub mod buckets;
pub mod budgets;
pub mod filters;
pub mod focus;
pub mod latency;
pub mod output;
pub mod params;
pub mod reconciliation;
pub mod routing;
pub mod shares;
pub mod spend;
pub mod unpriced;

use crate::store::StoreError;

/// A report request that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("parameter `{parameter}`: {reason}")]
    InvalidParameter { parameter: String, reason: String },
    #[error("unknown report `{0}`")]
    UnknownReport(String),
    #[error("the report query failed")]
    Query(#[source] duckdb::Error),
    #[error("the report result cannot be shaped: {0}")]
    Shape(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("this key reads team `{scope}` only, not `{requested}`")]
    OutOfScope { scope: String, requested: String },
}

impl ReportError {
    pub(crate) fn invalid(parameter: &str, reason: impl Into<String>) -> ReportError {
        ReportError::InvalidParameter {
            parameter: parameter.to_owned(),
            reason: reason.into(),
        }
    }
}

impl From<polars::error::PolarsError> for ReportError {
    fn from(error: polars::error::PolarsError) -> ReportError {
        ReportError::Shape(error.to_string())
    }
}

/// The names of the reports this build serves.
pub const REPORT_NAMES: &[&str] = &[
    "spend",
    "latency",
    "model-mix",
    "errors",
    "cache-savings",
    "routing",
    "budgets",
    "anomalies",
    "focus",
    "unpriced",
    "reconciliation",
];

use chrono::{DateTime, Utc};
use polars::prelude::DataFrame;
use serde_json::{Map, Value as Json};

use params::{CommonParams, OutputFormat};

/// A computed report: rows as a DataFrame plus totals and the parameters that made it.
pub struct Report {
    pub name: &'static str,
    pub params: CommonParams,
    pub rows: DataFrame,
    pub totals: Map<String, Json>,
    /// Further sections of the JSON document (e.g. reconciliation's `disagreements`).
    pub extra: Map<String, Json>,
    /// The table the rows came from, when the report chooses.
    pub grain: Option<filters::Grain>,
}

impl Report {
    pub(crate) fn new(
        name: &'static str,
        params: &CommonParams,
        rows: DataFrame,
        totals: Map<String, Json>,
    ) -> Report {
        Report {
            name,
            params: params.clone(),
            rows,
            totals,
            extra: Map::new(),
            grain: None,
        }
    }

    /// Notes which table the rows came from.
    pub(crate) fn with_grain(mut self, grain: filters::Grain) -> Report {
        self.grain = Some(grain);
        self
    }

    /// The report as the API returns it: JSON document, or CSV / Parquet rows.
    ///
    /// # Errors
    /// When the rows cannot be encoded.
    pub fn encode(mut self) -> Result<(Vec<u8>, &'static str), ReportError> {
        match self.params.format {
            OutputFormat::Json => {
                let document = self.to_json()?;
                let body =
                    serde_json::to_vec(&document).map_err(|error| ReportError::Shape(error.to_string()))?;
                Ok((body, "application/json"))
            }
            OutputFormat::Csv => Ok((
                output::encode(&mut self.rows, OutputFormat::Csv)?,
                "text/csv; charset=utf-8",
            )),
            OutputFormat::Parquet => Ok((
                output::encode(&mut self.rows, OutputFormat::Parquet)?,
                "application/vnd.apache.parquet",
            )),
        }
    }

    /// The JSON document of the report.
    ///
    /// # Errors
    /// When a row cannot be read.
    pub fn to_json(&self) -> Result<Json, ReportError> {
        let params = &self.params;
        let stamp = |instant: DateTime<Utc>| {
            Json::String(
                instant
                    .with_timezone(&params.tz)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            )
        };
        let mut document = Map::new();
        document.insert("report".to_owned(), Json::String(self.name.to_owned()));
        document.insert("from".to_owned(), stamp(params.from));
        document.insert("to".to_owned(), stamp(params.to));
        document.insert("tz".to_owned(), Json::String(params.tz.name().to_owned()));
        document.insert(
            "bucket".to_owned(),
            params
                .bucket
                .map_or(Json::Null, |bucket| Json::String(bucket.name().to_owned())),
        );
        document.insert(
            "group_by".to_owned(),
            Json::Array(params.group_by.iter().map(|d| Json::String(d.label())).collect()),
        );
        if let Some(grain) = self.grain {
            document.insert("grain".to_owned(), Json::String(grain.name().to_owned()));
        }
        document.insert("rows".to_owned(), Json::Array(output::rows_json(&self.rows)?));
        document.insert("totals".to_owned(), Json::Object(self.totals.clone()));
        for (key, value) in &self.extra {
            document.insert(key.clone(), value.clone());
        }
        Ok(Json::Object(document))
    }
}

/// Refuses `group_by` (and `bucket`, unless the report has buckets) on reports whose groups are
/// fixed.
///
/// # Errors
/// [`ReportError::InvalidParameter`] naming the parameter.
pub(crate) fn require_fixed_groups(params: &CommonParams, buckets_allowed: bool) -> Result<(), ReportError> {
    if !params.group_by.is_empty() {
        return Err(ReportError::invalid("group_by", "this report's groups are fixed"));
    }
    if !buckets_allowed && params.bucket.is_some() {
        return Err(ReportError::invalid("bucket", "this report has no time buckets"));
    }
    Ok(())
}

/// Parses a report's parameters and runs it on a read connection. With `team_scope` (a
/// team-scoped API key) every report is limited to that team's rows, and the budgets report to
/// the budgets of that team: the scope is applied here, to the parsed parameters every report
/// query binds, so no report can forget it.
///
/// # Errors
/// [`ReportError::UnknownReport`], invalid parameters, [`ReportError::OutOfScope`] for a filter
/// on another team, query failures.
pub fn run(
    name: &str,
    pairs: &[(String, String)],
    conn: &duckdb::Connection,
    catalog: &crate::pricing::Catalog,
    now: DateTime<Utc>,
    team_scope: Option<&str>,
) -> Result<Report, ReportError> {
    let parse = |extra: &[&str]| -> Result<CommonParams, ReportError> {
        let mut params = CommonParams::parse(pairs, extra, now)?;
        if let Some(team) = team_scope {
            params.scope_to_team(team)?;
        }
        Ok(params)
    };
    match name {
        "spend" => {
            let params = parse(&[])?;
            spend::run(conn, &params)
        }
        "latency" => latency::run(conn, &parse(&[])?),
        "routing" => {
            let params = parse(&["candidates"])?;
            let candidates = pairs
                .iter()
                .find(|(name, _)| name == "candidates")
                .map(|(_, value)| value.as_str());
            routing::run(conn, &params, candidates, catalog)
        }
        "budgets" => {
            let params = parse(&["at", "budget"])?;
            require_fixed_groups(&params, false)?;
            let at = match pairs.iter().find(|(name, _)| name == "at") {
                None => now,
                Some((_, text)) => crate::pricing::spec::parse_instant(text)
                    .ok_or_else(|| ReportError::invalid("at", "expected RFC 3339 or YYYY-MM-DD"))?,
            };
            let wanted: Vec<&str> = pairs
                .iter()
                .filter(|(name, _)| name == "budget")
                .map(|(_, value)| value.as_str())
                .collect();
            let budgets: Vec<budgets::Budget> = budgets::load(conn)?
                .into_iter()
                .filter(|budget| wanted.is_empty() || wanted.contains(&budget.budget_id.as_str()))
                .filter(|budget| budget.visible_to(team_scope))
                .collect();
            budgets::run(conn, &budgets, at, &params)
        }
        "anomalies" => {
            let params = parse(&["baseline_days", "threshold", "min_change"])?;
            let mut detector = anomalies::Detector::default();
            for (name, value) in pairs {
                let number = || {
                    value
                        .parse::<f64>()
                        .ok()
                        .filter(|number| number.is_finite() && *number > 0.0)
                        .ok_or_else(|| ReportError::invalid(name, "expected a positive number"))
                };
                match name.as_str() {
                    "baseline_days" => {
                        detector.baseline_days = value
                            .parse::<usize>()
                            .ok()
                            .filter(|days| (2..=90).contains(days))
                            .ok_or_else(|| ReportError::invalid("baseline_days", "expected 2 to 90"))?;
                    }
                    "threshold" => detector.threshold = number()?,
                    "min_change" => detector.min_change = number()?,
                    _ => {}
                }
            }
            if params.bucket.is_some() {
                return Err(ReportError::invalid("bucket", "anomalies are always daily"));
            }
            anomalies::run(conn, &params, detector)
        }
        "focus" => {
            let params = parse(&["billing_account_id", "billing_account_name"])?;
            let value = |name: &str, default: &'static str| {
                pairs
                    .iter()
                    .find(|(key, _)| key == name)
                    .map_or(default, |(_, value)| value.as_str())
            };
            focus::run(
                conn,
                &params,
                (
                    value("billing_account_id", "llm-ledger"),
                    value("billing_account_name", "LLM usage"),
                ),
            )
        }
        "model-mix" => shares::model_mix(conn, &parse(&[])?),
        "errors" => shares::errors(conn, &parse(&[])?),
        "cache-savings" => shares::cache_savings(conn, &parse(&[])?),
        "unpriced" => {
            let params = parse(&[])?;
            unpriced::run(conn, &params)
        }
        "reconciliation" => {
            let params = parse(&["records"])?;
            let records = match pairs.iter().find(|(name, _)| name == "records") {
                None => None,
                Some((_, value)) => Some(
                    value
                        .parse::<i64>()
                        .ok()
                        .filter(|count| (0..=1000).contains(count))
                        .ok_or_else(|| {
                            ReportError::invalid("records", "expected an integer from 0 to 1000")
                        })?,
                ),
            };
            reconciliation::run(conn, &params, records)
        }
        other => Err(ReportError::UnknownReport(other.to_owned())),
    }
}
