//! `openrouter`: OpenRouter generation stats (`GET /api/v1/generation?id=`) and chat-completion
//! response bodies with usage accounting, both as `source = openrouter` and sharing the `gen-…`
//! id, so the two shapes dedupe against each other.
//!
//! Spec: [`shared/formats/openrouter.md`](../../../../shared/formats/openrouter.md) (fixtures
//! `shared/fixtures/openrouter/`).
//!
//! Generation stats (the `{"data": …}` wrapper is removed by `detect.rs` before this adapter sees
//! the record):
//! - mapped: `id` → `event_id`, `created_at` → `ts`, `model` → `model`, `provider_name` →
//!   `provider` (OpenRouter display names, see [`provider_from_display_name`]), `router` → `route`
//!   and `model_requested`, `provider_responses` → `attempts`, `route = "fallback"`,
//!   `fallback_from` and `model_requested` (see [`generation::AttemptChain`]),
//!   `native_tokens_prompt` / `native_tokens_completion` / `native_tokens_cached` /
//!   `native_tokens_reasoning` → tokens,
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
//!
//! Layout: this file holds the [`Adapter`] impl, the three detection predicates and what both
//! shapes share (ids, provider display names, BYOK cost, finish reasons, native field names);
//! [`generation`] reads generation stats with their attempt chain, [`response_body`] reads
//! response bodies. Nothing here writes, prices, or panics on any input.

mod generation;
mod response_body;
#[cfg(test)]
mod tests;

use crate::ingest::json::RawValue;

use super::Adapter;
use super::common::{Draft, ParseContext, SummedTokens, amount, at_native};
use super::json::{self, Obj};
use super::reject::FieldError;
use crate::model::{ErrorType, EventId, Provider, RecordError, Source, Usd};

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
            generation::parse_generation(obj)
        } else {
            response_body::parse_response_body(obj)
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
    let usage_has_cost = obj.child("usage").is_some_and(|usage| usage.has("cost"));
    let completion =
        json::string_at(obj.raw("object")).is_some_and(|kind| RESPONSE_OBJECTS.contains(&kind.as_ref()));
    generation_id && usage_has_cost && completion
}

/// An error body: only `error` (holding a `code`) and optionally `user_id`.
fn is_error_body(obj: &Obj<'_>) -> bool {
    obj.keys().all(|key| key == "error" || key == "user_id")
        && obj.child("error").is_some_and(|error| error.has("code"))
}

fn event_id(obj: &Obj<'_>) -> Result<EventId, FieldError> {
    let id = json::opt_str(obj.raw("id"), "id")?
        .filter(|id| !id.is_empty())
        .ok_or_else(|| FieldError::missing("id"))?;
    EventId::new(id.into_owned()).map_err(at_native("id"))
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
