//! `litellm`: LiteLLM proxy logs, in both shapes a proxy emits, mapped to `source = litellm`.
//!
//! Spec: [`shared/formats/litellm.md`](../../../shared/formats/litellm.md).
//!
//! - **StandardLoggingPayload** (generic_api webhook, S3/GCS objects, custom callbacks, and Datadog
//!   entries whose `message` string `detect.rs` has already unwrapped).
//! - **`LiteLLM_SpendLogs` rows** (`/spend/logs` arrays, `{data: […]}` pages, NDJSON).
//!
//! Fields mapped (payload → canonical): `id` → `event_id` (a `_cache_hit<epoch>` suffix is kept);
//! `startTime` → `ts`; `endTime − startTime` → `latency_ms`; `completionStartTime − startTime` →
//! `ttft_ms` (streams only); `custom_llm_provider` → `provider`; `response.model`, else
//! `model_map_information.model_map_key`, else `model` (provider prefix stripped) → `model`;
//! `model_group` → `model_requested`; `prompt_tokens` / `completion_tokens` and the usage details
//! (`response.usage`, else `metadata.usage_object`, else `hidden_params.usage_object`) → tokens;
//! `response_cost` → `reported_cost_usd` (null when `response_cost_failure_debug_info` is set);
//! `status` + `error_information` (+ `error_str`) → `status_code`, `error_type`; `cache_hit` →
//! `cache_hit`; `metadata.user_api_key_*` → `team`, `project`, `user_id`, `api_key_id`;
//! `end_user` → `user_id`; `request_tags` and `metadata.spend_logs_metadata` → `tags`;
//! `trace_id` → attempt chain (`attempts`, `fallback_from`, `route`, `model_requested`).
//! Spend rows map the same way from `request_id`, `spend`, `api_key`, `team_id`, `user`,
//! `end_user`, `request_duration_ms`, `cache_hit` (a `"True"`/`"False"` string), `session_id` and
//! `metadata.{additional_usage_values, usage_object, error_information, project_id, status}`.
//!
//! Fields dropped: `litellm_call_id`, `call_type`, `cost_breakdown`, `status_fields`,
//! `total_tokens` (only used to spot unfolded Gemini thoughts), `response_time` (TTFT for streams),
//! `model_id`, `api_base`, `cache_key`, `saved_cache_cost`, `requester_ip_address`, `user_agent`,
//! `messages`, `response` (except `model` and `usage`), `model_parameters`, the rest of
//! `hidden_params`, `guardrail_information`, `standard_built_in_tools_params`, key/org aliases and
//! budgets in `metadata`, `requester_metadata`, `organization_id`, `agent_id`,
//! `mcp_namespaced_tool_name`, `proxy_server_request`.
//!
//! Decisions where the page leaves room:
//! - The Anthropic version check (`prompt_tokens < cached + cache_creation + text_tokens`) adds
//!   at most the cache writes, for every provider: it repairs the old "reads only" sum and cannot
//!   inflate a Gemini prompt whose `text_tokens` also counts cached text (Gemini has no writes).
//! - `completion_tokens` is taken as including reasoning; only when the sum test proves otherwise
//!   (reasoning above completion, or `total_tokens = prompt + completion + reasoning`) is the
//!   reasoning added, for versions that did not fold Gemini thoughts in.
//! - `cache_hit` null falls back to the `_cache_hit` id suffix LiteLLM adds on cache hits.
//! - `team`/`project`/`user_id` keys in the tags are lifted out of the tags and used only when the
//!   key metadata names none (the key metadata is authenticated, tags are caller-supplied).
//! - A `ttft_ms` outside `[startTime, endTime)` or above `latency_ms` is dropped; an `endTime`
//!   before `startTime` rejects the record (`invalid_value`, `endTime`).
//! - A failure with an `error_code` that is not a number gets its status from `error_class`; an
//!   unknown class is 500. Specific classes decide `error_type`; generic ones (`BadRequestError`,
//!   `InternalServerError`, …) are refined from the class name and error text, then the status.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::Adapter;
use super::common::{
    AttemptLink, Draft, ParseContext, TagsBuilder, amount, at_native, base_record, http_status, non_negative,
    refine_error_type, reported_cost, stringify_scalar, sum_test, text_at, text_field, ts_epoch_seconds,
    ts_text,
};
use super::json::{self, Kind, Obj};
use super::reject::{FieldError, excerpt};
use crate::model::{
    ApiKeyId, ErrorType, EventId, LIMITS, Provider, Source, Tags, TokenCounts, TokenUsage, UNASSIGNED_TEAM,
    UsageRecord, Usd, parse_decimal_text,
};

pub(crate) struct Litellm;

impl Adapter for Litellm {
    fn source(&self) -> Source {
        Source::Litellm
    }

    fn detect(&self, obj: &Obj<'_>) -> bool {
        is_payload(obj) || is_spend_row(obj)
    }

    fn parse(&self, obj: &Obj<'_>, _ctx: &ParseContext, out: &mut Vec<Result<Draft, FieldError>>) {
        let call = if reads_as_spend_row(obj) {
            parse_spend_row(obj)
        } else {
            parse_payload(obj)
        };
        out.push(call.map(Call::into_draft));
    }

    fn finish_batch(&self, rows: &mut [Draft]) {
        link_attempts(rows);
    }
}

/// Detection predicate of a StandardLoggingPayload (`formats/README.md`, predicate 9).
fn is_payload(obj: &Obj<'_>) -> bool {
    obj.has("id")
        && obj.has("response_cost")
        && obj.has("startTime")
        && (obj.has("model_map_information")
            || obj.has("hidden_params")
            || (obj.has("call_type") && obj.has("custom_llm_provider")))
}

/// Detection predicate of a `LiteLLM_SpendLogs` row (`formats/README.md`, predicate 9).
fn is_spend_row(obj: &Obj<'_>) -> bool {
    obj.has("request_id") && obj.has("spend") && obj.has("api_key") && obj.has("startTime")
}

/// Picks the shape to parse. Under `?format=litellm` a record may match neither predicate; one
/// that names a `request_id` and no `id` is then reported field by field as a spend row.
fn reads_as_spend_row(obj: &Obj<'_>) -> bool {
    !is_payload(obj) && (is_spend_row(obj) || (obj.has("request_id") && !obj.has("id")))
}

/// What either shape says about one call, before the "zero is not free" rule and the record.
struct Call {
    event_id: EventId,
    ts: DateTime<Utc>,
    provider: Provider,
    model: String,
    /// `model_group`: what the caller asked for, when the record says.
    model_group: Option<String>,
    /// `model_requested` when this record is alone in its attempt chain.
    model_requested: String,
    tokens: TokenUsage,
    attribution: Attribution,
    reported: Option<Usd>,
    timing: Timing,
    outcome: Outcome,
    cache_hit: bool,
    /// `trace_id` (payloads) or `session_id` (spend rows).
    attempt_group: Option<String>,
}

impl Call {
    fn into_draft(self) -> Draft {
        let reported_cost_usd = reported_cost(
            self.reported,
            &self.tokens,
            self.outcome.status_code,
            self.cache_hit,
        );
        let record = UsageRecord {
            team: self.attribution.team,
            project: self.attribution.project,
            user_id: self.attribution.user_id,
            api_key_id: self.attribution.api_key_id,
            tags: self.attribution.tags,
            model_requested: self.model_requested,
            reported_cost_usd,
            latency_ms: self.timing.latency_ms,
            ttft_ms: self.timing.ttft_ms,
            status_code: self.outcome.status_code,
            error_type: self.outcome.error_type,
            cache_hit: self.cache_hit,
            ..base_record(
                Source::Litellm,
                self.event_id,
                self.ts,
                self.provider,
                self.model,
                self.tokens,
            )
        };
        match self.attempt_group {
            None => Draft::new(record),
            Some(group) => {
                let link = AttemptLink {
                    group,
                    started: record.ts,
                    failed: self.outcome.failed,
                    requested: self.model_group,
                };
                Draft::linked(record, link)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The two shapes
// ---------------------------------------------------------------------------------------------

fn parse_payload(obj: &Obj<'_>) -> Result<Call, FieldError> {
    let event_id = event_id(obj, "id")?;
    let metadata = obj.obj("metadata", "metadata")?.unwrap_or_default();
    let ts = instant(obj.raw("startTime"), "startTime")?.ok_or_else(|| FieldError::missing("startTime"))?;
    let streamed = json::opt_bool(obj.raw("stream"), "stream")?.unwrap_or(false);
    let end = instant(obj.raw("endTime"), "endTime")?;
    let first_chunk = instant(obj.raw("completionStartTime"), "completionStartTime")?;
    let timing = Timing::from_instants(ts, end, streamed.then_some(first_chunk).flatten(), None)?;

    let provider_name = text_field(obj, "custom_llm_provider", LIMITS.provider)?;
    let model = match text_at(obj.path(&["response", "model"]), "response.model", LIMITS.model)? {
        Some(served) => served,
        None => first_text(
            &[
                (
                    obj.path(&["model_map_information", "model_map_key"]),
                    "model_map_information.model_map_key",
                ),
                (obj.raw("model"), "model"),
            ],
            LIMITS.model,
        )?
        .map(|name| strip_provider_prefix(name, provider_name.as_deref()))
        .ok_or_else(|| FieldError::missing("model"))?,
    };
    let model_group = text_field(obj, "model_group", LIMITS.model)?;
    let model_requested = requested_model(obj, model_group.as_deref(), provider_name.as_deref(), &model)?;

    let sources = usage_sources(&[
        (obj.path(&["response", "usage"]), "response.usage"),
        (metadata.present("usage_object"), "metadata.usage_object"),
        (
            obj.path(&["hidden_params", "usage_object"]),
            "hidden_params.usage_object",
        ),
    ]);
    let tokens = token_usage(obj, &sources)?;

    let error_information = obj.obj("error_information", "error_information")?;
    let error_str = text_field(obj, "error_str", usize::MAX)?;
    let outcome = Outcome::read(
        obj.raw("status"),
        "status",
        error_information.as_ref(),
        "error_information",
        error_str.as_deref(),
    )?;
    let reported = if obj.present("response_cost_failure_debug_info").is_some() {
        // LiteLLM writes 0 when its price map has no entry: "could not price", not "free".
        None
    } else {
        amount(obj.raw("response_cost"), "response_cost")?
    };
    let cache_hit =
        json::opt_bool(obj.raw("cache_hit"), "cache_hit")?.unwrap_or_else(|| is_cache_hit_id(&event_id));
    let attribution = Attribution::read(obj, &metadata, Shape::Payload)?;
    let attempt_group = text_field(obj, "trace_id", LIMITS.short_text)?;

    Ok(Call {
        event_id,
        ts,
        provider: provider_of(provider_name.as_deref()),
        model,
        model_group,
        model_requested,
        tokens,
        attribution,
        reported,
        timing,
        outcome,
        cache_hit,
        attempt_group,
    })
}

fn parse_spend_row(obj: &Obj<'_>) -> Result<Call, FieldError> {
    let event_id = event_id(obj, "request_id")?;
    let metadata = obj.obj("metadata", "metadata")?.unwrap_or_default();
    let ts = instant(obj.raw("startTime"), "startTime")?.ok_or_else(|| FieldError::missing("startTime"))?;
    let end = instant(obj.raw("endTime"), "endTime")?;
    let first_chunk = instant(obj.raw("completionStartTime"), "completionStartTime")?;
    let duration_ms = json::opt_f64_lenient(obj.raw("request_duration_ms"), "request_duration_ms")?;
    // Rows carry no `stream` flag: a first chunk strictly before the end is the only signal.
    let timing = Timing::from_instants(ts, end, first_chunk, duration_ms)?;

    let provider_name = text_field(obj, "custom_llm_provider", LIMITS.provider)?;
    // Rows carry no response object, so the dated model the provider answered with is lost.
    let model = first_text(
        &[
            (obj.raw("model"), "model"),
            (
                metadata.path(&["model_map_information", "model_map_key"]),
                "metadata.model_map_information.model_map_key",
            ),
        ],
        LIMITS.model,
    )?
    .map(|name| strip_provider_prefix(name, provider_name.as_deref()))
    .ok_or_else(|| FieldError::missing("model"))?;
    let model_group = text_field(obj, "model_group", LIMITS.model)?;
    let model_requested = requested_model(obj, model_group.as_deref(), provider_name.as_deref(), &model)?;

    let sources = usage_sources(&[
        (
            metadata.present("additional_usage_values"),
            "metadata.additional_usage_values",
        ),
        (metadata.present("usage_object"), "metadata.usage_object"),
    ]);
    let tokens = token_usage(obj, &sources)?;

    let error_information = metadata.obj("error_information", "metadata.error_information")?;
    let (status, status_field) = match obj.present("status") {
        Some(raw) => (Some(raw), "status"),
        None => (metadata.raw("status"), "metadata.status"),
    };
    let outcome = Outcome::read(
        status,
        status_field,
        error_information.as_ref(),
        "metadata.error_information",
        None,
    )?;
    let reported = amount(obj.raw("spend"), "spend")?;
    let cache_hit = spend_cache_hit(obj.raw("cache_hit"))?.unwrap_or_else(|| is_cache_hit_id(&event_id));
    let attribution = Attribution::read(obj, &metadata, Shape::SpendRow)?;
    let attempt_group = text_field(obj, "session_id", LIMITS.short_text)?;

    Ok(Call {
        event_id,
        ts,
        provider: provider_of(provider_name.as_deref()),
        model,
        model_group,
        model_requested,
        tokens,
        attribution,
        reported,
        timing,
        outcome,
        cache_hit,
        attempt_group,
    })
}

// ---------------------------------------------------------------------------------------------
// Identity, model and provider
// ---------------------------------------------------------------------------------------------

fn event_id(obj: &Obj<'_>, field: &str) -> Result<EventId, FieldError> {
    let id = json::opt_str(obj.raw(field), field)?.ok_or_else(|| FieldError::missing(field))?;
    EventId::new(id.into_owned()).map_err(at_native(field))
}

/// LiteLLM suffixes the id of a response served from its cache with `_cache_hit<epoch>`.
fn is_cache_hit_id(event_id: &EventId) -> bool {
    event_id.as_str().contains("_cache_hit")
}

/// `model_group`, else the native `model` (what LiteLLM was asked to send), else the served model.
fn requested_model(
    obj: &Obj<'_>,
    model_group: Option<&str>,
    provider_name: Option<&str>,
    served: &str,
) -> Result<String, FieldError> {
    if let Some(group) = model_group {
        return Ok(group.to_owned());
    }
    Ok(text_field(obj, "model", LIMITS.model)?
        .map(|name| strip_provider_prefix(name, provider_name))
        .unwrap_or_else(|| served.to_owned()))
}

/// Newer LiteLLM releases prefix the provider (`azure/gpt-4.1`); the model stays otherwise
/// verbatim.
fn strip_provider_prefix(model: String, provider_name: Option<&str>) -> String {
    let stripped = provider_name
        .and_then(|provider| model.strip_prefix(provider))
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|rest| !rest.is_empty())
        .map(str::to_owned);
    stripped.unwrap_or(model)
}

/// LiteLLM provider slugs that `Provider::normalize` does not fold on its own.
const LITELLM_PROVIDER_ALIASES: &[(&str, &str)] = &[
    ("azure_text", "azure"),
    ("vertex_ai_beta", "vertex_ai"),
    ("codestral", "mistral"),
    ("text-completion-codestral", "mistral"),
    ("custom_openai", "self_hosted"),
    ("lm_studio", "self_hosted"),
    ("llamafile", "self_hosted"),
    ("xinference", "self_hosted"),
    ("triton", "self_hosted"),
];

fn provider_of(native: Option<&str>) -> Provider {
    let Some(native) = native else {
        return Provider::Unknown;
    };
    let folded = LITELLM_PROVIDER_ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(native.trim()))
        .map_or(native, |(_, canonical)| canonical);
    Provider::normalize(folded)
}

/// Returns the first non-empty string among candidate fields.
fn first_text(candidates: &[(Option<&RawValue>, &str)], limit: usize) -> Result<Option<String>, FieldError> {
    for (raw, field) in candidates {
        if let Some(text) = text_at(*raw, field, limit)? {
            return Ok(Some(text));
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

/// `startTime`-style values: float epoch seconds (payloads), ISO strings (spend rows) or naive
/// `YYYY-MM-DD HH:MM:SS.ffffff` strings (GCS pub/sub), which LiteLLM writes in UTC.
fn instant(raw: Option<&RawValue>, field: &str) -> Result<Option<DateTime<Utc>>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    match Kind::of(raw) {
        Kind::Null => Ok(None),
        Kind::Number => ts_epoch_seconds(raw, field).map(Some),
        Kind::String => {
            let text = json::decode_str(raw).unwrap_or_default();
            if text.trim().is_empty() {
                Ok(None)
            } else if parse_decimal_text(&text).is_ok() {
                ts_epoch_seconds(raw, field).map(Some)
            } else {
                ts_text(&text, field, true).map(Some)
            }
        }
        Kind::Bool | Kind::Array | Kind::Object => Err(FieldError::invalid_type(
            field,
            "epoch seconds or a timestamp string",
        )),
    }
}

struct Timing {
    latency_ms: Option<f64>,
    ttft_ms: Option<f64>,
}

impl Timing {
    /// Latency from `duration_ms` when the log has it, else from start to end; TTFT from a first
    /// chunk strictly before the end.
    fn from_instants(
        start: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
        first_chunk: Option<DateTime<Utc>>,
        duration_ms: Option<f64>,
    ) -> Result<Timing, FieldError> {
        let span = match end {
            None => None,
            Some(end) if end < start => {
                return Err(FieldError::invalid_value("endTime", "is before startTime"));
            }
            Some(end) => millis_between(start, end),
        };
        let latency_ms = non_negative(duration_ms, "request_duration_ms")?.or(span);
        let ttft_ms = match (first_chunk, end) {
            (Some(first), Some(end)) if start <= first && first < end => millis_between(start, first),
            _ => None,
        }
        .filter(|ttft| latency_ms.is_none_or(|latency| *ttft <= latency));
        Ok(Timing { latency_ms, ttft_ms })
    }
}

/// Exact to the microsecond, which is all the epoch-seconds parser keeps.
fn millis_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Option<f64> {
    (to - from)
        .num_microseconds()
        .map(|micros| micros as f64 / 1000.0)
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

/// An object holding LiteLLM's usage block (OpenAI shape plus LiteLLM extras), and its path.
struct UsageSource<'a> {
    path: &'static str,
    usage: Obj<'a>,
}

fn usage_sources<'a>(candidates: &[(Option<&'a RawValue>, &'static str)]) -> Vec<UsageSource<'a>> {
    // A usage block that is not an object (a redacted response) is simply not a source.
    candidates
        .iter()
        .filter_map(|(raw, path)| {
            let usage = Obj::from_raw((*raw)?)?;
            Some(UsageSource { path, usage })
        })
        .collect()
}

/// A count and the native field it was read from (for error messages).
struct Count {
    value: u64,
    field: String,
}

/// Reads the first count found, source by source and then alternative by alternative.
fn detail(sources: &[UsageSource<'_>], alternatives: &[&[&str]]) -> Result<Option<Count>, FieldError> {
    for source in sources {
        for path in alternatives {
            let Some(raw) = source.usage.path(path) else {
                continue;
            };
            let field = format!("{}.{}", source.path, path.join("."));
            if let Some(value) = json::opt_count_lenient(Some(raw), &field)? {
                return Ok(Some(Count { value, field }));
            }
        }
    }
    Ok(None)
}

/// A headline count: the top-level field, else the same key in a usage block.
fn headline(obj: &Obj<'_>, sources: &[UsageSource<'_>], key: &str) -> Result<Option<Count>, FieldError> {
    if let Some(value) = json::opt_count_lenient(obj.raw(key), key)? {
        return Ok(Some(Count {
            value,
            field: key.to_owned(),
        }));
    }
    detail(sources, &[&[key]])
}

const CACHED_PATHS: &[&[&str]] = &[
    &["prompt_tokens_details", "cached_tokens"],
    &["cache_read_input_tokens"],
    &["prompt_cache_hit_tokens"],
];
const WRITTEN_PATHS: &[&[&str]] = &[
    &["prompt_tokens_details", "cache_creation_tokens"],
    &["cache_creation_input_tokens"],
];
const WRITTEN_1H_PATHS: &[&[&str]] = &[&[
    "prompt_tokens_details",
    "cache_creation_token_details",
    "ephemeral_1h_input_tokens",
]];
const TEXT_PATHS: &[&[&str]] = &[&["prompt_tokens_details", "text_tokens"]];
const REASONING_PATHS: &[&[&str]] = &[&["completion_tokens_details", "reasoning_tokens"]];

/// LiteLLM's OpenAI-style normalisation: `prompt_tokens` includes cache reads and writes and
/// `completion_tokens` includes reasoning, with two repairs for older releases (module doc).
fn token_usage(obj: &Obj<'_>, sources: &[UsageSource<'_>]) -> Result<TokenUsage, FieldError> {
    let prompt =
        headline(obj, sources, "prompt_tokens")?.ok_or_else(|| FieldError::missing("prompt_tokens"))?;
    let completion = headline(obj, sources, "completion_tokens")?
        .ok_or_else(|| FieldError::missing("completion_tokens"))?;
    let total = headline(obj, sources, "total_tokens")?.map(|count| count.value);
    let cached = detail(sources, CACHED_PATHS)?;
    let written = detail(sources, WRITTEN_PATHS)?;
    let written_1h = detail(sources, WRITTEN_1H_PATHS)?;
    let text = detail(sources, TEXT_PATHS)?;
    let reasoning = detail(sources, REASONING_PATHS)?;
    let value = |count: &Option<Count>| count.as_ref().map_or(0, |count| count.value);

    let cache_read = value(&cached);
    let cache_write = value(&written);
    let mut input = prompt.value;
    if let Some(text) = &text {
        // Older releases added only the cache reads to an Anthropic prompt: add the missing writes.
        let expected = cache_read.saturating_add(cache_write).saturating_add(text.value);
        if input < expected {
            input = input.saturating_add((expected - input).min(cache_write));
        }
    }
    let output = sum_test(input, completion.value, total, 0, 0, value(&reasoning)).output;

    let counts = TokenCounts {
        input,
        output,
        cached_input: cache_read,
        cache_write,
        cache_write_1h: value(&written_1h),
        reasoning: value(&reasoning),
    };
    TokenUsage::new(counts).map_err(|error| {
        let field_of = |count: &Option<Count>| count.as_ref().map(|count| count.field.clone());
        let native = match error.field() {
            "cached_input_tokens" => field_of(&cached),
            "cache_write_tokens" => field_of(&written).or_else(|| field_of(&cached)),
            "cache_write_1h_tokens" => field_of(&written_1h),
            "reasoning_tokens" => field_of(&reasoning),
            _ => None,
        };
        at_native(&native.unwrap_or(prompt.field))(error)
    })
}

// ---------------------------------------------------------------------------------------------
// Outcome
// ---------------------------------------------------------------------------------------------

struct Outcome {
    status_code: u16,
    error_type: Option<ErrorType>,
    failed: bool,
}

impl Outcome {
    /// `status` (`success` | `failure`) and the `error_information` block. Without a status, a
    /// non-empty `error_class` or `error_code` means failure.
    fn read(
        status: Option<&RawValue>,
        status_field: &str,
        error_information: Option<&Obj<'_>>,
        error_prefix: &str,
        error_str: Option<&str>,
    ) -> Result<Outcome, FieldError> {
        let field = |key: &str| format!("{error_prefix}.{key}");
        let read_text = |key: &str| -> Result<Option<String>, FieldError> {
            match error_information {
                None => Ok(None),
                Some(info) => text_at(info.raw(key), &field(key), usize::MAX),
            }
        };
        let class = read_text("error_class")?;
        let message = read_text("error_message")?.or_else(|| error_str.map(str::to_owned));
        let code = error_information
            .and_then(|info| info.present("error_code"))
            .and_then(stringify_scalar)
            .map(|code| code.trim().to_owned())
            .filter(|code| !code.is_empty());

        let failed = match json::opt_str(status, status_field)?.as_deref() {
            None => class.is_some() || code.is_some(),
            Some(text) if text.eq_ignore_ascii_case("success") => false,
            Some(text) if text.eq_ignore_ascii_case("failure") => true,
            Some(other) => {
                return Err(FieldError::invalid_value(
                    status_field,
                    format!("expected `success` or `failure`, got `{}`", excerpt(other)),
                ));
            }
        };
        if !failed {
            return Ok(Outcome {
                status_code: 200,
                error_type: None,
                failed,
            });
        }

        // `error_class` may be module-qualified (`litellm.exceptions.RateLimitError`).
        let class = class
            .as_deref()
            .map(|class| class.rsplit('.').next().unwrap_or(class));
        let status_code = match code.as_deref().map(str::parse::<u64>) {
            Some(Ok(code)) => http_status(code, &field("error_code"))?,
            _ => status_of_class(class),
        };
        let budget = error_information.is_some_and(has_budget_details);
        let error_type = error_type_of(class, message.as_deref(), budget, status_code);
        Ok(Outcome {
            status_code,
            error_type: Some(error_type),
            failed,
        })
    }
}

/// Newer releases fill `error_budget_*` when a rate-limit error is really a spent budget.
fn has_budget_details(info: &Obj<'_>) -> bool {
    info.entries().any(|(key, raw)| {
        key.starts_with("error_budget_")
            && match Kind::of(raw) {
                Kind::Null => false,
                Kind::String => json::decode_str(raw).is_some_and(|text| !text.trim().is_empty()),
                _ => true,
            }
    })
}

/// The status LiteLLM's exception classes carry, for failures logged without a numeric code.
fn status_of_class(class: Option<&str>) -> u16 {
    match class {
        Some("RateLimitError") => 429,
        Some("Timeout" | "APITimeoutError") => 408,
        Some("AuthenticationError") => 401,
        Some("PermissionDeniedError") => 403,
        Some("NotFoundError") => 404,
        Some(
            "BadRequestError"
            | "ContextWindowExceededError"
            | "ContentPolicyViolationError"
            | "BudgetExceededError"
            | "UnsupportedParamsError",
        ) => 400,
        Some("UnprocessableEntityError") => 422,
        Some("ServiceUnavailableError") => 503,
        _ => 500,
    }
}

/// Specific exception classes decide; generic ones are refined from the class name and the error
/// text, then from the status. A failure whose status is not an error status is `unknown`.
fn error_type_of(class: Option<&str>, message: Option<&str>, budget: bool, status_code: u16) -> ErrorType {
    let specific = match class {
        Some("RateLimitError") | None if budget => Some(ErrorType::BudgetExceeded),
        Some("BudgetExceededError") => Some(ErrorType::BudgetExceeded),
        Some("RateLimitError") => Some(ErrorType::RateLimit),
        Some("Timeout" | "APITimeoutError") => Some(ErrorType::Timeout),
        Some("ContentPolicyViolationError") => Some(ErrorType::ContentFilter),
        Some("ContextWindowExceededError") => Some(ErrorType::ContextLength),
        Some("AuthenticationError" | "PermissionDeniedError") => Some(ErrorType::Auth),
        Some("NotFoundError") => Some(ErrorType::NotFound),
        Some("ServiceUnavailableError") => Some(ErrorType::Overloaded),
        _ => None,
    };
    specific
        .or_else(|| class.and_then(refine_error_type))
        .or_else(|| message.and_then(refine_error_type))
        .or_else(|| ErrorType::from_status(status_code))
        .unwrap_or(ErrorType::Unknown)
}

/// Spend rows store `cache_hit` as the string `"True"` / `"False"` / `""`; booleans are accepted
/// too. `None` when the row does not say.
fn spend_cache_hit(raw: Option<&RawValue>) -> Result<Option<bool>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    match Kind::of(raw) {
        Kind::String => {
            let text = json::decode_str(raw).unwrap_or_default();
            match text.trim() {
                "" => Ok(None),
                value if value.eq_ignore_ascii_case("true") => Ok(Some(true)),
                value if value.eq_ignore_ascii_case("false") => Ok(Some(false)),
                other => Err(FieldError::invalid_value(
                    "cache_hit",
                    format!("expected `True` or `False`, got `{}`", excerpt(other)),
                )),
            }
        }
        _ => json::opt_bool(Some(raw), "cache_hit"),
    }
}

// ---------------------------------------------------------------------------------------------
// Attribution
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Payload,
    SpendRow,
}

struct Attribution {
    team: String,
    project: Option<String>,
    user_id: Option<String>,
    api_key_id: Option<ApiKeyId>,
    tags: Tags,
}

impl Attribution {
    /// Key metadata first (authenticated), then the caller's tags for what the key does not say.
    fn read(obj: &Obj<'_>, metadata: &Obj<'_>, shape: Shape) -> Result<Attribution, FieldError> {
        let spend_logs_metadata = metadata.obj("spend_logs_metadata", "metadata.spend_logs_metadata")?;
        let mut tags = collect_tags(obj.raw("request_tags"), spend_logs_metadata.as_ref())?;
        let tag_team = tags.lift("team", "tags")?;
        let tag_project = tags.lift("project", "tags")?;
        let tag_user = tags.lift("user_id", "tags")?;
        // Spend-table columns; a payload has no such top-level keys.
        let column = |key: &str| match shape {
            Shape::SpendRow => obj.raw(key),
            Shape::Payload => None,
        };
        let limit = LIMITS.short_text;

        let team = first_text(
            &[
                (
                    metadata.raw("user_api_key_team_alias"),
                    "metadata.user_api_key_team_alias",
                ),
                (column("team_id"), "team_id"),
                (
                    metadata.raw("user_api_key_team_id"),
                    "metadata.user_api_key_team_id",
                ),
            ],
            limit,
        )?
        .or(tag_team)
        .unwrap_or_else(|| UNASSIGNED_TEAM.to_owned());
        let project = first_text(
            &[
                (
                    metadata.raw("user_api_key_project_alias"),
                    "metadata.user_api_key_project_alias",
                ),
                (
                    metadata.raw("user_api_key_project_id"),
                    "metadata.user_api_key_project_id",
                ),
                (metadata.raw("project_id"), "metadata.project_id"),
            ],
            limit,
        )?
        .or(tag_project);
        let user_id = first_text(
            &[
                (obj.raw("end_user"), "end_user"),
                (
                    metadata.raw("user_api_key_end_user_id"),
                    "metadata.user_api_key_end_user_id",
                ),
                (column("user"), "user"),
                (
                    metadata.raw("user_api_key_user_id"),
                    "metadata.user_api_key_user_id",
                ),
            ],
            limit,
        )?
        .or(tag_user);
        let api_key_id = api_key_id(&[
            (column("api_key"), "api_key"),
            (metadata.raw("user_api_key_hash"), "metadata.user_api_key_hash"),
            (metadata.raw("user_api_key"), "metadata.user_api_key"),
        ])?;
        Ok(Attribution {
            team,
            project,
            user_id,
            api_key_id,
            tags: tags.build()?,
        })
    }
}

/// `request_tags` entries `"k:v"` → `{k: v}`, a bare tag → `{tag: "true"}`; then the scalar
/// values of `spend_logs_metadata`, stringified (later keys win).
fn collect_tags(
    request_tags: Option<&RawValue>,
    spend_logs_metadata: Option<&Obj<'_>>,
) -> Result<TagsBuilder, FieldError> {
    let mut tags = TagsBuilder::default();
    for entry in json::opt_array(request_tags, "request_tags", "an array of strings")? {
        let Some(text) = stringify_scalar(entry) else {
            continue;
        };
        match text.split_once(':') {
            Some((key, value)) => tags.insert(key.trim(), value.trim()),
            None => tags.insert(text.trim(), "true"),
        }
    }
    if let Some(spend_logs_metadata) = spend_logs_metadata {
        tags.extend_from(spend_logs_metadata);
    }
    Ok(tags)
}

/// The first key hash or alias found; a value that looks like a raw secret rejects the record.
fn api_key_id(candidates: &[(Option<&RawValue>, &str)]) -> Result<Option<ApiKeyId>, FieldError> {
    for (raw, field) in candidates {
        if let Some(text) = text_at(*raw, field, LIMITS.short_text)? {
            return ApiKeyId::from_alias(&text).map(Some).map_err(at_native(field));
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------
// Attempt chains
// ---------------------------------------------------------------------------------------------

/// One linked row, as the chain needs it.
struct Attempt {
    row: usize,
    started: DateTime<Utc>,
    failed: bool,
    requested: Option<String>,
    model: String,
}

/// LiteLLM logs each attempt of a retry/fallback chain as its own record sharing a `trace_id`
/// (spend rows: `session_id`). Ordered by start: every row gets `attempts` = its position and
/// the earliest row's `model_group` as `model_requested`; a success after a failure of another
/// model gets `fallback_from` = the latest such model and `route = "fallback"`.
fn link_attempts(rows: &mut [Draft]) {
    let mut groups: BTreeMap<&str, Vec<Attempt>> = BTreeMap::new();
    for (row, draft) in rows.iter().enumerate() {
        if let Some(link) = &draft.link {
            groups.entry(link.group.as_str()).or_default().push(Attempt {
                row,
                started: link.started,
                failed: link.failed,
                requested: link.requested.clone(),
                model: draft.record.model.clone(),
            });
        }
    }
    let mut updates: Vec<(usize, u32, Option<String>, Option<String>)> = Vec::new();
    for mut chain in groups.into_values() {
        // Stable: attempts that started in the same microsecond keep their input order.
        chain.sort_by_key(|attempt| attempt.started);
        let requested = chain.first().and_then(|attempt| attempt.requested.clone());
        // The latest failed model, and the latest failed model other than that one: enough to
        // answer "latest earlier failure whose model differs" for any success in one pass.
        let mut latest_failure: Option<&str> = None;
        let mut latest_other_failure: Option<&str> = None;
        for (position, attempt) in chain.iter().enumerate() {
            let fallback_from = if attempt.failed {
                None
            } else if latest_failure.is_some_and(|model| model != attempt.model) {
                latest_failure
            } else {
                latest_other_failure.filter(|model| *model != attempt.model)
            };
            let attempts = u32::try_from(position.saturating_add(1)).unwrap_or(u32::MAX);
            updates.push((
                attempt.row,
                attempts,
                requested.clone(),
                fallback_from.map(str::to_owned),
            ));
            if attempt.failed && latest_failure != Some(attempt.model.as_str()) {
                latest_other_failure = latest_failure;
                latest_failure = Some(attempt.model.as_str());
            }
        }
    }
    for (row, attempts, requested, fallback_from) in updates {
        let Some(draft) = rows.get_mut(row) else {
            continue;
        };
        draft.record.attempts = attempts;
        if let Some(requested) = requested {
            draft.record.model_requested = requested;
        }
        if fallback_from.is_some() {
            draft.record.route = Some("fallback".to_owned());
            draft.record.fallback_from = fallback_from;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::ingest::golden::{EXPECTED_FIELDS, assert_golden, fixture_path, parse_fixture, record_json};
    use crate::ingest::{FormatChoice, ParsedBatch, RejectCode, parse_body};

    fn ctx() -> ParseContext {
        ParseContext {
            now: DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
                .unwrap()
                .into(),
        }
    }

    fn parse_values(records: &[Value], choice: FormatChoice) -> ParsedBatch {
        let body: Vec<String> = records.iter().map(Value::to_string).collect();
        parse_body(body.join("\n").as_bytes(), choice, &ctx()).unwrap()
    }

    fn one_record(record: Value) -> UsageRecord {
        let batch = parse_values(&[record], FormatChoice::Auto);
        assert_eq!(batch.format, Some(Source::Litellm));
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        batch.accepted.into_iter().next().unwrap().record
    }

    fn one_rejection(record: Value) -> (Option<String>, RejectCode) {
        let batch = parse_values(&[record], FormatChoice::Auto);
        assert_eq!(batch.format, Some(Source::Litellm));
        assert!(batch.accepted.is_empty());
        let rejected = batch.rejected.into_iter().next().unwrap();
        (rejected.field, rejected.code)
    }

    /// A small successful OpenAI payload; tests change what they exercise.
    fn payload() -> Value {
        json!({
            "id": "chatcmpl-unit-1",
            "trace_id": "trace-unit-1",
            "call_type": "acompletion",
            "stream": null,
            "response_cost": 0.000027,
            "response_cost_failure_debug_info": null,
            "status": "success",
            "custom_llm_provider": "openai",
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "total_tokens": 120,
            "startTime": 1795420931.412,
            "endTime": 1795420932.5,
            "completionStartTime": 1795420932.5,
            "model_map_information": {"model_map_key": "gpt-4o-mini", "model_map_value": null},
            "model": "gpt-4o-mini",
            "model_group": "gpt-4o-mini",
            "metadata": {
                "user_api_key_hash": "7f1c2e4b9a0d",
                "user_api_key_team_alias": "search",
                "user_api_key_user_id": "alice@example.com",
                "spend_logs_metadata": {"env": "prod"}
            },
            "cache_hit": null,
            "request_tags": ["feature:kb-search"],
            "end_user": "",
            "response": {
                "model": "gpt-4o-mini-2024-07-18",
                "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
            },
            "error_str": null,
            "error_information": {"error_code": "", "error_class": "", "llm_provider": "", "traceback": "", "error_message": ""},
            "hidden_params": {}
        })
    }

    fn failure(mut record: Value, code: &str, class: &str, message: &str) -> Value {
        record["status"] = json!("failure");
        record["response"] = Value::Null;
        record["prompt_tokens"] = json!(0);
        record["completion_tokens"] = json!(0);
        record["total_tokens"] = json!(0);
        record["response_cost"] = json!(0.0);
        record["error_information"] = json!({"error_code": code, "error_class": class, "llm_provider": "openai", "error_message": message});
        record
    }

    /// A small spend-table row.
    fn spend_row() -> Value {
        json!({
            "request_id": "chatcmpl-unit-row-1",
            "api_key": "19a7b5c3d1e9",
            "spend": 0.000027,
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "total_tokens": 120,
            "startTime": "2026-11-23T08:02:11.412000+00:00",
            "endTime": "2026-11-23T08:02:12.500000+00:00",
            "completionStartTime": "2026-11-23T08:02:12.500000+00:00",
            "model": "gpt-4o-mini",
            "model_group": "gpt-4o-mini",
            "custom_llm_provider": "openai",
            "user": "bob@example.com",
            "team_id": "team-uuid-1",
            "metadata": {"spend_logs_metadata": {"env": "prod"}},
            "cache_hit": "False",
            "request_tags": [],
            "end_user": "",
            "session_id": null,
            "status": "success"
        })
    }

    #[test]
    fn golden_payloads() {
        assert_golden(
            "litellm/sample.ndjson",
            "litellm/sample.expected.ndjson",
            Source::Litellm,
            (11, 11, 0),
        );
    }

    #[test]
    fn golden_spend_logs() {
        assert_golden(
            "litellm/spend_logs.json",
            "litellm/spend_logs.expected.ndjson",
            Source::Litellm,
            (7, 7, 0),
        );
    }

    #[test]
    fn mixed_formats_keep_only_the_litellm_record() {
        let batch = parse_fixture("bad/mixed_formats.json");
        assert_eq!(batch.format, Some(Source::Litellm));
        assert_eq!(
            (batch.received, batch.accepted.len(), batch.rejected.len()),
            (3, 1, 2)
        );
        for (rejected, index) in batch.rejected.iter().zip([1, 2]) {
            assert_eq!(rejected.index, index);
            assert_eq!(rejected.line, None);
            assert_eq!(rejected.field, None);
            assert_eq!(rejected.code, RejectCode::FormatMismatch);
        }
        // The LiteLLM record maps to the first row of the payload fixture's expectations.
        let expected = std::fs::read_to_string(fixture_path("litellm/sample.expected.ndjson")).unwrap();
        let want: Value = serde_json::from_str(expected.lines().next().unwrap()).unwrap();
        let got = record_json(&batch.accepted[0].record);
        for field in EXPECTED_FIELDS {
            assert_eq!(want[*field], got[*field], "{field}");
        }
    }

    #[test]
    fn datadog_entries_are_unwrapped() {
        let fixture = std::fs::read_to_string(fixture_path("litellm/sample.ndjson")).unwrap();
        let payload = fixture.lines().next().unwrap();
        let entry = json!({
            "ddsource": "litellm",
            "ddtags": "env:prod",
            "hostname": "proxy-1",
            "message": payload,
            "service": "litellm-server",
            "status": "info"
        });
        let batch = parse_body(entry.to_string().as_bytes(), FormatChoice::Auto, &ctx()).unwrap();
        assert_eq!(batch.format, Some(Source::Litellm));
        assert_eq!((batch.received, batch.accepted.len()), (1, 1));
        let record = &batch.accepted[0].record;
        assert_eq!(
            record.event_id.as_str(),
            "chatcmpl-ab11619f-4a2d-420d-bb7b-ebe6a955f9ce"
        );
        assert_eq!(record.model, "gpt-4o-mini-2024-07-18");
        assert_eq!(record.tokens.input().get(), 1250);
    }

    #[test]
    fn naive_string_timestamps_mean_utc() {
        let mut record = payload();
        record["startTime"] = json!("2026-11-23 08:02:11.412000");
        record["endTime"] = json!("2026-11-23 08:02:12.500000");
        record["completionStartTime"] = json!("2026-11-23 08:02:11.900000");
        record["stream"] = json!(true);
        let record = one_record(record);
        assert_eq!(record.ts.to_rfc3339(), "2026-11-23T08:02:11.412+00:00");
        assert!((record.latency_ms.unwrap() - 1088.0).abs() < 1e-9);
        assert!((record.ttft_ms.unwrap() - 488.0).abs() < 1e-9);
        // A numeric string is epoch seconds, as the number would be.
        let mut numeric = payload();
        numeric["startTime"] = json!("1795420931.412");
        assert_eq!(
            one_record(numeric).ts.to_rfc3339(),
            "2026-11-23T08:02:11.412+00:00"
        );
    }

    #[test]
    fn ttft_only_for_streams_and_before_the_end() {
        let mut streamed = payload();
        streamed["stream"] = json!(true);
        streamed["completionStartTime"] = json!(1795420931.912);
        assert!((one_record(streamed.clone()).ttft_ms.unwrap() - 500.0).abs() < 1e-9);
        streamed["stream"] = Value::Null;
        assert_eq!(one_record(streamed).ttft_ms, None);
        let mut ended = payload();
        ended["stream"] = json!(true);
        assert_eq!(one_record(ended).ttft_ms, None);
    }

    #[test]
    fn old_anthropic_prompt_tokens_get_the_missing_cache_writes() {
        let mut record = payload();
        record["custom_llm_provider"] = json!("anthropic");
        // Older LiteLLM: prompt_tokens = 380 uncached + 1,000 reads, without the 18,240 writes.
        record["prompt_tokens"] = json!(1380);
        record["response"]["model"] = json!("claude-sonnet-4-20250514");
        record["response"]["usage"] = json!({
            "prompt_tokens": 1380,
            "completion_tokens": 20,
            "prompt_tokens_details": {"cached_tokens": 1000, "text_tokens": 380, "cache_creation_tokens": 18240,
                "cache_creation_token_details": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 18240}},
            "cache_read_input_tokens": 1000,
            "cache_creation_input_tokens": 18240
        });
        let record = one_record(record);
        assert_eq!(record.tokens.input().get(), 19_620);
        assert_eq!(record.tokens.cached_input().get(), 1000);
        assert_eq!(record.tokens.cache_write().get(), 18_240);
        assert_eq!(record.tokens.cache_write_1h().get(), 18_240);
    }

    #[test]
    fn gemini_thoughts_not_folded_in_are_added_by_the_sum_test() {
        let mut record = payload();
        record["custom_llm_provider"] = json!("gemini");
        record["completion_tokens"] = json!(240);
        record["total_tokens"] = json!(950);
        record["response"]["usage"] =
            json!({"completion_tokens_details": {"reasoning_tokens": 610, "text_tokens": 240}});
        let record_out = one_record(record.clone());
        assert_eq!(record_out.tokens.output().get(), 850);
        assert_eq!(record_out.tokens.reasoning().get(), 610);
        // Folded (current LiteLLM): taken at face value.
        record["completion_tokens"] = json!(850);
        assert_eq!(one_record(record).tokens.output().get(), 850);
    }

    #[test]
    fn usage_falls_back_to_the_usage_object() {
        let mut record = payload();
        record["response"] = json!("redacted by litellm");
        record["hidden_params"] = json!({"usage_object": {"prompt_tokens_details": {"cached_tokens": 64}}});
        let record = one_record(record);
        assert_eq!(record.tokens.cached_input().get(), 64);
        // Without a response model, the price-map key names the model.
        assert_eq!(record.model, "gpt-4o-mini");
    }

    #[test]
    fn fallback_models_lose_their_provider_prefix() {
        let mut record = payload();
        record["response"] = Value::Null;
        record["custom_llm_provider"] = json!("bedrock");
        record["model_map_information"] = json!({"model_map_key": null});
        record["model"] = json!("bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0");
        record["model_group"] = Value::Null;
        let record = one_record(record);
        assert_eq!(record.model, "us.anthropic.claude-sonnet-4-20250514-v1:0");
        assert_eq!(
            record.model_requested,
            "us.anthropic.claude-sonnet-4-20250514-v1:0"
        );
        assert_eq!(record.provider, Provider::Bedrock);
    }

    #[test]
    fn zero_cost_is_null_unless_error_or_cache_hit() {
        let mut unpriced = payload();
        unpriced["response_cost"] = json!(0.0);
        assert_eq!(one_record(unpriced.clone()).reported_cost_usd, None);
        let mut cache_hit = unpriced.clone();
        cache_hit["id"] = json!("chatcmpl-unit-1_cache_hit1795478400.0042129");
        let cache_hit = one_record(cache_hit);
        assert!(
            cache_hit.cache_hit,
            "the id suffix marks a cache hit when `cache_hit` is null"
        );
        assert_eq!(cache_hit.reported_cost_usd, Some(Usd::ZERO));
        let debug = {
            let mut record = payload();
            record["response_cost_failure_debug_info"] = json!({"error_str": "This model isn't mapped yet."});
            record
        };
        assert_eq!(one_record(debug).reported_cost_usd, None);
        let exact = one_record(payload()).reported_cost_usd.unwrap();
        assert_eq!(exact.as_decimal().to_string(), "0.000027");
    }

    #[test]
    fn failures_map_status_and_error_type() {
        let cases = [
            ("429", "RateLimitError", "", 429, ErrorType::RateLimit),
            ("", "RateLimitError", "", 429, ErrorType::RateLimit),
            (
                "",
                "ContextWindowExceededError",
                "",
                400,
                ErrorType::ContextLength,
            ),
            (
                "400",
                "BadRequestError",
                "context_length_exceeded: too long",
                400,
                ErrorType::ContextLength,
            ),
            (
                "400",
                "BadRequestError",
                "invalid tool schema",
                400,
                ErrorType::BadRequest,
            ),
            ("", "litellm.exceptions.Timeout", "", 408, ErrorType::Timeout),
            ("503", "ServiceUnavailableError", "", 503, ErrorType::Overloaded),
            (
                "529",
                "InternalServerError",
                "overloaded_error",
                529,
                ErrorType::Overloaded,
            ),
            (
                "",
                "APIConnectionError",
                "connection reset",
                500,
                ErrorType::ServerError,
            ),
            ("", "PermissionDeniedError", "", 403, ErrorType::Auth),
            ("", "BudgetExceededError", "", 400, ErrorType::BudgetExceeded),
        ];
        for (code, class, message, status, kind) in cases {
            let record = one_record(failure(payload(), code, class, message));
            assert_eq!(record.status_code, status, "{class}");
            assert_eq!(record.error_type, Some(kind), "{class}");
            assert_eq!(
                record.reported_cost_usd,
                Some(Usd::ZERO),
                "zeros on errors are kept"
            );
        }
        let mut budget = failure(payload(), "429", "RateLimitError", "");
        budget["error_information"]["error_budget_max"] = json!(10.0);
        assert_eq!(one_record(budget).error_type, Some(ErrorType::BudgetExceeded));
        let out_of_range = failure(payload(), "0", "APIError", "");
        assert_eq!(
            one_rejection(out_of_range),
            (
                Some("error_information.error_code".to_owned()),
                RejectCode::InvalidValue
            )
        );
    }

    #[test]
    fn fallback_chains_link_attempts() {
        let mut first = failure(payload(), "429", "RateLimitError", "");
        first["id"] = json!("attempt-1");
        first["custom_llm_provider"] = json!("azure");
        first["model_map_information"] = json!({"model_map_key": "azure/gpt-4.1"});
        first["model"] = json!("gpt-4.1");
        first["model_group"] = json!("gpt-4.1");
        let mut retry = first.clone();
        retry["id"] = json!("attempt-2");
        retry["startTime"] = json!(1795420932.6);
        retry["endTime"] = json!(1795420932.9);
        let mut served = payload();
        served["id"] = json!("attempt-3");
        served["startTime"] = json!(1795420933.0);
        served["endTime"] = json!(1795420935.0);
        served["model_group"] = json!("claude-sonnet");
        served["response"]["model"] = json!("claude-sonnet-4-20250514");
        let mut unrelated = payload();
        unrelated["id"] = json!("other-trace");
        unrelated["trace_id"] = json!("trace-unit-2");
        // Out of order on purpose: the chain is ordered by start time.
        let batch = parse_values(&[served, unrelated, retry, first], FormatChoice::Auto);
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        let by_id = |id: &str| {
            batch
                .accepted
                .iter()
                .find(|row| row.record.event_id.as_str() == id)
                .map(|row| row.record.clone())
                .unwrap()
        };
        let served = by_id("attempt-3");
        assert_eq!(served.attempts, 3);
        assert_eq!(served.fallback_from.as_deref(), Some("gpt-4.1"));
        assert_eq!(served.route.as_deref(), Some("fallback"));
        assert_eq!(served.model_requested, "gpt-4.1");
        let retry = by_id("attempt-2");
        assert_eq!(
            (retry.attempts, retry.route.clone(), retry.fallback_from.clone()),
            (2, None, None)
        );
        assert_eq!(by_id("attempt-1").attempts, 1);
        let unrelated = by_id("other-trace");
        assert_eq!((unrelated.attempts, unrelated.route), (1, None));
    }

    #[test]
    fn a_retry_of_the_same_model_is_not_a_fallback() {
        let mut first = failure(payload(), "500", "InternalServerError", "");
        first["model_map_information"] = json!({"model_map_key": "gpt-4o-mini-2024-07-18"});
        let mut served = payload();
        served["id"] = json!("chatcmpl-unit-2");
        served["startTime"] = json!(1795420940.0);
        served["endTime"] = json!(1795420941.0);
        let batch = parse_values(&[first, served], FormatChoice::Auto);
        let served = &batch.accepted[1].record;
        assert_eq!(
            (
                served.attempts,
                served.fallback_from.clone(),
                served.route.clone()
            ),
            (2, None, None)
        );
    }

    #[test]
    fn tags_and_attribution() {
        let mut record = payload();
        record["request_tags"] = json!([
            "env:staging",
            "nightly-batch",
            "url:https://x.example/a",
            "project:kb"
        ]);
        record["metadata"]["spend_logs_metadata"] =
            json!({"env": "prod", "retries": 2, "beta": true, "nested": {"a": 1}});
        record["end_user"] = json!("u_1042");
        let record = one_record(record);
        let tags: Vec<(&str, &str)> = record.tags.iter().collect();
        // `spend_logs_metadata` comes after `request_tags` (its `env` wins), non-scalars are
        // skipped and the reserved `project` key is lifted out.
        assert_eq!(
            tags,
            [
                ("beta", "true"),
                ("env", "prod"),
                ("nightly-batch", "true"),
                ("retries", "2"),
                ("url", "https://x.example/a"),
            ]
        );
        assert_eq!(record.team, "search");
        assert_eq!(
            record.project.as_deref(),
            Some("kb"),
            "a `project` tag fills a gap in the key"
        );
        assert_eq!(record.user_id.as_deref(), Some("u_1042"));
        assert_eq!(record.api_key_id.unwrap().as_str(), "7f1c2e4b9a0d");
        let mut anonymous = payload();
        anonymous["metadata"] = json!({});
        let anonymous = one_record(anonymous);
        assert_eq!(
            (anonymous.team.as_str(), anonymous.user_id),
            (UNASSIGNED_TEAM, None)
        );
    }

    /// The payload with one field replaced; `path` is a `/`-separated list of object keys.
    fn changed(path: &str, value: Value) -> Value {
        let mut record = payload();
        let mut target = &mut record;
        for key in path.split('/') {
            target = &mut target[key];
        }
        *target = value;
        record
    }

    #[test]
    fn malformed_fields_name_the_native_path() {
        use RejectCode::{FieldTooLong, InvalidType, InvalidValue, MissingField};
        let cached_over_prompt = json!({"cached_tokens": 500});
        let cases = [
            ("prompt_tokens", json!(-5), "prompt_tokens", InvalidValue),
            ("completion_tokens", json!(12.5), "completion_tokens", InvalidType),
            ("id", Value::Null, "id", MissingField),
            ("startTime", json!("not-a-date"), "startTime", InvalidValue),
            ("startTime", json!(true), "startTime", InvalidType),
            ("endTime", json!(1795420900.0), "endTime", InvalidValue),
            ("response_cost", json!(-0.1), "response_cost", InvalidValue),
            ("response_cost", json!(true), "response_cost", InvalidType),
            ("status", json!("partial"), "status", InvalidValue),
            ("request_tags", json!("env:prod"), "request_tags", InvalidType),
            ("metadata", json!([1]), "metadata", InvalidType),
            (
                "metadata/user_api_key_hash",
                json!("sk-proj-abc123"),
                "metadata.user_api_key_hash",
                InvalidValue,
            ),
            (
                "response/usage/prompt_tokens_details",
                cached_over_prompt,
                "response.usage.prompt_tokens_details.cached_tokens",
                InvalidValue,
            ),
            (
                "response/usage/completion_tokens_details/reasoning_tokens",
                json!("x"),
                "response.usage.completion_tokens_details.reasoning_tokens",
                InvalidType,
            ),
            (
                "metadata/user_api_key_team_alias",
                json!("t".repeat(300)),
                "metadata.user_api_key_team_alias",
                FieldTooLong,
            ),
        ];
        for (path, value, field, code) in cases {
            assert_eq!(
                one_rejection(changed(path, value)),
                (Some(field.to_owned()), code),
                "{path}"
            );
        }
    }

    #[test]
    fn spend_rows_cache_hits_latency_and_errors() {
        let row = one_record(spend_row());
        assert_eq!(row.team, "team-uuid-1", "no alias column: the team id");
        assert_eq!(row.user_id.as_deref(), Some("bob@example.com"));
        assert_eq!(row.api_key_id.unwrap().as_str(), "19a7b5c3d1e9");
        assert!((row.latency_ms.unwrap() - 1088.0).abs() < 1e-9);
        assert_eq!(row.ttft_ms, None);

        let mut hit = spend_row();
        hit["cache_hit"] = json!("True");
        hit["spend"] = json!(0.0);
        hit["request_duration_ms"] = json!(12);
        let hit = one_record(hit);
        assert!(hit.cache_hit);
        assert_eq!(hit.reported_cost_usd, Some(Usd::ZERO));
        assert_eq!(hit.latency_ms, Some(12.0));

        let mut unpriced = spend_row();
        unpriced["spend"] = json!(0.0);
        assert_eq!(one_record(unpriced).reported_cost_usd, None);

        let mut failed = spend_row();
        failed["status"] = json!("failure");
        failed["metadata"]["error_information"] = json!({"error_code": 404, "error_class": "NotFoundError"});
        let failed = one_record(failed);
        assert_eq!(
            (failed.status_code, failed.error_type),
            (404, Some(ErrorType::NotFound))
        );

        let mut garbage = spend_row();
        garbage["cache_hit"] = json!("maybe");
        assert_eq!(
            one_rejection(garbage),
            (Some("cache_hit".to_owned()), RejectCode::InvalidValue)
        );
        let mut raw_key = spend_row();
        raw_key["api_key"] = json!("sk-live-secret");
        assert_eq!(
            one_rejection(raw_key),
            (Some("api_key".to_owned()), RejectCode::InvalidValue)
        );
    }

    #[test]
    fn spend_log_pages_and_sessions() {
        let mut failed = spend_row();
        failed["request_id"] = json!("row-1");
        failed["session_id"] = json!("session-1");
        failed["status"] = json!("failure");
        failed["model"] = json!("gpt-4.1");
        failed["model_group"] = json!("gpt-4.1");
        failed["custom_llm_provider"] = json!("azure");
        failed["metadata"]["error_information"] =
            json!({"error_code": "429", "error_class": "RateLimitError"});
        let mut served = spend_row();
        served["request_id"] = json!("row-2");
        served["session_id"] = json!("session-1");
        served["startTime"] = json!("2026-11-23T08:02:13Z");
        served["endTime"] = json!("2026-11-23T08:02:14Z");
        served["model"] = json!("claude-sonnet-4-20250514");
        served["model_group"] = json!("claude-sonnet");
        let page =
            json!({"data": [failed, served], "total": 2, "page": 1, "page_size": 50, "total_pages": 1});
        let batch = parse_body(page.to_string().as_bytes(), FormatChoice::Auto, &ctx()).unwrap();
        assert_eq!(batch.format, Some(Source::Litellm));
        assert_eq!(batch.accepted.len(), 2);
        let served = &batch.accepted[1].record;
        assert_eq!(served.fallback_from.as_deref(), Some("gpt-4.1"));
        assert_eq!((served.attempts, served.model_requested.as_str()), (2, "gpt-4.1"));
    }

    #[test]
    fn garbage_gives_errors_not_panics() {
        let bodies: [&[u8]; 8] = [
            br#"{"id": 5, "response_cost": "x", "startTime": [], "hidden_params": 1}"#,
            br#"{"request_id": {}, "spend": "abc", "api_key": 1, "startTime": "2026-13-45"}"#,
            br#"{"id": "x", "response_cost": 1e400, "startTime": 1e30, "hidden_params": {}}"#,
            br#"{"id": "x", "response_cost": 0, "startTime": -99999999999999999999, "hidden_params": {}}"#,
            br#"{"id": "x", "response_cost": 0, "startTime": 1, "hidden_params": {}, "prompt_tokens": 1, "completion_tokens": 1, "status": "failure", "error_information": {"error_code": "99999999999999999999999"}}"#,
            br#"[1, "two", null, {"id": "\u00e9\ud83d\ude00", "startTime": "\u0000"}]"#,
            br#"{"anything": "else"}"#,
            br#"{"id": "x", "response_cost": 0, "startTime": 1, "call_type": "c", "custom_llm_provider": "openai", "prompt_tokens": 1, "completion_tokens": 1, "request_tags": [":", "::", "", 5, null, {}], "model": "/"}"#,
        ];
        for body in bodies {
            for choice in [FormatChoice::Auto, FormatChoice::Forced(Source::Litellm)] {
                // Whole-body errors (unknown format) are fine; what matters is that nothing panics.
                if let Ok(batch) = parse_body(body, choice, &ctx()) {
                    assert_eq!(batch.received, batch.accepted.len() + batch.rejected.len());
                }
            }
        }
        let forced = parse_body(
            br#"{"anything": "else"}"#,
            FormatChoice::Forced(Source::Litellm),
            &ctx(),
        )
        .unwrap();
        assert_eq!(forced.rejected[0].field.as_deref(), Some("id"));
        assert_eq!(forced.rejected[0].code, RejectCode::MissingField);
    }
}
