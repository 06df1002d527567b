//! `focus`: FinOps FOCUS 1.2 cost and usage rows for showback and chargeback, from the line
//! ledger the writer keeps (`focus_lines`). SQL: `queries/focus.sql` (column set and mapping:
//! `shared/research/focus.md`). Billing periods are calendar months (UTC); quantities are
//! tokens; `ListCost = ListUnitPrice × PricingQuantity` exactly; corrections after re-pricing are
//! separate rows.

use duckdb::Connection;
use duckdb::types::Value;
use serde::Serialize;

use super::filters::Bindings;
use super::output::query_frame;
use super::params::{CommonParams, Dimension};
use super::{Report, ReportError};
use crate::store::reader::timestamp_value;

pub const SQL: &str = include_str!("../../queries/focus.sql");

/// One row of the `focus` report, as JSON (from `focus.sql`; this struct only describes it): a
/// FinOps FOCUS 1.2 cost and usage row (with 1.3's `ServiceProviderName` and
/// `HostProviderName`, and `x_` extensions) for one UTC charge day × team × project × provider ×
/// model × price × meter × unit price. Costs and unit prices are exact decimal strings with at
/// least twelve places; timestamps are UTC (`2026-11-01T00:00:00Z`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct FocusRow {
    /// What is billed: the contracted cost.
    pub billed_cost: String,
    /// The `billing_account_id` parameter.
    pub billing_account_id: String,
    /// The `billing_account_name` parameter.
    pub billing_account_name: String,
    /// Always `USD`.
    pub billing_currency: String,
    pub billing_period_end: String,
    /// The calendar month (UTC) of the charge, or of the re-price for corrections.
    pub billing_period_start: String,
    /// Always `Usage`.
    pub charge_category: String,
    /// `Correction` for the rows a re-price adds; null otherwise.
    #[schema(required = true)]
    pub charge_class: Option<String>,
    pub charge_description: String,
    pub charge_period_end: String,
    /// The UTC day of the charge.
    pub charge_period_start: String,
    /// `ContractedUnitPrice` × `PricingQuantity`.
    pub contracted_cost: String,
    pub effective_cost: String,
    pub invoice_issuer_name: String,
    /// `ListUnitPrice` × `PricingQuantity`.
    pub list_cost: String,
    /// Tokens, or requests for per-call fees.
    pub pricing_quantity: i64,
    /// `Tokens` or `Requests`.
    pub pricing_unit: String,
    pub provider_name: String,
    pub publisher_name: String,
    pub service_category: String,
    pub service_name: String,
    pub charge_frequency: String,
    pub service_subcategory: String,
    pub consumed_quantity: i64,
    pub consumed_unit: String,
    /// Per token (or request); null for amount-only lines (reported or unpriced calls,
    /// response-cache hits).
    #[schema(required = true)]
    pub contracted_unit_price: Option<String>,
    /// Per token (or request); null for amount-only lines (reported or unpriced calls,
    /// response-cache hits).
    #[schema(required = true)]
    pub list_unit_price: Option<String>,
    /// `Dynamic` for priority and flex tiers, else `Standard`.
    pub pricing_category: String,
    pub pricing_currency: String,
    /// `provider/model`.
    pub sku_id: String,
    pub sku_meter: String,
    /// JSON text: `service_tier` and `above_input_tokens`.
    pub sku_price_details: String,
    /// The catalog entry; null for lines not priced from the catalog.
    #[schema(required = true)]
    pub sku_price_id: Option<String>,
    /// The team.
    pub sub_account_id: String,
    pub sub_account_name: String,
    /// Always `Team`.
    pub sub_account_type: String,
    /// JSON text: `team` and `project`.
    pub tags: String,
    pub service_provider_name: String,
    pub host_provider_name: String,
    /// The gateway format the calls came from.
    #[serde(rename = "x_Source")]
    pub x_source: String,
    /// The normalised model (`model_key`).
    #[serde(rename = "x_ModelKey")]
    pub x_model_key: String,
    /// Calls on the line.
    #[serde(rename = "x_Requests")]
    pub x_requests: i64,
    /// Calls without a price (cost 0 here, never hidden).
    #[serde(rename = "x_UnpricedRequests")]
    pub x_unpriced_requests: i64,
    /// The contract that set the contracted price; null when none did.
    #[serde(rename = "x_ContractId")]
    #[schema(required = true)]
    pub x_contract_id: Option<String>,
    /// `catalog`, `reported` or `unpriced`.
    #[serde(rename = "x_CostSource")]
    pub x_cost_source: String,
}

/// The `totals` of the `focus` report, over every row before `limit`. The cost sums are absent
/// when there are no rows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct FocusTotals {
    /// Rows (before `limit`).
    #[serde(rename = "rows")]
    pub rows: i64,
    #[schema(required = false)]
    pub billed_cost: String,
    #[schema(required = false)]
    pub list_cost: String,
    #[schema(required = false)]
    pub effective_cost: String,
}

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
