//! Token counts of one Kong namespace: Kong's `usage` block in any of its spellings, checked with
//! the sum test, plus the cache and reasoning counts recovered from a logged `payload.response`
//! (OpenAI, Anthropic, Bedrock or Gemini shaped). A payload is a hint and never rejects a row.

use crate::ingest::json::RawValue;

use super::Namespace;
use crate::ingest::common::sum_test;
use crate::ingest::json::{self, Obj};
use crate::ingest::reject::FieldError;
use crate::model::{TokenCounts, TokenUsage};

/// Reads the first present count among Kong's spellings (`prompt_tokens`, `prompt_token`, …).
fn first_count(namespace: &Namespace<'_>, usage: &Obj<'_>, keys: &[&str]) -> Result<Option<u64>, FieldError> {
    for key in keys {
        if let Some(raw) = usage.present(key) {
            return json::opt_count_lenient(Some(raw), &namespace.path(&format!("usage.{key}")));
        }
    }
    Ok(None)
}

/// A count nested in the usage details (`prompt_tokens_details.cached_tokens`), under the first
/// details object present.
fn detail_count(
    namespace: &Namespace<'_>,
    usage: &Obj<'_>,
    details: &[&str],
    key: &str,
) -> Result<Option<u64>, FieldError> {
    for detail in details {
        if let Some(raw) = usage.path(&[detail, key]) {
            return json::opt_count_lenient(Some(raw), &namespace.path(&format!("usage.{detail}.{key}")));
        }
    }
    Ok(None)
}

/// The canonical counts of one namespace (`kong.md`, "Token semantics" and "Mapping rules").
pub(super) fn namespace_tokens(namespace: &Namespace<'_>, usage: &Obj<'_>) -> Result<TokenUsage, FieldError> {
    let prompt = first_count(
        namespace,
        usage,
        &["prompt_tokens", "prompt_token", "input_tokens"],
    )?
    .unwrap_or(0);
    let completion = first_count(
        namespace,
        usage,
        &["completion_tokens", "completion_token", "output_tokens"],
    )?
    .unwrap_or(0);
    let logged_total = first_count(namespace, usage, &["total_tokens"])?;
    let logged_cached = detail_count(
        namespace,
        usage,
        &["prompt_tokens_details", "input_tokens_details"],
        "cached_tokens",
    )?;
    let logged_reasoning = detail_count(
        namespace,
        usage,
        &["completion_tokens_details", "output_tokens_details"],
        "reasoning_tokens",
    )?;

    let recovered = if logged_cached.is_none() || logged_reasoning.is_none() {
        recover_from_payload(namespace)
    } else {
        None
    };
    let recovered = recovered.unwrap_or_default();
    let cache_from_payload = logged_cached.is_none();
    let reasoning_from_payload = logged_reasoning.is_none();
    let cache_read = logged_cached.or(recovered.cache_read).unwrap_or(0);
    let cache_write = if cache_from_payload {
        recovered.cache_write.unwrap_or(0)
    } else {
        0
    };
    let reasoning = logged_reasoning.or(recovered.reasoning).unwrap_or(0);
    let total = if cache_from_payload || reasoning_from_payload {
        recovered.total.or(logged_total)
    } else {
        logged_total
    };

    let summed = sum_test(prompt, completion, total, cache_read, cache_write, reasoning);
    // Native payloads say outright that Kong's counts exclude these subsets; no test needed.
    let input = if cache_from_payload && recovered.cache_outside_input {
        prompt.saturating_add(cache_read).saturating_add(cache_write)
    } else {
        summed.input
    };
    let output = if reasoning_from_payload && recovered.reasoning_outside_output {
        completion.saturating_add(reasoning)
    } else {
        summed.output
    };
    Ok(TokenUsage::new(TokenCounts {
        input,
        output,
        cached_input: cache_read,
        cache_write,
        reasoning,
        ..TokenCounts::default()
    })?)
}

/// Counts recovered from `payload.response`, and whether they lie outside Kong's headline counts.
#[derive(Debug, Default, Clone, Copy)]
struct Recovered {
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    reasoning: Option<u64>,
    total: Option<u64>,
    cache_outside_input: bool,
    reasoning_outside_output: bool,
}

/// Parses `payload.response` for the subsets Kong's counts lack. `None` when there is no payload
/// or it is not JSON (Kong may truncate large bodies); payloads are never required.
fn recover_from_payload(namespace: &Namespace<'_>) -> Option<Recovered> {
    let raw = namespace.obj.path(&["payload", "response"])?;
    let text = json::decode_str(raw)?;
    let body = Obj::parse(&text).ok()?;
    // Best effort: a malformed count inside an optional payload is treated as absent.
    let count = |raw: Option<&RawValue>| json::opt_count_lenient(raw, "payload.response").ok().flatten();

    if let Some(metadata) = body.child("usageMetadata") {
        // Gemini: cached content is inside `promptTokenCount`; thoughts are outside
        // `candidatesTokenCount`, which is what Kong logs as completion tokens.
        return Some(Recovered {
            cache_read: count(metadata.raw("cachedContentTokenCount")),
            cache_write: None,
            reasoning: count(metadata.raw("thoughtsTokenCount")),
            total: count(metadata.raw("totalTokenCount")),
            cache_outside_input: false,
            reasoning_outside_output: true,
        });
    }
    let usage = body.child("usage")?;
    if usage.has("prompt_tokens") || usage.has("completion_tokens") {
        // OpenAI shape (after Kong's normalisation): whether the subsets are inside the headline
        // counts is left to the sum test.
        return Some(Recovered {
            cache_read: count(usage.path(&["prompt_tokens_details", "cached_tokens"]))
                .or_else(|| count(usage.raw("cache_read_input_tokens"))),
            cache_write: None,
            reasoning: count(usage.path(&["completion_tokens_details", "reasoning_tokens"])),
            total: count(usage.raw("total_tokens")),
            cache_outside_input: false,
            reasoning_outside_output: false,
        });
    }
    if usage.has("inputTokens") || usage.has("cacheReadInputTokens") {
        // Bedrock Converse: `inputTokens` excludes cache reads and writes.
        return Some(Recovered {
            cache_read: count(usage.raw("cacheReadInputTokens")),
            cache_write: count(usage.raw("cacheWriteInputTokens")),
            reasoning: None,
            total: count(usage.raw("totalTokens")),
            cache_outside_input: true,
            reasoning_outside_output: false,
        });
    }
    // Anthropic Messages: `input_tokens` excludes cache reads and writes.
    Some(Recovered {
        cache_read: count(usage.raw("cache_read_input_tokens")),
        cache_write: count(usage.raw("cache_creation_input_tokens")),
        reasoning: None,
        total: None,
        cache_outside_input: true,
        reasoning_outside_output: false,
    })
}
