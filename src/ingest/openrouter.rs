//! `openrouter`: OpenRouter generation stats (`GET /api/v1/generation?id=`) and chat-completion
//! response bodies with usage accounting, both as `source = openrouter` and sharing the `gen-…`
//! id, so the two shapes dedupe against each other.
//!
//! Spec: `shared/formats/openrouter.md` (fixtures `shared/fixtures/openrouter/`).
//!
//! Generation stats (the `{"data": …}` wrapper is removed by `detect.rs` before this adapter sees
//! the record):
//! - mapped: `id` → `event_id`, `created_at` → `ts`, `model` → `model`, `provider_name` →
//!   `provider` (OpenRouter display names, see [`provider_from_display_name`]), `router` → `route`
//!   and `model_requested`, `provider_responses` → `attempts`, `route = "fallback"`,
//!   `fallback_from` and `model_requested` (see [`AttemptChain`]), `native_tokens_prompt` /
//!   `native_tokens_completion` / `native_tokens_cached` / `native_tokens_reasoning` → tokens,
//!   `total_cost` (+ `upstream_inference_cost` when `is_byok`) → `reported_cost_usd`, `latency` →
//!   `latency_ms`, `cancelled` / `finish_reason` → `error_type`, `external_user` → `user_id`.
//! - dropped: `tokens_prompt` / `tokens_completion` (normalised counts, never billed),
//!   `upstream_id`, `cache_discount`, `native_tokens_completion_images`, `generation_time`,
//!   `moderation_latency`, `streamed`, `native_finish_reason`, `session_id`, `request_id`,
//!   `app_id`, `origin`, `http_referer`, `user_agent`, `api_type`, `num_*`, `web_search_engine`,
//!   `preset_id`, `service_tier`, `data_region`.
//!
//! Response bodies:
//! - mapped: `id` → `event_id`, `created` (epoch seconds) → `ts`, `model`, `provider`,
//!   `usage.prompt_tokens` / `usage.completion_tokens` (with `usage.total_tokens` for the sum
//!   test), `usage.prompt_tokens_details.cached_tokens` / `.cache_write_tokens`,
//!   `usage.completion_tokens_details.reasoning_tokens`, `usage.cost` (+
//!   `usage.cost_details.upstream_inference_cost` when `usage.is_byok`), `choices[].finish_reason`.
//! - dropped: audio, video and image token details, the upstream cost split, `system_fingerprint`,
//!   message contents.
//!
//! Error bodies (`{"error": {"code", …}, "user_id"?}`) carry no generation id and no timestamp:
//! they are rejected with `missing_field: id`. For that outcome the detection predicate accepts
//! them (a record that fails `detect` inside a batch is `format_mismatch` before `parse` runs).
//! The trait cannot tell "first record of the body" from "later record of an OpenRouter batch",
//! so a body whose *first* record is an error body is detected as `openrouter` and its error
//! bodies are rejected one by one, instead of the whole body being `unknown_format`.
//!
//! Decisions where the page is unverified (**O**/**U**):
//! - Token semantics: both shapes go through the sum test (`common::sum_test`). For generation
//!   stats there is no total, so it reduces to the page's guard (cached > prompt means the prompt
//!   excluded the cache) plus the same guard for reasoning > completion. Response bodies use
//!   `usage.total_tokens` as the total.
//! - A BYOK record without its upstream cost reports `null`: the fee alone would understate the
//!   call, and OpenRouter's zero is otherwise taken as a real zero (free models), not nulled.
//! - The serving attempt of `provider_responses` is the last one with a status below 400 (the
//!   last attempt when none has one); failed attempts are those with a status of 400 or more.
//! - A generation without `provider_name` takes the serving attempt's provider name, else
//!   `unknown`; a response body without `provider` is `unknown`.

use serde_json::value::RawValue;

use super::Adapter;
use super::common::{
    Draft, ParseContext, SummedTokens, amount, at_native, base_record, duration_ms, sum_test, text_at,
    text_field, ts_epoch_seconds, ts_text,
};
use super::json::{self, Obj};
use super::reject::{FieldError, RejectCode};
use crate::model::{
    ErrorType, EventId, LIMITS, Provider, RecordError, Source, TokenCounts, TokenUsage, UsageRecord, Usd,
};

pub(crate) struct Openrouter;

/// `object` values of a response body: a whole completion or the last chunk of a stream.
const RESPONSE_OBJECTS: &[&str] = &["chat.completion", "chat.completion.chunk"];

/// Generation-stats keys that only that shape has; used to pick the shape when parsing.
const GENERATION_KEYS: &[&str] = &[
    "native_tokens_prompt",
    "native_tokens_completion",
    "tokens_prompt",
    "provider_name",
    "created_at",
];

/// OpenRouter display names whose canonical provider differs from what the shared folding
/// (`Provider::normalize`) gives. `Google` is Vertex AI on OpenRouter, while the shared table
/// folds a bare `google` into `gemini` (Portkey's spelling).
const DISPLAY_NAMES: &[(&str, &str)] = &[
    ("google", "vertex_ai"),
    ("google vertex", "vertex_ai"),
    ("google ai studio", "gemini"),
    ("amazon bedrock", "bedrock"),
    ("azure", "azure"),
    ("together", "together_ai"),
];

/// Canonical token fields and their native paths in generation stats, for error messages.
const GENERATION_TOKEN_FIELDS: &[(&str, &str)] = &[
    ("input_tokens", "native_tokens_prompt"),
    ("output_tokens", "native_tokens_completion"),
    ("cached_input_tokens", "native_tokens_cached"),
    ("reasoning_tokens", "native_tokens_reasoning"),
];

/// Canonical token fields and their native paths in response bodies, for error messages.
const RESPONSE_TOKEN_FIELDS: &[(&str, &str)] = &[
    ("input_tokens", "usage.prompt_tokens"),
    ("output_tokens", "usage.completion_tokens"),
    ("cached_input_tokens", "usage.prompt_tokens_details.cached_tokens"),
    (
        "cache_write_tokens",
        "usage.prompt_tokens_details.cache_write_tokens",
    ),
    (
        "reasoning_tokens",
        "usage.completion_tokens_details.reasoning_tokens",
    ),
];

impl Adapter for Openrouter {
    fn source(&self) -> Source {
        Source::Openrouter
    }

    fn detect(&self, obj: &Obj<'_>) -> bool {
        is_generation(obj) || is_response_body(obj) || is_error_body(obj)
    }

    fn parse(&self, obj: &Obj<'_>, _ctx: &ParseContext, out: &mut Vec<Result<Draft, FieldError>>) {
        // Response bodies and error bodies share a path: both start from `id`, which an error body
        // lacks, so it is rejected as `missing_field: id` as the page requires.
        let record = if GENERATION_KEYS.iter().any(|key| obj.has(key)) {
            parse_generation(obj)
        } else {
            parse_response_body(obj)
        };
        out.push(record.map(Draft::new));
    }
}

/// Generation stats: a prompt count (native or normalised) and the serving provider's name.
fn is_generation(obj: &Obj<'_>) -> bool {
    (obj.has("native_tokens_prompt") || obj.has("tokens_prompt")) && obj.has("provider_name")
}

/// A response body: `id` starting `gen-`, `usage.cost`, and a chat-completion `object`.
fn is_response_body(obj: &Obj<'_>) -> bool {
    let generation_id = json::string_at(obj.raw("id")).is_some_and(|id| id.starts_with("gen-"));
    let usage_has_cost = obj
        .raw("usage")
        .and_then(Obj::from_raw)
        .is_some_and(|usage| usage.has("cost"));
    let completion =
        json::string_at(obj.raw("object")).is_some_and(|kind| RESPONSE_OBJECTS.contains(&kind.as_ref()));
    generation_id && usage_has_cost && completion
}

/// An error body: only `error` (holding a `code`) and optionally `user_id`.
fn is_error_body(obj: &Obj<'_>) -> bool {
    obj.keys().all(|key| key == "error" || key == "user_id")
        && obj
            .raw("error")
            .and_then(Obj::from_raw)
            .is_some_and(|error| error.has("code"))
}

fn parse_generation(obj: &Obj<'_>) -> Result<UsageRecord, FieldError> {
    let event_id = event_id(obj)?;
    let created_at = json::opt_str(obj.raw("created_at"), "created_at")?
        .ok_or_else(|| FieldError::missing("created_at"))?;
    let ts = ts_text(&created_at, "created_at", false)?;
    let model = text_field(obj, "model", LIMITS.model)?.ok_or_else(|| FieldError::missing("model"))?;
    let chain = AttemptChain::read(obj)?;
    let provider = match text_field(obj, "provider_name", LIMITS.short_text)? {
        Some(name) => provider_from_display_name(&name),
        None => chain
            .serving_provider
            .as_deref()
            .map_or(Provider::Unknown, provider_from_display_name),
    };
    let tokens = generation_tokens(obj)?;
    let total_cost = match amount(obj.raw("total_cost"), "total_cost")? {
        Some(cost) => Some(cost),
        // `usage` is documented as the same amount as `total_cost`.
        None => amount(obj.raw("usage"), "usage")?,
    };
    let is_byok = json::opt_bool(obj.raw("is_byok"), "is_byok")?.unwrap_or(false);
    let reported_cost_usd = byok_cost(
        total_cost,
        is_byok,
        obj.raw("upstream_inference_cost"),
        "upstream_inference_cost",
    )?;

    let latency_ms = duration_ms(obj.raw("latency"), "latency")?;
    let cancelled = json::opt_bool(obj.raw("cancelled"), "cancelled")?.unwrap_or(false);
    let finish_reason = json::opt_str(obj.raw("finish_reason"), "finish_reason")?;
    let error_type = if cancelled {
        Some(ErrorType::Cancelled)
    } else {
        finish_reason.as_deref().and_then(error_from_finish_reason)
    };
    let user_id = text_field(obj, "external_user", LIMITS.short_text)?;
    let router = text_field(obj, "router", LIMITS.short_text)?;
    let model_requested = router
        .clone()
        .or_else(|| chain.requested_model())
        .unwrap_or_else(|| model.clone());
    let route = router.or_else(|| chain.fell_back.then(|| "fallback".to_owned()));

    Ok(UsageRecord {
        user_id,
        model_requested,
        route,
        fallback_from: chain.fallback_from,
        attempts: chain.count,
        reported_cost_usd,
        latency_ms,
        error_type,
        ..base_record(Source::Openrouter, event_id, ts, provider, model, tokens)
    })
}

/// The billed counts of generation stats: the `native_tokens_*`, never the normalised `tokens_*`.
fn generation_tokens(obj: &Obj<'_>) -> Result<TokenUsage, FieldError> {
    let prompt = native_count(obj, "native_tokens_prompt", "tokens_prompt")?;
    let completion = native_count(obj, "native_tokens_completion", "tokens_completion")?;
    let cached = count_or_zero(obj.raw("native_tokens_cached"), "native_tokens_cached")?;
    let reasoning = count_or_zero(obj.raw("native_tokens_reasoning"), "native_tokens_reasoning")?;
    // No total in generation stats: the sum test reduces to the page's guard (a cached count
    // above the prompt count means the prompt excluded the cache) and its reasoning twin.
    let summed = checked_sum(
        sum_test(prompt, completion, None, cached, 0, reasoning),
        GENERATION_TOKEN_FIELDS,
    )?;
    TokenUsage::new(TokenCounts {
        input: summed.input,
        output: summed.output,
        cached_input: cached,
        reasoning,
        ..TokenCounts::default()
    })
    .map_err(|error| at_native_path(error, GENERATION_TOKEN_FIELDS))
}

fn parse_response_body(obj: &Obj<'_>) -> Result<UsageRecord, FieldError> {
    if obj.present("id").is_none() && obj.has("error") {
        return Err(FieldError::new(
            "id",
            RejectCode::MissingField,
            "an OpenRouter error response carries no generation id or timestamp, so it cannot be \
             deduplicated or placed in time; ingest generation stats for failed calls",
        ));
    }
    let event_id = event_id(obj)?;
    let created = obj
        .present("created")
        .ok_or_else(|| FieldError::missing("created"))?;
    let ts = ts_epoch_seconds(created, "created")?;
    let model = text_field(obj, "model", LIMITS.model)?.ok_or_else(|| FieldError::missing("model"))?;
    let provider = text_field(obj, "provider", LIMITS.short_text)?
        .as_deref()
        .map_or(Provider::Unknown, provider_from_display_name);

    let usage = obj
        .obj("usage", "usage")?
        .ok_or_else(|| FieldError::missing("usage"))?;
    let tokens = response_tokens(&usage)?;

    let cost = amount(usage.raw("cost"), "usage.cost")?;
    let is_byok = json::opt_bool(usage.raw("is_byok"), "usage.is_byok")?.unwrap_or(false);
    let cost_details = usage.obj("cost_details", "usage.cost_details")?;
    let reported_cost_usd = byok_cost(
        cost,
        is_byok,
        cost_details
            .as_ref()
            .and_then(|details| details.raw("upstream_inference_cost")),
        "usage.cost_details.upstream_inference_cost",
    )?;
    let error_type = choices_error_type(obj)?;

    Ok(UsageRecord {
        reported_cost_usd,
        error_type,
        ..base_record(Source::Openrouter, event_id, ts, provider, model, tokens)
    })
}

/// The counts of a response body's `usage` object.
fn response_tokens(usage: &Obj<'_>) -> Result<TokenUsage, FieldError> {
    let prompt = json::opt_count_lenient(usage.raw("prompt_tokens"), "usage.prompt_tokens")?
        .ok_or_else(|| FieldError::missing("usage.prompt_tokens"))?;
    let completion = json::opt_count_lenient(usage.raw("completion_tokens"), "usage.completion_tokens")?
        .ok_or_else(|| FieldError::missing("usage.completion_tokens"))?;
    let total = json::opt_count_lenient(usage.raw("total_tokens"), "usage.total_tokens")?;
    let prompt_details = usage.obj("prompt_tokens_details", "usage.prompt_tokens_details")?;
    let completion_details = usage.obj("completion_tokens_details", "usage.completion_tokens_details")?;
    let cached = count_or_zero(
        prompt_details
            .as_ref()
            .and_then(|details| details.raw("cached_tokens")),
        "usage.prompt_tokens_details.cached_tokens",
    )?;
    let cache_write = count_or_zero(
        prompt_details
            .as_ref()
            .and_then(|details| details.raw("cache_write_tokens")),
        "usage.prompt_tokens_details.cache_write_tokens",
    )?;
    let reasoning = count_or_zero(
        completion_details
            .as_ref()
            .and_then(|details| details.raw("reasoning_tokens")),
        "usage.completion_tokens_details.reasoning_tokens",
    )?;
    // The page observes OpenAI semantics (prompt includes cache reads and writes, completion
    // includes reasoning) but has not verified them for every upstream, so let the total decide.
    let summed = checked_sum(
        sum_test(prompt, completion, total, cached, cache_write, reasoning),
        RESPONSE_TOKEN_FIELDS,
    )?;
    TokenUsage::new(TokenCounts {
        input: summed.input,
        output: summed.output,
        cached_input: cached,
        cache_write,
        reasoning,
        ..TokenCounts::default()
    })
    .map_err(|error| at_native_path(error, RESPONSE_TOKEN_FIELDS))
}

fn event_id(obj: &Obj<'_>) -> Result<EventId, FieldError> {
    let id = json::opt_str(obj.raw("id"), "id")?
        .filter(|id| !id.is_empty())
        .ok_or_else(|| FieldError::missing("id"))?;
    EventId::new(id.into_owned()).map_err(at_native("id"))
}

/// A billed token count that must come from the provider's own numbers. When only OpenRouter's
/// normalised count is there, the record is refused rather than priced from the wrong number.
fn native_count(obj: &Obj<'_>, field: &str, normalised: &str) -> Result<u64, FieldError> {
    match json::opt_count_lenient(obj.raw(field), field)? {
        Some(count) => Ok(count),
        None if obj.present(normalised).is_some() => Err(FieldError::new(
            field,
            RejectCode::MissingField,
            format!("`{field}` is required; `{normalised}` is a normalised count, not the billed one"),
        )),
        None => Err(FieldError::missing(field)),
    }
}

/// Refuses counts that only exist because the sum test added subsets to absurd headline counts:
/// the store keeps counts as BIGINT.
fn checked_sum(summed: SummedTokens, native_fields: &[(&str, &str)]) -> Result<SummedTokens, FieldError> {
    let limit = i64::MAX.unsigned_abs();
    for (canonical, value) in [("input_tokens", summed.input), ("output_tokens", summed.output)] {
        if value > limit {
            let native = native_fields
                .iter()
                .find(|(name, _)| *name == canonical)
                .map_or(canonical, |(_, native)| native);
            return Err(FieldError::invalid_value(
                native,
                "is out of range once the cache and reasoning counts are added",
            ));
        }
    }
    Ok(summed)
}

fn count_or_zero(raw: Option<&RawValue>, field: &str) -> Result<u64, FieldError> {
    Ok(json::opt_count_lenient(raw, field)?.unwrap_or(0))
}

/// The cost of a call: what was charged to credits, plus the upstream charge for BYOK, where the
/// credits only paid OpenRouter's fee. A BYOK call without its upstream cost is `None`: the fee
/// alone would understate it.
fn byok_cost(
    charged: Option<Usd>,
    is_byok: bool,
    upstream: Option<&RawValue>,
    upstream_field: &str,
) -> Result<Option<Usd>, FieldError> {
    let upstream = amount(upstream, upstream_field)?;
    if !is_byok {
        return Ok(charged);
    }
    match (charged, upstream) {
        (Some(fee), Some(upstream)) => fee
            .checked_add(upstream)
            .map(Some)
            .ok_or_else(|| FieldError::invalid_value(upstream_field, "the BYOK cost overflows")),
        _ => Ok(None),
    }
}

/// OpenRouter's normalised `finish_reason` values that mean the call did not end normally.
fn error_from_finish_reason(finish_reason: &str) -> Option<ErrorType> {
    match finish_reason {
        "error" => Some(ErrorType::Incomplete),
        "content_filter" => Some(ErrorType::ContentFilter),
        _ => None,
    }
}

/// The error type from `choices[].finish_reason`: any choice that broke off marks the call.
fn choices_error_type(obj: &Obj<'_>) -> Result<Option<ErrorType>, FieldError> {
    let Some(raw) = obj.present("choices") else {
        return Ok(None);
    };
    let choices = json::array_elements(raw).ok_or_else(|| FieldError::invalid_type("choices", "an array"))?;
    let mut found = None;
    for (index, choice) in choices.into_iter().enumerate() {
        // Choices are the content, not the accounting: a non-object one says nothing about cost.
        let Some(choice) = Obj::from_raw(choice) else {
            continue;
        };
        let field = format!("choices[{index}].finish_reason");
        let kind = json::opt_str(choice.raw("finish_reason"), &field)?
            .as_deref()
            .and_then(error_from_finish_reason);
        // `incomplete` (the stream broke) wins over a content filter on another choice.
        if kind == Some(ErrorType::Incomplete) || found.is_none() {
            found = kind.or(found);
        }
    }
    Ok(found)
}

/// Normalises an OpenRouter provider display name (`OpenAI`, `Google AI Studio`, `Amazon
/// Bedrock`, `DeepInfra`): first OpenRouter's own names, then the shared folding, then the
/// lower-cased name with spaces turned into `_`.
fn provider_from_display_name(name: &str) -> Provider {
    let lowered = name.trim().to_ascii_lowercase();
    if let Some((_, canonical)) = DISPLAY_NAMES.iter().find(|(display, _)| *display == lowered) {
        return Provider::normalize(canonical);
    }
    match Provider::normalize(&lowered) {
        Provider::Other(_) => Provider::normalize(&lowered.split_whitespace().collect::<Vec<_>>().join("_")),
        known => known,
    }
}

/// Names the native field of a token-count error through a table (`cached_input_tokens` →
/// `native_tokens_cached`); a canonical field the table does not list keeps its name.
fn at_native_path(error: RecordError, native_fields: &[(&str, &str)]) -> FieldError {
    let native = native_fields
        .iter()
        .find(|(canonical, _)| *canonical == error.field())
        .map(|(_, native)| *native);
    match native {
        Some(native) => at_native(native)(error),
        None => FieldError::from(error),
    }
}

/// What `provider_responses` says about the attempts behind one generation.
#[derive(Debug, Default, PartialEq, Eq)]
struct AttemptChain {
    /// `len(provider_responses)`, 1 when absent or empty.
    count: u32,
    /// A failed attempt came before the serving one (model or provider fallback).
    fell_back: bool,
    /// The permaslug of the last failed attempt on another model than the serving one.
    fallback_from: Option<String>,
    /// The first attempt's permaslug, kept only when some attempt ran another model than the
    /// serving one (a model fallback).
    first_model_when_switched: Option<String>,
    serving_provider: Option<String>,
}

/// One entry of `provider_responses`.
struct Attempt {
    status: Option<u64>,
    permaslug: Option<String>,
    provider_name: Option<String>,
}

impl Attempt {
    fn failed(&self) -> bool {
        self.status.is_some_and(|status| status >= 400)
    }
}

impl AttemptChain {
    /// Reads `provider_responses`.
    ///
    /// # Errors
    /// `invalid_type` when it is not an array of objects or an entry's fields have the wrong type.
    fn read(obj: &Obj<'_>) -> Result<AttemptChain, FieldError> {
        let Some(raw) = obj.present("provider_responses") else {
            return Ok(AttemptChain {
                count: 1,
                ..AttemptChain::default()
            });
        };
        let elements = json::array_elements(raw)
            .ok_or_else(|| FieldError::invalid_type("provider_responses", "an array of objects"))?;
        let mut attempts = Vec::with_capacity(elements.len());
        for (index, element) in elements.into_iter().enumerate() {
            let path = format!("provider_responses[{index}]");
            let entry = Obj::from_raw(element).ok_or_else(|| FieldError::invalid_type(&path, "an object"))?;
            attempts.push(Attempt {
                status: json::opt_count_lenient(entry.raw("status"), &format!("{path}.status"))?,
                permaslug: text_at(
                    entry.raw("model_permaslug"),
                    &format!("{path}.model_permaslug"),
                    LIMITS.model,
                )?,
                provider_name: text_at(
                    entry.raw("provider_name"),
                    &format!("{path}.provider_name"),
                    LIMITS.short_text,
                )?,
            });
        }
        Ok(AttemptChain::from_attempts(&attempts))
    }

    fn from_attempts(attempts: &[Attempt]) -> AttemptChain {
        let count = u32::try_from(attempts.len()).unwrap_or(u32::MAX).max(1);
        let serving_index = attempts
            .iter()
            .rposition(|attempt| attempt.status.is_some_and(|status| status < 400))
            .or_else(|| attempts.len().checked_sub(1));
        let Some((serving, earlier)) =
            serving_index.and_then(|index| attempts.get(index).zip(attempts.get(..index)))
        else {
            return AttemptChain {
                count,
                ..AttemptChain::default()
            };
        };
        let other_model =
            |attempt: &&Attempt| attempt.permaslug.is_some() && attempt.permaslug != serving.permaslug;
        let switched_model = attempts.iter().any(|attempt| other_model(&attempt));
        AttemptChain {
            count,
            fell_back: earlier.iter().any(Attempt::failed),
            fallback_from: earlier
                .iter()
                .filter(|attempt| attempt.failed())
                .rfind(other_model)
                .and_then(|attempt| attempt.permaslug.clone()),
            first_model_when_switched: if switched_model {
                attempts.first().and_then(|attempt| attempt.permaslug.clone())
            } else {
                None
            },
            serving_provider: serving.provider_name.clone(),
        }
    }

    /// What the caller asked for, when the attempts show it was another model than the one that
    /// served: the first attempt's permaslug.
    fn requested_model(&self) -> Option<String> {
        self.first_model_when_switched.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::golden::{assert_golden, record_json};
    use crate::ingest::{FormatChoice, IngestError, parse_body};

    fn ctx() -> ParseContext {
        ParseContext {
            now: chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
                .unwrap()
                .into(),
        }
    }

    fn parse_one(text: &str) -> Result<UsageRecord, FieldError> {
        let obj = Obj::parse(text).unwrap();
        let mut out = Vec::new();
        Openrouter.parse(&obj, &ctx(), &mut out);
        assert_eq!(out.len(), 1);
        out.pop().unwrap().map(|draft| draft.record)
    }

    /// A minimal generation record with `extra` fields appended (later keys win).
    fn generation(extra: &str) -> String {
        let base = r#""id":"gen-1-abc","created_at":"2026-11-23T08:30:12.101000+00:00","model":"openai/gpt-4.1","provider_name":"OpenAI","total_cost":0.01,"native_tokens_prompt":1000,"native_tokens_completion":100,"tokens_prompt":990,"tokens_completion":90"#;
        if extra.is_empty() {
            format!("{{{base}}}")
        } else {
            format!("{{{base},{extra}}}")
        }
    }

    #[test]
    fn golden_generation_stats() {
        assert_golden(
            "openrouter/sample.ndjson",
            "openrouter/sample.expected.ndjson",
            Source::Openrouter,
            (10, 10, 0),
        );
    }

    #[test]
    fn golden_response_bodies() {
        let batch = assert_golden(
            "openrouter/responses.ndjson",
            "openrouter/responses.expected.ndjson",
            Source::Openrouter,
            (5, 4, 1),
        );
        let rejected = &batch.rejected[0];
        assert_eq!(rejected.line, Some(5));
        assert_eq!(rejected.code, RejectCode::MissingField);
        assert_eq!(rejected.field.as_deref(), Some("id"));
    }

    #[test]
    fn forced_format_rejects_the_error_body_the_same_way() {
        let body = std::fs::read(crate::ingest::golden::fixture_path("openrouter/responses.ndjson")).unwrap();
        let batch = parse_body(&body, FormatChoice::Forced(Source::Openrouter), &ctx()).unwrap();
        assert_eq!((batch.received, batch.accepted.len()), (5, 4));
        assert_eq!(batch.rejected[0].field.as_deref(), Some("id"));
        assert_eq!(batch.rejected[0].code, RejectCode::MissingField);
    }

    #[test]
    fn byok_adds_the_upstream_cost_and_refuses_to_guess_without_it() {
        let record = parse_one(&generation(
            r#""is_byok":true,"total_cost":0.0004996,"upstream_inference_cost":0.009992"#,
        ))
        .unwrap();
        assert_eq!(
            record.reported_cost_usd.unwrap().as_decimal().to_string(),
            "0.0104916"
        );
        let record = parse_one(&generation(r#""is_byok":true,"upstream_inference_cost":null"#)).unwrap();
        assert_eq!(record.reported_cost_usd, None);
        // Response bodies: `usage.cost` + `usage.cost_details.upstream_inference_cost`.
        let body = r#"{"id":"gen-2","created":1795422612,"model":"openai/gpt-4.1","provider":"Azure","object":"chat.completion","usage":{"prompt_tokens":10,"completion_tokens":5,"cost":0.001,"is_byok":true,"cost_details":{"upstream_inference_cost":0.02}}}"#;
        let record = parse_one(body).unwrap();
        assert_eq!(
            record.reported_cost_usd.unwrap().as_decimal().to_string(),
            "0.021"
        );
        assert_eq!(record.provider, Provider::Azure);
    }

    #[test]
    fn zero_cost_is_a_real_zero_on_openrouter() {
        let record = parse_one(&generation(r#""total_cost":0"#)).unwrap();
        assert_eq!(record.reported_cost_usd, Some(Usd::ZERO));
    }

    #[test]
    fn costs_are_read_from_their_decimal_text() {
        let record = parse_one(&generation(r#""total_cost":0.07722000000000001"#)).unwrap();
        assert_eq!(
            record.reported_cost_usd.unwrap().as_decimal().to_string(),
            "0.07722000000000001"
        );
    }

    #[test]
    fn cached_count_above_the_prompt_means_the_prompt_excluded_it() {
        let record = parse_one(&generation(
            r#""native_tokens_prompt":800,"native_tokens_cached":18240"#,
        ))
        .unwrap();
        assert_eq!(record.tokens.input().get(), 19_040);
        assert_eq!(record.tokens.cached_input().get(), 18_240);
    }

    #[test]
    fn response_bodies_use_the_total_for_the_sum_test() {
        // Anthropic-style counts: 412 uncached + 18,240 read; the total counts both.
        let body = r#"{"id":"gen-3","created":1795422612,"model":"anthropic/claude-sonnet-4","provider":"Anthropic","object":"chat.completion","usage":{"prompt_tokens":412,"completion_tokens":498,"total_tokens":19150,"cost":0.01,"prompt_tokens_details":{"cached_tokens":18240}}}"#;
        let record = parse_one(body).unwrap();
        assert_eq!(record.tokens.input().get(), 18_652);
        // Gemini-style: 240 visible + 610 thinking, total counts both.
        let body = r#"{"id":"gen-4","created":1795422612,"model":"google/gemini-2.5-pro","provider":"Google","object":"chat.completion","usage":{"prompt_tokens":100,"completion_tokens":240,"total_tokens":950,"cost":0.01,"completion_tokens_details":{"reasoning_tokens":610}}}"#;
        let record = parse_one(body).unwrap();
        assert_eq!(record.tokens.output().get(), 850);
        assert_eq!(record.provider, Provider::VertexAi);
    }

    #[test]
    fn normalised_counts_are_never_billed() {
        let error = parse_one(r#"{"id":"gen-1","created_at":"2026-11-23T08:30:12+00:00","model":"m","provider_name":"OpenAI","tokens_prompt":10,"tokens_completion":5}"#).unwrap_err();
        assert_eq!(error.code, RejectCode::MissingField);
        assert_eq!(error.field.as_deref(), Some("native_tokens_prompt"));
    }

    #[test]
    fn malformed_fields_name_the_native_path() {
        let cases = [
            (
                r#""native_tokens_prompt":"many""#,
                "native_tokens_prompt",
                RejectCode::InvalidType,
            ),
            (
                r#""native_tokens_completion":-3"#,
                "native_tokens_completion",
                RejectCode::InvalidValue,
            ),
            (
                r#""native_tokens_reasoning":12.5"#,
                "native_tokens_reasoning",
                RejectCode::InvalidType,
            ),
            (r#""total_cost":-0.5"#, "total_cost", RejectCode::InvalidValue),
            (r#""total_cost":true"#, "total_cost", RejectCode::InvalidType),
            (
                r#""created_at":"2026-11-23T08:30:12""#,
                "created_at",
                RejectCode::InvalidValue,
            ),
            (r#""created_at":null"#, "created_at", RejectCode::MissingField),
            (r#""latency":-1"#, "latency", RejectCode::InvalidValue),
            (
                r#""provider_responses":{}"#,
                "provider_responses",
                RejectCode::InvalidType,
            ),
            (
                r#""provider_responses":[{"status":"x"}]"#,
                "provider_responses[0].status",
                RejectCode::InvalidType,
            ),
            (
                r#""provider_responses":[7]"#,
                "provider_responses[0]",
                RejectCode::InvalidType,
            ),
            (r##""id":"""##, "id", RejectCode::MissingField),
            (r#""model":null"#, "model", RejectCode::MissingField),
        ];
        for (extra, field, code) in cases {
            let error = parse_one(&generation(extra)).unwrap_err();
            assert_eq!(
                (error.field.as_deref(), error.code),
                (Some(field), code),
                "{extra}"
            );
        }
        let body = r#"{"id":"gen-5","created":1795422612,"model":"m","object":"chat.completion","usage":{"prompt_tokens":"x","completion_tokens":1,"cost":0}}"#;
        let error = parse_one(body).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("usage.prompt_tokens"));
        let body = r#"{"id":"gen-5","created":1795422612,"model":"m","object":"chat.completion","usage":{"prompt_tokens":1,"completion_tokens":1,"cost":0,"prompt_tokens_details":[]}}"#;
        let error = parse_one(body).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("usage.prompt_tokens_details"));
    }

    #[test]
    fn error_types_follow_cancelled_and_finish_reason() {
        let record = parse_one(&generation(r#""cancelled":true,"finish_reason":"error""#)).unwrap();
        assert_eq!(
            (record.status_code, record.error_type),
            (200, Some(ErrorType::Cancelled))
        );
        let record = parse_one(&generation(r#""finish_reason":"content_filter""#)).unwrap();
        assert_eq!(record.error_type, Some(ErrorType::ContentFilter));
        let body = r#"{"id":"gen-6","created":1795422612,"model":"m","object":"chat.completion.chunk","choices":[{"finish_reason":"stop"},{"finish_reason":"error"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"cost":0}}"#;
        assert_eq!(parse_one(body).unwrap().error_type, Some(ErrorType::Incomplete));
    }

    #[test]
    fn provider_display_names_fold_to_the_shared_vocabulary() {
        for (native, canonical) in [
            ("OpenAI", "openai"),
            ("Google", "vertex_ai"),
            ("Google AI Studio", "gemini"),
            ("Amazon Bedrock", "bedrock"),
            ("Azure", "azure"),
            ("Together", "together_ai"),
            ("DeepInfra", "deepinfra"),
            ("xAI", "xai"),
            ("Nebius AI Studio", "nebius_ai_studio"),
        ] {
            assert_eq!(provider_from_display_name(native).as_str(), canonical, "{native}");
        }
    }

    #[test]
    fn missing_provider_name_falls_back_to_the_serving_attempt() {
        let record = parse_one(&generation(
            r#""provider_name":null,"provider_responses":[{"status":429,"provider_name":"Together","model_permaslug":"a/b"},{"status":200,"provider_name":"Google AI Studio","model_permaslug":"a/b"}]"#,
        ))
        .unwrap();
        assert_eq!(record.provider, Provider::Gemini);
        assert_eq!(
            (
                record.route.as_deref(),
                record.fallback_from.as_deref(),
                record.attempts
            ),
            (Some("fallback"), None, 2)
        );
    }

    #[test]
    fn detection_recognises_the_three_shapes_by_keys() {
        let detects = |text: &str| Openrouter.detect(&Obj::parse(text).unwrap());
        assert!(detects(r#"{"tokens_prompt":null,"provider_name":null}"#));
        assert!(detects(
            r#"{"id":"gen-1","object":"chat.completion","usage":{"cost":null}}"#
        ));
        assert!(detects(r#"{"error":{"code":429,"message":"x"},"user_id":"u"}"#));
        assert!(!detects(r#"{"error":{"code":429},"model":"m"}"#));
        assert!(!detects(
            r#"{"id":"chatcmpl-1","object":"chat.completion","usage":{"cost":1}}"#
        ));
        assert!(!detects(
            r#"{"id":"gen-1","object":"response","usage":{"cost":1}}"#
        ));
        assert!(!detects(r#"{"native_tokens_prompt":1}"#));
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "{}",
            r#"{"id":5}"#,
            r#"{"id":"gen-1","created":"soon"}"#,
            r#"{"id":"gen-1","created":1e300,"model":"m","usage":{}}"#,
            r#"{"id":"gen-1","created":-99999999999999999,"model":"m","usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
            r#"{"id":"gen-1","created":1,"model":"m","usage":{"prompt_tokens":9223372036854775807,"completion_tokens":9223372036854775807,"total_tokens":1,"prompt_tokens_details":{"cached_tokens":9223372036854775807,"cache_write_tokens":9223372036854775807}}}"#,
            r#"{"provider_name":[],"created_at":{},"native_tokens_prompt":{}}"#,
            r#"{"error":"x"}"#,
            r#"{"id":"gen-1","created":1,"model":"m","usage":{"prompt_tokens":1,"completion_tokens":1},"choices":"x"}"#,
        ] {
            assert!(parse_one(text).is_err(), "{text}");
        }
        let body = b"[1, \"x\", null, {\"data\": 5}]";
        let outcome = parse_body(body, FormatChoice::Forced(Source::Openrouter), &ctx());
        assert!(outcome.is_ok());
        let outcome = parse_body(
            b"{\"error\":{\"code\":500}}\n{\"x\":1}",
            FormatChoice::Auto,
            &ctx(),
        );
        assert!(!matches!(outcome, Err(IngestError::InvalidJson { .. })));
    }

    #[test]
    fn generation_and_response_of_one_call_map_to_the_same_event() {
        let generations = crate::ingest::golden::parse_fixture("openrouter/sample.ndjson");
        let responses = crate::ingest::golden::parse_fixture("openrouter/responses.ndjson");
        let shared = responses
            .accepted
            .iter()
            .filter(|response| {
                generations
                    .accepted
                    .iter()
                    .any(|generation| generation.record.event_id == response.record.event_id)
            })
            .count();
        assert_eq!(shared, 3);
        assert!(record_json(&responses.accepted[0].record)["ts"].is_string());
    }
}
