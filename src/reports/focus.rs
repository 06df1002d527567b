//! `focus`: FinOps FOCUS 1.2 cost and usage rows for showback and chargeback, from the line
//! ledger the writer keeps (`focus_lines`). SQL: `queries/focus.sql` (column set and mapping:
//! `shared/research/focus.md`). Billing periods are calendar months (UTC); quantities are
//! tokens; `ListCost = ListUnitPrice × PricingQuantity` exactly; corrections after re-pricing are
//! separate rows.

use duckdb::Connection;
use duckdb::types::Value;

use super::filters::Bindings;
use super::output::query_frame;
use super::params::{CommonParams, Dimension};
use super::{Report, ReportError};
use crate::store::reader::timestamp_value;

pub const SQL: &str = include_str!("../../queries/focus.sql");

/// Runs the FOCUS report. Only the team, project, provider, model and source filters apply.
///
/// # Errors
/// Invalid parameters, or a failing query.
pub fn run(conn: &Connection, params: &CommonParams, account: (&str, &str)) -> Result<Report, ReportError> {
    super::require_fixed_groups(params, false)?;
    let mut bindings = Bindings::default();
    bindings.set("from", timestamp_value(params.from));
    bindings.set("to", timestamp_value(params.to));
    bindings.set("billing_account_id", Value::Text(account.0.to_owned()));
    bindings.set("billing_account_name", Value::Text(account.1.to_owned()));
    for (dimension, name) in [
        (Dimension::Team, "f_team"),
        (Dimension::Project, "f_project"),
        (Dimension::Provider, "f_provider"),
        (Dimension::Model, "f_model"),
        (Dimension::Source, "f_source"),
    ] {
        let value = params.filter_values(&dimension).map_or(Value::Null, |values| {
            Value::List(values.iter().cloned().map(Value::Text).collect())
        });
        bindings.set(name, value);
    }
    if let Some(filter) = params.filters.iter().find(|filter| {
        !matches!(
            filter.dimension,
            Dimension::Team | Dimension::Project | Dimension::Provider | Dimension::Model | Dimension::Source
        )
    }) {
        return Err(ReportError::invalid(
            &filter.dimension.label(),
            "the FOCUS export filters by team, project, provider, model or source only",
        ));
    }
    // With no lines there is no schema to take from DuckDB; an empty export has no columns.
    let frame = query_frame(conn, SQL, &bindings, &[])?;
    let mut totals = serde_json::Map::new();
    totals.insert("rows".to_owned(), serde_json::Value::from(frame.height()));
    if frame.height() > 0 {
        for (name, value) in super::output::totals(&frame, &["BilledCost", "ListCost", "EffectiveCost"])? {
            totals.insert(name, value);
        }
    }
    Ok(Report::new(
        "focus",
        params,
        super::output::limited(frame, params.limit),
        totals,
    ))
}
