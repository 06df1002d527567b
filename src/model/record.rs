//! [`UsageRecord`]: one LLM call in canonical form, and the validated parts it is built from.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::money::{TokenCount, Usd};
use super::vocab::{ErrorType, Provider, ServiceTier, Source};

/// Size limits of the canonical record (`shared/formats/canonical.md`).
pub struct Limits {
    pub event_id: usize,
    pub short_text: usize,
    pub model: usize,
    pub provider: usize,
    pub tag_entries: usize,
    pub tag_key: usize,
    pub tag_value: usize,
    pub error_type: usize,
}

pub const LIMITS: Limits = Limits {
    event_id: 256,
    short_text: 256,
    model: 512,
    provider: 64,
    tag_entries: 64,
    tag_key: 128,
    tag_value: 1024,
    error_type: 64,
};

/// Why a value cannot be part of a record. `field` names the canonical field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("`{field}` is longer than {limit} characters ({actual})")]
    TooLong {
        field: String,
        limit: usize,
        actual: usize,
    },
    #[error("`{field}` {reason}")]
    Invalid { field: String, reason: String },
}

impl RecordError {
    pub fn field(&self) -> &str {
        match self {
            RecordError::TooLong { field, .. } | RecordError::Invalid { field, .. } => field,
        }
    }

    fn invalid(field: &str, reason: impl Into<String>) -> RecordError {
        RecordError::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Checks a string against a character limit.
pub(crate) fn check_len(field: &str, value: &str, limit: usize) -> Result<(), RecordError> {
    // Byte length bounds character length from above, so most strings skip the count.
    if value.len() <= limit {
        return Ok(());
    }
    let actual = value.chars().count();
    if actual > limit {
        return Err(RecordError::TooLong {
            field: field.to_owned(),
            limit,
            actual,
        });
    }
    Ok(())
}

/// The gateway's id of a call: 1 to 256 characters. With the source it is the dedupe key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(String);

impl EventId {
    pub fn new(id: impl Into<String>) -> Result<EventId, RecordError> {
        let id = id.into();
        if id.is_empty() {
            return Err(RecordError::invalid("event_id", "must not be empty"));
        }
        check_len("event_id", &id, LIMITS.event_id)?;
        Ok(EventId(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// A hash or alias of an API key, never the secret itself.
///
/// It is built either by hashing a secret ([`ApiKeyId::hash_secret`]) or from an identifier that
/// a gateway already hashed or aliased ([`ApiKeyId::from_alias`]), which refuses values that look
/// like raw keys.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ApiKeyId(String);

/// Prefixes of raw provider secrets that must never be stored.
const SECRET_PREFIXES: &[&str] = &[
    "sk-", "sk_live_", "sk-ant-", "sk-or-", "AKIA", "ASIA", "xai-", "gsk_",
];

impl ApiKeyId {
    /// Accepts an identifier a gateway already hashed or aliased (`key_search_prod_7f1c`,
    /// a SHA-256 hex string). Refuses anything that looks like a raw secret.
    pub fn from_alias(alias: &str) -> Result<ApiKeyId, RecordError> {
        if alias.is_empty() {
            return Err(RecordError::invalid("api_key_id", "must not be empty"));
        }
        if SECRET_PREFIXES.iter().any(|prefix| alias.starts_with(prefix)) {
            return Err(RecordError::invalid(
                "api_key_id",
                "looks like a raw API key; send a hash or an alias instead",
            ));
        }
        check_len("api_key_id", alias, LIMITS.short_text)?;
        Ok(ApiKeyId(alias.to_owned()))
    }

    /// Hashes a raw secret: `sha256:` and the first 16 bytes of its SHA-256 in hex.
    pub fn hash_secret(secret: &str) -> ApiKeyId {
        let digest = Sha256::digest(secret.as_bytes());
        let hex: String = digest[..16].iter().map(|byte| format!("{byte:02x}")).collect();
        ApiKeyId(format!("sha256:{hex}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeyId({})", self.0)
    }
}

impl Serialize for ApiKeyId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Free-form string attribution, within the canonical limits (64 entries, key ≤ 128 characters,
/// value ≤ 1024 characters).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Tags(BTreeMap<String, String>);

impl Tags {
    pub fn new(entries: BTreeMap<String, String>) -> Result<Tags, RecordError> {
        if entries.len() > LIMITS.tag_entries {
            return Err(RecordError::TooLong {
                field: "tags".to_owned(),
                limit: LIMITS.tag_entries,
                actual: entries.len(),
            });
        }
        for (key, value) in &entries {
            check_len("tags", key, LIMITS.tag_key)?;
            // The field name is spelled out only for an error: most values fit.
            if value.len() > LIMITS.tag_value {
                check_len(&format!("tags.{key}"), value, LIMITS.tag_value)?;
            }
        }
        Ok(Tags(entries))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(key, value)| (key.as_str(), value.as_str()))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The token counts of one call, in the canonical convention: `input` includes cache reads and
/// writes, `output` includes reasoning, and `cache_write_1h` is the part of `cache_write` written
/// with a one-hour TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TokenUsage {
    input: TokenCount,
    output: TokenCount,
    cached_input: TokenCount,
    cache_write: TokenCount,
    cache_write_1h: TokenCount,
    reasoning: TokenCount,
}

/// The raw counts a [`TokenUsage`] is validated from.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenCounts {
    pub input: u64,
    pub output: u64,
    pub cached_input: u64,
    pub cache_write: u64,
    pub cache_write_1h: u64,
    pub reasoning: u64,
}

impl TokenUsage {
    /// Validates the subset invariants and names the field that breaks one.
    pub fn new(counts: TokenCounts) -> Result<TokenUsage, RecordError> {
        let cached_and_written = counts
            .cached_input
            .checked_add(counts.cache_write)
            .ok_or_else(|| RecordError::invalid("cache_write_tokens", "is out of range"))?;
        if counts.cached_input > counts.input {
            return Err(RecordError::invalid(
                "cached_input_tokens",
                format!(
                    "({}) exceeds input_tokens ({})",
                    counts.cached_input, counts.input
                ),
            ));
        }
        if cached_and_written > counts.input {
            return Err(RecordError::invalid(
                "cache_write_tokens",
                format!(
                    "plus cached_input_tokens ({}) exceeds input_tokens ({})",
                    cached_and_written, counts.input
                ),
            ));
        }
        if counts.cache_write_1h > counts.cache_write {
            return Err(RecordError::invalid(
                "cache_write_1h_tokens",
                format!(
                    "({}) exceeds cache_write_tokens ({})",
                    counts.cache_write_1h, counts.cache_write
                ),
            ));
        }
        if counts.reasoning > counts.output {
            return Err(RecordError::invalid(
                "reasoning_tokens",
                format!("({}) exceeds output_tokens ({})", counts.reasoning, counts.output),
            ));
        }
        Ok(TokenUsage {
            input: TokenCount::new(counts.input),
            output: TokenCount::new(counts.output),
            cached_input: TokenCount::new(counts.cached_input),
            cache_write: TokenCount::new(counts.cache_write),
            cache_write_1h: TokenCount::new(counts.cache_write_1h),
            reasoning: TokenCount::new(counts.reasoning),
        })
    }

    pub fn input(&self) -> TokenCount {
        self.input
    }
    pub fn output(&self) -> TokenCount {
        self.output
    }
    pub fn cached_input(&self) -> TokenCount {
        self.cached_input
    }
    pub fn cache_write(&self) -> TokenCount {
        self.cache_write
    }
    pub fn cache_write_1h(&self) -> TokenCount {
        self.cache_write_1h
    }
    pub fn cache_write_5m(&self) -> TokenCount {
        self.cache_write.saturating_sub(self.cache_write_1h)
    }
    pub fn reasoning(&self) -> TokenCount {
        self.reasoning
    }
    /// Input tokens read neither from nor into the prompt cache.
    pub fn uncached_input(&self) -> TokenCount {
        self.input
            .saturating_sub(self.cached_input)
            .saturating_sub(self.cache_write)
    }
    /// Output tokens that are not reasoning.
    pub fn visible_output(&self) -> TokenCount {
        self.output.saturating_sub(self.reasoning)
    }
}

/// Where `cost_usd` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CostSource {
    /// Computed from the price catalog.
    Catalog,
    /// No catalog price; the gateway's reported cost is used.
    Reported,
    /// Nobody knows the price: flagged, never counted as $0.
    Unpriced,
}

impl CostSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            CostSource::Catalog => "catalog",
            CostSource::Reported => "reported",
            CostSource::Unpriced => "unpriced",
        }
    }

    pub fn parse(name: &str) -> Option<CostSource> {
        match name {
            "catalog" => Some(CostSource::Catalog),
            "reported" => Some(CostSource::Reported),
            "unpriced" => Some(CostSource::Unpriced),
            _ => None,
        }
    }
}

impl fmt::Display for CostSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CostSource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One LLM call in canonical form (DESIGN.md, "The canonical usage record"). Pricing adds
/// `model_key`, `cost_usd`, `cost_source` and `price_id` later; they are not part of what a
/// gateway says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageRecord {
    pub event_id: EventId,
    pub source: Source,
    pub ts: DateTime<Utc>,
    pub team: String,
    pub project: Option<String>,
    pub user_id: Option<String>,
    pub api_key_id: Option<ApiKeyId>,
    pub tags: Tags,
    pub provider: Provider,
    pub model_requested: String,
    pub model: String,
    pub route: Option<String>,
    pub fallback_from: Option<String>,
    pub attempts: u32,
    pub request_count: u64,
    #[serde(flatten, serialize_with = "serialize_tokens")]
    pub tokens: TokenUsage,
    pub service_tier: ServiceTier,
    pub reported_cost_usd: Option<Usd>,
    pub latency_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub status_code: u16,
    pub error_type: Option<ErrorType>,
    pub cache_hit: bool,
}

impl UsageRecord {
    /// `status_code >= 400` or an error type: a stream that broke after a 200 is an error too.
    pub fn is_error(&self) -> bool {
        self.status_code >= 400 || self.error_type.is_some()
    }
}

/// Team used when a record names none.
pub const UNASSIGNED_TEAM: &str = "unassigned";

fn serialize_tokens<S: Serializer>(tokens: &TokenUsage, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(6))?;
    map.serialize_entry("input_tokens", &tokens.input)?;
    map.serialize_entry("output_tokens", &tokens.output)?;
    map.serialize_entry("cached_input_tokens", &tokens.cached_input)?;
    map.serialize_entry("cache_write_tokens", &tokens.cache_write)?;
    map.serialize_entry("cache_write_1h_tokens", &tokens.cache_write_1h)?;
    map.serialize_entry("reasoning_tokens", &tokens.reasoning)?;
    map.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_subsets_name_the_broken_field() {
        let counts = TokenCounts {
            input: 500,
            output: 20,
            cached_input: 600,
            ..TokenCounts::default()
        };
        assert_eq!(
            TokenUsage::new(counts).unwrap_err().field(),
            "cached_input_tokens"
        );
        let counts = TokenCounts {
            input: 100,
            output: 20,
            cached_input: 60,
            cache_write: 50,
            ..TokenCounts::default()
        };
        assert_eq!(TokenUsage::new(counts).unwrap_err().field(), "cache_write_tokens");
        let counts = TokenCounts {
            input: 100,
            output: 20,
            reasoning: 64,
            ..TokenCounts::default()
        };
        assert_eq!(TokenUsage::new(counts).unwrap_err().field(), "reasoning_tokens");
    }

    #[test]
    fn raw_secrets_are_refused_and_hashes_are_stable() {
        assert!(ApiKeyId::from_alias("sk-proj-abc123").is_err());
        assert!(ApiKeyId::from_alias("AKIAIOSFODNN7EXAMPLE").is_err());
        assert!(ApiKeyId::from_alias("key_search_prod_7f1c").is_ok());
        let hashed = ApiKeyId::hash_secret("sk-test");
        assert!(hashed.as_str().starts_with("sha256:"));
        assert_eq!(hashed, ApiKeyId::hash_secret("sk-test"));
    }
}
