//! The in-memory price catalog: validated entries indexed for the lookup ladder, and the choice
//! of the entry in force at a record's `ts`.
//!
//! Layers: the catalog shipped with the binary (`catalog.jsonl`), the operator's overrides file,
//! and prices added through the API. At the same `effective_from` a higher layer wins; otherwise
//! the entry with the latest `effective_from` not after `ts` (and whose `effective_to` is after
//! `ts`) is in force.

use std::collections::HashMap as StdHashMap;

/// The catalog's maps: looked up several times per priced record, with short string keys.
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::PricingError;
use super::lookup::{
    first_party_rank, normalize, strip_region_prefix, strip_routing_prefix, strip_snapshot_date,
};
use super::spec::{PriceSpec, Rates};
use crate::model::{PricePerToken, Provider, ServiceTier, Usd};

/// Where an entry comes from. At equal `effective_from`, the higher layer wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    /// Shipped with the binary, derived from the public LiteLLM price map.
    Shipped,
    /// The operator's overrides file (`prices_file`).
    File,
    /// Added through `POST /v1/prices` (stored in the ledger).
    User,
}

impl Layer {
    pub const fn as_str(self) -> &'static str {
        match self {
            Layer::Shipped => "catalog",
            Layer::File => "file",
            Layer::User => "user",
        }
    }

    pub fn parse(name: &str) -> Option<Layer> {
        match name {
            "catalog" => Some(Layer::Shipped),
            "file" => Some(Layer::File),
            "user" => Some(Layer::User),
            _ => None,
        }
    }
}

/// Per-token prices of one card. `None` components fall back (see [`super::cost`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateCard {
    pub input: Option<PricePerToken>,
    pub output: Option<PricePerToken>,
    pub cached_input: Option<PricePerToken>,
    pub cache_write: Option<PricePerToken>,
    pub cache_write_1h: Option<PricePerToken>,
    pub reasoning: Option<PricePerToken>,
    pub per_request: Option<Usd>,
}

impl RateCard {
    /// How many of its components have a price.
    pub(crate) fn priced_components(&self) -> usize {
        [
            self.input.is_some(),
            self.output.is_some(),
            self.cached_input.is_some(),
            self.cache_write.is_some(),
            self.cache_write_1h.is_some(),
            self.reasoning.is_some(),
            self.per_request.is_some(),
        ]
        .into_iter()
        .filter(|priced| *priced)
        .count()
    }

    pub(crate) fn from_rates(rates: &Rates, field: &str) -> Result<RateCard, PricingError> {
        let per_token = |value: Option<rust_decimal::Decimal>, component: &str| {
            value
                .map(PricePerToken::from_per_million)
                .transpose()
                .map_err(|_| PricingError::InvalidSpec {
                    reason: format!("`{field}{component}` must be a non-negative price"),
                })
        };
        Ok(RateCard {
            input: per_token(rates.input_per_mtok, "input_per_mtok")?,
            output: per_token(rates.output_per_mtok, "output_per_mtok")?,
            cached_input: per_token(rates.cached_input_per_mtok, "cached_input_per_mtok")?,
            cache_write: per_token(rates.cache_write_per_mtok, "cache_write_per_mtok")?,
            cache_write_1h: per_token(rates.cache_write_1h_per_mtok, "cache_write_1h_per_mtok")?,
            reasoning: per_token(rates.reasoning_per_mtok, "reasoning_per_mtok")?,
            per_request: rates.per_request.map(Usd::new).transpose().map_err(|_| {
                PricingError::InvalidSpec {
                    reason: format!("`{field}per_request` must not be negative"),
                }
            })?,
        })
    }
}

/// A card that replaces base prices for a service tier, above an input size, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantCard {
    pub service_tier: ServiceTier,
    pub above_input_tokens: u64,
    pub card: RateCard,
}

/// One validated catalog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceEntry {
    /// `<layer>:<provider>/<model>@<effective_from>#<digest of the rates>`: which entry priced a
    /// record, for audit. The digest makes an id name one set of prices forever: a corrected
    /// price (same slot, other rates) or a newer shipped catalog gets a new id, so a stored
    /// `price_id` never comes to mean prices that did not price the record.
    pub price_id: String,
    pub layer: Layer,
    pub provider: Provider,
    /// The provider's model id, lower-cased, as matched against records.
    pub model: String,
    /// The normalised model name shared across gateways.
    pub model_key: String,
    pub effective_from: DateTime<Utc>,
    pub effective_to: Option<DateTime<Utc>>,
    pub base: RateCard,
    pub variants: Vec<VariantCard>,
    /// The entry as written, for display.
    pub spec: PriceSpec,
}

impl PriceEntry {
    /// Validates a spec into an entry.
    ///
    /// # Errors
    /// [`PricingError::InvalidSpec`] naming the problem.
    pub fn from_spec(layer: Layer, mut spec: PriceSpec) -> Result<PriceEntry, PricingError> {
        let invalid = |reason: String| PricingError::InvalidSpec { reason };
        if spec.provider.trim().is_empty() || spec.model.trim().is_empty() {
            return Err(invalid("`provider` and `model` must not be empty".to_owned()));
        }
        if let Some(to) = spec.effective_to
            && to <= spec.effective_from
        {
            return Err(invalid(format!(
                "`effective_to` ({to}) must be after `effective_from` ({})",
                spec.effective_from
            )));
        }
        let rates = spec.rates();
        if rates == Rates::default() && spec.variants.is_empty() {
            return Err(invalid(format!(
                "price for `{}` has no price component",
                spec.model
            )));
        }
        let provider = Provider::normalize(&spec.provider);
        let model = spec.model.trim().to_ascii_lowercase();
        let model_key = spec
            .model_key
            .as_deref()
            .map(|key| key.trim().to_ascii_lowercase())
            .filter(|key| !key.is_empty())
            .unwrap_or_else(|| normalize(&model));
        spec.provider = provider.as_str().to_owned();
        spec.model_key = Some(model_key.clone());
        let base = RateCard::from_rates(&rates, "")?;
        let mut variants = Vec::with_capacity(spec.variants.len());
        for variant in &spec.variants {
            let service_tier = match variant.service_tier.as_deref() {
                None => ServiceTier::Standard,
                Some(name) => ServiceTier::parse(name)
                    .ok_or_else(|| invalid(format!("unknown service tier `{name}`")))?,
            };
            if service_tier == ServiceTier::Standard && variant.above_input_tokens == 0 {
                return Err(invalid(
                    "a variant needs a service tier or an input-token threshold".to_owned(),
                ));
            }
            variants.push(VariantCard {
                service_tier,
                above_input_tokens: variant.above_input_tokens,
                card: RateCard::from_rates(&variant.rates(), "variants.")?,
            });
        }
        let slot = format!(
            "{}:{}/{}@{}",
            layer.as_str(),
            provider,
            model,
            format_effective(spec.effective_from)
        );
        let price_id = format!("{slot}#{}", rates_digest(&base, &variants));
        Ok(PriceEntry {
            price_id,
            layer,
            provider,
            model,
            model_key,
            effective_from: spec.effective_from,
            effective_to: spec.effective_to,
            base,
            variants,
            spec,
        })
    }

    /// The id without its digest: the entry's place in the catalog (layer, provider, model,
    /// `effective_from`). A newer entry in the same slot replaces the older one.
    pub fn slot(&self) -> &str {
        self.price_id
            .rsplit_once('#')
            .map_or(self.price_id.as_str(), |(slot, _)| slot)
    }

    pub fn in_force_at(&self, ts: DateTime<Utc>) -> bool {
        self.effective_from <= ts && self.effective_to.is_none_or(|to| ts < to)
    }
}

/// Eight hex digits of SHA-256 over the normalised prices of every card.
fn rates_digest(base: &RateCard, variants: &[VariantCard]) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write as _;
    let mut text = String::new();
    let mut card = |label: &str, card: &RateCard| {
        let per_token = [
            card.input,
            card.output,
            card.cached_input,
            card.cache_write,
            card.cache_write_1h,
            card.reasoning,
        ];
        let _ = write!(text, "{label}"); // Writing to a String cannot fail.
        for price in per_token {
            let value = price.map(|price| price.as_decimal().normalize().to_string());
            let _ = write!(text, "|{}", value.unwrap_or_default());
        }
        let fee = card
            .per_request
            .map(|fee| fee.as_decimal().normalize().to_string());
        let _ = writeln!(text, "|{}", fee.unwrap_or_default());
    };
    card("base", base);
    for variant in variants {
        card(
            &format!("{}>{}", variant.service_tier.as_str(), variant.above_input_tokens),
            &variant.card,
        );
    }
    let digest = Sha256::digest(text.as_bytes());
    digest[..4]
        .iter()
        .fold(String::with_capacity(8), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// `YYYY-MM-DD` for midnight, the full instant otherwise.
fn format_effective(instant: DateTime<Utc>) -> String {
    if instant.time() == chrono::NaiveTime::MIN {
        instant.format("%Y-%m-%d").to_string()
    } else {
        instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    }
}

type Key = (Provider, String);

/// The result of looking a record's model up.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The normalised model name: the entry's when priced, the record's own normalised model
    /// otherwise.
    pub model_key: String,
    pub entry: Option<Arc<PriceEntry>>,
}

/// All price entries, indexed for the lookup ladder.
#[derive(Debug, Default)]
pub struct Catalog {
    entries: Vec<Arc<PriceEntry>>,
    /// (provider, provider model id) → entries.
    exact: HashMap<Key, Vec<usize>>,
    /// (provider, model_key) → entries grouped by provider model id, preferred id first.
    by_key: HashMap<Key, Vec<Vec<usize>>>,
    /// model_key → providers that price it, first party first.
    providers_of: HashMap<String, Vec<Provider>>,
    /// alias → entries whose spec lists it.
    aliases: HashMap<String, Vec<usize>>,
    /// undated model_key → the dated keys that share it, newest snapshot first.
    dated: HashMap<String, Vec<String>>,
    /// price_id → entry.
    by_id: HashMap<String, usize>,
    contracts: Vec<super::contract::Contract>,
}

impl Catalog {
    /// Builds the catalog from validated entries.
    pub fn new(entries: Vec<PriceEntry>) -> Catalog {
        let entries: Vec<Arc<PriceEntry>> = entries.into_iter().map(Arc::new).collect();
        let mut exact: HashMap<Key, Vec<usize>> = HashMap::default();
        let mut grouped: HashMap<Key, HashMap<String, Vec<usize>>> = HashMap::default();
        let mut aliases: HashMap<String, Vec<usize>> = HashMap::default();
        for (idx, entry) in entries.iter().enumerate() {
            exact
                .entry((entry.provider.clone(), entry.model.clone()))
                .or_default()
                .push(idx);
            grouped
                .entry((entry.provider.clone(), entry.model_key.clone()))
                .or_default()
                .entry(entry.model.clone())
                .or_default()
                .push(idx);
            for alias in &entry.spec.aliases {
                aliases
                    .entry(alias.trim().to_ascii_lowercase())
                    .or_default()
                    .push(idx);
            }
        }
        let mut by_key = HashMap::with_capacity_and_hasher(grouped.len(), Default::default());
        let mut providers_of: HashMap<String, Vec<Provider>> = HashMap::default();
        for ((provider, model_key), models) in grouped {
            let mut models: Vec<(String, Vec<usize>)> = models.into_iter().collect();
            // The id that is the key itself first, then ids without a Region prefix, then by name.
            models.sort_by(|(a, _), (b, _)| {
                let rank = |model: &str| {
                    (
                        model != model_key,
                        strip_region_prefix(model).is_some(),
                        model.len(),
                    )
                };
                rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
            });
            providers_of
                .entry(model_key.clone())
                .or_default()
                .push(provider.clone());
            by_key.insert(
                (provider, model_key),
                models.into_iter().map(|(_, ids)| ids).collect(),
            );
        }
        let mut dated: HashMap<String, Vec<String>> = HashMap::default();
        for model_key in providers_of.keys() {
            if let Some(undated) = strip_snapshot_date(model_key) {
                dated
                    .entry(undated.to_owned())
                    .or_default()
                    .push(model_key.clone());
            }
        }
        for keys in dated.values_mut() {
            keys.sort_by(|a, b| b.cmp(a));
        }
        for (model_key, providers) in &mut providers_of {
            providers.sort_by(|a, b| {
                first_party_rank(a.as_str(), model_key)
                    .cmp(&first_party_rank(b.as_str(), model_key))
                    .then_with(|| a.as_str().cmp(b.as_str()))
            });
        }
        let by_id = entries
            .iter()
            .enumerate()
            .map(|(idx, entry)| (entry.price_id.clone(), idx))
            .collect();
        Catalog {
            entries,
            by_id,
            exact,
            by_key,
            providers_of,
            aliases,
            dated,
            contracts: Vec::new(),
        }
    }

    /// Adds the contracts that apply on top of list prices.
    pub fn with_contracts(mut self, contracts: Vec<super::contract::Contract>) -> Catalog {
        self.contracts = contracts;
        self
    }

    pub fn contracts(&self) -> &[super::contract::Contract] {
        &self.contracts
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> impl Iterator<Item = &Arc<PriceEntry>> {
        self.entries.iter()
    }

    /// The entry with this id (ids name one set of prices: the entry prices exactly as it did
    /// when it priced a record).
    pub fn entry(&self, price_id: &str) -> Option<&Arc<PriceEntry>> {
        self.by_id.get(price_id).map(|idx| &self.entries[*idx])
    }

    /// Returns the entry in force at `ts` among `candidates`: the latest `effective_from`, then
    /// the highest layer.
    fn in_force(&self, candidates: &[usize], ts: DateTime<Utc>) -> Option<&Arc<PriceEntry>> {
        candidates
            .iter()
            .map(|idx| &self.entries[*idx])
            .filter(|entry| entry.in_force_at(ts))
            .max_by_key(|entry| (entry.effective_from, entry.layer))
    }

    pub fn exact_in_force(
        &self,
        provider: &Provider,
        model: &str,
        ts: DateTime<Utc>,
    ) -> Option<&Arc<PriceEntry>> {
        let candidates = self.exact.get(&(provider.clone(), model.to_owned()))?;
        self.in_force(candidates, ts)
    }

    fn key_in_force(
        &self,
        provider: &Provider,
        model_key: &str,
        ts: DateTime<Utc>,
    ) -> Option<&Arc<PriceEntry>> {
        let groups = self.by_key.get(&(provider.clone(), model_key.to_owned()))?;
        groups.iter().find_map(|group| self.in_force(group, ts))
    }

    /// Finds the price of `model` served by `provider` at `ts` with the lookup ladder of
    /// `shared/formats/README.md`: user aliases, exact id, routing prefixes stripped, Bedrock
    /// Region prefix stripped, normalised name, undated alias of a dated snapshot, and finally
    /// the same model priced by another provider (first party first).
    pub fn resolve(&self, provider: &Provider, model: &str, ts: DateTime<Utc>) -> Resolution {
        let lowered = model.trim().to_ascii_lowercase();
        let model_key = normalize(&lowered);
        let found = self.find(provider, &lowered, &model_key, ts);
        Resolution {
            model_key: found.map_or(model_key, |entry| entry.model_key.clone()),
            entry: found.cloned(),
        }
    }

    fn find(
        &self,
        provider: &Provider,
        lowered: &str,
        model_key: &str,
        ts: DateTime<Utc>,
    ) -> Option<&Arc<PriceEntry>> {
        if let Some(candidates) = self.aliases.get(lowered) {
            let own: Vec<usize> = candidates
                .iter()
                .copied()
                .filter(|idx| &self.entries[*idx].provider == provider)
                .collect();
            if let Some(entry) = self.in_force(&own, ts).or_else(|| self.in_force(candidates, ts)) {
                return Some(entry);
            }
        }
        if let Some(entry) = self.exact_in_force(provider, lowered, ts) {
            return Some(entry);
        }
        let mut stripped = lowered;
        while let Some(rest) = strip_routing_prefix(stripped) {
            stripped = rest;
            if let Some(entry) = self.exact_in_force(provider, stripped, ts) {
                return Some(entry);
            }
        }
        if let Some(rest) = strip_region_prefix(stripped)
            && let Some(entry) = self.exact_in_force(provider, rest, ts)
        {
            return Some(entry);
        }
        // The normalised name, then the undated alias of a dated snapshot, then (for an undated
        // slug such as OpenRouter's `anthropic/claude-sonnet-4`) its newest dated snapshot.
        let undated = strip_snapshot_date(model_key);
        let dated = self.dated.get(model_key).map(Vec::as_slice).unwrap_or_default();
        let keys: Vec<&str> = std::iter::once(model_key)
            .chain(undated)
            .chain(dated.iter().map(String::as_str))
            .collect();
        for key in &keys {
            if let Some(entry) = self.key_in_force(provider, key, ts) {
                return Some(entry);
            }
        }
        // The provider has no price for this model: take another provider's list price for the
        // same model (OTel's provider names the client API, not always who served the call;
        // OpenRouter's upstream may be a first party the price map no longer lists). A host that
        // sets its own prices (Workers AI, Groq, a self-hosted server…) never borrows: its calls
        // are `reported` or `unpriced`, not priced at someone else's list.
        if !may_borrow(provider, model_key) {
            return None;
        }
        self.borrowed(provider, &keys, ts)
    }

    /// The best entry in force at `ts` of another provider for any of `keys`: the model's
    /// owner before first-party labs before the big clouds before resellers, whichever key it
    /// is under (an owner's dated snapshot beats a reseller's undated slug), then the card that
    /// prices more components (a reseller without cache prices would bill cache reads at the
    /// full input rate), then the earlier key and the provider's name.
    fn borrowed(&self, provider: &Provider, keys: &[&str], ts: DateTime<Utc>) -> Option<&Arc<PriceEntry>> {
        // (lender rank, components not priced, key position) of the best entry so far.
        type Rank = (u8, usize, usize);
        let mut best: Option<(Rank, &Arc<PriceEntry>)> = None;
        for (key_idx, key) in keys.iter().enumerate() {
            let Some(providers) = self.providers_of.get(*key) else {
                continue;
            };
            for other in providers.iter().filter(|other| *other != provider) {
                let Some(entry) = self.key_in_force(other, key, ts) else {
                    continue;
                };
                let rank = (
                    first_party_rank(other.as_str(), key),
                    RATE_COMPONENTS - entry.base.priced_components(),
                    key_idx,
                );
                // Ties keep the first found: `providers_of` is sorted by rank, then name.
                if best.as_ref().is_none_or(|(best_rank, _)| rank < *best_rank) {
                    best = Some((rank, entry));
                }
            }
        }
        best.map(|(_, entry)| entry)
    }
}

/// How many components a [`RateCard`] can price.
const RATE_COMPONENTS: usize = 7;

/// Whether a call served by `provider` may be priced with another provider's list price: yes
/// for the model's owner, first-party labs, the big clouds and unknown providers (whose name may
/// be the client API's, as OTel's is), never for third-party hosts with their own price lists.
fn may_borrow(provider: &Provider, model_key: &str) -> bool {
    matches!(provider, Provider::Unknown) || first_party_rank(provider.as_str(), model_key) < 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::spec::parse_instant;

    fn spec(provider: &str, model: &str, from: &str, input: &str) -> PriceSpec {
        serde_json::from_value(serde_json::json!({
            "provider": provider, "model": model, "effective_from": from,
            "input_per_mtok": input, "output_per_mtok": "1"
        }))
        .unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        parse_instant(text).unwrap()
    }

    #[test]
    fn the_entry_in_force_at_ts_wins() {
        let catalog = Catalog::new(vec![
            PriceEntry::from_spec(Layer::Shipped, spec("openai", "gpt-4o", "1970-01-01", "5")).unwrap(),
            PriceEntry::from_spec(
                Layer::User,
                spec("openai", "gpt-4o", "2026-11-23T12:00:00Z", "2.5"),
            )
            .unwrap(),
        ]);
        let before = catalog.resolve(&Provider::Openai, "gpt-4o", at("2026-11-23T11:59:59Z"));
        assert_eq!(before.entry.unwrap().slot(), "catalog:openai/gpt-4o@1970-01-01");
        let after = catalog.resolve(&Provider::Openai, "gpt-4o", at("2026-11-23T12:00:00Z"));
        assert_eq!(
            after.entry.unwrap().slot(),
            "user:openai/gpt-4o@2026-11-23T12:00:00Z"
        );
    }

    #[test]
    fn the_ladder_finds_bedrock_and_gateway_names() {
        let catalog = Catalog::new(vec![
            PriceEntry::from_spec(
                Layer::Shipped,
                spec(
                    "bedrock",
                    "anthropic.claude-sonnet-4-20250514-v1:0",
                    "1970-01-01",
                    "3",
                ),
            )
            .unwrap(),
            PriceEntry::from_spec(
                Layer::Shipped,
                spec(
                    "bedrock",
                    "us.anthropic.claude-sonnet-4-20250514-v1:0",
                    "1970-01-01",
                    "3.3",
                ),
            )
            .unwrap(),
            PriceEntry::from_spec(
                Layer::Shipped,
                spec("openai", "gpt-4o-mini", "1970-01-01", "0.15"),
            )
            .unwrap(),
        ]);
        let ts = at("2026-11-23");
        let regional = catalog.resolve(
            &Provider::Bedrock,
            "us.anthropic.claude-sonnet-4-20250514-v1:0",
            ts,
        );
        assert_eq!(regional.model_key, "claude-sonnet-4-20250514");
        assert_eq!(
            regional.entry.unwrap().model,
            "us.anthropic.claude-sonnet-4-20250514-v1:0"
        );
        let direct = catalog.resolve(&Provider::Anthropic, "claude-sonnet-4-20250514", ts);
        assert_eq!(
            direct.entry.unwrap().model,
            "anthropic.claude-sonnet-4-20250514-v1:0"
        );
        let dated = catalog.resolve(&Provider::Openai, "gpt-4o-mini-2024-07-18", ts);
        assert_eq!(dated.model_key, "gpt-4o-mini");
        let routed = catalog.resolve(&Provider::Openai, "openai/gpt-4o-mini", ts);
        assert_eq!(routed.entry.unwrap().model, "gpt-4o-mini");
        let slug = catalog.resolve(&Provider::Anthropic, "anthropic/claude-sonnet-4", ts);
        assert_eq!(
            slug.model_key, "claude-sonnet-4-20250514",
            "an undated slug finds its dated snapshot"
        );
        let unknown = catalog.resolve(&Provider::SelfHosted, "acme-triage-7b", ts);
        assert!(unknown.entry.is_none());
        assert_eq!(unknown.model_key, "acme-triage-7b");
    }

    #[test]
    fn a_borrowed_price_comes_from_the_best_lender_whatever_key_it_is_under() {
        let mut reseller = spec("gmi", "anthropic/claude-sonnet-4", "1970-01-01", "3");
        reseller.model_key = Some("claude-sonnet-4".to_owned());
        let catalog = Catalog::new(vec![
            PriceEntry::from_spec(Layer::Shipped, reseller).unwrap(),
            PriceEntry::from_spec(
                Layer::Shipped,
                spec(
                    "bedrock",
                    "anthropic.claude-sonnet-4-20250514-v1:0",
                    "1970-01-01",
                    "3",
                ),
            )
            .unwrap(),
            PriceEntry::from_spec(
                Layer::Shipped,
                spec("bedrock", "meta.llama3-1-8b-instruct-v1:0", "1970-01-01", "0.22"),
            )
            .unwrap(),
        ]);
        let ts = at("2026-11-23");
        // OpenRouter's slug, served by Anthropic, which the price map no longer lists: the big
        // cloud's dated snapshot beats the reseller's undated slug.
        let slug = catalog.resolve(&Provider::Anthropic, "anthropic/claude-sonnet-4", ts);
        assert_eq!(
            slug.entry.unwrap().slot(),
            "catalog:bedrock/anthropic.claude-sonnet-4-20250514-v1:0@1970-01-01"
        );
        assert_eq!(slug.model_key, "claude-sonnet-4-20250514");
        // A host with its own price list never borrows another's.
        let hosted = catalog.resolve(
            &Provider::normalize("workers_ai"),
            "@cf/meta/llama-3.1-8b-instruct",
            ts,
        );
        assert!(
            hosted.entry.is_none(),
            "{:?}",
            hosted.entry.map(|entry| entry.price_id.clone())
        );
    }

    #[test]
    fn a_price_id_names_one_set_of_prices() {
        let entry = |input: &str, note: Option<&str>| {
            let mut spec = spec("openai", "gpt-4o", "2026-11-01", input);
            spec.note = note.map(str::to_owned);
            PriceEntry::from_spec(Layer::User, spec).unwrap()
        };
        let first = entry("2.5", None);
        assert!(first.price_id.starts_with("user:openai/gpt-4o@2026-11-01#"));
        assert_eq!(first.price_id.len(), "user:openai/gpt-4o@2026-11-01#".len() + 8);
        // The same prices, written differently or with another note: the same id.
        assert_eq!(entry("2.50", Some("corrected note")).price_id, first.price_id);
        // Corrected prices in the same slot: a new id, the same slot.
        let corrected = entry("2.4", None);
        assert_ne!(corrected.price_id, first.price_id);
        assert_eq!(corrected.slot(), first.slot());
        // The later entry of a slot replaces the earlier one in the catalog; the old id is gone.
        let catalog = crate::pricing::build_catalog(
            vec![(Layer::User, vec![first.spec.clone(), corrected.spec.clone()])],
            Vec::new(),
        )
        .unwrap();
        assert_eq!(catalog.len(), 1);
        assert!(catalog.entry(&first.price_id).is_none());
        assert!(catalog.entry(&corrected.price_id).is_some());
    }
}
