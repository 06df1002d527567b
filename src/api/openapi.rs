//! The OpenAPI document, assembled in one place from the handlers' `#[utoipa::path]`
//! annotations. `llm-ledger openapi` writes it; `openapi/openapi.json` is the checked-in copy a
//! test keeps current.

use utoipa::OpenApi;

use super::report_docs::ReportDocs;
use super::{admin, budgets, docs, error, export, health, ingest, lake, prices, retention, sql, traces};
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
        sql::sql,
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
        admin::ContractsBody,
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
        sql::SqlRequest,
        crate::sql::SqlDocument,
        crate::sql::SqlColumn,
    )),
    // One documented path per report (actix serves them all through `/v1/reports/{name}`), then
    // the key requirements of every path.
    modifiers(&ReportDocs, &Security),
    tags(
        (name = "ingest", description = "Usage records in, from any gateway"),
        (name = "reports", description = "Spend and usage reports. The server answers every report at `GET /v1/reports/{name}` (an unknown name is 404 `not_found`); each name is documented here as its own path, with the parameters that change its result and its JSON document. A parameter no report takes is refused (400 `invalid_parameter`); a common parameter a report does not use is checked and otherwise ignored, as the report says."),
        (name = "prices", description = "The effective-dated price catalog"),
        (name = "export", description = "Canonical events out: one file, or the Parquet lake"),
        (name = "admin", description = "Retention"),
        (name = "sql", description = "Ad-hoc read-only SQL over the documented views"),
        (name = "budgets", description = "Budgets per team, project, key, user or tag"),
        (name = "health", description = "Liveness and readiness"),
        (name = "docs", description = "This document")
    )
)]
pub struct ApiDoc;

/// Adds the API-key schemes, and to every operation that needs a key its requirement, the role
/// it needs in its description, and the 401/403 answers.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key: `Authorization: Bearer <key>`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key in the `X-API-Key` header",
            ))),
        );
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                ("get", item.get.as_mut()),
                ("put", item.put.as_mut()),
                ("post", item.post.as_mut()),
                ("delete", item.delete.as_mut()),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let Some(super::Access::Key(role)) = super::access_of(method, path) else {
                    continue;
                };
                operation.security = Some(vec![
                    SecurityRequirement::new("bearer", Vec::<String>::new()),
                    SecurityRequirement::new("api_key", Vec::<String>::new()),
                ]);
                let scope = if role == crate::auth::Role::Read {
                    " A read key limited to a team gets that team's data only."
                } else {
                    ""
                };
                let needs =
                    format!("\n\nRequires a `{role}` key (or `admin`) when the ledger has API keys.{scope}");
                operation.description = Some(operation.description.take().unwrap_or_default() + &needs);
                operation.responses.responses.insert(
                    "401".to_owned(),
                    error("No API key, or an unknown one (`unauthorized`)"),
                );
                operation.responses.responses.insert(
                    "403".to_owned(),
                    error("The key's role does not allow this, or it asks for another team (`forbidden`)"),
                );
            }
        }
    }
}

/// The OpenAPI document as pretty JSON, with a trailing newline (the checked-in form).
///
/// # Errors
/// When serialisation fails (a defect).
pub fn document_json() -> Result<String, serde_json::Error> {
    let mut text = ApiDoc::openapi().to_pretty_json()?;
    text.push('\n');
    Ok(text)
}
