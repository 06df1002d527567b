//! `GET /v1/prices` (the catalog in force) and `POST /v1/prices` (add effective-dated prices).

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{AdminKey, ReadKey};
use super::error::{ApiError, ErrorBody};
use crate::pricing::spec::parse_instant;
use crate::pricing::{PriceBook, PriceEntry, PriceSpec};

/// Query parameters of `GET /v1/prices`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PricesQuery {
    /// Show the entries in force at this instant (RFC 3339 or `YYYY-MM-DD`); default now.
    pub at: Option<String>,
    /// Only entries whose model or model key contains this text (case-insensitive).
    pub model: Option<String>,
    /// Only entries of this provider.
    pub provider: Option<String>,
    /// Most entries returned (default 500).
    pub limit: Option<usize>,
}

/// One catalog entry as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PriceListing {
    /// `<layer>:<provider>/<model>@<effective_from>`: what records priced by it carry.
    #[schema(example = "catalog:openai/gpt-4o-mini@1970-01-01")]
    pub price_id: String,
    /// `catalog` (shipped), `file` (overrides file) or `user` (added through the API).
    pub layer: String,
    pub model_key: String,
    #[serde(flatten)]
    pub spec: PriceSpec,
}

/// The response of `GET /v1/prices`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PriceList {
    /// The instant the listing is for.
    pub at: String,
    /// Entries matching the filters (before `limit`).
    pub total: usize,
    pub prices: Vec<PriceListing>,
}

pub(crate) fn listing(entry: &PriceEntry) -> PriceListing {
    PriceListing {
        price_id: entry.price_id.clone(),
        layer: entry.layer.as_str().to_owned(),
        model_key: entry.model_key.clone(),
        spec: entry.spec.clone(),
    }
}

/// The prices in force.
///
/// For every (provider, model) the entry in force at `at` (the latest `effective_from` not after
/// it; at equal dates `user` beats `file` beats `catalog`).
#[utoipa::path(get, path = "/v1/prices", tag = "prices",
    params(PricesQuery),
    responses(
        (status = 200, description = "Entries in force", body = PriceList),
        (status = 400, description = "Bad parameter (`invalid_parameter`)", body = ErrorBody)))]
pub async fn list_prices(
    state: web::Data<AppState>,
    query: web::Query<PricesQuery>,
    _caller: ReadKey,
) -> Result<HttpResponse, ApiError> {
    let at = match query.at.as_deref() {
        None => Utc::now(),
        Some(text) => parse_instant(text).ok_or_else(|| ApiError::InvalidParameter {
            parameter: "at".to_owned(),
            reason: format!("expected RFC 3339 or YYYY-MM-DD, got `{text}`"),
        })?,
    };
    let needle = query.model.as_deref().map(str::to_ascii_lowercase);
    let provider = query.provider.as_deref().map(crate::model::Provider::normalize);
    let limit = query.limit.unwrap_or(500);
    let catalog = state.prices.current();
    let mut chosen: std::collections::BTreeMap<(String, String), &PriceEntry> =
        std::collections::BTreeMap::new();
    for entry in catalog.entries() {
        if !entry.in_force_at(at) {
            continue;
        }
        if provider
            .as_ref()
            .is_some_and(|provider| &entry.provider != provider)
        {
            continue;
        }
        if let Some(needle) = &needle
            && !entry.model.contains(needle.as_str())
            && !entry.model_key.contains(needle.as_str())
        {
            continue;
        }
        let key = (entry.provider.as_str().to_owned(), entry.model.clone());
        let replace = chosen.get(&key).is_none_or(|current| {
            (entry.effective_from, entry.layer) > (current.effective_from, current.layer)
        });
        if replace {
            chosen.insert(key, entry);
        }
    }
    let total = chosen.len();
    let prices = chosen.values().take(limit).map(|entry| listing(entry)).collect();
    Ok(HttpResponse::Ok().json(PriceList {
        at: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        total,
        prices,
    }))
}

/// One spec or a list of them (OpenAPI shape of the request body: either JSON value as it is,
/// no wrapping object).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum PricesBody {
    Many(Vec<PriceSpec>),
    One(Box<PriceSpec>),
}

/// The response of `POST /v1/prices`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PricesAdded {
    pub added: usize,
    pub prices: Vec<PriceListing>,
}

/// Add effective-dated prices.
///
/// Each entry applies to records whose `ts` is at or after `effective_from` (and before
/// `effective_to`). An entry with the same provider, model and `effective_from` as an earlier
/// user entry replaces it. New prices apply to records ingested from now on; re-price stored
/// records explicitly.
#[utoipa::path(post, path = "/v1/prices", tag = "prices",
    request_body(content = PricesBody, description = "One price entry or a list"),
    responses(
        (status = 201, description = "Stored and in force for new records", body = PricesAdded),
        (status = 400, description = "Not JSON (`invalid_json`)", body = ErrorBody),
        (status = 422, description = "Invalid entry (`invalid_price`)", body = ErrorBody)))]
pub async fn add_prices(
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
    let specs: Vec<PriceSpec> = if is_list {
        serde_json::from_slice(&body).map_err(invalid)?
    } else {
        vec![serde_json::from_slice(&body).map_err(invalid)?]
    };
    if specs.is_empty() {
        return Err(ApiError::InvalidPrice("no price entries in the body".to_owned()));
    }
    let entries = PriceBook::validate_user(&specs)?;
    state.writer.add_prices(entries.clone()).await?;
    state.prices.add_user(&entries)?;
    tracing::info!(added = entries.len(), "prices added");
    Ok(HttpResponse::Created().json(PricesAdded {
        added: entries.len(),
        prices: entries.iter().map(listing).collect(),
    }))
}
