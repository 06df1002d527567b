//! Generation stats (`GET /api/v1/generation?id=`, the `{"data": …}` wrapper already removed):
//! billed `native_tokens_*` counts, `total_cost` with BYOK, latency, finish state, and the attempt
//! chain `provider_responses` describes. Normalised `tokens_*` counts are never billed from.

use super::{
    at_native_path, byok_cost, checked_sum, count_or_zero, error_from_finish_reason, event_id,
    provider_from_display_name,
};
use crate::ingest::common::{amount, base_record, duration_ms, sum_test, text_at, text_field, ts_text};
use crate::ingest::json::{self, Obj};
use crate::ingest::reject::{FieldError, RejectCode};
use crate::model::{ErrorType, LIMITS, Provider, Source, TokenCounts, TokenUsage, UsageRecord};

/// Canonical token fields and their native paths in generation stats, for error messages.
const GENERATION_TOKEN_FIELDS: &[(&str, &str)] = &[
    ("input_tokens", "native_tokens_prompt"),
    ("output_tokens", "native_tokens_completion"),
    ("cached_input_tokens", "native_tokens_cached"),
    ("reasoning_tokens", "native_tokens_reasoning"),
];

pub(super) fn parse_generation(obj: &Obj<'_>) -> Result<UsageRecord, FieldError> {
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
