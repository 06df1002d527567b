//! Catalog administration: `POST /v1/prices/import` (a LiteLLM-style price map as dated
//! prices), `GET/POST /v1/contracts` (negotiated discounts and rates) and
//! `POST /v1/admin/reprice` (price a period again after prices changed).

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{AdminKey, ReadKey};
use super::error::{ApiError, ErrorBody};
use super::prices::{PriceListing, listing};
use crate::pricing::spec::parse_instant;
use crate::pricing::{ContractSpec, PriceBook, import};
use crate::store::reprice::{RepriceOutcome, RepriceScope};

/// Query parameters of `POST /v1/prices/import`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// When the imported prices take effect (RFC 3339 or `YYYY-MM-DD`); default now. Records
    /// before it keep the prices they had.
    pub effective_from: Option<String>,
    /// Where the map comes from, noted on each entry (default `price map import`).
    pub note: Option<String>,
}

/// What an import added.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportOutcome {
    pub effective_from: String,
    pub models_read: usize,
    /// Entries added: models new to the catalog or whose prices changed.
    pub added: usize,
    /// Models already in force with the same prices.
    pub unchanged: usize,
    /// Models without token prices (images, audio, …).
    pub skipped: usize,
    /// The first 100 added entries.
    pub prices: Vec<PriceListing>,
}

/// Import a LiteLLM-style price map.
///
/// The body is a price map in the format of LiteLLM's `model_prices_and_context_window.json`.
/// Every model whose prices differ from what is in force at `effective_from` gets a new entry
/// from that instant; importing the same map again adds nothing. Stored costs are not changed:
/// run `POST /v1/admin/reprice` for that.
#[utoipa::path(post, path = "/v1/prices/import", tag = "prices",
    params(ImportQuery),
    request_body(content = Object, description = "A LiteLLM-style price map", content_type = "application/json"),
    responses(
        (status = 200, description = "Imported", body = ImportOutcome),
        (status = 400, description = "Bad parameter (`invalid_parameter`)", body = ErrorBody),
        (status = 422, description = "Not a price map (`invalid_price`)", body = ErrorBody)))]
pub async fn import_prices(
    state: web::Data<AppState>,
    query: web::Query<ImportQuery>,
    payload: web::Payload,
    _caller: AdminKey,
) -> Result<HttpResponse, ApiError> {
    let body = super::with_timeout(
        state.request_timeout,
        super::read_body(payload, state.limits.max_body_bytes),
    )
    .await?;
    let effective_from = match query.effective_from.as_deref() {
        None => Utc::now(),
        Some(text) => parse_instant(text).ok_or_else(|| ApiError::InvalidParameter {
            parameter: "effective_from".to_owned(),
            reason: format!("expected RFC 3339 or YYYY-MM-DD, got `{text}`"),
        })?,
    };
    let note = query
        .note
        .clone()
        .unwrap_or_else(|| "price map import".to_owned());
    let catalog = state.prices.current();
    let plan = web::block(move || {
        let text = String::from_utf8(body).map_err(|_| ApiError::InvalidUtf8)?;
        import::plan(&text, effective_from, &note, &catalog).map_err(ApiError::from)
    })
    .await??;
    let entries = PriceBook::validate_user(&plan.to_add)?;
    if !entries.is_empty() {
        state.writer.add_prices(entries.clone()).await?;
        state.prices.add_user(&entries)?;
    }
    tracing::info!(
        added = entries.len(),
        unchanged = plan.unchanged,
        "price map imported"
    );
    Ok(HttpResponse::Ok().json(ImportOutcome {
        effective_from: effective_from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        models_read: plan.models_read,
        added: entries.len(),
        unchanged: plan.unchanged,
        skipped: plan.skipped_no_token_price + plan.skipped_duplicates,
        prices: entries.iter().take(100).map(listing).collect(),
    }))
}

/// A contract as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContractListing {
    /// `contract:<name>@<effective_from>`: what records it applied to carry.
    pub contract_id: String,
    /// `file` (overrides file) or `user` (added through the API).
    pub layer: String,
    #[serde(flatten)]
    pub spec: ContractSpec,
}

/// The contracts.
#[utoipa::path(get, path = "/v1/contracts", tag = "prices",
    responses((status = 200, description = "Every contract, in force or not", body = Vec<ContractListing>)))]
pub async fn list_contracts(state: web::Data<AppState>, caller: ReadKey) -> HttpResponse {
    let catalog = state.prices.current();
    // A team-scoped key sees the contracts that name its team (as in ad-hoc SQL).
    let listings: Vec<ContractListing> = catalog
        .contracts()
        .iter()
        .filter(|contract| {
            caller
                .team_scope()
                .is_none_or(|team| contract.spec.team.as_deref() == Some(team))
        })
        .map(|contract| ContractListing {
            contract_id: contract.contract_id.clone(),
            layer: contract.layer.as_str().to_owned(),
            spec: contract.spec.clone(),
        })
        .collect();
    HttpResponse::Ok().json(listings)
}

/// One contract or a list of them (OpenAPI shape of the request body, as sent).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ContractsBody {
    Many(Vec<ContractSpec>),
    One(Box<ContractSpec>),
}

/// Add contracts.
///
/// A contract gives a discount (`discount_percent`) or its own rates for calls of a provider,
/// a model, a team or a combination, from `effective_from`. Priced records then carry their list
/// cost (`list_cost_usd`) and their contracted cost (`cost_usd`). New contracts apply to records
/// ingested from now on; re-price to apply them to stored records.
#[utoipa::path(post, path = "/v1/contracts", tag = "prices",
    request_body(content = ContractsBody, description = "One contract or a list"),
    responses(
        (status = 201, description = "Stored", body = Vec<ContractListing>),
        (status = 422, description = "Invalid contract (`invalid_price`)", body = ErrorBody)))]
pub async fn add_contracts(
    state: web::Data<AppState>,
    payload: web::Payload,
    _caller: AdminKey,
) -> Result<HttpResponse, ApiError> {
    let body = super::with_timeout(
        state.request_timeout,
        super::read_body(payload, state.limits.max_body_bytes),
    )
    .await?;
    let invalid = |error: serde_json::Error| ApiError::InvalidPrice(error.to_string());
    let is_list = body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[');
    let specs: Vec<ContractSpec> = if is_list {
        serde_json::from_slice(&body).map_err(invalid)?
    } else {
        vec![serde_json::from_slice(&body).map_err(invalid)?]
    };
    if specs.is_empty() {
        return Err(ApiError::InvalidPrice("no contracts in the body".to_owned()));
    }
    let contracts = PriceBook::validate_contracts(&specs)?;
    state.writer.add_contracts(contracts.clone()).await?;
    state.prices.add_contracts(&contracts)?;
    let listings: Vec<ContractListing> = contracts
        .into_iter()
        .map(|contract| ContractListing {
            contract_id: contract.contract_id,
            layer: contract.layer.as_str().to_owned(),
            spec: contract.spec,
        })
        .collect();
    Ok(HttpResponse::Created().json(listings))
}

/// The body of `POST /v1/admin/reprice`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepriceRequest {
    /// Start, inclusive (RFC 3339 or `YYYY-MM-DD`, UTC).
    pub from: String,
    /// End, exclusive.
    pub to: String,
    /// Only events of this model (model key or gateway model string).
    pub model: Option<String>,
    /// Only events of this provider.
    pub provider: Option<String>,
}

/// Re-price a period.
///
/// Prices every stored event of `[from, to)` again with the current catalog and contracts —
/// after a price was added or corrected, or to price events that were `unpriced`. Reports how
/// many events changed and the cost delta. Safe to run twice: the second run changes nothing.
#[utoipa::path(post, path = "/v1/admin/reprice", tag = "prices",
    request_body = RepriceRequest,
    responses(
        (status = 200, description = "Re-priced", body = RepriceOutcome),
        (status = 400, description = "Bad parameter (`invalid_parameter`)", body = ErrorBody)))]
pub async fn reprice(
    state: web::Data<AppState>,
    body: web::Json<RepriceRequest>,
    _caller: AdminKey,
) -> Result<HttpResponse, ApiError> {
    let bound = |name: &str, text: &str| {
        parse_instant(text).ok_or_else(|| ApiError::InvalidParameter {
            parameter: name.to_owned(),
            reason: format!("expected RFC 3339 or YYYY-MM-DD, got `{text}`"),
        })
    };
    let scope = RepriceScope {
        from: bound("from", &body.from)?,
        to: bound("to", &body.to)?,
        model: body.model.clone(),
        provider: body
            .provider
            .as_deref()
            .map(|name| crate::model::Provider::normalize(name).as_str().to_owned()),
    };
    if scope.from >= scope.to {
        return Err(ApiError::InvalidParameter {
            parameter: "from".to_owned(),
            reason: "must be before `to`".to_owned(),
        });
    }
    let outcome = state.writer.reprice(scope, state.prices.current()).await?;
    Ok(HttpResponse::Ok().json(outcome))
}
