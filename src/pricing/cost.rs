//! The cost of one call under one catalog entry (and the contract that applies), exactly, as
//! priced lines: one line per token meter with its quantity and unit prices, so that a FOCUS
//! export can state `ListCost = ListUnitPrice × PricingQuantity` and mean it.
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
//! Each list rate comes from the most specific card: the call's service tier above the largest
//! input threshold the request exceeds, then that tier's base card, then the standard card
//! above the threshold, then the base card. Thresholds are evaluated per request on
//! `input_tokens` (for aggregated rows, on the average request). A contract either scales every
//! list rate (discount) or replaces the components it names (rates). A gateway response-cache
//! hit costs nothing: no provider was called; what it saved is the cost it would have had.
//!
//! Savings: `prompt cache savings = cached × (input − cached_input) − writes × (write − input)`
//! at the contracted rates (negative when writes cost more than the reads saved).

use rust_decimal::Decimal;

use super::PriceQuery;
use super::PricingError;
use super::catalog::{PriceEntry, RateCard};
use super::contract::Terms;
use crate::model::{PricePerToken, ServiceTier, TokenCount, Usd};

/// What a line counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Meter {
    Input,
    CachedInput,
    CacheWrite,
    CacheWrite1h,
    Output,
    Reasoning,
    Requests,
}

impl Meter {
    /// The FOCUS `SkuMeter` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Meter::Input => "Input Tokens",
            Meter::CachedInput => "Cached Input Tokens",
            Meter::CacheWrite => "Cache Write Tokens",
            Meter::CacheWrite1h => "Cache Write 1h Tokens",
            Meter::Output => "Output Tokens",
            Meter::Reasoning => "Reasoning Tokens",
            Meter::Requests => "Requests",
        }
    }

    /// The FOCUS consumed/pricing unit.
    pub const fn unit(self) -> &'static str {
        match self {
            Meter::Requests => "Requests",
            _ => "Tokens",
        }
    }
}

/// One priced line of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostLine {
    pub meter: Meter,
    pub quantity: u64,
    /// USD per token (per request for [`Meter::Requests`]) at list price.
    pub list_unit_price: Decimal,
    /// USD per unit after the contract (equal to list without one).
    pub contracted_unit_price: Decimal,
    /// The long-context threshold of the card the list rate came from (0: base card).
    pub above_input_tokens: u64,
}

impl CostLine {
    pub fn list_cost(&self) -> Option<Decimal> {
        self.list_unit_price.checked_mul(Decimal::from(self.quantity))
    }

    pub fn contracted_cost(&self) -> Option<Decimal> {
        self.contracted_unit_price
            .checked_mul(Decimal::from(self.quantity))
    }
}

/// A call priced under an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub lines: Vec<CostLine>,
    /// Σ list line costs, rounded to the stored scale.
    pub list: Usd,
    /// Σ contracted line costs, rounded to the stored scale.
    pub contracted: Usd,
    /// What the provider's prompt cache saved at contracted rates (may be negative).
    pub cache_savings: Usd,
    /// What a gateway response-cache hit saved (the call's contracted cost had it been made).
    pub cache_hit_savings: Usd,
}

/// Reads one component of a rate card.
type Component = fn(&RateCard) -> Option<PricePerToken>;

/// A rate and the threshold of the card it came from.
#[derive(Debug, Clone, Copy)]
struct Rate {
    per_token: PricePerToken,
    above: u64,
}

/// Prices a call under `entry` and, when one applies, a contract's `terms`.
///
/// # Errors
/// [`PricingError::MissingComponent`] when the call has tokens of a kind the entry cannot price
/// (no rate and no fallback); [`PricingError::Overflow`] on absurd token counts.
pub fn price_lines(
    entry: &PriceEntry,
    query: &PriceQuery<'_>,
    terms: Option<&Terms>,
) -> Result<Priced, PricingError> {
    let tokens = &query.tokens;
    let request_count = query.request_count.max(1);
    let input_per_request = tokens.input().get() / request_count;
    let list = |component: fn(&RateCard) -> Option<PricePerToken>| {
        pick_component(entry, query.service_tier, input_per_request, component)
    };
    let contract_card = match terms {
        Some(Terms::Rates(card)) => Some(card),
        _ => None,
    };
    let contracted = |component: fn(&RateCard) -> Option<PricePerToken>| {
        contract_card
            .and_then(component)
            .map(|per_token| Rate { per_token, above: 0 })
            .or_else(|| list(component))
    };
    let factor = match terms {
        Some(Terms::Factor(factor)) => *factor,
        _ => Decimal::ONE,
    };

    // The fallback chain, identical for list and contracted rates.
    let chain = |pick: &dyn Fn(Component) -> Option<Rate>| {
        let input = pick(|card| card.input);
        let output = pick(|card| card.output);
        let cached = pick(|card| card.cached_input).or(input);
        let write_5m = pick(|card| card.cache_write).or(input);
        let write_1h = pick(|card| card.cache_write_1h).or(write_5m);
        let reasoning = pick(|card| card.reasoning).or(output);
        [input, cached, write_5m, write_1h, output, reasoning]
    };
    let list_rates = chain(&list);
    let contracted_rates = chain(&contracted);
    let quantities = [
        (Meter::Input, tokens.uncached_input(), "input_per_mtok"),
        (Meter::CachedInput, tokens.cached_input(), "cached_input_per_mtok"),
        (Meter::CacheWrite, tokens.cache_write_5m(), "cache_write_per_mtok"),
        (
            Meter::CacheWrite1h,
            tokens.cache_write_1h(),
            "cache_write_1h_per_mtok",
        ),
        (Meter::Output, tokens.visible_output(), "output_per_mtok"),
        (Meter::Reasoning, tokens.reasoning(), "reasoning_per_mtok"),
    ];

    let mut lines = Vec::with_capacity(7);
    for (idx, (meter, count, component)) in quantities.into_iter().enumerate() {
        if count == TokenCount::ZERO {
            continue;
        }
        let missing = || PricingError::MissingComponent {
            price_id: entry.price_id.clone(),
            component,
        };
        let list_rate = list_rates[idx].ok_or_else(missing)?;
        let contracted_rate = contracted_rates[idx].ok_or_else(missing)?;
        lines.push(CostLine {
            meter,
            quantity: count.get(),
            list_unit_price: list_rate.per_token.as_decimal(),
            contracted_unit_price: contracted_rate
                .per_token
                .as_decimal()
                .checked_mul(factor)
                .ok_or(PricingError::Overflow)?,
            above_input_tokens: list_rate.above,
        });
    }
    if let Some((fee, above)) = request_fee(entry, query.service_tier, input_per_request) {
        lines.push(CostLine {
            meter: Meter::Requests,
            quantity: request_count,
            list_unit_price: fee.as_decimal(),
            contracted_unit_price: fee
                .as_decimal()
                .checked_mul(factor)
                .ok_or(PricingError::Overflow)?,
            above_input_tokens: above,
        });
    }

    let sum = |cost: fn(&CostLine) -> Option<Decimal>| -> Result<Usd, PricingError> {
        let mut total = Decimal::ZERO;
        for line in &lines {
            total = total
                .checked_add(cost(line).ok_or(PricingError::Overflow)?)
                .ok_or(PricingError::Overflow)?;
        }
        Ok(Usd::signed(total).to_stored_scale())
    };
    let list_total = sum(CostLine::list_cost)?;
    let contracted_total = sum(CostLine::contracted_cost)?;
    let contracted_input =
        contracted_rates[0].and_then(|rate| rate.per_token.as_decimal().checked_mul(factor));
    let cache_savings = prompt_cache_savings(&lines, contracted_input)?;

    if query.cache_hit {
        // The gateway answered from its own cache: nothing was billed, and what it saved is what
        // the call would have cost.
        return Ok(Priced {
            lines: Vec::new(),
            list: Usd::ZERO,
            contracted: Usd::ZERO,
            cache_savings: Usd::ZERO,
            cache_hit_savings: contracted_total,
        });
    }
    Ok(Priced {
        lines,
        list: list_total,
        contracted: contracted_total,
        cache_savings,
        cache_hit_savings: Usd::ZERO,
    })
}

/// Σ cached × (input − cached rate) + writes × (input − write rate) at contracted rates; the
/// input rate is known even when every input token came from the cache.
fn prompt_cache_savings(lines: &[CostLine], contracted_input: Option<Decimal>) -> Result<Usd, PricingError> {
    let Some(input_rate) = contracted_input else {
        return Ok(Usd::ZERO);
    };
    let mut savings = Decimal::ZERO;
    for line in lines {
        if !matches!(
            line.meter,
            Meter::CachedInput | Meter::CacheWrite | Meter::CacheWrite1h
        ) {
            continue;
        }
        savings = (input_rate - line.contracted_unit_price)
            .checked_mul(Decimal::from(line.quantity))
            .and_then(|part| savings.checked_add(part))
            .ok_or(PricingError::Overflow)?;
    }
    Ok(Usd::signed(savings).to_stored_scale())
}

fn request_fee(entry: &PriceEntry, tier: ServiceTier, input_per_request: u64) -> Option<(Usd, u64)> {
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
        .filter_map(|variant| variant.card.per_request.map(|fee| (variant, fee)))
        .max_by_key(|(variant, _)| specificity(variant.service_tier, variant.above_input_tokens, tier))
        .map(|(variant, fee)| (fee, variant.above_input_tokens))
        .or_else(|| entry.base.per_request.map(|fee| (fee, 0)))
}

fn pick_component(
    entry: &PriceEntry,
    tier: ServiceTier,
    input_per_request: u64,
    component: fn(&RateCard) -> Option<PricePerToken>,
) -> Option<Rate> {
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
        .map(|(variant, per_token)| Rate {
            per_token,
            above: variant.above_input_tokens,
        })
        .or_else(|| component(&entry.base).map(|per_token| Rate { per_token, above: 0 }))
}

fn applies(variant_tier: ServiceTier, above: u64, tier: ServiceTier, input_per_request: u64) -> bool {
    (variant_tier == tier || variant_tier == ServiceTier::Standard)
        && (above == 0 || input_per_request > above)
}

/// Orders applicable variants: the record's own tier first, then the larger threshold.
fn specificity(variant_tier: ServiceTier, above: u64, tier: ServiceTier) -> (bool, u64) {
    (variant_tier == tier && tier != ServiceTier::Standard, above)
}
