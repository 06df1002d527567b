//! `GET /v1/budgets`, `GET/PUT/DELETE /v1/budgets/{id}`: budgets per team, project, key, user or
//! tag, per month or day. Their status is the `budgets` report.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::AppState;
use super::auth::{AdminKey, ReadKey};
use super::error::{ApiError, ErrorBody};
use crate::reports::budgets::{self, Budget, BudgetSpec};

/// A stored budget.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BudgetListing {
    pub budget_id: String,
    #[serde(flatten)]
    pub spec: BudgetSpec,
}

fn listing(budget: Budget) -> BudgetListing {
    BudgetListing {
        budget_id: budget.budget_id,
        spec: budget.spec,
    }
}

async fn load(state: &web::Data<AppState>) -> Result<Vec<Budget>, ApiError> {
    let readers = state.readers.clone();
    Ok(web::block(move || readers.with_conn(budgets::load)).await??)
}

/// Every budget.
#[utoipa::path(get, path = "/v1/budgets", tag = "budgets",
    responses((status = 200, description = "Every budget", body = Vec<BudgetListing>)))]
pub async fn list_budgets(state: web::Data<AppState>, caller: ReadKey) -> Result<HttpResponse, ApiError> {
    let budgets: Vec<BudgetListing> = load(&state)
        .await?
        .into_iter()
        .filter(|budget| budget.visible_to(caller.team_scope()))
        .map(listing)
        .collect();
    Ok(HttpResponse::Ok().json(budgets))
}

/// One budget.
#[utoipa::path(get, path = "/v1/budgets/{id}", tag = "budgets",
    params(("id" = String, Path, description = "Budget id")),
    responses(
        (status = 200, description = "The budget", body = BudgetListing),
        (status = 404, description = "No such budget (`not_found`)", body = ErrorBody)))]
pub async fn get_budget(
    state: web::Data<AppState>,
    id: web::Path<String>,
    caller: ReadKey,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let budget = load(&state)
        .await?
        .into_iter()
        .find(|budget| budget.budget_id == id && budget.visible_to(caller.team_scope()))
        .ok_or_else(|| ApiError::NotFound {
            what: format!("budget `{id}`"),
        })?;
    Ok(HttpResponse::Ok().json(listing(budget)))
}

/// Create or replace a budget.
///
/// The id is yours (letters, digits, `-`, `_`, `.`). A budget covers every call matching all of
/// its scope fields, per calendar month or day of its time zone; `GET /v1/reports/budgets` gives
/// spend to date, burn rate, forecast and status.
#[utoipa::path(put, path = "/v1/budgets/{id}", tag = "budgets",
    params(("id" = String, Path, description = "Budget id")),
    request_body = BudgetSpec,
    responses(
        (status = 201, description = "Created", body = BudgetListing),
        (status = 200, description = "Replaced", body = BudgetListing),
        (status = 400, description = "Invalid budget (`invalid_parameter`)", body = ErrorBody)))]
pub async fn put_budget(
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
    _caller: AdminKey,
) -> Result<HttpResponse, ApiError> {
    let body = super::with_timeout(
        state.request_timeout,
        super::read_body(payload, state.limits.max_body_bytes),
    )
    .await?;
    let spec: BudgetSpec = serde_json::from_slice(&body).map_err(|error| ApiError::InvalidParameter {
        parameter: "body".to_owned(),
        reason: error.to_string(),
    })?;
    let budget = Budget::from_spec(&id.into_inner(), spec).map_err(ApiError::from)?;
    let text = serde_json::to_string(&budget.spec).map_err(|error| ApiError::Internal(error.to_string()))?;
    let replaced = state.writer.put_budget(budget.budget_id.clone(), text).await?;
    let listing = listing(budget);
    Ok(if replaced {
        HttpResponse::Ok().json(listing)
    } else {
        HttpResponse::Created().json(listing)
    })
}

/// Delete a budget.
#[utoipa::path(delete, path = "/v1/budgets/{id}", tag = "budgets",
    params(("id" = String, Path, description = "Budget id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such budget (`not_found`)", body = ErrorBody)))]
pub async fn delete_budget(
    state: web::Data<AppState>,
    id: web::Path<String>,
    _caller: AdminKey,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if state.writer.delete_budget(id.clone()).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound {
            what: format!("budget `{id}`"),
        })
    }
}
