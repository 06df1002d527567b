//! The OpenAPI document, assembled in one place from the handlers' `#[utoipa::path]`
//! annotations. `llm-ledger openapi` writes it; `openapi/openapi.json` is the checked-in copy a
//! test keeps current.

use utoipa::OpenApi;

use super::report_docs::ReportDocs;
use super::{admin, budgets, docs, error, export, health, ingest, lake, prices, retention, traces};
use crate::pipeline;
use crate::pricing::spec;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "llm-ledger",
        description = "One exact ledger for LLM traffic from every gateway: ingest any gateway's logs, price every call from an effective-dated catalog, and report spend. Money is always a JSON string holding an exact decimal; timestamps are RFC 3339.",
        license(name = "Apache-2.0")
    ),
    paths(
        health::healthz,
        health::readyz,
        ingest::ingest,
        traces::traces,
        export::export,
        prices::list_prices,
        prices::add_prices,
        admin::import_prices,
        admin::list_contracts,
        admin::add_contracts,
        admin::reprice,
        retention::apply_retention,
        lake::update_lake,
        budgets::list_budgets,
        budgets::get_budget,
        budgets::put_budget,
        budgets::delete_budget,
        docs::openapi_json,
        docs::docs_page,
    ),
    // One documented path per report; actix serves them all through `/v1/reports/{name}`.
    modifiers(&ReportDocs),
    components(schemas(
        error::ErrorBody,
        error::ErrorDetail,
        pipeline::IngestResponse,
        pipeline::RejectedSchema,
        spec::PriceSpec,
        spec::Variant,
        prices::PriceList,
        prices::PriceListing,
        prices::PricesAdded,
        prices::PricesBody,
        health::Health,
        admin::ImportOutcome,
        admin::ContractListing,
        admin::RepriceRequest,
        crate::store::reprice::RepriceOutcome,
        crate::pricing::ContractSpec,
        budgets::BudgetListing,
        crate::reports::budgets::BudgetSpec,
        crate::reports::budgets::BudgetScope,
        crate::reports::budgets::BudgetPeriod,
        retention::RetentionRequest,
        crate::store::retention::RetentionOutcome,
        lake::LakeRequest,
        crate::export::lake::LakeReport,
        crate::export::lake::LakeDay,
        crate::export::lake::DayAction,
        crate::export::lake::DayReason,
    )),
    tags(
        (name = "ingest", description = "Usage records in, from any gateway"),
        (name = "reports", description = "Spend and usage reports. The server answers every report at `GET /v1/reports/{name}` (an unknown name is 404 `not_found`); each name is documented here as its own path, with the parameters that change its result and its JSON document. A parameter no report takes is refused (400 `invalid_parameter`); a common parameter a report does not use is checked and otherwise ignored, as the report says."),
        (name = "prices", description = "The effective-dated price catalog"),
        (name = "export", description = "Canonical events out: one file, or the Parquet lake"),
        (name = "admin", description = "Retention"),
        (name = "budgets", description = "Budgets per team, project, key, user or tag"),
        (name = "health", description = "Liveness and readiness"),
        (name = "docs", description = "This document")
    )
)]
pub struct ApiDoc;

/// The OpenAPI document as pretty JSON, with a trailing newline (the checked-in form).
///
/// # Errors
/// When serialisation fails (a defect).
pub fn document_json() -> Result<String, serde_json::Error> {
    let mut text = ApiDoc::openapi().to_pretty_json()?;
    text.push('\n');
    Ok(text)
}
