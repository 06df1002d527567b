//! Reads a LiteLLM-style price map (`shared/pricing/litellm_model_prices.json`: model key →
//! per-token prices written as JSON floats) into [`PriceSpec`]s.
//!
//! Prices are read from each number's decimal text (`2.5e-06` → `0.0000025`), never through
//! `f64`, then scaled to USD per million tokens. Keys carry suffixes for the variants:
//! `_batches` / `_priority` / `_flex` (service tiers) and `_above_<N>k_tokens` (long-context
//! tiers), in any combination; `cache_creation_input_token_cost_above_1hr` is the one-hour cache
//! write. Prices of other units (images, audio, seconds, characters) and tiers we cannot apply
//! (`_ultrafast`, `_decisions`) are skipped; entries with no token price at all are dropped.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::value::RawValue;

use super::PricingError;
use super::lookup::normalize;
use super::spec::{PriceSpec, Rates, Variant};
use crate::model::{Provider, ServiceTier, parse_decimal_text};

/// What a conversion kept and dropped, for the generator's report.
#[derive(Debug, Default)]
pub struct MapSummary {
    pub models_read: usize,
    pub specs: Vec<PriceSpec>,
    /// Entries without any token price (images, audio, rerank, …).
    pub skipped_no_token_price: usize,
    /// Keys that fold onto an (provider, model) already taken by an earlier key.
    pub skipped_duplicates: usize,
}

#[derive(Clone, Copy)]
enum Component {
    Input,
    Output,
    CachedInput,
    CacheWrite,
    CacheWrite1h,
    Reasoning,
    PerRequest,
}

/// Base names of the price fields, longest first so that prefixes do not shadow.
const COMPONENTS: &[(&str, Component)] = &[
    (
        "cache_creation_input_token_cost_above_1hr",
        Component::CacheWrite1h,
    ),
    ("cache_creation_input_token_cost", Component::CacheWrite),
    ("cache_read_input_token_cost", Component::CachedInput),
    ("output_cost_per_reasoning_token", Component::Reasoning),
    ("input_cost_per_request", Component::PerRequest),
    ("input_cost_per_token", Component::Input),
    ("output_cost_per_token", Component::Output),
];

/// Converts a price map into specs effective from `effective_from`.
///
/// # Errors
/// [`PricingError::InvalidFile`] when the text is not a JSON object of objects.
pub fn convert(text: &str, effective_from: DateTime<Utc>, note: &str) -> Result<MapSummary, PricingError> {
    let invalid = |reason: String| PricingError::InvalidFile {
        origin: "the price map".to_owned(),
        line: 1,
        reason,
    };
    let map: BTreeMap<String, &RawValue> = serde_json::from_str(text)
        .map_err(|error| invalid(format!("expected a JSON object of models: {error}")))?;
    let mut summary = MapSummary::default();
    let mut taken: HashMap<(String, String), ()> = HashMap::new();
    for (key, raw) in map {
        if key == "sample_spec" {
            continue;
        }
        let Ok(fields) = serde_json::from_str::<BTreeMap<String, &RawValue>>(raw.get()) else {
            continue;
        };
        summary.models_read += 1;
        let Some(spec) = convert_entry(&key, &fields, effective_from, note) else {
            summary.skipped_no_token_price += 1;
            continue;
        };
        if taken
            .insert((spec.provider.clone(), spec.model.clone()), ())
            .is_some()
        {
            summary.skipped_duplicates += 1;
            continue;
        }
        summary.specs.push(spec);
    }
    Ok(summary)
}

fn convert_entry(
    key: &str,
    fields: &BTreeMap<String, &RawValue>,
    effective_from: DateTime<Utc>,
    note: &str,
) -> Option<PriceSpec> {
    let native_provider = fields
        .get("litellm_provider")
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())?;
    let provider = Provider::normalize(&native_provider);
    let model = strip_provider_prefix(key, &native_provider, &provider).to_owned();

    let mut cards: BTreeMap<(u8, u64), Rates> = BTreeMap::new();
    for (name, raw) in fields {
        let Some((component, tier, above)) = parse_field_name(name) else {
            continue;
        };
        let Ok(per_token) = parse_decimal_text(raw.get()) else {
            continue;
        };
        let value = match component {
            Component::PerRequest => per_token,
            _ => per_token.checked_mul(Decimal::from(1_000_000))?.normalize(),
        };
        let rates = cards.entry((tier_rank(tier), above)).or_default();
        let slot = match component {
            Component::Input => &mut rates.input_per_mtok,
            Component::Output => &mut rates.output_per_mtok,
            Component::CachedInput => &mut rates.cached_input_per_mtok,
            Component::CacheWrite => &mut rates.cache_write_per_mtok,
            Component::CacheWrite1h => &mut rates.cache_write_1h_per_mtok,
            Component::Reasoning => &mut rates.reasoning_per_mtok,
            Component::PerRequest => &mut rates.per_request,
        };
        *slot = Some(value);
    }
    let base = cards.remove(&(0, 0)).unwrap_or_default();
    if base.input_per_mtok.is_none() && base.output_per_mtok.is_none() {
        return None;
    }
    let variants = cards
        .into_iter()
        .filter(|(_, rates)| !rates.is_empty())
        .map(|((rank, above), rates)| Variant::from_rates(tier_from_rank(rank), above, rates))
        .collect();
    let mut spec = PriceSpec {
        provider: provider.as_str().to_owned(),
        model_key: Some(normalize(&model)),
        model,
        effective_from,
        effective_to: None,
        input_per_mtok: None,
        output_per_mtok: None,
        cached_input_per_mtok: None,
        cache_write_per_mtok: None,
        cache_write_1h_per_mtok: None,
        reasoning_per_mtok: None,
        per_request: None,
        variants,
        aliases: Vec::new(),
        note: Some(note.to_owned()),
    };
    spec.set_rates(base);
    Some(spec)
}

/// `gemini/gemini-2.5-flash` → `gemini-2.5-flash` when the prefix names the entry's provider.
fn strip_provider_prefix<'a>(key: &'a str, native_provider: &str, provider: &Provider) -> &'a str {
    match key.split_once('/') {
        Some((prefix, rest)) if prefix == native_provider || Provider::normalize(prefix) == *provider => rest,
        _ => key,
    }
}

/// Splits `input_cost_per_token_above_200k_tokens_priority` into its component, service tier
/// and threshold; `None` for fields that are not token prices we apply.
fn parse_field_name(name: &str) -> Option<(Component, ServiceTier, u64)> {
    let (base, component) = COMPONENTS
        .iter()
        .find(|(base, _)| name.starts_with(base))
        .map(|(base, component)| (*base, *component))?;
    let mut rest = &name[base.len()..];
    let mut above = 0;
    if let Some(after) = rest.strip_prefix("_above_") {
        let (threshold, tail) = after.split_once("k_tokens")?;
        above = threshold.parse::<u64>().ok()? * 1000;
        rest = tail;
    }
    let tier = match rest {
        "" => ServiceTier::Standard,
        "_batches" => ServiceTier::Batch,
        "_priority" => ServiceTier::Priority,
        "_flex" => ServiceTier::Flex,
        _ => return None,
    };
    Some((component, tier, above))
}

fn tier_rank(tier: ServiceTier) -> u8 {
    match tier {
        ServiceTier::Standard => 0,
        ServiceTier::Batch => 1,
        ServiceTier::Priority => 2,
        ServiceTier::Flex => 3,
    }
}

fn tier_from_rank(rank: u8) -> ServiceTier {
    match rank {
        1 => ServiceTier::Batch,
        2 => ServiceTier::Priority,
        3 => ServiceTier::Flex,
        _ => ServiceTier::Standard,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_prices_exactly_with_variants() {
        let text = r#"{
          "sample_spec": {"input_cost_per_token": 0.0},
          "gpt-4o-mini": {"litellm_provider": "openai", "input_cost_per_token": 1.5e-07,
             "output_cost_per_token": 6e-07, "cache_read_input_token_cost": 7.5e-08,
             "input_cost_per_token_batches": 7.5e-08, "output_cost_per_token_priority": 1e-06,
             "input_cost_per_token_above_200k_tokens": 3e-07, "output_cost_per_image": 0.01},
          "dall-e-3": {"litellm_provider": "openai", "output_cost_per_image": 0.04},
          "gemini/gemini-2.5-flash": {"litellm_provider": "gemini", "input_cost_per_token": 3e-07,
             "output_cost_per_token": 2.5e-06},
          "claude-x": {"litellm_provider": "anthropic", "input_cost_per_token": 3e-06,
             "output_cost_per_token": 1.5e-05, "cache_creation_input_token_cost": 3.75e-06,
             "cache_creation_input_token_cost_above_1hr": 6e-06}
        }"#;
        let from = crate::pricing::spec::parse_instant("1970-01-01").unwrap();
        let summary = convert(text, from, "test").unwrap();
        assert_eq!(summary.specs.len(), 3);
        assert_eq!(summary.skipped_no_token_price, 1);
        let mini = summary
            .specs
            .iter()
            .find(|spec| spec.model == "gpt-4o-mini")
            .unwrap();
        assert_eq!(mini.input_per_mtok.unwrap().to_string(), "0.15");
        assert_eq!(mini.cached_input_per_mtok.unwrap().to_string(), "0.075");
        assert_eq!(mini.variants.len(), 3);
        let gemini = summary
            .specs
            .iter()
            .find(|spec| spec.model == "gemini-2.5-flash")
            .unwrap();
        assert_eq!(gemini.provider, "gemini");
        let claude = summary
            .specs
            .iter()
            .find(|spec| spec.model == "claude-x")
            .unwrap();
        assert_eq!(claude.cache_write_1h_per_mtok.unwrap().to_string(), "6");
        assert_eq!(claude.cache_write_per_mtok.unwrap().to_string(), "3.75");
    }
}
