//! One span → one record: whether a span is an LLM call at all, then its id, times, provider,
//! model, tokens (through the sum test), cost, attribution and tags. Attribute lookups go through
//! [`Layers`] (span, then scope, then resource); the outcome is [`super::status`]'s.

use crate::ingest::json::RawValue;

use super::Inherited;
use super::attributes::{Attributes, Layers, loose_text, tag_text};
use super::status::status_and_error_type;
use crate::ingest::common::{
    TagsBuilder, VERTEX_AI_HOST, base_record, epoch_nanos, reported_cost, seconds_to_ms, sum_test,
    ts_epoch_nanos,
};
use crate::ingest::json::{self, Obj};
use crate::ingest::reject::{FieldError, excerpt};
use crate::model::{
    EventId, LIMITS, Provider, ServiceTier, Source, Tags, TokenCounts, TokenUsage, UNASSIGNED_TEAM,
    UsageRecord,
};

/// Operations whose spans aggregate or orchestrate model calls rather than being one; counting
/// them would double count their children.
const NOT_LLM_OPERATIONS: &[&str] = &[
    "execute_tool",
    "invoke_agent",
    "create_agent",
    "invoke_workflow",
    "retrieval",
];

/// OpenLLMetry copies caller-supplied association properties to every span under this prefix.
const ASSOCIATION_PREFIX: &str = "traceloop.association.properties.";

// Token attributes, newest name first (`a ?? b`).
const INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
const OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
const INPUT_KEYS: &[&str] = &[INPUT_TOKENS, "gen_ai.usage.prompt_tokens"];
const OUTPUT_KEYS: &[&str] = &[OUTPUT_TOKENS, "gen_ai.usage.completion_tokens"];
const CACHE_READ_KEYS: &[&str] = &[
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
];
const CACHE_WRITE_KEYS: &[&str] = &[
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
];
const REASONING_KEYS: &[&str] = &[
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
];
const TOTAL_KEYS: &[&str] = &["llm.usage.total_tokens", "gen_ai.usage.total_tokens"];

/// A model call names a model or counts tokens, and is not an agent, tool, workflow or retrieval
/// operation. Read leniently: classification never rejects, the conversion does.
pub(super) fn is_llm_call(span: &Attributes<'_>) -> bool {
    let names_model = span.find("gen_ai.request.model").is_some();
    let counts_tokens = span
        .keys()
        .any(|key| key.starts_with("gen_ai.usage.") && key.ends_with("_tokens"));
    if !names_model && !counts_tokens {
        return false;
    }
    let operation = ["gen_ai.operation.name", "llm.request.type"]
        .into_iter()
        .find_map(|key| span.find(key).flatten().and_then(loose_text));
    !operation.is_some_and(|operation| {
        NOT_LLM_OPERATIONS
            .iter()
            .any(|excluded| operation.trim().eq_ignore_ascii_case(excluded))
    })
}

pub(super) fn llm_call_record(
    span: &Obj<'_>,
    span_path: &str,
    attributes: &Attributes<'_>,
    inherited: &Inherited<'_, '_>,
) -> Result<UsageRecord, FieldError> {
    let resource = inherited.resource.as_ref().map_err(Clone::clone)?;
    let scope = inherited.scope.as_ref().map_err(Clone::clone)?;
    let layers = Layers {
        innermost_first: [attributes, scope, resource],
    };
    let field = |name: &str| format!("{span_path}.{name}");

    let trace_id = hex_id(span.raw("traceId"), &field("traceId"), 32)?;
    let span_id = hex_id(span.raw("spanId"), &field("spanId"), 16)?;
    let event_id = EventId::new(format!("{trace_id}-{span_id}"))?;
    let start_field = field("startTimeUnixNano");
    let start = span
        .present("startTimeUnixNano")
        .ok_or_else(|| FieldError::missing(&start_field))?;
    let ts = ts_epoch_nanos(start, &start_field)?;
    let latency_ms = latency_ms(span, start, &start_field, &field("endTimeUnixNano"))?;

    let provider = provider(&layers)?;
    let requested = layers.text("gen_ai.request.model", LIMITS.model)?;
    let model = match layers.text("gen_ai.response.model", LIMITS.model)? {
        Some(served) => served,
        None => requested
            .clone()
            .ok_or_else(|| FieldError::missing(&attributes.field("gen_ai.request.model")))?,
    };
    let model_requested = requested.unwrap_or_else(|| model.clone());

    let tokens = token_usage(&layers, attributes)?;
    let (status_code, error_type) = status_and_error_type(span, span_path, &layers)?;
    let reported_cost_usd = reported_cost(layers.amount("gen_ai.usage.cost")?, &tokens, status_code, false);
    let ttft_ms = layers
        .seconds("gen_ai.response.time_to_first_chunk")?
        .map(seconds_to_ms);
    let team = layers
        .text("service.namespace", LIMITS.short_text)?
        .unwrap_or_else(|| UNASSIGNED_TEAM.to_owned());
    let project = layers.text("project", LIMITS.short_text)?;
    let user_id = layers.first_text(
        &[
            "user.id",
            "traceloop.association.properties.user_id",
            "gen_ai.request.user",
        ],
        LIMITS.short_text,
    )?;
    let (tags, service_tier) = tags_and_service_tier(&layers)?;

    Ok(UsageRecord {
        team,
        project,
        user_id,
        tags,
        model_requested,
        service_tier,
        reported_cost_usd,
        latency_ms,
        ttft_ms,
        status_code,
        error_type,
        ..base_record(Source::Otel, event_id, ts, provider, model, tokens)
    })
}

/// OTLP/JSON writes ids as hex (not base64 as generic protobuf JSON would), in either case.
fn hex_id(raw: Option<&RawValue>, field: &str, digits: usize) -> Result<String, FieldError> {
    let id = json::opt_str(raw, field)?.ok_or_else(|| FieldError::missing(field))?;
    if id.len() != digits || !id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(FieldError::invalid_value(
            field,
            format!("expected {digits} hex digits, got `{}`", excerpt(&id)),
        ));
    }
    Ok(id.to_ascii_lowercase())
}

fn latency_ms(
    span: &Obj<'_>,
    start: &RawValue,
    start_field: &str,
    end_field: &str,
) -> Result<Option<f64>, FieldError> {
    let Some(end) = span.present("endTimeUnixNano") else {
        return Ok(None);
    };
    let end_nanos = epoch_nanos(end, end_field)?;
    if end_nanos == 0 {
        return Ok(None);
    }
    let elapsed = end_nanos
        .checked_sub(epoch_nanos(start, start_field)?)
        .filter(|elapsed| *elapsed >= 0)
        .ok_or_else(|| FieldError::invalid_value(end_field, "is before startTimeUnixNano"))?;
    // Nanoseconds to milliseconds; f64 keeps well under a nanosecond for any real duration.
    Ok(Some(elapsed as f64 / 1e6))
}

/// `gen_ai.provider.name` names the client API, which is all the span says about who served.
fn provider(layers: &Layers<'_, '_>) -> Result<Provider, FieldError> {
    let Some(name) = layers.first_text(&["gen_ai.provider.name", "gen_ai.system"], LIMITS.provider)? else {
        return Ok(Provider::Unknown);
    };
    // `gcp.gen_ai` is the Google Gen AI SDK, which talks to AI Studio unless pointed at Vertex;
    // the shared vocabulary folds it into Vertex, so it is decided here from the endpoint.
    if name.trim().eq_ignore_ascii_case("gcp.gen_ai") {
        let on_vertex = layers
            .text("server.address", LIMITS.short_text)?
            .is_some_and(|host| host.to_ascii_lowercase().ends_with(VERTEX_AI_HOST));
        return Ok(if on_vertex {
            Provider::VertexAi
        } else {
            Provider::Gemini
        });
    }
    Ok(Provider::normalize(&name))
}

/// Instrumentations copy whatever their provider returns, so the sum test decides whether cache
/// and reasoning counts are already inside the headline counts.
fn token_usage(layers: &Layers<'_, '_>, span: &Attributes<'_>) -> Result<TokenUsage, FieldError> {
    let input = layers.first_count(INPUT_KEYS)?.unwrap_or(0);
    let output = layers.first_count(OUTPUT_KEYS)?.unwrap_or(0);
    let cache_read = layers.first_count(CACHE_READ_KEYS)?.unwrap_or(0);
    let cache_write = layers.first_count(CACHE_WRITE_KEYS)?.unwrap_or(0);
    let reasoning = layers.first_count(REASONING_KEYS)?.unwrap_or(0);
    let total = layers.first_count(TOTAL_KEYS)?;
    let summed = sum_test(input, output, total, cache_read, cache_write, reasoning);
    for (count, key) in [(summed.input, INPUT_TOKENS), (summed.output, OUTPUT_TOKENS)] {
        // The store keeps BIGINT; the sum of counts that each fit may not.
        if i64::try_from(count).is_err() {
            return Err(FieldError::invalid_value(
                &span.field(key),
                "is out of range once cache or reasoning tokens are added",
            ));
        }
    }
    Ok(TokenUsage::new(TokenCounts {
        input: summed.input,
        output: summed.output,
        cached_input: cache_read,
        cache_write,
        reasoning,
        ..TokenCounts::default()
    })?)
}

fn tags_and_service_tier(layers: &Layers<'_, '_>) -> Result<(Tags, ServiceTier), FieldError> {
    let mut tags = TagsBuilder::default();
    // Outermost first, so a span's own association property wins over an inherited one.
    for attributes in layers.innermost_first.iter().rev() {
        for (key, raw) in attributes.with_prefix(ASSOCIATION_PREFIX) {
            if key == "user_id" {
                continue;
            }
            let field = attributes.field(&format!("{ASSOCIATION_PREFIX}{key}"));
            if let Some(value) = tag_text(raw, &field)? {
                tags.insert(key, value);
            }
        }
    }
    let reserved: [(&str, &[&str]); 4] = [
        (
            "environment",
            &[
                "deployment.environment.name",
                "deployment.environment",
                "gen_ai.environment",
            ],
        ),
        ("service", &["gen_ai.application_name", "service.name"]),
        ("workflow", &["traceloop.workflow.name"]),
        ("conversation_id", &["gen_ai.conversation.id"]),
    ];
    for (tag, keys) in reserved {
        if let Some(value) = layers.first_text(keys, LIMITS.tag_value)? {
            tags.insert(tag, value);
        }
    }
    let tier = layers.first_text(
        &["openai.response.service_tier", "openai.request.service_tier"],
        LIMITS.tag_value,
    )?;
    let service_tier = tier.as_deref().and_then(ServiceTier::parse).unwrap_or_default();
    if let Some(tier) = tier {
        tags.insert("service_tier", tier);
    }
    Ok((tags.build()?, service_tier))
}
