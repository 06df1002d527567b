//! [`PriceSpec`]: one catalog entry as people and files write it, with prices per million
//! tokens as exact decimals. The shipped catalog (`catalog.jsonl`), the overrides file, `POST
//! /v1/prices` and `GET /v1/prices` all use this one shape.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::model::{ServiceTier, parse_decimal_text};

/// Copies the seven flat rate fields of a [`PriceSpec`] or [`Variant`] into [`Rates`]. Both
/// structs spell the fields out (rather than `#[serde(flatten)]`) so that `deny_unknown_fields`
/// catches a mistyped price name.
macro_rules! rates_of {
    ($source:expr) => {
        Rates {
            input_per_mtok: $source.input_per_mtok,
            output_per_mtok: $source.output_per_mtok,
            cached_input_per_mtok: $source.cached_input_per_mtok,
            cache_write_per_mtok: $source.cache_write_per_mtok,
            cache_write_1h_per_mtok: $source.cache_write_1h_per_mtok,
            reasoning_per_mtok: $source.reasoning_per_mtok,
            per_request: $source.per_request,
        }
    };
}

/// Prices of one card: each component in USD per million tokens (`per_request` in USD per call).
/// Absent components fall back as documented in [`super::cost`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rates {
    pub input_per_mtok: Option<Decimal>,
    pub output_per_mtok: Option<Decimal>,
    pub cached_input_per_mtok: Option<Decimal>,
    pub cache_write_per_mtok: Option<Decimal>,
    pub cache_write_1h_per_mtok: Option<Decimal>,
    pub reasoning_per_mtok: Option<Decimal>,
    pub per_request: Option<Decimal>,
}

impl Rates {
    pub fn is_empty(&self) -> bool {
        self == &Rates::default()
    }

    fn components(&self) -> [(&'static str, Option<Decimal>); 7] {
        [
            ("input_per_mtok", self.input_per_mtok),
            ("output_per_mtok", self.output_per_mtok),
            ("cached_input_per_mtok", self.cached_input_per_mtok),
            ("cache_write_per_mtok", self.cache_write_per_mtok),
            ("cache_write_1h_per_mtok", self.cache_write_1h_per_mtok),
            ("reasoning_per_mtok", self.reasoning_per_mtok),
            ("per_request", self.per_request),
        ]
    }

    /// Names the first negative component, if any.
    pub fn negative_component(&self) -> Option<&'static str> {
        self.components()
            .into_iter()
            .find(|(_, value)| value.is_some_and(|value| value.is_sign_negative() && !value.is_zero()))
            .map(|(name, _)| name)
    }
}

/// Prices that replace the base rates for a service tier, above an input-token threshold, or
/// both (e.g. priority above 272k tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// `batch`, `priority` or `flex`; absent = standard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Applies when the request's input tokens exceed this many (0 = always).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub above_input_tokens: u64,
    /// Uncached input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>, example = "0.15")]
    pub input_per_mtok: Option<Decimal>,
    /// Output tokens that are not reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>, example = "0.6")]
    pub output_per_mtok: Option<Decimal>,
    /// Input tokens read from the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>, example = "0.075")]
    pub cached_input_per_mtok: Option<Decimal>,
    /// Input tokens written to the prompt cache with the default (5-minute) TTL.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>)]
    pub cache_write_per_mtok: Option<Decimal>,
    /// Input tokens written to the prompt cache with a one-hour TTL.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>)]
    pub cache_write_1h_per_mtok: Option<Decimal>,
    /// Reasoning tokens, when priced apart from output.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>)]
    pub reasoning_per_mtok: Option<Decimal>,
    /// A fee per call, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>)]
    pub per_request: Option<Decimal>,
}

impl Variant {
    pub fn rates(&self) -> Rates {
        rates_of!(self)
    }

    pub fn from_rates(service_tier: ServiceTier, above_input_tokens: u64, rates: Rates) -> Variant {
        Variant {
            service_tier: (service_tier != ServiceTier::Standard).then(|| service_tier.as_str().to_owned()),
            above_input_tokens,
            input_per_mtok: rates.input_per_mtok,
            output_per_mtok: rates.output_per_mtok,
            cached_input_per_mtok: rates.cached_input_per_mtok,
            cache_write_per_mtok: rates.cache_write_per_mtok,
            cache_write_1h_per_mtok: rates.cache_write_1h_per_mtok,
            reasoning_per_mtok: rates.reasoning_per_mtok,
            per_request: rates.per_request,
        }
    }

    pub fn tier(&self) -> ServiceTier {
        self.service_tier
            .as_deref()
            .and_then(ServiceTier::parse)
            .unwrap_or_default()
    }
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// One catalog entry: the prices of `model` served by `provider`, in force from
/// `effective_from` until `effective_to` (exclusive; open when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    /// Canonical provider name (`openai`, `anthropic`, `bedrock`, …).
    pub provider: String,
    /// The model id as the provider names it (`gpt-4o-mini`, `us.anthropic.claude-…-v1:0`).
    pub model: String,
    /// The normalised model name shared across gateways; derived from `model` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_key: Option<String>,
    /// RFC 3339 instant or `YYYY-MM-DD` (UTC midnight).
    #[serde(with = "instant")]
    #[schema(value_type = String, example = "2026-11-01T00:00:00Z")]
    pub effective_from: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_instant")]
    #[schema(value_type = Option<String>)]
    pub effective_to: Option<DateTime<Utc>>,
    /// Uncached input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>, example = "0.15")]
    pub input_per_mtok: Option<Decimal>,
    /// Output tokens that are not reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>, example = "0.6")]
    pub output_per_mtok: Option<Decimal>,
    /// Input tokens read from the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>, example = "0.075")]
    pub cached_input_per_mtok: Option<Decimal>,
    /// Input tokens written to the prompt cache with the default (5-minute) TTL.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>)]
    pub cache_write_per_mtok: Option<Decimal>,
    /// Input tokens written to the prompt cache with a one-hour TTL.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>)]
    pub cache_write_1h_per_mtok: Option<Decimal>,
    /// Reasoning tokens, when priced apart from output.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>)]
    pub reasoning_per_mtok: Option<Decimal>,
    /// A fee per call, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schema(value_type = Option<String>)]
    pub per_request: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
    /// Other model ids that mean this model (Azure deployment names, fine-tune ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Where the price comes from (a URL, `litellm 1.110.2`, `contract 2026-09`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl PriceSpec {
    /// The base (standard tier, any input size) rates.
    pub fn rates(&self) -> Rates {
        rates_of!(self)
    }

    /// Sets the base rates.
    pub fn set_rates(&mut self, rates: Rates) {
        self.input_per_mtok = rates.input_per_mtok;
        self.output_per_mtok = rates.output_per_mtok;
        self.cached_input_per_mtok = rates.cached_input_per_mtok;
        self.cache_write_per_mtok = rates.cache_write_per_mtok;
        self.cache_write_1h_per_mtok = rates.cache_write_1h_per_mtok;
        self.reasoning_per_mtok = rates.reasoning_per_mtok;
        self.per_request = rates.per_request;
    }
}

/// Parses `YYYY-MM-DD` (UTC midnight) or an RFC 3339 instant.
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|naive| naive.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|instant| instant.with_timezone(&Utc))
}

pub(crate) mod instant {
    use super::*;

    pub fn serialize<S: Serializer>(value: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_instant(&text).ok_or_else(|| {
            de::Error::custom(format!(
                "expected `YYYY-MM-DD` or an RFC 3339 instant, got `{text}`"
            ))
        })
    }
}

pub(crate) mod opt_instant {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(instant) => super::instant::serialize(instant, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|text| {
            parse_instant(&text).ok_or_else(|| {
                de::Error::custom(format!(
                    "expected `YYYY-MM-DD` or an RFC 3339 instant, got `{text}`"
                ))
            })
        })
        .transpose()
    }
}

/// Decimals as strings on output; on input a string holding a decimal, an integer, or a float
/// read by its shortest round-trip text (TOML and JSON parsers hand floats over as `f64`). Write
/// strings for prices with more than 15 significant digits.
pub(crate) mod opt_decimal {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(decimal) => serializer.serialize_str(&decimal.normalize().to_string()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Decimal>, D::Error> {
        deserializer.deserialize_any(DecimalVisitor)
    }

    struct DecimalVisitor;

    impl<'de> Visitor<'de> for DecimalVisitor {
        type Value = Option<Decimal>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a decimal number or a string holding one")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_any(DecimalVisitor)
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
            parse_decimal_text(value).map(Some).map_err(E::custom)
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
            Ok(Some(Decimal::from(value)))
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
            Ok(Some(Decimal::from(value)))
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
            if !value.is_finite() {
                return Err(E::custom("a price must be a finite number"));
            }
            // `Display` for f64 prints the shortest text that reads back to the same float.
            parse_decimal_text(&value.to_string())
                .map(Some)
                .map_err(E::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_read_strings_numbers_and_dates() {
        let spec: PriceSpec = serde_json::from_str(
            r#"{"provider":"openai","model":"gpt-4o-mini","effective_from":"2026-11-01",
                "input_per_mtok":"0.15","output_per_mtok":0.6,
                "variants":[{"service_tier":"batch","input_per_mtok":"0.075"}]}"#,
        )
        .unwrap();
        assert_eq!(spec.input_per_mtok.unwrap().to_string(), "0.15");
        assert_eq!(spec.output_per_mtok.unwrap().to_string(), "0.6");
        assert_eq!(spec.effective_from.to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert_eq!(spec.variants[0].tier(), ServiceTier::Batch);
        let text = serde_json::to_string(&spec).unwrap();
        assert!(text.contains(r#""output_per_mtok":"0.6""#), "{text}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let result = serde_json::from_str::<PriceSpec>(
            r#"{"provider":"openai","model":"x","effective_from":"2026-11-01","input_per_mtk":"1"}"#,
        );
        assert!(result.is_err());
    }
}
