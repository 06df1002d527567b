//! Contracted prices: a negotiated discount, or rates that replace the list price, for a
//! provider, a model, a team, or any combination, effective-dated ("Anthropic −12 % from
//! 2026-09-01"). A priced record then carries both its list cost (catalog) and its contracted
//! cost, and the id of the contract that applied.
//!
//! When several contracts match a record, the most specific wins (more of provider / model /
//! team named), then the latest `effective_from`. Contracts never stack.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::PricingError;
use super::catalog::{Layer, RateCard};
use super::lookup::normalize;
use super::spec::{Rates, instant, opt_decimal, opt_instant};
use crate::model::Provider;

/// A contract as people and files write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractSpec {
    /// A short name (`anthropic-enterprise-2026`); with `effective_from` it identifies the
    /// contract.
    pub name: String,
    /// Only calls served by this provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Only calls of this model (matched on the normalised `model_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Only calls of this team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(with = "instant")]
    #[schema(value_type = String, example = "2026-09-01")]
    pub effective_from: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_instant")]
    #[schema(value_type = Option<String>)]
    pub effective_to: Option<DateTime<Utc>>,
    /// Percent off the list cost (`12` = −12 %). Either this or rates.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>, example = "12")]
    pub discount_percent: Option<Decimal>,
    /// Contracted rates per million tokens; components not given keep the list rates.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>)]
    pub input_per_mtok: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>)]
    pub output_per_mtok: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>)]
    pub cached_input_per_mtok: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>)]
    pub cache_write_per_mtok: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>)]
    pub cache_write_1h_per_mtok: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>)]
    pub reasoning_per_mtok: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What a contract changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Terms {
    /// Multiply the list cost by this factor (`0.88` for −12 %).
    Factor(Decimal),
    /// Replace these rate components of the list entry.
    Rates(RateCard),
}

/// A validated contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    /// `contract:<name>@<effective_from>`.
    pub contract_id: String,
    pub layer: Layer,
    pub provider: Option<Provider>,
    pub model_key: Option<String>,
    pub team: Option<String>,
    pub effective_from: DateTime<Utc>,
    pub effective_to: Option<DateTime<Utc>>,
    pub terms: Terms,
    pub spec: ContractSpec,
}

impl Contract {
    /// Validates a spec.
    ///
    /// # Errors
    /// [`PricingError::InvalidSpec`] naming the problem.
    pub fn from_spec(layer: Layer, spec: ContractSpec) -> Result<Contract, PricingError> {
        let invalid = |reason: String| PricingError::InvalidSpec { reason };
        if spec.name.trim().is_empty() {
            return Err(invalid("a contract needs a `name`".to_owned()));
        }
        if spec.provider.is_none() && spec.model.is_none() && spec.team.is_none() {
            return Err(invalid(format!(
                "contract `{}` must name a provider, a model or a team",
                spec.name
            )));
        }
        if let Some(to) = spec.effective_to
            && to <= spec.effective_from
        {
            return Err(invalid(format!(
                "contract `{}`: `effective_to` must be after `effective_from`",
                spec.name
            )));
        }
        let rates = Rates {
            input_per_mtok: spec.input_per_mtok,
            output_per_mtok: spec.output_per_mtok,
            cached_input_per_mtok: spec.cached_input_per_mtok,
            cache_write_per_mtok: spec.cache_write_per_mtok,
            cache_write_1h_per_mtok: spec.cache_write_1h_per_mtok,
            reasoning_per_mtok: spec.reasoning_per_mtok,
            per_request: None,
        };
        let terms = match (spec.discount_percent, rates.is_empty()) {
            (Some(percent), true) => {
                if percent.is_sign_negative() || percent > Decimal::ONE_HUNDRED {
                    return Err(invalid(format!(
                        "contract `{}`: `discount_percent` must be between 0 and 100, got {percent}",
                        spec.name
                    )));
                }
                Terms::Factor((Decimal::ONE_HUNDRED - percent) / Decimal::ONE_HUNDRED)
            }
            (None, false) => Terms::Rates(RateCard::from_rates(&rates, "")?),
            _ => {
                return Err(invalid(format!(
                    "contract `{}` needs either `discount_percent` or rates, not both and not neither",
                    spec.name
                )));
            }
        };
        let contract_id = format!(
            "contract:{}@{}",
            spec.name.trim(),
            spec.effective_from
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        );
        Ok(Contract {
            contract_id,
            layer,
            provider: spec.provider.as_deref().map(Provider::normalize),
            model_key: spec.model.as_deref().map(normalize),
            team: spec.team.clone(),
            effective_from: spec.effective_from,
            effective_to: spec.effective_to,
            terms,
            spec,
        })
    }

    fn matches(&self, provider: &Provider, model_key: &str, team: &str, ts: DateTime<Utc>) -> bool {
        self.effective_from <= ts
            && self.effective_to.is_none_or(|to| ts < to)
            && self.provider.as_ref().is_none_or(|wanted| wanted == provider)
            && self.model_key.as_deref().is_none_or(|wanted| wanted == model_key)
            && self.team.as_deref().is_none_or(|wanted| wanted == team)
    }

    fn specificity(&self) -> usize {
        usize::from(self.provider.is_some())
            + usize::from(self.model_key.is_some())
            + usize::from(self.team.is_some())
    }
}

/// Returns the contract that applies to a call, if any.
pub fn applicable<'c>(
    contracts: &'c [Contract],
    provider: &Provider,
    model_key: &str,
    team: &str,
    ts: DateTime<Utc>,
) -> Option<&'c Contract> {
    contracts
        .iter()
        .filter(|contract| contract.matches(provider, model_key, team, ts))
        .max_by(|a, b| {
            (a.specificity(), a.effective_from, a.layer)
                .cmp(&(b.specificity(), b.effective_from, b.layer))
                .then_with(|| b.contract_id.cmp(&a.contract_id))
        })
}
