//! The cost of one record under one catalog entry, exactly.
//!
//! ```text
//! cost = uncached_input × input
//!      + cached_input   × cached_input   (falls back to input)
//!      + cache_write_5m × cache_write    (falls back to input)
//!      + cache_write_1h × cache_write_1h (falls back to cache_write)
//!      + (output − reasoning) × output
//!      + reasoning      × reasoning      (falls back to output)
//!      + request_count  × per_request
//! ```
//!
//! Each component comes from the most specific card: the record's service tier above the
//! largest input threshold the request exceeds, then that tier's base card, then the standard
//! card above the threshold, then the base card. Thresholds are evaluated per request on
//! `input_tokens` (for aggregated rows, on the average request). A gateway response-cache hit
//! costs nothing: no provider was called.

use super::PriceQuery;
use super::PricingError;
use super::catalog::{PriceEntry, RateCard};
use crate::model::{PricePerToken, ServiceTier, TokenCount, Usd};

/// Computes the catalog cost of a call under `entry`.
///
/// # Errors
/// [`PricingError::MissingComponent`] when the call has tokens of a kind the entry cannot price
/// (no rate and no fallback); [`PricingError::Overflow`] on absurd token counts.
pub fn cost_of(entry: &PriceEntry, query: &PriceQuery<'_>) -> Result<Usd, PricingError> {
    cost_with(entry, query, None)
}

/// Like [`cost_of`], with contracted rates replacing the entry's components they name.
///
/// # Errors
/// As [`cost_of`].
pub fn cost_with(
    entry: &PriceEntry,
    query: &PriceQuery<'_>,
    contracted: Option<&RateCard>,
) -> Result<Usd, PricingError> {
    if query.cache_hit {
        return Ok(Usd::ZERO);
    }
    let tokens = &query.tokens;
    let request_count = query.request_count.max(1);
    let input_per_request = tokens.input().get() / request_count;
    let pick = |component: fn(&RateCard) -> Option<PricePerToken>| {
        contracted
            .and_then(component)
            .or_else(|| pick_component(entry, query.service_tier, input_per_request, component))
    };

    let input = pick(|card| card.input);
    let output = pick(|card| card.output);
    let cached = pick(|card| card.cached_input).or(input);
    let write_5m = pick(|card| card.cache_write).or(input);
    let write_1h = pick(|card| card.cache_write_1h).or(write_5m);
    let reasoning = pick(|card| card.reasoning).or(output);

    let parts = [
        (tokens.uncached_input(), input, "input_per_mtok"),
        (tokens.cached_input(), cached, "cached_input_per_mtok"),
        (tokens.cache_write_5m(), write_5m, "cache_write_per_mtok"),
        (tokens.cache_write_1h(), write_1h, "cache_write_1h_per_mtok"),
        (tokens.visible_output(), output, "output_per_mtok"),
        (tokens.reasoning(), reasoning, "reasoning_per_mtok"),
    ];
    let mut total = Usd::ZERO;
    for (count, rate, component) in parts {
        if count == TokenCount::ZERO {
            continue;
        }
        let rate = rate.ok_or_else(|| PricingError::MissingComponent {
            price_id: entry.price_id.clone(),
            component,
        })?;
        let part = count.cost_at(rate).map_err(|_| PricingError::Overflow)?;
        total = total.checked_add(part).ok_or(PricingError::Overflow)?;
    }
    let fee = entry
        .variants
        .iter()
        .filter(|variant| {
            applies(
                variant.service_tier,
                variant.above_input_tokens,
                query.service_tier,
                input_per_request,
            )
        })
        .max_by_key(|variant| {
            specificity(
                variant.service_tier,
                variant.above_input_tokens,
                query.service_tier,
            )
        })
        .and_then(|variant| variant.card.per_request)
        .or(entry.base.per_request);
    if let Some(fee) = fee {
        let fees = fee
            .as_decimal()
            .checked_mul(rust_decimal::Decimal::from(request_count))
            .ok_or(PricingError::Overflow)?;
        total = total
            .checked_add(Usd::signed(fees))
            .ok_or(PricingError::Overflow)?;
    }
    Ok(total.to_stored_scale())
}

fn pick_component(
    entry: &PriceEntry,
    tier: ServiceTier,
    input_per_request: u64,
    component: fn(&RateCard) -> Option<PricePerToken>,
) -> Option<PricePerToken> {
    entry
        .variants
        .iter()
        .filter(|variant| {
            applies(
                variant.service_tier,
                variant.above_input_tokens,
                tier,
                input_per_request,
            )
        })
        .filter_map(|variant| component(&variant.card).map(|rate| (variant, rate)))
        .max_by_key(|(variant, _)| specificity(variant.service_tier, variant.above_input_tokens, tier))
        .map(|(_, rate)| rate)
        .or_else(|| component(&entry.base))
}

fn applies(variant_tier: ServiceTier, above: u64, tier: ServiceTier, input_per_request: u64) -> bool {
    (variant_tier == tier || variant_tier == ServiceTier::Standard)
        && (above == 0 || input_per_request > above)
}

/// Orders applicable variants: the record's own tier first, then the larger threshold.
fn specificity(variant_tier: ServiceTier, above: u64, tier: ServiceTier) -> (bool, u64) {
    (variant_tier == tier && tier != ServiceTier::Standard, above)
}
