//! Coercions and types every adapter shares. The second time an adapter needs a conversion, it
//! moves here (STYLE.md section 12); per-format quirks stay in the adapter.
//!
//! - [`Draft`] / [`AttemptLink`]: a candidate row and how it links to other attempts.
//! - [`base_record`]: a record with the canonical defaults, for struct-update syntax.
//! - Errors: [`at_native`] names the native field in an error a canonical constructor raised.
//! - Timestamps: [`ts_epoch_seconds`], [`ts_epoch_millis`], [`ts_epoch_nanos`] (and the exact
//!   [`epoch_nanos`]), [`ts_text`].
//! - Durations: [`duration_ms`], [`non_negative`], [`seconds_to_ms`].
//! - Text: [`text_field`], [`text_at`], [`stringify_scalar`], [`object_text`], [`TagsBuilder`]
//!   (with [`TagsBuilder::lift`] for reserved keys) and [`Attribution`].
//! - Semantics: [`reported_cost`] ("zero is not free"), [`amount`], [`sum_test`],
//!   [`refine_error_type`], [`error_text`], [`http_status`], [`status_and_error`],
//!   [`VERTEX_AI_HOST`].
//!
//! In: raw JSON values ([`RawValue`], [`Obj`]) and the native field path to blame. Out: typed
//! values or a [`FieldError`] naming that path. Nothing here knows a gateway by name, keeps
//! state, or panics on any input.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::ingest::json::RawValue;
use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::json::{self, Kind, Obj};
use super::reject::{FieldError, excerpt};
use crate::model::{
    ErrorType, EventId, LIMITS, Provider, ServiceTier, Source, Tags, TokenUsage, UNASSIGNED_TEAM,
    UsageRecord, Usd, check_len, parse_decimal_text,
};

/// The host suffix of Google's Vertex AI endpoints. Several gateways log Vertex AI and the Gemini
/// API under one provider name, and only the upstream host tells them apart.
pub(crate) const VERTEX_AI_HOST: &str = "aiplatform.googleapis.com";

/// A candidate row as an adapter produces it: the record, plus how it links to the other calls of
/// the same logical request when the format only says so across records (LiteLLM logs each
/// attempt of a fallback chain separately).
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub record: UsageRecord,
    pub link: Option<AttemptLink>,
}

impl Draft {
    /// A row that stands alone.
    pub(crate) fn new(record: UsageRecord) -> Draft {
        Draft { record, link: None }
    }

    /// A row that [`super::Adapter::finish_batch`] may link to other attempts.
    pub(crate) fn linked(record: UsageRecord, link: AttemptLink) -> Draft {
        Draft {
            record,
            link: Some(link),
        }
    }
}

/// One attempt of a logical request that spans several log records.
#[derive(Debug, Clone)]
pub(crate) struct AttemptLink {
    /// Groups the attempts (LiteLLM's `trace_id`).
    pub group: String,
    /// Orders the attempts.
    pub started: DateTime<Utc>,
    pub failed: bool,
    /// What the caller asked for, as this attempt recorded it.
    pub requested: Option<String>,
}

/// What adapters may need beyond the record itself.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext {
    /// The ingest clock (e.g. OpenAI usage buckets that have not closed yet are refused).
    pub now: DateTime<Utc>,
}

impl ParseContext {
    /// The context of a request parsed now.
    pub fn now() -> ParseContext {
        ParseContext { now: Utc::now() }
    }
}

/// A record with the canonical defaults (team `unassigned`, one attempt, one request, status
/// 200, no cost reported), to be completed with struct-update syntax.
pub(crate) fn base_record(
    source: Source,
    event_id: EventId,
    ts: DateTime<Utc>,
    provider: Provider,
    model: String,
    tokens: TokenUsage,
) -> UsageRecord {
    UsageRecord {
        event_id,
        source,
        ts,
        team: UNASSIGNED_TEAM.to_owned(),
        project: None,
        user_id: None,
        api_key_id: None,
        tags: Tags::default(),
        provider,
        model_requested: model.clone(),
        model,
        route: None,
        fallback_from: None,
        attempts: 1,
        request_count: 1,
        tokens,
        service_tier: ServiceTier::Standard,
        reported_cost_usd: None,
        latency_ms: None,
        ttft_ms: None,
        status_code: 200,
        error_type: None,
        cache_hit: false,
    }
}

/// Reads an optional string field within a length limit; empty strings count as absent.
pub(crate) fn text_field(obj: &Obj<'_>, field: &str, limit: usize) -> Result<Option<String>, FieldError> {
    text_at(obj.raw(field), field, limit)
}

/// Like [`text_field`] for a raw value found elsewhere (a nested path).
pub(crate) fn text_at(
    raw: Option<&RawValue>,
    field: &str,
    limit: usize,
) -> Result<Option<String>, FieldError> {
    let Some(text) = json::opt_str(raw, field)? else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(None);
    }
    check_len(field, &text, limit)?;
    Ok(Some(text.into_owned()))
}

/// Returns a `map_err` adapter that keeps an error's code and message but names the native field
/// it came from. Canonical constructors ([`EventId::new`], [`TokenUsage::new`], [`Tags::new`], …)
/// and shared readers report canonical names such as `event_id`; a rejection must name what the
/// gateway sent (`request_id`, `metadata`).
pub(crate) fn at_native<E: Into<FieldError>>(field: &str) -> impl FnOnce(E) -> FieldError + '_ {
    move |error| FieldError {
        field: Some(field.to_owned()),
        ..error.into()
    }
}

/// A scalar as tag text: strings as they are, numbers by their JSON text, booleans as
/// `true`/`false`; `None` for null, objects and arrays.
pub(crate) fn stringify_scalar(raw: &RawValue) -> Option<String> {
    match Kind::of(raw) {
        Kind::String => json::decode_str(raw).map(|text| text.into_owned()),
        Kind::Number | Kind::Bool => Some(raw.get().to_owned()),
        Kind::Null | Kind::Array | Kind::Object => None,
    }
}

/// The text of a nested object that an export may carry either as an object or as JSON text.
/// Text that does not look like an object yields `None`, as does null.
///
/// # Errors
/// `invalid_type` for a boolean, number or array.
pub(crate) fn object_text<'a>(
    raw: Option<&'a RawValue>,
    field: &str,
) -> Result<Option<Cow<'a, str>>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    match Kind::of(raw) {
        Kind::Null => Ok(None),
        Kind::Object => Ok(Some(Cow::Borrowed(raw.get()))),
        Kind::String => Ok(json::decode_str(raw).filter(|text| text.trim_start().starts_with('{'))),
        Kind::Bool | Kind::Number | Kind::Array => Err(FieldError::invalid_type(field, "an object")),
    }
}

/// Who a record is attributed to, as the metadata of most formats says it: the team
/// (`unassigned` when absent), project and user lifted out of the caller's tags, and the tags
/// that remain.
pub(crate) struct Attribution {
    pub team: String,
    pub project: Option<String>,
    pub user_id: Option<String>,
    pub tags: Tags,
}

/// Collects tags; a later key replaces an earlier one. [`TagsBuilder::build`] applies the
/// canonical limits (64 entries, key ≤ 128, value ≤ 1024 characters).
#[derive(Debug, Default)]
pub(crate) struct TagsBuilder {
    entries: BTreeMap<String, String>,
}

impl TagsBuilder {
    /// Adds one tag; an empty key is dropped.
    pub(crate) fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        if !key.is_empty() {
            self.entries.insert(key, value.into());
        }
    }

    /// Adds every scalar entry of an object (nested objects and arrays are skipped).
    pub(crate) fn extend_from(&mut self, obj: &Obj<'_>) {
        for (key, raw) in obj.entries() {
            if let Some(value) = stringify_scalar(raw) {
                self.insert(key, value);
            }
        }
    }

    /// Takes a reserved key (`team`, `project`, `user_id`, …) out of the tags and returns its
    /// value, `None` when absent or empty. The value must fit the attribution limit
    /// (`LIMITS.short_text`); the error names it `<parent>.<key>`, `parent` being the native
    /// field the tags came from (`metadata`, `requestMetadata`).
    ///
    /// # Errors
    /// `field_too_long` when the value exceeds the limit.
    pub(crate) fn lift(&mut self, key: &str, parent: &str) -> Result<Option<String>, FieldError> {
        let Some(value) = self.entries.remove(key).filter(|value| !value.is_empty()) else {
            return Ok(None);
        };
        check_len(&format!("{parent}.{key}"), &value, LIMITS.short_text)?;
        Ok(Some(value))
    }

    /// # Errors
    /// `field_too_long` when a limit is exceeded.
    pub(crate) fn build(self) -> Result<Tags, FieldError> {
        Ok(Tags::new(self.entries)?)
    }
}

fn instant_error(field: &str, text: &str) -> FieldError {
    FieldError::invalid_value(field, format!("not a valid timestamp: `{}`", excerpt(text)))
}

/// A decimal number of seconds since the epoch (`1763884931.412`), read exactly to the
/// microsecond. Numeric strings are accepted too.
pub(crate) fn ts_epoch_seconds(raw: &RawValue, field: &str) -> Result<DateTime<Utc>, FieldError> {
    if !matches!(Kind::of(raw), Kind::Number | Kind::String) {
        return Err(FieldError::invalid_type(field, "epoch seconds"));
    }
    let text = raw_text(raw);
    let seconds = parse_decimal_text(&text).map_err(|_| instant_error(field, &text))?;
    let micros = seconds
        .checked_mul(Decimal::from(1_000_000))
        .and_then(|micros| micros.round().to_i64())
        .ok_or_else(|| instant_error(field, &text))?;
    DateTime::from_timestamp_micros(micros).ok_or_else(|| instant_error(field, &text))
}

/// Milliseconds since the epoch (Kong `started_at`).
pub(crate) fn ts_epoch_millis(raw: &RawValue, field: &str) -> Result<DateTime<Utc>, FieldError> {
    let millis = json::opt_i64(Some(raw), field)?.ok_or_else(|| FieldError::missing(field))?;
    DateTime::from_timestamp_millis(millis).ok_or_else(|| instant_error(field, raw.get()))
}

/// Nanoseconds since the epoch as a decimal string or number (OTLP `startTimeUnixNano`),
/// truncated to the microsecond the store keeps.
pub(crate) fn ts_epoch_nanos(raw: &RawValue, field: &str) -> Result<DateTime<Utc>, FieldError> {
    let nanos = epoch_nanos(raw, field)?;
    let error = || instant_error(field, raw_text(raw).as_ref());
    let micros = i64::try_from(nanos.div_euclid(1000)).map_err(|_| error())?;
    DateTime::from_timestamp_micros(micros).ok_or_else(error)
}

/// Integer nanoseconds since the epoch from a decimal string or number, kept exact (durations
/// between two OTLP times need every digit; [`ts_epoch_nanos`] truncates to microseconds).
///
/// # Errors
/// `invalid_type` for other JSON types, `invalid_value` for text that is not an integer.
pub(crate) fn epoch_nanos(raw: &RawValue, field: &str) -> Result<i128, FieldError> {
    if !matches!(Kind::of(raw), Kind::Number | Kind::String) {
        return Err(FieldError::invalid_type(field, "epoch nanoseconds"));
    }
    let text = raw_text(raw);
    text.trim().parse().map_err(|_| instant_error(field, &text))
}

/// The text of a number, or the decoded content of a string.
fn raw_text(raw: &RawValue) -> Cow<'_, str> {
    match Kind::of(raw) {
        Kind::String => json::decode_str(raw).unwrap_or_default(),
        _ => Cow::Borrowed(raw.get()),
    }
}

/// An ISO-8601 / RFC 3339 timestamp. With an offset it is converted to UTC; without one it is
/// accepted only when the format documents naive times as UTC (`naive_is_utc`). Accepts `T` or a
/// space between date and time and any number of fraction digits.
pub(crate) fn ts_text(text: &str, field: &str, naive_is_utc: bool) -> Result<DateTime<Utc>, FieldError> {
    let trimmed = text.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(instant.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(instant) = DateTime::parse_from_str(trimmed, format) {
            return Ok(instant.with_timezone(&Utc));
        }
    }
    if naive_is_utc {
        for format in [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M:%S",
        ] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(trimmed, format) {
                return Ok(naive.and_utc());
            }
        }
    }
    Err(instant_error(field, text))
}

/// The "zero is not free" rule (`shared/formats/README.md`, "Cost fields and units"): a reported
/// 0 on a call with tokens, status < 400 and no gateway cache hit means the gateway could not
/// price it, so it becomes null. Zeros on errors and cache hits stay `0`.
pub(crate) fn reported_cost(
    reported: Option<Usd>,
    tokens: &TokenUsage,
    status_code: u16,
    cache_hit: bool,
) -> Option<Usd> {
    let has_tokens = tokens.input().get() > 0 || tokens.output().get() > 0;
    match reported {
        Some(amount) if amount == Usd::ZERO && has_tokens && status_code < 400 && !cache_hit => None,
        other => other,
    }
}

/// Reads a non-negative decimal amount (USD) exactly from a number or numeric string.
///
/// # Errors
/// `invalid_type` for other JSON types, `invalid_value` for negative or malformed amounts.
pub(crate) fn amount(raw: Option<&RawValue>, field: &str) -> Result<Option<Usd>, FieldError> {
    match json::opt_decimal(raw, field)? {
        None => Ok(None),
        Some(value) => Usd::new(value)
            .map(Some)
            .map_err(|_| FieldError::invalid_value(field, "must not be negative")),
    }
}

/// Counts after the sum test (`shared/formats/README.md`, "The sum test"): decides from a total,
/// when the format does not fix it, whether the headline counts already include cache reads and
/// writes and reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SummedTokens {
    pub input: u64,
    pub output: u64,
}

/// Applies the sum test to headline input `p`, output `c`, optional total `t`, cache read `cr`,
/// cache write `cw` and reasoning `r`.
pub(crate) fn sum_test(p: u64, c: u64, t: Option<u64>, cr: u64, cw: u64, r: u64) -> SummedTokens {
    let cache = cr.saturating_add(cw);
    let input_excludes_cache = cache > p
        || (cache > 0
            && t.is_some_and(|t| {
                t == p.saturating_add(c).saturating_add(cache)
                    || t == p.saturating_add(c).saturating_add(cache).saturating_add(r)
            }));
    let input = if input_excludes_cache {
        p.saturating_add(cache)
    } else {
        p
    };
    let output_excludes_reasoning =
        r > c || (r > 0 && t.is_some_and(|t| t == input.saturating_add(c).saturating_add(r)));
    let output = if output_excludes_reasoning {
        c.saturating_add(r)
    } else {
        c
    };
    SummedTokens { input, output }
}

/// Refines an error type from an error name or message (`context_length_exceeded`,
/// `ContentPolicyViolationError`, `overloaded_error`, …); `None` when nothing is recognised.
pub(crate) fn refine_error_type(text: &str) -> Option<ErrorType> {
    let lowered = text.to_ascii_lowercase();
    let has = |needle: &str| lowered.contains(needle);
    if has("context_length_exceeded") || has("contextwindowexceeded") || has("context window") {
        Some(ErrorType::ContextLength)
    } else if has("content_filter") || has("content_policy") || has("contentpolicyviolation") {
        Some(ErrorType::ContentFilter)
    } else if has("budgetexceeded") || has("budget_exceeded") {
        Some(ErrorType::BudgetExceeded)
    } else if has("overloaded") {
        Some(ErrorType::Overloaded)
    } else if has("ratelimit") || has("rate_limit") {
        Some(ErrorType::RateLimit)
    } else if has("timeout") || has("timed out") {
        Some(ErrorType::Timeout)
    } else {
        None
    }
}

/// The parts of an error body that name the failure (`code`, `type`), for
/// [`refine_error_type`]. The message is left out: free text mentioning a word such as "timeout"
/// must not override the status.
pub(crate) fn error_text(raw: &RawValue) -> String {
    match Obj::from_raw(raw) {
        Some(error) => ["code", "type"]
            .iter()
            .filter_map(|key| error.present(key).and_then(stringify_scalar))
            .collect::<Vec<_>>()
            .join(" "),
        None => stringify_scalar(raw).unwrap_or_default(),
    }
}

/// Validates an HTTP status to 100–599.
///
/// # Errors
/// `invalid_value` naming `field` for anything else.
pub(crate) fn http_status(status: u64, field: &str) -> Result<u16, FieldError> {
    u16::try_from(status)
        .ok()
        .filter(|code| (100..=599).contains(code))
        .ok_or_else(|| FieldError::invalid_value(field, format!("`{status}` is not an HTTP status")))
}

/// The HTTP status of a call, validated to 100–599, and its error type: a refinement from error
/// text wins over the status (`shared/formats/README.md`, "Status codes and error_type").
///
/// # Errors
/// `invalid_value` for a status outside 100–599.
pub(crate) fn status_and_error(
    status: u64,
    field: &str,
    error_text: Option<&str>,
) -> Result<(u16, Option<ErrorType>), FieldError> {
    let status = http_status(status, field)?;
    let by_status = ErrorType::from_status(status);
    let refined = error_text.and_then(refine_error_type);
    let error_type = match (by_status, refined) {
        (None, _) => None,
        (Some(_), Some(refined)) => Some(refined),
        (Some(kind), None) => Some(kind),
    };
    Ok((status, error_type))
}

/// Reads a non-negative duration in milliseconds from a number or a numeric string (native
/// formats quote numbers); `None` when absent or null.
///
/// # Errors
/// `invalid_type` for other JSON types, `invalid_value` for a negative duration.
pub(crate) fn duration_ms(raw: Option<&RawValue>, field: &str) -> Result<Option<f64>, FieldError> {
    non_negative(json::opt_f64_lenient(raw, field)?, field)
}

/// Refuses a negative duration that was read some other way (strictly, or in seconds).
///
/// # Errors
/// `invalid_value` naming `field` when the duration is below zero.
pub(crate) fn non_negative(duration: Option<f64>, field: &str) -> Result<Option<f64>, FieldError> {
    match duration {
        Some(value) if value < 0.0 => Err(FieldError::invalid_value(
            field,
            format!("must not be negative, got {value}"),
        )),
        other => Ok(other),
    }
}

/// Seconds (a decimal) to milliseconds as `f64`, for durations.
pub(crate) fn seconds_to_ms(seconds: f64) -> f64 {
    seconds * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn epoch_and_text_timestamps_are_exact() {
        let ts = ts_epoch_seconds(&raw("1763884931.412"), "startTime").unwrap();
        assert_eq!(ts.to_rfc3339(), "2025-11-23T08:02:11.412+00:00");
        let ts = ts_epoch_nanos(&raw("\"1763884931412345678\""), "t").unwrap();
        assert_eq!(ts.timestamp_micros(), 1_763_884_931_412_345);
        let ts = ts_epoch_millis(&raw("1763884931412"), "t").unwrap();
        assert_eq!(ts.timestamp_millis(), 1_763_884_931_412);
        assert!(ts_text("2026-11-23 08:02:11.412", "t", false).is_err());
        assert_eq!(
            ts_text("2026-11-23 08:02:11.412", "t", true)
                .unwrap()
                .to_rfc3339(),
            "2026-11-23T08:02:11.412+00:00"
        );
        assert_eq!(
            ts_text("2026-11-23T08:02:11.412000+00:00", "t", false)
                .unwrap()
                .to_rfc3339(),
            "2026-11-23T08:02:11.412+00:00"
        );
    }

    #[test]
    fn the_sum_test_detects_excluded_cache_and_reasoning() {
        // Anthropic through a gateway: 412 uncached + 18,240 read, total counts both.
        assert_eq!(sum_test(412, 498, Some(19_150), 18_240, 0, 0).input, 18_652);
        // OpenAI: input already includes the 6,144 cached tokens.
        assert_eq!(sum_test(8_000, 100, Some(8_100), 6_144, 0, 0).input, 8_000);
        // Gemini: 240 candidates + 610 thoughts.
        assert_eq!(sum_test(100, 240, Some(950), 0, 0, 610).output, 850);
    }

    #[test]
    fn zero_is_not_free() {
        let tokens = TokenUsage::new(crate::model::TokenCounts {
            input: 10,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(reported_cost(Some(Usd::ZERO), &tokens, 200, false), None);
        assert_eq!(
            reported_cost(Some(Usd::ZERO), &tokens, 429, false),
            Some(Usd::ZERO)
        );
        assert_eq!(
            reported_cost(Some(Usd::ZERO), &tokens, 200, true),
            Some(Usd::ZERO)
        );
    }
}
