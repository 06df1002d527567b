//! Pricing: the price catalog (shipped, overrides file, user-added), the lookup ladder from a
//! record's model to a catalog entry, and exact cost computation.
//!
//! In: a [`UsageRecord`] and a [`Catalog`] snapshot. Out: a [`PricedRecord`] with `model_key`,
//! `cost_usd` and where the cost came from ([`Cost`]).
//!
//! Invariants: money never touches a float; an unknown model is [`Cost::Unpriced`], never $0;
//! pricing never reads `reported_cost_usd` except to fall back on it when the catalog has no
//! price ([`Cost::Reported`]).

pub mod book;
pub mod catalog;
pub mod contract;
pub mod cost;
pub mod import;
pub mod litellm_map;
pub mod lookup;
pub mod overrides;
pub mod spec;

use std::sync::Arc;

pub use book::{PriceBook, PriceLayers};
pub use catalog::{Catalog, Layer, PriceEntry, Resolution};
pub use contract::{Contract, ContractSpec};
pub use spec::{PriceSpec, Rates, Variant};

use chrono::{DateTime, Utc};

use crate::model::{CostSource, Provider, ServiceTier, TokenUsage, UsageRecord, Usd};

/// The shipped catalog, derived from the public LiteLLM price map by `llm-ledger prices
/// build-catalog`.
pub const SHIPPED_CATALOG: &str = include_str!("catalog.jsonl");

/// A problem with prices (never with a single record: those are [`Cost::Unpriced`]).
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error("invalid price: {reason}")]
    InvalidSpec { reason: String },
    #[error("line {line} of {origin}: {reason}")]
    InvalidFile {
        origin: String,
        line: usize,
        reason: String,
    },
    #[error("price `{price_id}` has no `{component}` and no fallback for it")]
    MissingComponent {
        price_id: String,
        component: &'static str,
    },
    #[error("arithmetic overflow while computing a cost")]
    Overflow,
}

/// What a record costs, and why we believe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cost {
    /// Computed from the catalog entry `price_id`: `list_usd` at list price, `usd` after the
    /// contract `contract_id` (equal to `list_usd` when no contract applies), with the priced
    /// lines and what caching saved.
    Catalog {
        usd: Usd,
        list_usd: Usd,
        price_id: String,
        contract_id: Option<String>,
        lines: Vec<cost::CostLine>,
        cache_savings: Usd,
        cache_hit_savings: Usd,
    },
    /// No catalog price; the gateway's reported cost.
    Reported { usd: Usd },
    /// Nobody knows: flagged, listed, never counted as $0.
    Unpriced,
}

impl Cost {
    pub fn source(&self) -> CostSource {
        match self {
            Cost::Catalog { .. } => CostSource::Catalog,
            Cost::Reported { .. } => CostSource::Reported,
            Cost::Unpriced => CostSource::Unpriced,
        }
    }

    /// The cost the ledger books: contracted when a contract applies.
    pub fn usd(&self) -> Option<Usd> {
        match self {
            Cost::Catalog { usd, .. } | Cost::Reported { usd } => Some(*usd),
            Cost::Unpriced => None,
        }
    }

    /// The cost at list price.
    pub fn list_usd(&self) -> Option<Usd> {
        match self {
            Cost::Catalog { list_usd, .. } => Some(*list_usd),
            Cost::Reported { usd } => Some(*usd),
            Cost::Unpriced => None,
        }
    }

    pub fn price_id(&self) -> Option<&str> {
        match self {
            Cost::Catalog { price_id, .. } => Some(price_id),
            Cost::Reported { .. } | Cost::Unpriced => None,
        }
    }

    pub fn contract_id(&self) -> Option<&str> {
        match self {
            Cost::Catalog { contract_id, .. } => contract_id.as_deref(),
            Cost::Reported { .. } | Cost::Unpriced => None,
        }
    }

    /// The priced lines (empty unless priced from the catalog).
    pub fn lines(&self) -> &[cost::CostLine] {
        match self {
            Cost::Catalog { lines, .. } => lines,
            Cost::Reported { .. } | Cost::Unpriced => &[],
        }
    }

    /// What the provider's prompt cache saved (catalog-priced calls only).
    pub fn cache_savings(&self) -> Option<Usd> {
        match self {
            Cost::Catalog { cache_savings, .. } => Some(*cache_savings),
            Cost::Reported { .. } | Cost::Unpriced => None,
        }
    }

    /// What a gateway response-cache hit saved (catalog-priced calls only).
    pub fn cache_hit_savings(&self) -> Option<Usd> {
        match self {
            Cost::Catalog {
                cache_hit_savings, ..
            } => Some(*cache_hit_savings),
            Cost::Reported { .. } | Cost::Unpriced => None,
        }
    }
}

/// Everything pricing needs to know about a call.
#[derive(Debug, Clone)]
pub struct PriceQuery<'a> {
    pub provider: &'a Provider,
    pub model: &'a str,
    pub ts: DateTime<Utc>,
    pub team: &'a str,
    pub tokens: TokenUsage,
    pub service_tier: ServiceTier,
    pub request_count: u64,
    pub cache_hit: bool,
    pub reported_cost_usd: Option<Usd>,
}

impl<'a> PriceQuery<'a> {
    pub fn of(record: &'a UsageRecord) -> PriceQuery<'a> {
        PriceQuery {
            provider: &record.provider,
            model: &record.model,
            ts: record.ts,
            team: &record.team,
            tokens: record.tokens,
            service_tier: record.service_tier,
            request_count: record.request_count,
            cache_hit: record.cache_hit,
            reported_cost_usd: record.reported_cost_usd,
        }
    }
}

/// The price of a call: the normalised model and the cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub model_key: String,
    pub cost: Cost,
}

/// A record with its price.
#[derive(Debug, Clone)]
pub struct PricedRecord {
    pub record: UsageRecord,
    pub model_key: String,
    pub cost: Cost,
}

/// Prices a call with the catalog entry and the contract in force at its `ts`.
pub fn quote(catalog: &Catalog, query: &PriceQuery<'_>) -> Quote {
    let Resolution { model_key, entry } = catalog.resolve(query.provider, query.model, query.ts);
    let catalog_cost = entry.as_ref().and_then(|entry| {
        let contract = contract::applicable(
            catalog.contracts(),
            query.provider,
            &model_key,
            query.team,
            query.ts,
        );
        match cost::price_lines(entry, query, contract.map(|contract| &contract.terms)) {
            Ok(priced) => Some(catalog_cost_of(priced, entry, contract)),
            Err(error) => {
                tracing::debug!(%error, model = query.model, "catalog entry cannot price call");
                None
            }
        }
    });
    let cost = catalog_cost.unwrap_or_else(|| match query.reported_cost_usd {
        Some(usd) => Cost::Reported {
            usd: usd.to_stored_scale(),
        },
        None => Cost::Unpriced,
    });
    Quote { model_key, cost }
}

/// Prices a call again with the entry and contract that priced it before (by their ids), to
/// recover the lines of a stored cost; `None` when either is no longer in the catalog or does
/// not give the stored amounts (`usd`, `list_usd`) exactly.
pub fn requote(
    catalog: &Catalog,
    query: &PriceQuery<'_>,
    price_id: &str,
    contract_id: Option<&str>,
    stored: (Usd, Usd),
) -> Option<Cost> {
    let entry = catalog.entry(price_id)?;
    let contract = match contract_id {
        None => None,
        Some(id) => Some(
            catalog
                .contracts()
                .iter()
                .find(|contract| contract.contract_id == id)?,
        ),
    };
    let priced = cost::price_lines(entry, query, contract.map(|contract| &contract.terms)).ok()?;
    let (usd, list_usd) = stored;
    let exact = priced.contracted.to_stored_scale() == usd && priced.list.to_stored_scale() == list_usd;
    exact.then(|| catalog_cost_of(priced, entry, contract))
}

/// The cost of a call priced by `entry` (and `contract`), with its lines and ids.
fn catalog_cost_of(priced: cost::Priced, entry: &PriceEntry, contract: Option<&contract::Contract>) -> Cost {
    Cost::Catalog {
        usd: priced.contracted,
        list_usd: priced.list,
        price_id: entry.price_id.clone(),
        contract_id: contract.map(|contract| contract.contract_id.clone()),
        lines: priced.lines,
        cache_savings: priced.cache_savings,
        cache_hit_savings: priced.cache_hit_savings,
    }
}

/// Prices one record.
pub fn price(catalog: &Catalog, record: UsageRecord) -> PricedRecord {
    let Quote { model_key, cost } = quote(catalog, &PriceQuery::of(&record));
    PricedRecord {
        record,
        model_key,
        cost,
    }
}

/// Loads the shipped catalog's specs.
///
/// # Errors
/// [`PricingError::InvalidFile`] when the embedded file is malformed (a build defect).
pub fn shipped_specs() -> Result<Vec<PriceSpec>, PricingError> {
    parse_jsonl(SHIPPED_CATALOG, "the shipped catalog")
}

/// Parses a JSON Lines file of [`PriceSpec`]s.
///
/// # Errors
/// [`PricingError::InvalidFile`] naming the line.
pub fn parse_jsonl(text: &str, origin: &str) -> Result<Vec<PriceSpec>, PricingError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(idx, line)| {
            serde_json::from_str::<PriceSpec>(line).map_err(|error| PricingError::InvalidFile {
                origin: origin.to_owned(),
                line: idx + 1,
                reason: error.to_string(),
            })
        })
        .collect()
}

/// Builds a catalog from layered specs.
///
/// # Errors
/// The first invalid spec.
pub fn build_catalog(
    layers: Vec<(Layer, Vec<PriceSpec>)>,
    contracts: Vec<(Layer, Vec<ContractSpec>)>,
) -> Result<Arc<Catalog>, PricingError> {
    let mut entries: Vec<PriceEntry> = Vec::new();
    for (layer, specs) in layers {
        for spec in specs {
            entries.push(PriceEntry::from_spec(layer, spec)?);
        }
    }
    // A later entry in the same slot (a corrected price) replaces the earlier one; the earlier
    // one keeps its own id in storage, so records it priced stay auditable.
    let mut last_of_slot: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (idx, entry) in entries.iter().enumerate() {
        last_of_slot.insert(entry.slot().to_owned(), idx);
    }
    let entries: Vec<PriceEntry> = entries
        .into_iter()
        .enumerate()
        .filter(|(idx, entry)| last_of_slot.get(entry.slot()) == Some(idx))
        .map(|(_, entry)| entry)
        .collect();
    let mut validated = Vec::new();
    for (layer, specs) in contracts {
        for spec in specs {
            validated.push(Contract::from_spec(layer, spec)?);
        }
    }
    Ok(Arc::new(Catalog::new(entries).with_contracts(validated)))
}
