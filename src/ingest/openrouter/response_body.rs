//! Chat-completion response bodies with usage accounting (`id` `gen-…`, `usage.cost`): counts
//! from `usage` through the sum test, `usage.cost` with BYOK, and the error type from
//! `choices[].finish_reason`. Error bodies, which carry no id, are rejected here.

use super::{
    at_native_path, byok_cost, checked_sum, count_or_zero, error_from_finish_reason, event_id,
    provider_from_display_name,
};
use crate::ingest::common::{amount, base_record, sum_test, text_field, ts_epoch_seconds};
use crate::ingest::json::{self, Obj};
use crate::ingest::reject::{FieldError, RejectCode};
use crate::model::{ErrorType, LIMITS, Provider, Source, TokenCounts, TokenUsage, UsageRecord};

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

pub(super) fn parse_response_body(obj: &Obj<'_>) -> Result<UsageRecord, FieldError> {
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
