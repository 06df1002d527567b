//! `otel`: OpenTelemetry GenAI spans in an OTLP/JSON `ExportTraceServiceRequest` (one document,
//! or NDJSON of documents as the collector's file exporter writes them). Spec:
//! [`shared/formats/otel.md`](../../../shared/formats/otel.md).
//!
//! One record (a document) expands into one candidate row per LLM-call span; other spans (HTTP
//! server, workflow, agent and tool spans) are skipped and not counted. The walk needs nothing but
//! the document, so the OTLP/HTTP protobuf receiver can convert a message to OTLP/JSON text and
//! reuse it: [`spans_of_document`] reports every span's [`SpanOutcome`], and [`span_to_row`]
//! converts one span given its resource and scope attributes.
//!
//! Mapped (attributes are looked up on the span, then its scope, then its resource):
//! `traceId`-`spanId` (lower-cased hex) → `event_id`; `startTimeUnixNano` → `ts`;
//! `endTimeUnixNano` − start → `latency_ms`; `gen_ai.provider.name` ?? `gen_ai.system` →
//! `provider` (with `server.address` telling Vertex from AI Studio for `gcp.gen_ai`);
//! `gen_ai.response.model` ?? `gen_ai.request.model` → `model`, `gen_ai.request.model` →
//! `model_requested`; the token attributes of three naming generations (`input_tokens` /
//! `prompt_tokens`, `cache_read.input_tokens` / `cache_read_input_tokens`,
//! `cache_creation.input_tokens` / `cache_creation_input_tokens`, `reasoning.output_tokens` /
//! `reasoning_tokens`, totals `llm.usage.total_tokens` / `gen_ai.usage.total_tokens`) through the
//! sum test; `gen_ai.usage.cost` (OpenLIT) → `reported_cost_usd` from its exact decimal text, zero
//! is not free; `gen_ai.response.time_to_first_chunk` (seconds) → `ttft_ms`; `error.type`, span
//! `status.code` / `status.message` → `status_code`, `error_type`; resource `service.namespace` →
//! `team`; `project` → `project`; `user.id` ?? `traceloop.association.properties.user_id` ??
//! `gen_ai.request.user` → `user_id`; tags `environment` (`deployment.environment.name` ??
//! `deployment.environment` ?? `gen_ai.environment`), `service` (`gen_ai.application_name` ??
//! `service.name`), `workflow` (`traceloop.workflow.name`), `conversation_id`
//! (`gen_ai.conversation.id`), `service_tier` (`openai.response.service_tier` ??
//! `openai.request.service_tier`, which also sets the record's service tier) and every other
//! `traceloop.association.properties.<key>`.
//!
//! Dropped: span `name`, `kind`, `parentSpanId`, `events` (exception details), `links`, scope name
//! and version, `schemaUrl`, `gen_ai.response.id`, `gen_ai.response.finish_reasons`, request
//! parameters, captured content (`gen_ai.input.messages`, …), `server.port`,
//! `gen_ai.openai.api_base`, the streaming flags, `gen_ai.endpoint`, `traceloop.entity.name`,
//! `traceloop.span.kind`, `telemetry.*`, `service.version`, array and kvlist attribute values.
//! `cache_hit` is false (OTel has no gateway-cache attribute) and `route` is null.
//!
//! Decisions where the page is unverified (U) or silent:
//! - A span with a model or token attribute and no operation attribute counts as an LLM call.
//! - An LLM span without any model attribute is rejected (`missing_field`
//!   `…attributes.gen_ai.request.model`): the record requires a model.
//! - Ids must be 32 / 16 hex digits, so base64 ids (generic protobuf JSON) are refused instead of
//!   being lower-cased into collisions.
//! - `endTimeUnixNano` before the start is `invalid_value`; absent or 0 leaves `latency_ms` null.
//! - A status read from `error.type` or from `Error code: NNN` must be 400–599; when no status is
//!   found the call is a 500 whose error type is refined from the error text, else `unknown`.
//! - `status.code` is also accepted as its enum name (`STATUS_CODE_ERROR`) or a numeric string.
//! - Malformed containers (`resourceSpans`, a resource, scope or span that is not an object) are
//!   one rejected candidate each; malformed resource or scope attributes reject every LLM span
//!   beneath them, while their non-LLM spans stay skipped.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::Adapter;
use super::common::{
    Draft, ParseContext, TagsBuilder, VERTEX_AI_HOST, amount, base_record, epoch_nanos, non_negative,
    refine_error_type, reported_cost, seconds_to_ms, status_and_error, stringify_scalar, sum_test,
    ts_epoch_nanos,
};
use super::json::{self, Kind, Obj};
use super::reject::{FieldError, excerpt};
use crate::model::{
    ErrorType, EventId, LIMITS, Provider, ServiceTier, Source, Tags, TokenCounts, TokenUsage,
    UNASSIGNED_TEAM, UsageRecord, Usd, check_len,
};

pub(crate) struct Otel;

impl Adapter for Otel {
    fn source(&self) -> Source {
        Source::Otel
    }

    fn detect(&self, obj: &Obj<'_>) -> bool {
        obj.has("resourceSpans")
    }

    fn parse(&self, obj: &Obj<'_>, _ctx: &ParseContext, out: &mut Vec<Result<Draft, FieldError>>) {
        out.extend(
            spans_of_document(obj)
                .into_iter()
                .filter_map(|outcome| match outcome {
                    SpanOutcome::Row(row) => Some(row),
                    SpanOutcome::NotLlmCall => None,
                }),
        );
    }
}

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

/// What one span of an export becomes.
// Most outcomes are rows, so the size difference wastes little; boxing would add an allocation
// per span.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum SpanOutcome {
    /// Not an LLM call: skipped on `/v1/ingest`, counted as rejected by the OTLP receiver.
    NotLlmCall,
    /// An LLM call (or a span that cannot be classified): a row, or why it is rejected.
    Row(Result<Draft, FieldError>),
}

/// Walks every span of one `ExportTraceServiceRequest` document in document order.
pub(crate) fn spans_of_document(document: &Obj<'_>) -> Vec<SpanOutcome> {
    let mut outcomes = Vec::new();
    match json::opt_array(document.raw("resourceSpans"), "resourceSpans", "an array") {
        Err(error) => outcomes.push(SpanOutcome::Row(Err(error))),
        Ok(resource_spans) => {
            for (index, resource_span) in resource_spans.into_iter().enumerate() {
                let path = format!("resourceSpans[{index}]");
                if let Err(error) = walk_resource(resource_span, &path, &mut outcomes) {
                    outcomes.push(SpanOutcome::Row(Err(error)));
                }
            }
        }
    }
    outcomes
}

/// An error returned here is about the container itself: one rejected candidate.
fn walk_resource(raw: &RawValue, path: &str, outcomes: &mut Vec<SpanOutcome>) -> Result<(), FieldError> {
    let resource_span = Obj::from_raw(raw).ok_or_else(|| FieldError::invalid_type(path, "an object"))?;
    let resource = holder_attributes(&resource_span, "resource", path);
    let scope_spans = json::opt_array(
        resource_span.raw("scopeSpans"),
        &format!("{path}.scopeSpans"),
        "an array",
    )?;
    for (index, scope_span) in scope_spans.into_iter().enumerate() {
        let scope_path = format!("{path}.scopeSpans[{index}]");
        if let Err(error) = walk_scope(scope_span, &scope_path, &resource, outcomes) {
            outcomes.push(SpanOutcome::Row(Err(error)));
        }
    }
    Ok(())
}

fn walk_scope(
    raw: &RawValue,
    path: &str,
    resource: &Result<Attributes<'_>, FieldError>,
    outcomes: &mut Vec<SpanOutcome>,
) -> Result<(), FieldError> {
    let scope_span = Obj::from_raw(raw).ok_or_else(|| FieldError::invalid_type(path, "an object"))?;
    let scope = holder_attributes(&scope_span, "scope", path);
    let inherited = Inherited {
        resource,
        scope: &scope,
    };
    for (index, span) in json::opt_array(scope_span.raw("spans"), &format!("{path}.spans"), "an array")?
        .into_iter()
        .enumerate()
    {
        let span_path = format!("{path}.spans[{index}]");
        outcomes.push(match Obj::from_raw(span) {
            None => SpanOutcome::Row(Err(FieldError::invalid_type(&span_path, "an object"))),
            Some(span) => span_to_row(&span, &span_path, &inherited),
        });
    }
    Ok(())
}

/// The attributes of the `resource` or `scope` object of a container.
fn holder_attributes<'a>(container: &Obj<'a>, key: &str, path: &str) -> Result<Attributes<'a>, FieldError> {
    let field = format!("{path}.{key}");
    let holder = container.obj(key, &field)?.unwrap_or_default();
    Attributes::parse(holder.raw("attributes"), format!("{field}.attributes"))
}

/// The attributes a span inherits. A malformed resource or scope is reported on each LLM span
/// beneath it, so every rejected span is counted once.
pub(crate) struct Inherited<'s, 'a> {
    pub resource: &'s Result<Attributes<'a>, FieldError>,
    pub scope: &'s Result<Attributes<'a>, FieldError>,
}

/// Converts one span: [`SpanOutcome::NotLlmCall`] for spans that are not model calls, else its
/// row or the problem, with fields named by their path under `span_path`.
pub(crate) fn span_to_row(span: &Obj<'_>, span_path: &str, inherited: &Inherited<'_, '_>) -> SpanOutcome {
    let attributes = match Attributes::parse(span.raw("attributes"), format!("{span_path}.attributes")) {
        Ok(attributes) => attributes,
        Err(error) => return SpanOutcome::Row(Err(error)),
    };
    if !is_llm_call(&attributes) {
        return SpanOutcome::NotLlmCall;
    }
    SpanOutcome::Row(llm_call_record(span, span_path, &attributes, inherited).map(Draft::new))
}

/// A model call names a model or counts tokens, and is not an agent, tool, workflow or retrieval
/// operation. Read leniently: classification never rejects, the conversion does.
fn is_llm_call(span: &Attributes<'_>) -> bool {
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

fn llm_call_record(
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

/// `error.type` or an error span status marks a failed call; its HTTP status comes from
/// `error.type` (a number or an SDK exception name), else from `Error code: NNN` in the status
/// message, else it is an unclassified 500.
fn status_and_error_type(
    span: &Obj<'_>,
    span_path: &str,
    layers: &Layers<'_, '_>,
) -> Result<(u16, Option<ErrorType>), FieldError> {
    let error_name = layers.text("error.type", LIMITS.short_text)?;
    let status_field = format!("{span_path}.status");
    let status = span.obj("status", &status_field)?.unwrap_or_default();
    let flagged = status_is_error(status.raw("code"), &format!("{status_field}.code"))?;
    let message = json::opt_str(status.raw("message"), &format!("{status_field}.message"))?;
    if error_name.is_none() && !flagged {
        return Ok((200, None));
    }
    let error_text: Vec<&str> = [error_name.as_deref(), message.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let error_text = error_text.join(" ");
    let status_code = error_name
        .as_deref()
        .and_then(|name| http_status(name).or_else(|| status_of_exception(name)))
        .or_else(|| message.as_deref().and_then(status_in_message));
    match status_code {
        Some(code) => status_and_error(u64::from(code), &status_field, Some(&error_text)),
        None => Ok((
            500,
            Some(refine_error_type(&error_text).unwrap_or(ErrorType::Unknown)),
        )),
    }
}

/// `status.code` is an enum: 2 is an error. OTLP/JSON writes integers, but enum names and numeric
/// strings appear in hand-written or converted documents.
fn status_is_error(raw: Option<&RawValue>, field: &str) -> Result<bool, FieldError> {
    let Some(raw) = raw else { return Ok(false) };
    match Kind::of(raw) {
        Kind::Null => Ok(false),
        Kind::Number => Ok(json::opt_i64(Some(raw), field)? == Some(2)),
        Kind::String => match json::decode_str(raw).unwrap_or_default().trim() {
            "2" | "STATUS_CODE_ERROR" => Ok(true),
            "" | "0" | "1" | "STATUS_CODE_UNSET" | "STATUS_CODE_OK" => Ok(false),
            other => Err(FieldError::invalid_value(
                field,
                format!("unknown span status `{}`", excerpt(other)),
            )),
        },
        _ => Err(FieldError::invalid_type(field, "a span status code")),
    }
}

/// An HTTP error status written as text (`"500"`).
fn http_status(text: &str) -> Option<u16> {
    let text = text.trim();
    if text.len() != 3 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|code| (400..=599).contains(code))
}

/// SDK exception names (`RateLimitError`, `openai.RateLimitError`) and the status each stands for.
fn status_of_exception(name: &str) -> Option<u16> {
    let short = name
        .trim()
        .rsplit('.')
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    match short.as_str() {
        "ratelimiterror" => Some(429),
        "apitimeouterror" | "timeout" => Some(408),
        "authenticationerror" => Some(401),
        "permissiondeniederror" => Some(403),
        "notfounderror" => Some(404),
        "badrequesterror" => Some(400),
        "internalservererror" => Some(500),
        "serviceunavailableerror" => Some(503),
        // Anthropic's overloaded error is its own status.
        "overloadederror" => Some(529),
        _ => None,
    }
}

/// The status in OpenAI/Anthropic SDK messages: `Error code: 429 - {...}`.
fn status_in_message(message: &str) -> Option<u16> {
    const MARKER: &str = "Error code: ";
    let start = message.find(MARKER)?.checked_add(MARKER.len())?;
    let digits: String = message
        .get(start..)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    http_status(&digits)
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

/// One OTLP `KeyValue` list (`key` → raw `AnyValue`) and its path, for error messages.
pub(crate) struct Attributes<'a> {
    path: String,
    entries: Vec<(Cow<'a, str>, Option<&'a RawValue>)>,
}

impl<'a> Attributes<'a> {
    /// Reads a `KeyValue` array; absent or null is empty. Values are decoded only when read.
    pub(crate) fn parse(raw: Option<&'a RawValue>, path: String) -> Result<Attributes<'a>, FieldError> {
        let mut entries = Vec::new();
        for (index, entry) in json::opt_array(raw, &path, "an array")?.into_iter().enumerate() {
            let entry_field = format!("{path}[{index}]");
            let entry = Obj::from_raw(entry)
                .ok_or_else(|| FieldError::invalid_type(&entry_field, "a key-value object"))?;
            let key_field = format!("{entry_field}.key");
            let key = json::opt_str(entry.raw("key"), &key_field)?
                .ok_or_else(|| FieldError::missing(&key_field))?;
            entries.push((key, entry.present("value")));
        }
        Ok(Attributes { path, entries })
    }

    /// `Some(value)` when the key is set (the last occurrence wins); the value may be absent.
    fn find(&self, key: &str) -> Option<Option<&'a RawValue>> {
        self.entries
            .iter()
            .rev()
            .find(|(name, _)| name.as_ref() == key)
            .map(|(_, value)| *value)
    }

    fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(key, _)| key.as_ref())
    }

    fn with_prefix<'s>(&'s self, prefix: &'s str) -> impl Iterator<Item = (&'s str, Option<&'a RawValue>)> {
        self.entries
            .iter()
            .filter_map(move |(key, value)| key.strip_prefix(prefix).map(|rest| (rest, *value)))
    }

    fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }
}

/// The attribute sets a span sees, innermost first: its own, its scope's, its resource's.
struct Layers<'s, 'a> {
    innermost_first: [&'s Attributes<'a>; 3],
}

impl<'a> Layers<'_, 'a> {
    /// The innermost attribute `key` that has a value, with its field path.
    fn find(&self, key: &str) -> Option<(String, &'a RawValue)> {
        self.innermost_first.iter().find_map(|attributes| {
            attributes
                .find(key)
                .flatten()
                .map(|raw| (attributes.field(key), raw))
        })
    }

    fn text(&self, key: &str, limit: usize) -> Result<Option<String>, FieldError> {
        let Some((field, raw)) = self.find(key) else {
            return Ok(None);
        };
        match any_value(raw, &field)? {
            AnyValue::Unset => Ok(None),
            AnyValue::Composite => Err(FieldError::invalid_type(&field, "a scalar value")),
            AnyValue::Scalar(inner) => {
                let text = stringify_scalar(inner)
                    .ok_or_else(|| FieldError::invalid_type(&field, "a scalar value"))?;
                if text.is_empty() {
                    return Ok(None);
                }
                check_len(&field, &text, limit)?;
                Ok(Some(text))
            }
        }
    }

    /// `keys[0] ?? keys[1] ?? …`: only an absent value falls through, a malformed one is an error.
    fn first_text(&self, keys: &[&str], limit: usize) -> Result<Option<String>, FieldError> {
        for key in keys {
            if let Some(text) = self.text(key, limit)? {
                return Ok(Some(text));
            }
        }
        Ok(None)
    }

    /// Counts arrive as `intValue` strings or numbers, and sometimes as integral doubles.
    fn first_count(&self, keys: &[&str]) -> Result<Option<u64>, FieldError> {
        for key in keys {
            let Some((field, raw)) = self.find(key) else {
                continue;
            };
            match any_value(raw, &field)? {
                AnyValue::Unset => {}
                AnyValue::Composite => return Err(FieldError::invalid_type(&field, "a token count")),
                AnyValue::Scalar(inner) => {
                    if let Some(count) = json::opt_count_lenient(Some(inner), &field)? {
                        return Ok(Some(count));
                    }
                }
            }
        }
        Ok(None)
    }

    /// A USD amount read from the number's decimal text, never through a float.
    fn amount(&self, key: &str) -> Result<Option<Usd>, FieldError> {
        let Some((field, raw)) = self.find(key) else {
            return Ok(None);
        };
        match any_value(raw, &field)? {
            AnyValue::Unset => Ok(None),
            AnyValue::Composite => Err(FieldError::invalid_type(&field, "a decimal number")),
            AnyValue::Scalar(inner) => amount(Some(inner), &field),
        }
    }

    /// A non-negative duration in seconds.
    fn seconds(&self, key: &str) -> Result<Option<f64>, FieldError> {
        let Some((field, raw)) = self.find(key) else {
            return Ok(None);
        };
        let seconds = match any_value(raw, &field)? {
            AnyValue::Unset => None,
            AnyValue::Composite => return Err(FieldError::invalid_type(&field, "a number of seconds")),
            AnyValue::Scalar(inner) => json::opt_f64_lenient(Some(inner), &field)?,
        };
        non_negative(seconds, &field)
    }
}

/// An OTLP `AnyValue`, reduced to what the ledger reads.
enum AnyValue<'a> {
    /// No value set (`{}`).
    Unset,
    /// The raw JSON inside `stringValue`, `intValue`, `doubleValue` or `boolValue`.
    Scalar(&'a RawValue),
    /// `arrayValue`, `kvlistValue` or `bytesValue`: not mapped.
    Composite,
}

fn any_value<'a>(raw: &'a RawValue, field: &str) -> Result<AnyValue<'a>, FieldError> {
    let value =
        Obj::from_raw(raw).ok_or_else(|| FieldError::invalid_type(field, "an OTLP AnyValue object"))?;
    if let Some(inner) = ["stringValue", "intValue", "doubleValue", "boolValue"]
        .into_iter()
        .find_map(|key| value.present(key))
    {
        return Ok(AnyValue::Scalar(inner));
    }
    if ["arrayValue", "kvlistValue", "bytesValue"]
        .into_iter()
        .any(|key| value.present(key).is_some())
    {
        return Ok(AnyValue::Composite);
    }
    Ok(AnyValue::Unset)
}

/// Best-effort text for classification, which must never reject.
fn loose_text(raw: &RawValue) -> Option<String> {
    match any_value(raw, "").ok()? {
        AnyValue::Scalar(inner) => stringify_scalar(inner),
        AnyValue::Unset | AnyValue::Composite => None,
    }
}

/// A tag value: scalars as text, composites skipped (the page maps none of them).
fn tag_text(raw: Option<&RawValue>, field: &str) -> Result<Option<String>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    match any_value(raw, field)? {
        AnyValue::Unset | AnyValue::Composite => Ok(None),
        AnyValue::Scalar(inner) => {
            let text =
                stringify_scalar(inner).ok_or_else(|| FieldError::invalid_type(field, "a scalar value"))?;
            check_len(field, &text, LIMITS.tag_value)?;
            Ok(Some(text).filter(|text| !text.is_empty()))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::ingest::golden::assert_golden;
    use crate::ingest::reject::RejectCode;
    use crate::ingest::{FormatChoice, ParsedBatch, parse_body};

    #[test]
    fn golden_fixture() {
        assert_golden(
            "otel/sample.json",
            "otel/sample.expected.ndjson",
            Source::Otel,
            (9, 9, 0),
        );
    }

    fn attribute(key: &str, value: Value) -> Value {
        json!({"key": key, "value": value})
    }

    fn text(value: &str) -> Value {
        json!({"stringValue": value})
    }

    fn int(value: i64) -> Value {
        json!({"intValue": value.to_string()})
    }

    /// A chat span with the given extra attributes; `number` keeps span ids distinct.
    fn span(number: u8, attributes: Vec<Value>) -> Value {
        let mut all = vec![
            attribute("gen_ai.operation.name", text("chat")),
            attribute("gen_ai.provider.name", text("openai")),
            attribute("gen_ai.request.model", text("gpt-4.1")),
        ];
        all.extend(attributes);
        json!({
            "traceId": "0AF7651916CD43DD8448EB211C80319C",
            "spanId": format!("{number:016x}"),
            "name": "chat gpt-4.1",
            "kind": 3,
            "startTimeUnixNano": "1795423200000000000",
            "endTimeUnixNano": "1795423201250000000",
            "attributes": all,
            "status": {}
        })
    }

    fn document(spans: Vec<Value>) -> Value {
        json!({"resourceSpans": [{
            "resource": {"attributes": [attribute("service.namespace", text("search"))]},
            "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}]
        }]})
    }

    fn parse_documents(documents: &[Value]) -> ParsedBatch {
        let lines: Vec<String> = documents.iter().map(Value::to_string).collect();
        parse_body(
            lines.join("\n").as_bytes(),
            FormatChoice::Auto,
            &ParseContext::now(),
        )
        .unwrap()
    }

    fn one_row(attributes: Vec<Value>) -> UsageRecord {
        let batch = parse_documents(&[document(vec![span(1, attributes)])]);
        assert_eq!(batch.rejected, [], "rejected");
        batch.accepted[0].record.clone()
    }

    fn one_rejection(span: Value) -> (Option<String>, RejectCode) {
        let batch = parse_documents(&[document(vec![span])]);
        assert_eq!(batch.accepted.len(), 0);
        (batch.rejected[0].field.clone(), batch.rejected[0].code)
    }

    const SPAN_PATH: &str = "resourceSpans[0].scopeSpans[0].spans[0]";

    #[test]
    fn the_sum_test_adds_excluded_cache_and_reasoning() {
        // Cache reads outside the prompt count, confirmed by the total.
        let row = one_row(vec![
            attribute("gen_ai.usage.prompt_tokens", int(412)),
            attribute("gen_ai.usage.completion_tokens", int(498)),
            attribute("gen_ai.usage.cache_read_input_tokens", int(18_240)),
            attribute("llm.usage.total_tokens", int(19_150)),
        ]);
        assert_eq!(row.tokens.input().get(), 18_652);
        assert_eq!(row.tokens.cached_input().get(), 18_240);
        // Thoughts outside the output count (more thoughts than output).
        let row = one_row(vec![
            attribute("gen_ai.usage.input_tokens", json!({"intValue": 100})),
            attribute("gen_ai.usage.output_tokens", json!({"intValue": 240})),
            attribute("gen_ai.usage.reasoning.output_tokens", json!({"intValue": 610})),
        ]);
        assert_eq!(row.tokens.output().get(), 850);
        assert_eq!(row.tokens.reasoning().get(), 610);
        // Nothing fires: taken at face value (spec semantics).
        let row = one_row(vec![
            attribute("gen_ai.usage.input_tokens", int(8_400)),
            attribute("gen_ai.usage.cache_read.input_tokens", int(6_144)),
            attribute("gen_ai.usage.output_tokens", int(380)),
        ]);
        assert_eq!(row.tokens.input().get(), 8_400);
        assert_eq!(row.latency_ms, Some(1250.0));
        assert_eq!(row.team, "search");
    }

    #[test]
    fn non_llm_spans_are_skipped_and_not_counted() {
        let http = json!({"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "00000000000000aa",
                          "startTimeUnixNano": "1795423200000000000",
                          "attributes": [attribute("http.request.method", text("POST"))]});
        let agent = span(
            2,
            vec![
                attribute("gen_ai.operation.name", text("invoke_agent")),
                attribute("gen_ai.usage.input_tokens", int(5)),
            ],
        );
        let tool = span(3, vec![attribute("gen_ai.operation.name", text("execute_tool"))]);
        let no_attributes =
            json!({"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "00000000000000ab"});
        let chat = span(4, vec![attribute("gen_ai.usage.input_tokens", int(5))]);
        let document = document(vec![http, agent, tool, no_attributes, chat]);
        let batch = parse_documents(std::slice::from_ref(&document));
        assert_eq!((batch.received, batch.accepted.len()), (1, 1));

        // The receiver sees the skipped spans too.
        let text = document.to_string();
        let outcomes = spans_of_document(&Obj::parse(&text).unwrap());
        let skipped = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, SpanOutcome::NotLlmCall))
            .count();
        assert_eq!((outcomes.len(), skipped), (5, 4));
    }

    #[test]
    fn malformed_values_name_the_span_attribute() {
        let cases = [
            (
                span(
                    1,
                    vec![attribute(
                        "gen_ai.usage.input_tokens",
                        json!({"intValue": "many"}),
                    )],
                ),
                "attributes.gen_ai.usage.input_tokens",
                RejectCode::InvalidType,
            ),
            (
                span(
                    1,
                    vec![attribute("gen_ai.usage.output_tokens", json!({"intValue": -5}))],
                ),
                "attributes.gen_ai.usage.output_tokens",
                RejectCode::InvalidValue,
            ),
            (
                span(
                    1,
                    vec![attribute("gen_ai.usage.cost", json!({"doubleValue": -0.5}))],
                ),
                "attributes.gen_ai.usage.cost",
                RejectCode::InvalidValue,
            ),
            (
                span(1, vec![attribute("gen_ai.response.model", json!("bare string"))]),
                "attributes.gen_ai.response.model",
                RejectCode::InvalidType,
            ),
            (
                span(1, vec![json!({"value": text("no key")})]),
                "attributes[3].key",
                RejectCode::MissingField,
            ),
            (
                {
                    let mut span = span(1, vec![]);
                    span["traceId"] = json!("not-hex");
                    span
                },
                "traceId",
                RejectCode::InvalidValue,
            ),
            (
                {
                    let mut span = span(1, vec![]);
                    span["startTimeUnixNano"] = Value::Null;
                    span
                },
                "startTimeUnixNano",
                RejectCode::MissingField,
            ),
            (
                {
                    let mut span = span(1, vec![]);
                    span["endTimeUnixNano"] = json!("1795423199000000000");
                    span
                },
                "endTimeUnixNano",
                RejectCode::InvalidValue,
            ),
            (
                {
                    let mut span = span(1, vec![]);
                    span["status"] = json!({"code": "BROKEN"});
                    span
                },
                "status.code",
                RejectCode::InvalidValue,
            ),
            (
                json!({"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "0000000000000001",
                       "startTimeUnixNano": "1795423200000000000",
                       "attributes": [attribute("gen_ai.usage.input_tokens", int(5))]}),
                "attributes.gen_ai.request.model",
                RejectCode::MissingField,
            ),
        ];
        for (span, field, code) in cases {
            let want = (Some(format!("{SPAN_PATH}.{field}")), code);
            assert_eq!(one_rejection(span), want, "{field}");
        }
    }

    #[test]
    fn failed_calls_get_a_status_and_an_error_type() {
        let failed = |attributes: Vec<Value>, status: Value| {
            let mut span = span(1, attributes);
            span["status"] = status;
            let batch = parse_documents(&[document(vec![span])]);
            let record = &batch.accepted[0].record;
            (record.status_code, record.error_type)
        };
        let error_type = |name: &str| vec![attribute("error.type", text(name))];
        assert_eq!(
            failed(error_type("503"), json!({"code": 2})),
            (503, Some(ErrorType::Overloaded))
        );
        assert_eq!(
            failed(error_type("openai.AuthenticationError"), json!({})),
            (401, Some(ErrorType::Auth))
        );
        assert_eq!(
            failed(error_type("OverloadedError"), json!({})),
            (529, Some(ErrorType::Overloaded))
        );
        assert_eq!(
            failed(
                vec![],
                json!({"code": 2, "message": "Error code: 404 - model not found"})
            ),
            (404, Some(ErrorType::NotFound))
        );
        assert_eq!(
            failed(vec![], json!({"code": "STATUS_CODE_ERROR"})),
            (500, Some(ErrorType::Unknown))
        );
        assert_eq!(
            failed(
                error_type("_OTHER"),
                json!({"code": 2, "message": "context_length_exceeded"})
            ),
            (500, Some(ErrorType::ContextLength))
        );
        assert_eq!(failed(vec![], json!({"code": 1})), (200, None));
    }

    #[test]
    fn providers_follow_the_otel_mapping() {
        let provider = |attributes: Vec<Value>| one_row(attributes).provider;
        let google = |host: &str| {
            vec![
                attribute("gen_ai.provider.name", text("gcp.gen_ai")),
                attribute("server.address", text(host)),
            ]
        };
        assert_eq!(
            provider(google("us-central1-aiplatform.googleapis.com")),
            Provider::VertexAi
        );
        assert_eq!(
            provider(google("generativelanguage.googleapis.com")),
            Provider::Gemini
        );
        assert_eq!(
            provider(vec![attribute("gen_ai.provider.name", text("aws.bedrock"))]),
            Provider::Bedrock
        );
        assert_eq!(
            provider(vec![attribute("gen_ai.provider.name", text("x_ai"))]),
            Provider::Xai
        );
    }

    #[test]
    fn cost_ttft_and_attribution() {
        let tokens = || {
            vec![
                attribute("gen_ai.usage.input_tokens", int(10)),
                attribute("gen_ai.usage.output_tokens", int(2)),
            ]
        };
        let mut attributes = tokens();
        attributes.extend([
            attribute("gen_ai.usage.cost", json!({"doubleValue": 0.07722000000000001})),
            attribute(
                "gen_ai.response.time_to_first_chunk",
                json!({"doubleValue": 0.25}),
            ),
            attribute("traceloop.association.properties.user_id", text("agent-7")),
            attribute("traceloop.association.properties.ticket_queue", text("billing")),
            attribute(
                "traceloop.association.properties.urgent",
                json!({"boolValue": true}),
            ),
            attribute(
                "traceloop.association.properties.list",
                json!({"arrayValue": {"values": []}}),
            ),
            attribute("openai.response.service_tier", text("flex")),
        ]);
        let row = one_row(attributes);
        assert_eq!(
            row.reported_cost_usd.map(|usd| usd.as_decimal().to_string()),
            Some("0.07722000000000001".to_owned())
        );
        assert_eq!(row.ttft_ms, Some(250.0));
        assert_eq!(row.user_id.as_deref(), Some("agent-7"));
        assert_eq!(row.tags.get("ticket_queue"), Some("billing"));
        assert_eq!(row.tags.get("urgent"), Some("true"));
        assert_eq!(row.tags.get("list"), None);
        assert_eq!(row.tags.get("service_tier"), Some("flex"));
        assert_eq!(row.service_tier, ServiceTier::Flex);

        // Zero is not free on a served call, but stays 0 on a failed one.
        let mut attributes = tokens();
        attributes.push(attribute("gen_ai.usage.cost", json!({"doubleValue": 0.0})));
        assert_eq!(one_row(attributes.clone()).reported_cost_usd, None);
        attributes.push(attribute("error.type", text("500")));
        assert_eq!(one_row(attributes).reported_cost_usd, Some(Usd::ZERO));
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        let chat = span(1, vec![]);
        let bad_resource = json!({"resourceSpans": [{
            "resource": {"attributes": "oops"},
            "scopeSpans": [{"spans": [chat.clone(), {"traceId": "00", "attributes": []}]}]
        }]});
        let documents = [
            json!({"resourceSpans": 5}),
            json!({"resourceSpans": [1, {"scopeSpans": "x"}, {"scopeSpans": [{"spans": [7]}]}, {"scopeSpans": [3]}]}),
            bad_resource,
            json!({"resourceSpans": null}),
            json!({"resourceSpans": [{"scopeSpans": [{"spans": [chat]}]}]}),
        ];
        let batch = parse_documents(&documents);
        let rejected: Vec<(Option<&str>, RejectCode)> = batch
            .rejected
            .iter()
            .map(|rejected| (rejected.field.as_deref(), rejected.code))
            .collect();
        assert_eq!(
            rejected,
            [
                (Some("resourceSpans"), RejectCode::InvalidType),
                (Some("resourceSpans[0]"), RejectCode::InvalidType),
                (Some("resourceSpans[1].scopeSpans"), RejectCode::InvalidType),
                (
                    Some("resourceSpans[2].scopeSpans[0].spans[0]"),
                    RejectCode::InvalidType
                ),
                (Some("resourceSpans[3].scopeSpans[0]"), RejectCode::InvalidType),
                (
                    Some("resourceSpans[0].resource.attributes"),
                    RejectCode::InvalidType
                ),
            ]
        );
        // The last document has no resource: the call is still a row, team unassigned.
        assert_eq!(batch.accepted.len(), 1);
        assert_eq!(batch.accepted[0].record.team, UNASSIGNED_TEAM);
        assert_eq!(batch.received, 7);
    }
}
