//! Importing a LiteLLM-style price map as dated prices: the map is converted
//! ([`super::litellm_map`]) and compared with what is in force at the import's
//! `effective_from`; only models whose prices differ become new entries. Importing the same map
//! twice adds nothing, and an import never touches stored costs: re-pricing a period is a
//! separate, explicit action.

use chrono::{DateTime, Utc};

use super::{Catalog, PriceSpec, PricingError, Variant};
use crate::model::Provider;

/// What an import will add.
#[derive(Debug, Default)]
pub struct ImportPlan {
    pub models_read: usize,
    /// Entries whose prices differ from (or are missing in) the catalog at `effective_from`.
    pub to_add: Vec<PriceSpec>,
    /// Entries already in force with the same prices.
    pub unchanged: usize,
    pub skipped_no_token_price: usize,
    pub skipped_duplicates: usize,
}

fn same_prices(current: &PriceSpec, new: &PriceSpec) -> bool {
    let sorted = |variants: &[Variant]| {
        let mut variants = variants.to_vec();
        variants.sort_by(|a, b| {
            (&a.service_tier, a.above_input_tokens).cmp(&(&b.service_tier, b.above_input_tokens))
        });
        variants
    };
    current.rates() == new.rates() && sorted(&current.variants) == sorted(&new.variants)
}

/// Plans the import of a price map effective from `effective_from`.
///
/// # Errors
/// [`PricingError::InvalidFile`] when the text is not a price map.
pub fn plan(
    text: &str,
    effective_from: DateTime<Utc>,
    note: &str,
    catalog: &Catalog,
) -> Result<ImportPlan, PricingError> {
    let summary = super::litellm_map::convert(text, effective_from, note)?;
    let mut plan = ImportPlan {
        models_read: summary.models_read,
        skipped_no_token_price: summary.skipped_no_token_price,
        skipped_duplicates: summary.skipped_duplicates,
        ..ImportPlan::default()
    };
    for spec in summary.specs {
        let provider = Provider::normalize(&spec.provider);
        let model = spec.model.trim().to_ascii_lowercase();
        match catalog.exact_in_force(&provider, &model, effective_from) {
            Some(current) if same_prices(&current.spec, &spec) => plan.unchanged += 1,
            _ => plan.to_add.push(spec),
        }
    }
    Ok(plan)
}
