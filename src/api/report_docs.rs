//! The OpenAPI description of the reports, one documented path per report.
//!
//! actix serves every report through one route, `GET /v1/reports/{name}` ([`super::reports`]),
//! but the reports differ in the parameters they take and in the rows they return. This module
//! documents each one on its own path (`/v1/reports/spend`, `/v1/reports/latency`, …) with
//! exactly the parameters that change its result and its typed JSON document. The functions
//! here carry `#[utoipa::path]` annotations only; they are never routed and never called.
//!
//! What lives here: the parameter groups ([`Range`], [`GroupBy`], [`Filters`], … as
//! `IntoParams`), the JSON documents ([`SpendDocument`], …, stamped out by `report_document!`
//! around the row and totals schemas that live next to each report in `crate::reports`), the
//! CSV and Parquet bodies, the error responses, and [`ReportDocs`], which `openapi::ApiDoc`
//! applies as a modifier. The parameter descriptions state the defaults and limits that
//! `reports::params` and each report enforce; `tests/it/openapi.rs` runs every report and
//! checks its output against the served document.
//!
//! Invariant: nothing here is reachable at run time; a change to a report's behaviour is made
//! in `crate::reports`, and this file follows it.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{Array, Object};

use super::error::ErrorBody;
use crate::reports::{anomalies, budgets, focus, latency, reconciliation, routing, shares, spend, unpriced};

/// A string schema holding one of `values`.
fn closed_set(values: &[&str], description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .build()
}

// The values of `bucket` (no doc comment: it would become the schema's description).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum BucketValue {
    Hour,
    Day,
    Week,
    Month,
    None,
}

// The values of `order` (no doc comment: it would become the schema's description).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum OrderValue {
    Cost,
    CostDesc,
    Group,
}

// The values of `grain` (no doc comment: it would become the schema's description).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum GrainValue {
    Auto,
    Events,
    Hourly,
    Daily,
}

// The values of `format` (no doc comment: it would become the schema's description).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum FormatValue {
    Json,
    Csv,
    Parquet,
}

/// The time range: `from`, `to` and the time zone they and the buckets are read in.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Range {
    /// Start of the range, inclusive: an RFC 3339 instant, `YYYY-MM-DDTHH:MM:SS` (local time in
    /// `tz`) or `YYYY-MM-DD` (midnight in `tz`). Default: 30 days before `to`. Must be before
    /// `to`.
    #[param(example = "2026-11-01")]
    from: Option<String>,
    /// End of the range, exclusive, in the same forms. Default: now.
    #[param(example = "2026-12-01")]
    to: Option<String>,
    /// IANA time zone for date-only bounds, bucket starts (local midnights, so DST days have 23
    /// or 25 hours) and the `from`/`to` echoed in the document.
    #[param(default = "UTC", example = "America/New_York")]
    tz: Option<String>,
}

/// `group_by` of the reports that group freely.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct GroupBy {
    /// Comma list of dimensions, each adding a column to the rows: `team`, `project`, `user`,
    /// `api_key`, `provider`, `model`, `model_requested`, `route`, `source`, `status`,
    /// `error_type`, `tag:KEY` (a key of 1 to 128 bytes; at most 3 tags). Repeats are ignored.
    /// Default: no groups. A `user`, `api_key` or `tag:` dimension makes the report read the
    /// events.
    #[param(style = Form, explode = false, pattern = "^(team|project|user|api_key|provider|model|model_requested|route|source|status|error_type|tag:.{1,128})$", example = "team,model")]
    group_by: Option<Vec<String>>,
}

/// `group_by` of `anomalies`, which always groups.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AnomalyGroupBy {
    /// Comma list of the dimensions whose groups get their own baseline, from the same list as
    /// the other reports (`team`, …, `error_type`, `tag:KEY`; at most 3 tags). Default: `team`.
    #[param(style = Form, explode = false, pattern = "^(team|project|user|api_key|provider|model|model_requested|route|source|status|error_type|tag:.{1,128})$", example = "team,model")]
    group_by: Option<Vec<String>>,
}

/// `bucket` of the reports with free time buckets.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Bucket {
    /// Time buckets in `tz`, each starting at a local midnight (`hour`: at the local hour;
    /// `week`: on Monday; `month`: on the 1st), so DST days have 23 or 25 hours; at most 50 000
    /// buckets. Absent, `none` or empty: one bucket for the whole range.
    #[param(inline)]
    bucket: Option<BucketValue>,
}

/// `bucket` of `reconciliation`, which always buckets.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ReconciliationBucket {
    /// Time buckets in `tz`, each starting at a local midnight (`hour`: at the local hour;
    /// `week`: on Monday; `month`: on the 1st); at most 50 000 buckets. Default (also for
    /// `none` or empty): `day`.
    #[param(inline)]
    bucket: Option<BucketValue>,
}

/// The filters: one parameter per dimension.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Filters {
    /// Only these teams. Every filter takes up to 1000 values; repeat the parameter for more
    /// than one (OR); filters on different dimensions combine with AND.
    team: Option<Vec<String>>,
    /// Only these projects.
    project: Option<Vec<String>>,
    /// Only these users (reads the events).
    user: Option<Vec<String>>,
    /// Only these API keys, by alias or hash (reads the events).
    api_key: Option<Vec<String>>,
    /// Only these providers.
    provider: Option<Vec<String>>,
    /// Only these normalised models (`model_key`).
    model: Option<Vec<String>>,
    /// Only these requested models.
    model_requested: Option<Vec<String>>,
    /// Only these routes.
    route: Option<Vec<String>>,
    /// Only these sources (gateway formats).
    source: Option<Vec<String>>,
    /// Only these HTTP statuses; a value that is not a number is refused.
    status: Option<Vec<i32>>,
    /// Only these error types.
    error_type: Option<Vec<String>>,
    /// Only calls whose tag `KEY` has one of these values: write the key in the name
    /// (`tag:env=prod`). At most 3 tag keys per request; reads the events.
    #[param(rename = "tag:KEY")]
    tag: Option<Vec<String>>,
}

/// The filters `focus` takes: its ledger keeps no other dimension.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FocusFilters {
    /// Only these teams. Every filter takes up to 1000 values; repeat the parameter for more
    /// than one (OR). Filters on any other dimension are refused.
    team: Option<Vec<String>>,
    /// Only these projects.
    project: Option<Vec<String>>,
    /// Only these providers.
    provider: Option<Vec<String>>,
    /// Only these normalised models (`model_key`).
    model: Option<Vec<String>>,
    /// Only these sources (gateway formats).
    source: Option<Vec<String>>,
}

/// `limit`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Limit {
    /// Most rows returned (after ordering); `totals` still cover every row. Default: all.
    #[param(minimum = 1)]
    limit: Option<u64>,
}

/// `order`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Order {
    /// Row order within each bucket (buckets are always in time order): `cost` (the default),
    /// the largest `cost_usd` first, or `group`, by the group columns.
    #[param(inline)]
    order: Option<OrderValue>,
}

/// `grain`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Grain {
    /// Which table answers: `auto` (the default) picks the daily rollup when `from`, `to` and
    /// every bucket start are UTC midnights, else the hourly rollup when they are whole UTC
    /// hours (neither rollup has `user`, `api_key` or tags), else the events. `events`,
    /// `hourly` and `daily` force one; a forced rollup that cannot answer is refused. The
    /// document's `grain` says which answered.
    #[param(inline)]
    grain: Option<GrainValue>,
}

/// `format`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Format {
    /// `json` (the default): the document below; `csv` or `parquet`: the rows only, with the
    /// same columns (money as twelve-place decimal text in CSV, DECIMAL(38,12) in Parquet).
    #[param(inline)]
    format: Option<FormatValue>,
}

/// The parameters of `routing`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RoutingParams {
    /// Comma list of up to 10 models to price the same traffic on, each `model` or
    /// `provider/model` (a known provider; otherwise the whole text is the model). Each adds a
    /// `cost_on:<candidate>` column, priced from the catalog in force now at the standard tier;
    /// any candidate adds `cheapest_candidate` and `savings_vs_cheapest_usd`.
    #[param(example = "gpt-4o-mini,anthropic/claude-haiku-4-5")]
    candidates: Option<String>,
}

/// The parameters of `budgets`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct BudgetParams {
    /// The instant to evaluate the budgets at: RFC 3339, or `YYYY-MM-DD` (midnight UTC). Each
    /// budget's window is the month or day holding it, in the budget's own time zone. Default:
    /// now.
    #[param(example = "2026-11-20")]
    at: Option<String>,
    /// Only these budget ids (repeat for more); ids of no stored budget are skipped. Default:
    /// every stored budget.
    budget: Option<Vec<String>>,
}

/// The parameters of `anomalies`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AnomalyParams {
    /// Days before each day that form its baseline (zero-filled; a day needs at least
    /// `min(baseline_days, 7)` of them).
    #[param(default = 14, minimum = 2, maximum = 90)]
    baseline_days: Option<u32>,
    /// How many standard deviations from the baseline mean a day must be (any departure when
    /// the baseline never varied). A positive number.
    #[param(default = 3.0, exclusive_minimum = 0)]
    threshold: Option<f64>,
    /// The least relative change of spend from the baseline mean to flag (0.5 = 50 %). A
    /// positive number. Error rates are flagged on days with at least 20 requests and a rise
    /// of at least 5 percentage points.
    #[param(default = 0.5, exclusive_minimum = 0)]
    min_change: Option<f64>,
}

/// The parameters of `reconciliation`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ReconciliationParams {
    /// How many of the calls that disagree most to list in `disagreements`.
    #[param(default = 20, minimum = 0, maximum = 1000)]
    records: Option<u32>,
}

/// The parameters of `focus`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FocusParams {
    /// `BillingAccountId` of every row.
    #[param(default = "llm-ledger")]
    billing_account_id: Option<String>,
    /// `BillingAccountName` of every row.
    #[param(default = "LLM usage")]
    billing_account_name: Option<String>,
}

/// `format=csv`: a header line with the row columns, then one line per row (money as
/// twelve-place decimal text).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String)]
#[allow(dead_code)]
pub struct CsvRows(String);

/// `format=parquet`: one Parquet file of the rows (money as DECIMAL(38,12)).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct ParquetRows(Vec<u8>);

/// The failures every report can answer with (`api::error` maps `ReportError`).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ReportFailure {
    /// `invalid_parameter`: a parameter is malformed, out of range, unknown to every report, or
    /// one this report refuses; `details.parameter` names it.
    #[response(status = 400)]
    InvalidParameter(ErrorBody),
    /// `internal`: the query or shaping failed (the server log has the details).
    #[response(status = 500)]
    Internal(ErrorBody),
    /// `out_of_memory`: the query needed more than DuckDB's `memory_limit` (exact percentiles
    /// cannot spill to disk); narrow the range or the grouping, or raise `--memory-limit`.
    #[response(status = 503)]
    OutOfMemory(ErrorBody),
    /// `timeout`: the report took longer than the server's request timeout.
    #[response(status = 504)]
    Timeout(ErrorBody),
}

/// `report` of a document: the one report name it can hold.
fn report_name(name: &'static str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([name]))
        .description(Some("The report's name."))
        .build()
}

/// A report's JSON document: the fields every report has and describes alike (`report`, `from`,
/// `to`, `tz`), then the others, written out by the caller.
macro_rules! report_document {
    (
        $(#[$meta:meta])*
        $document:ident($name:literal) {
            $($(#[$field_meta:meta])* $field:ident: $field_type:ty,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(utoipa::ToSchema)]
        #[allow(dead_code)]
        pub struct $document {
            #[schema(schema_with = $document::report_name)]
            report: String,
            /// Start of the range, in the report's time zone (RFC 3339 with offset).
            from: String,
            /// End of the range (exclusive), in the report's time zone.
            to: String,
            /// The report's time zone (`tz`).
            tz: String,
            $($(#[$field_meta])* $field: $field_type,)*
        }

        impl $document {
            fn report_name() -> Object {
                report_name($name)
            }
        }
    };
}

/// `bucket` of a document with free buckets.
fn document_bucket() -> Object {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ]))
        .enum_values(Some([
            serde_json::Value::from("hour"),
            serde_json::Value::from("day"),
            serde_json::Value::from("week"),
            serde_json::Value::from("month"),
            serde_json::Value::Null,
        ]))
        .description(Some("The `bucket` parameter; null without buckets."))
        .build()
}

/// `bucket` of a document without buckets.
fn no_bucket() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Null)
        .description(Some("Always null: this report has no time buckets."))
        .build()
}

/// `grain` of the reports that choose a table.
fn document_grain() -> Object {
    closed_set(
        &["events", "hourly", "daily"],
        "The table that answered: the events, the hourly rollup or the daily rollup.",
    )
}

/// `grain` of `latency`, which always reads the events.
fn events_grain() -> Object {
    closed_set(
        &["events"],
        "Always `events`: percentiles are exact and cannot come from rollups.",
    )
}

/// `group_by` of a document whose report has fixed groups.
fn no_groups() -> Array {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String))
        .max_items(Some(0))
        .description(Some("Always empty: this report's groups are fixed."))
        .build()
}

report_document! {
    /// The `spend` report as JSON.
    SpendDocument("spend") {
        #[schema(schema_with = document_bucket, required = true)]
        bucket: Option<String>,
        /// The dimensions grouped by, as the row columns name them (`tag:env`).
        group_by: Vec<String>,
        #[schema(schema_with = document_grain)]
        grain: String,
        /// Per group and bucket: buckets in time order, then by `order`.
        rows: Vec<spend::SpendRow>,
        totals: spend::SpendTotals,
    }
}

report_document! {
    /// The `latency` report as JSON.
    LatencyDocument("latency") {
        #[schema(schema_with = document_bucket, required = true)]
        bucket: Option<String>,
        /// The dimensions grouped by, as the row columns name them (`tag:env`).
        group_by: Vec<String>,
        #[schema(schema_with = events_grain)]
        grain: String,
        /// Per group and bucket: buckets in time order, then by the group columns.
        rows: Vec<latency::LatencyRow>,
        totals: latency::LatencyTotals,
    }
}

report_document! {
    /// The `model-mix` report as JSON.
    ModelMixDocument("model-mix") {
        #[schema(schema_with = document_bucket, required = true)]
        bucket: Option<String>,
        /// The dimensions grouped by, as the row columns name them (`tag:env`).
        group_by: Vec<String>,
        #[schema(schema_with = document_grain)]
        grain: String,
        /// Per group, bucket and model: by group, then the largest cost and requests first.
        rows: Vec<shares::ModelMixRow>,
        totals: shares::ModelMixTotals,
    }
}

report_document! {
    /// The `errors` report as JSON.
    ErrorsDocument("errors") {
        #[schema(schema_with = document_bucket, required = true)]
        bucket: Option<String>,
        /// The dimensions grouped by, as the row columns name them (`tag:env`).
        group_by: Vec<String>,
        #[schema(schema_with = document_grain)]
        grain: String,
        /// Per group, bucket, status and error type: by group, then the most errors first.
        rows: Vec<shares::ErrorsRow>,
        totals: shares::ErrorsTotals,
    }
}

report_document! {
    /// The `cache-savings` report as JSON.
    CacheSavingsDocument("cache-savings") {
        #[schema(schema_with = document_bucket, required = true)]
        bucket: Option<String>,
        /// The dimensions grouped by, as the row columns name them (`tag:env`).
        group_by: Vec<String>,
        #[schema(schema_with = document_grain)]
        grain: String,
        /// Per group and bucket: by group, then the largest savings first.
        rows: Vec<shares::CacheSavingsRow>,
        totals: shares::CacheSavingsTotals,
    }
}

report_document! {
    /// The `routing` report as JSON.
    RoutingDocument("routing") {
        #[schema(schema_with = document_bucket, required = true)]
        bucket: Option<String>,
        /// The dimensions grouped by, as the row columns name them (`tag:env`).
        group_by: Vec<String>,
        #[schema(schema_with = document_grain)]
        grain: String,
        /// Per group, bucket, requested and served model: by group and requested model, then
        /// the most requests first.
        rows: Vec<routing::RoutingRow>,
        totals: routing::RoutingTotals,
    }
}

report_document! {
    /// The `budgets` report as JSON. `from`, `to` and `tz` echo the common parameters, which
    /// do not affect this report.
    BudgetsDocument("budgets") {
        #[schema(schema_with = no_bucket, required = true)]
        bucket: Option<String>,
        #[schema(schema_with = no_groups)]
        group_by: Vec<String>,
        /// One per budget, by budget id.
        rows: Vec<budgets::BudgetRow>,
        totals: budgets::BudgetTotals,
        /// The instant the budgets were evaluated at, UTC (RFC 3339).
        at: String,
    }
}

report_document! {
    /// The `anomalies` report as JSON.
    AnomaliesDocument("anomalies") {
        #[schema(schema_with = no_bucket, required = true)]
        bucket: Option<String>,
        /// The dimensions grouped by (`team` when `group_by` is absent).
        #[schema(min_items = 1)]
        group_by: Vec<String>,
        /// By group, then day; spend before error rate on the same group and day.
        rows: Vec<anomalies::AnomalyRow>,
        totals: anomalies::AnomalyTotals,
    }
}

report_document! {
    /// The `unpriced` report as JSON.
    UnpricedDocument("unpriced") {
        #[schema(schema_with = no_bucket, required = true)]
        bucket: Option<String>,
        #[schema(schema_with = no_groups)]
        group_by: Vec<String>,
        /// The most requests first.
        rows: Vec<unpriced::UnpricedRow>,
        totals: unpriced::UnpricedTotals,
    }
}

report_document! {
    /// The `reconciliation` report as JSON.
    ReconciliationDocument("reconciliation") {
        #[schema(schema_with = reconciliation_bucket)]
        bucket: String,
        #[schema(schema_with = no_groups)]
        group_by: Vec<String>,
        /// Buckets in time order, then the largest absolute difference first.
        rows: Vec<reconciliation::ReconciliationRow>,
        totals: reconciliation::ReconciliationTotals,
        /// The calls that disagree most (`records`), the largest absolute difference first.
        disagreements: Vec<reconciliation::ReconciliationDisagreement>,
    }
}

fn reconciliation_bucket() -> Object {
    closed_set(
        &["hour", "day", "week", "month"],
        "The bucket of the rows (`day` unless `bucket` says otherwise).",
    )
}

report_document! {
    /// The `focus` report as JSON.
    FocusDocument("focus") {
        #[schema(schema_with = no_bucket, required = true)]
        bucket: Option<String>,
        #[schema(schema_with = no_groups)]
        group_by: Vec<String>,
        /// By charge day, charge class (usage first), sub-account, provider, model, meter and
        /// price.
        rows: Vec<focus::FocusRow>,
        totals: focus::FocusTotals,
    }
}

/// Stamps out the documentation-only function of one report path.
macro_rules! report_path {
    (
        $(#[$meta:meta])*
        $function:ident, $path:literal, $document:ty, params($($params:ty),* $(,)?)
    ) => {
        $(#[$meta])*
        #[utoipa::path(get, path = $path, tag = "reports",
            params($($params),*),
            responses(
                (status = 200, description = "The report: a JSON document, or its rows as CSV or Parquet with `format=`",
                    content(
                        ($document = "application/json"),
                        (CsvRows = "text/csv"),
                        (ParquetRows = "application/vnd.apache.parquet"))),
                ReportFailure,
            ))]
        #[allow(dead_code)]
        pub fn $function() {}
    };
}

report_path! {
    /// Spend: requests, errors, tokens and cost per group and time bucket.
    ///
    /// Requests, errors, each token kind, the computed cost after contracts (`cost_usd`), the
    /// same calls at list price, what the gateways reported, and the calls of models without a
    /// price (`unpriced_requests`, never priced at $0). Answered from the daily or hourly
    /// rollup whenever they can (`grain`).
    report_spend, "/v1/reports/spend", SpendDocument,
    params(Range, GroupBy, Bucket, Filters, Limit, Order, Grain, Format)
}

report_path! {
    /// Latency: percentiles of latency, time to first token and output speed.
    ///
    /// p50/p90/p95/p99 and mean latency, p50 to p99 time to first token, and p50/p90 output
    /// tokens per second after the first token, per group and time bucket, over the calls that
    /// have a latency. Exact: always read from the events.
    ///
    /// Also accepted, without effect here: `order` (rows are in group order) and
    /// `grain` (always `events`).
    report_latency, "/v1/reports/latency", LatencyDocument,
    params(Range, GroupBy, Bucket, Filters, Limit, Format)
}

report_path! {
    /// Model mix: each model's share of requests, tokens and spend within its group.
    ///
    /// Every row is one model within one group and bucket; shares are of the group's total.
    ///
    /// Also accepted, without effect here: `order`.
    report_model_mix, "/v1/reports/model-mix", ModelMixDocument,
    params(Range, GroupBy, Bucket, Filters, Limit, Grain, Format)
}

report_path! {
    /// Errors: requests per status and error type, and the error rate of each group.
    ///
    /// Every row is one status and error type within one group and bucket, with its share of
    /// the group's requests and the group's error rate.
    ///
    /// Also accepted, without effect here: `order`.
    report_errors, "/v1/reports/errors", ErrorsDocument,
    params(Range, GroupBy, Bucket, Filters, Limit, Grain, Format)
}

report_path! {
    /// Cache savings: what prompt caching and the gateways' response caches saved.
    ///
    /// Cached and cache-write tokens, what prompt caching saved at contracted rates (reads
    /// minus write premiums), response-cache hits and what they saved, next to the cost paid.
    ///
    /// Also accepted, without effect here: `order`.
    report_cache_savings, "/v1/reports/cache-savings", CacheSavingsDocument,
    params(Range, GroupBy, Bucket, Filters, Limit, Grain, Format)
}

report_path! {
    /// Routing: which models served each requested model, and what candidates would cost.
    ///
    /// Per requested model (and group and bucket): the models that served it, fallback rate,
    /// attempts per request and cost, and with `candidates` the same tokens priced on each
    /// candidate, the cheapest and the savings against it. Candidate costs reprice each row's
    /// token sums as one aggregate, so they estimate the alternative; `cost_usd` is what was
    /// booked.
    ///
    /// Also accepted, without effect here: `order`.
    report_routing, "/v1/reports/routing", RoutingDocument,
    params(Range, GroupBy, Bucket, Filters, RoutingParams, Limit, Grain, Format)
}

report_path! {
    /// Budgets: each stored budget's spend, burn rate, forecast and status.
    ///
    /// For each budget stored with `PUT /v1/budgets/{id}`: the spend of its current month or
    /// day (in the budget's time zone, up to `at`), the burn rate, the forecast to the window's
    /// end and `ok`, `warning` or `exceeded`.
    ///
    /// `group_by` and `bucket` are refused. Also accepted, without effect here:
    /// `from`, `to`, `tz` (only echoed in the document), the filters (a budget's scope is its
    /// filter), `limit`, `order` and `grain`.
    report_budgets, "/v1/reports/budgets", BudgetsDocument,
    params(BudgetParams, Format)
}

report_path! {
    /// Anomalies: days on which a group's spend or error rate left its own baseline.
    ///
    /// For each group (`group_by`, default `team`) and each day of the range in `tz`, the
    /// baseline is the mean and standard deviation of the group's previous `baseline_days`
    /// days. A spend anomaly lists the models and API keys that drove it.
    ///
    /// `bucket` is refused (anomalies are daily). Also accepted, without effect
    /// here: `order`.
    report_anomalies, "/v1/reports/anomalies", AnomaliesDocument,
    params(Range, AnomalyGroupBy, Filters, AnomalyParams, Limit, Grain, Format)
}

report_path! {
    /// Unpriced: models without a price, with their calls, tokens and reported cost.
    ///
    /// These calls are never counted as $0: add a price (`POST /v1/prices`) and re-price
    /// (`POST /v1/admin/reprice`) to account them. Read from the events.
    ///
    /// `group_by` and `bucket` are refused. Also accepted, without effect here:
    /// `order` and `grain`.
    report_unpriced, "/v1/reports/unpriced", UnpricedDocument,
    params(Range, Filters, Limit, Format)
}

report_path! {
    /// Reconciliation: computed versus gateway-reported cost, and the calls that disagree.
    ///
    /// Per bucket (default day) × source × provider × model: the calls that carry both costs,
    /// both sums and their difference, plus the priced calls without a reported cost and the
    /// calls without a catalog price. `disagreements` lists the single calls that differ most.
    /// Read from the events.
    ///
    /// `group_by` is refused. Also accepted, without effect here: `order` and
    /// `grain`.
    report_reconciliation, "/v1/reports/reconciliation", ReconciliationDocument,
    params(Range, ReconciliationBucket, Filters, ReconciliationParams, Limit, Format)
}

report_path! {
    /// FOCUS: FinOps FOCUS 1.2 cost and usage rows for FinOps tools.
    ///
    /// One row per UTC charge day × team × project × provider × model × price × meter × unit
    /// price, from the line ledger kept at ingest: rows whose UTC charge day starts in
    /// `[from, to)`. Billing periods are calendar months (UTC); `ListCost = ListUnitPrice ×
    /// PricingQuantity` and `ContractedCost = ContractedUnitPrice × PricingQuantity` hold
    /// exactly; unpriced calls are rows of cost 0 with `x_UnpricedRequests`; a re-price adds
    /// `ChargeClass = Correction` rows instead of editing history.
    ///
    /// `group_by`, `bucket` and filters other than `team`, `project`, `provider`, `model` and
    /// `source` are refused. Also accepted, without effect here: `order` and
    /// `grain`.
    report_focus, "/v1/reports/focus", FocusDocument,
    params(Range, FocusFilters, FocusParams, Limit, Format)
}

/// The report paths and their schemas; `openapi::ApiDoc` merges them in as a modifier.
pub struct ReportDocs;

impl utoipa::Modify for ReportDocs {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::OpenApi;
        openapi.merge(ReportPaths::openapi());
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        report_spend,
        report_latency,
        report_model_mix,
        report_errors,
        report_cache_savings,
        report_routing,
        report_budgets,
        report_anomalies,
        report_unpriced,
        report_reconciliation,
        report_focus,
    ),
    components(schemas(
        SpendDocument,
        LatencyDocument,
        ModelMixDocument,
        ErrorsDocument,
        CacheSavingsDocument,
        RoutingDocument,
        BudgetsDocument,
        AnomaliesDocument,
        UnpricedDocument,
        ReconciliationDocument,
        FocusDocument,
        CsvRows,
        ParquetRows,
    ))
)]
struct ReportPaths;
