//! `canonical`: llm-ledger's own record, one JSON object per call.
//!
//! Spec: [`shared/formats/canonical.md`](../../../shared/formats/canonical.md). Every field of the
//! canonical table is read; the server fields (`cost_usd`, `cost_source`, `is_error`,
//! `ingested_at`, `model_key`, `price_id`) are accepted so that an export can be re-ingested, and
//! ignored. Unknown top-level fields are rejected (`unknown_field`): in our own format a typo such
//! as `input_token` must not silently become zero tokens.
//!
//! Two optional fields go beyond canonical.md: `cache_write_1h_tokens` (the part of
//! `cache_write_tokens` written with a one-hour TTL, priced at its own rate) and `service_tier`
//! (`batch`, `priority`, `flex`), which select catalog prices.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::Adapter;
use super::common::{Draft, ParseContext, non_negative, text_field};
use super::json::{self, Kind, Obj};
use super::reject::{FieldError, RejectCode, excerpt};
use crate::model::{
    ApiKeyId, ErrorType, EventId, LIMITS, Provider, ServiceTier, Source, Tags, TokenCounts, TokenUsage,
    UNASSIGNED_TEAM, UsageRecord, Usd,
};

pub(crate) struct Canonical;

/// Fields a client may send.
const INPUT_FIELDS: &[&str] = &[
    "event_id",
    "source",
    "ts",
    "team",
    "project",
    "user_id",
    "api_key_id",
    "tags",
    "provider",
    "model_requested",
    "model",
    "route",
    "fallback_from",
    "attempts",
    "request_count",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "service_tier",
    "reported_cost_usd",
    "latency_ms",
    "ttft_ms",
    "status_code",
    "error_type",
    "cache_hit",
];

/// Fields the server computes; accepted on input (re-ingested exports) and ignored.
const SERVER_FIELDS: &[&str] = &[
    "cost_usd",
    "cost_source",
    "is_error",
    "ingested_at",
    "model_key",
    "price_id",
    "list_cost_usd",
    "contract_id",
];

impl Adapter for Canonical {
    fn source(&self) -> Source {
        Source::Canonical
    }

    fn detect(&self, obj: &Obj<'_>) -> bool {
        obj.has("event_id")
            && obj.has("provider")
            && obj.has("model")
            && (obj.has("input_tokens") || obj.has("output_tokens"))
    }

    fn parse(&self, obj: &Obj<'_>, _ctx: &ParseContext, out: &mut Vec<Result<Draft, FieldError>>) {
        out.push(parse_record(obj).map(Draft::new));
    }
}

fn parse_record(obj: &Obj<'_>) -> Result<UsageRecord, FieldError> {
    if let Some(unknown) = obj
        .keys()
        .find(|key| !INPUT_FIELDS.contains(key) && !SERVER_FIELDS.contains(key))
    {
        return Err(FieldError::new(
            excerpt(unknown),
            RejectCode::UnknownField,
            format!("`{}` is not a field of the canonical record", excerpt(unknown)),
        ));
    }

    let event_id =
        json::opt_str(obj.raw("event_id"), "event_id")?.ok_or_else(|| FieldError::missing("event_id"))?;
    let event_id = EventId::new(event_id.into_owned())?;
    let source = match json::opt_str(obj.raw("source"), "source")? {
        None => Source::Canonical,
        Some(name) => Source::parse(&name).ok_or_else(|| {
            FieldError::invalid_value("source", format!("unknown source `{}`", excerpt(&name)))
        })?,
    };
    let ts = parse_ts(obj)?;
    let team = text_field(obj, "team", LIMITS.short_text)?.unwrap_or_else(|| UNASSIGNED_TEAM.to_owned());
    let project = text_field(obj, "project", LIMITS.short_text)?;
    let user_id = text_field(obj, "user_id", LIMITS.short_text)?;
    let api_key_id = match text_field(obj, "api_key_id", LIMITS.short_text)? {
        None => None,
        Some(alias) => Some(ApiKeyId::from_alias(&alias)?),
    };
    let tags = parse_tags(obj)?;
    let provider =
        text_field(obj, "provider", LIMITS.provider)?.ok_or_else(|| FieldError::missing("provider"))?;
    let model = text_field(obj, "model", LIMITS.model)?.ok_or_else(|| FieldError::missing("model"))?;
    let model_requested = text_field(obj, "model_requested", LIMITS.model)?.unwrap_or_else(|| model.clone());
    let route = text_field(obj, "route", LIMITS.short_text)?;
    let fallback_from = text_field(obj, "fallback_from", LIMITS.model)?;
    let attempts = positive(obj, "attempts")?;
    let request_count = positive(obj, "request_count")?;

    let input = json::opt_count(obj.raw("input_tokens"), "input_tokens")?
        .ok_or_else(|| FieldError::missing("input_tokens"))?;
    let output = json::opt_count(obj.raw("output_tokens"), "output_tokens")?
        .ok_or_else(|| FieldError::missing("output_tokens"))?;
    let count =
        |field: &str| -> Result<u64, FieldError> { Ok(json::opt_count(obj.raw(field), field)?.unwrap_or(0)) };
    let tokens = TokenUsage::new(TokenCounts {
        input,
        output,
        cached_input: count("cached_input_tokens")?,
        cache_write: count("cache_write_tokens")?,
        cache_write_1h: count("cache_write_1h_tokens")?,
        reasoning: count("reasoning_tokens")?,
    })?;
    let service_tier = match json::opt_str(obj.raw("service_tier"), "service_tier")? {
        None => ServiceTier::Standard,
        Some(name) => ServiceTier::parse(&name).ok_or_else(|| {
            FieldError::invalid_value(
                "service_tier",
                format!("unknown service tier `{}`", excerpt(&name)),
            )
        })?,
    };

    let reported_cost_usd = match json::opt_decimal(obj.raw("reported_cost_usd"), "reported_cost_usd")? {
        None => None,
        Some(amount) => Some(
            Usd::new(amount)
                .map_err(|_| FieldError::invalid_value("reported_cost_usd", "must not be negative"))?,
        ),
    };
    let latency_ms = duration(obj, "latency_ms")?;
    let ttft_ms = duration(obj, "ttft_ms")?;
    if let (Some(latency), Some(ttft)) = (latency_ms, ttft_ms)
        && ttft > latency
    {
        return Err(FieldError::invalid_value(
            "ttft_ms",
            format!("({ttft}) exceeds latency_ms ({latency})"),
        ));
    }
    let status_code = match json::opt_count(obj.raw("status_code"), "status_code")? {
        None => 200,
        Some(code @ 100..=599) => code as u16,
        Some(code) => {
            return Err(FieldError::invalid_value(
                "status_code",
                format!("must be an HTTP status between 100 and 599, got {code}"),
            ));
        }
    };
    let error_type = match json::opt_str(obj.raw("error_type"), "error_type")? {
        None => None,
        Some(name) => Some(ErrorType::parse(&name).ok_or_else(|| {
            FieldError::invalid_value("error_type", format!("unknown error type `{}`", excerpt(&name)))
        })?),
    };
    let cache_hit = json::opt_bool(obj.raw("cache_hit"), "cache_hit")?.unwrap_or(false);

    Ok(UsageRecord {
        event_id,
        source,
        ts,
        team,
        project,
        user_id,
        api_key_id,
        tags,
        provider: Provider::normalize(&provider),
        model_requested,
        model,
        route,
        fallback_from,
        attempts,
        request_count: u64::from(request_count),
        tokens,
        service_tier,
        reported_cost_usd,
        latency_ms,
        ttft_ms,
        status_code,
        error_type,
        cache_hit,
    })
}

/// `ts`: RFC 3339 with an explicit offset. Naive timestamps are refused in our own format.
fn parse_ts(obj: &Obj<'_>) -> Result<DateTime<Utc>, FieldError> {
    let text = json::opt_str(obj.raw("ts"), "ts")?.ok_or_else(|| FieldError::missing("ts"))?;
    DateTime::parse_from_rfc3339(&text)
        .map(|ts| ts.with_timezone(&Utc))
        .map_err(|_| {
            FieldError::invalid_value(
                "ts",
                format!(
                    "expected an RFC 3339 timestamp with an offset, got `{}`",
                    excerpt(&text)
                ),
            )
        })
}

fn parse_tags(obj: &Obj<'_>) -> Result<Tags, FieldError> {
    let Some(raw) = obj.present("tags") else {
        return Ok(Tags::default());
    };
    let tags = Obj::from_raw(raw).ok_or_else(|| FieldError::invalid_type("tags", "an object of strings"))?;
    let mut entries = BTreeMap::new();
    for (key, value) in tags.entries() {
        if Kind::of(value) != Kind::String {
            return Err(FieldError::invalid_type(
                &format!("tags.{}", excerpt(key)),
                "a string",
            ));
        }
        let value = json::decode_str(value).unwrap_or_default();
        entries.insert(key.to_owned(), value.into_owned());
    }
    Ok(Tags::new(entries)?)
}

fn positive(obj: &Obj<'_>, field: &str) -> Result<u32, FieldError> {
    match json::opt_count(obj.raw(field), field)? {
        None => Ok(1),
        Some(0) => Err(FieldError::invalid_value(field, "must be at least 1")),
        Some(value) => u32::try_from(value).map_err(|_| FieldError::invalid_value(field, "is out of range")),
    }
}

/// Our own format sends durations as JSON numbers: a quoted one is a type error.
fn duration(obj: &Obj<'_>, field: &str) -> Result<Option<f64>, FieldError> {
    non_negative(json::opt_f64(obj.raw(field), field)?, field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::golden::assert_golden;

    #[test]
    fn golden_fixture() {
        assert_golden(
            "canonical/sample.ndjson",
            "canonical/sample.expected.ndjson",
            Source::Canonical,
            (12, 12, 0),
        );
    }
}
