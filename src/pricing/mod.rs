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
pub mod cost;
pub mod litellm_map;
pub mod lookup;
pub mod overrides;
pub mod spec;

use std::sync::Arc;

pub use book::PriceBook;
pub use catalog::{Catalog, Layer, PriceEntry, Resolution};
pub use spec::{PriceSpec, Rates, Variant};

use crate::model::{CostSource, UsageRecord, Usd};

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
    /// Computed from the catalog entry `price_id`.
    Catalog { usd: Usd, price_id: String },
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

    pub fn usd(&self) -> Option<Usd> {
        match self {
            Cost::Catalog { usd, .. } | Cost::Reported { usd } => Some(*usd),
            Cost::Unpriced => None,
        }
    }

    pub fn price_id(&self) -> Option<&str> {
        match self {
            Cost::Catalog { price_id, .. } => Some(price_id),
            Cost::Reported { .. } | Cost::Unpriced => None,
        }
    }
}

/// A record with its price.
#[derive(Debug, Clone)]
pub struct PricedRecord {
    pub record: UsageRecord,
    pub model_key: String,
    pub cost: Cost,
}

/// Prices one record with the catalog entry in force at its `ts`.
pub fn price(catalog: &Catalog, record: UsageRecord) -> PricedRecord {
    let Resolution { model_key, entry } = catalog.resolve(&record.provider, &record.model, record.ts);
    let catalog_cost = entry.as_ref().and_then(|entry| match cost::cost_of(entry, &record) {
        Ok(usd) => Some(Cost::Catalog {
            usd,
            price_id: entry.price_id.clone(),
        }),
        Err(error) => {
            tracing::debug!(%error, event_id = record.event_id.as_str(), "catalog entry cannot price record");
            None
        }
    });
    let cost = catalog_cost.unwrap_or_else(|| match record.reported_cost_usd {
        Some(usd) => Cost::Reported {
            usd: usd.to_stored_scale(),
        },
        None => Cost::Unpriced,
    });
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
pub fn build_catalog(layers: Vec<(Layer, Vec<PriceSpec>)>) -> Result<Arc<Catalog>, PricingError> {
    let mut entries = Vec::new();
    for (layer, specs) in layers {
        for spec in specs {
            entries.push(PriceEntry::from_spec(layer, spec)?);
        }
    }
    Ok(Arc::new(Catalog::new(entries)))
}
