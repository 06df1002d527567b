//! `kong`: Kong Gateway log entries (http-log, file-log, …) carrying the AI plugins' `ai` block.
//!
//! Spec: [`shared/formats/kong.md`](../../../shared/formats/kong.md). Each AI namespace under
//! `ai` (`proxy`, legacy `ai-proxy`, `ai-request-transformer`, …) is one LLM call and becomes one
//! candidate row; the main namespace (`proxy`, else `ai-proxy`) comes first, then the others in
//! document order. An entry without an `ai` block is rejected (`invalid_value`, `no_ai_block`).
//!
//! Fields mapped: `request.id` (+ `:<namespace>` for secondary namespaces) → `event_id`,
//! `started_at` (epoch ms) → `ts`, `meta.provider_name` → `provider` (`gemini` behind a
//! `*aiplatform.googleapis.com` `service.host` → `vertex_ai`), `meta.request_model` →
//! `model_requested`, `meta.response_model` → `model`, `usage.prompt_tokens` (`prompt_token`,
//! `input_tokens`) / `usage.completion_tokens` (`completion_token`, `output_tokens`) →
//! `input_tokens` / `output_tokens`, `usage.total_tokens` (sum test only),
//! `usage.prompt_tokens_details.cached_tokens` → `cached_input_tokens`,
//! `usage.completion_tokens_details.reasoning_tokens` → `reasoning_tokens`, else the same from
//! `payload.response` (see below), `usage.cost` → `reported_cost_usd` (exact decimal text, zero is
//! not free), `latencies.request` (main) / `meta.llm_latency` (secondary) → `latency_ms`,
//! `response.status` (main; 200 for secondary namespaces with usage) → `status_code` /
//! `error_type`, `cache.cache_status == "Hit"` → `cache_hit`, `len(tries)` → `attempts` (main),
//! `consumer.custom_id` `team:<x>` (else a consumer tag `team:<x>`) → `team`, the `x-user-id`
//! request header → `user_id`, `authenticated_entity.id` → `api_key_id` (an alias; a value that
//! looks like a raw secret rejects the entry), `meta.azure_*` → tags, namespace → tag
//! `kong_plugin` on secondary rows. The attribution conventions live in [`KongConventions`].
//!
//! Fields dropped: `latencies.proxy` / `kong` / `receive`, `upstream_status`, `source`, `route`,
//! `service` (except `host`), `workspace`, `client_ip`, `request.uri` and the other headers,
//! `response.headers`, `meta.plugin_id`, `usage.time_per_token`, the audio and prediction token
//! details, the semantic-cache details other than `cache_status`, and `payload.request`.
//!
//! Token recovery: without 3.11 details, `payload.response` (a JSON string, logged only with
//! `log_payloads`) is parsed. An OpenAI-shaped body gives cache reads and reasoning, checked with
//! the sum test of `shared/formats/README.md`; a native Anthropic (`cache_read_input_tokens`,
//! `cache_creation_input_tokens`), Bedrock (`cacheReadInputTokens`, `cacheWriteInputTokens`) or
//! Gemini (`usageMetadata.thoughtsTokenCount`) body gives counts Kong's drivers drop, which are
//! added to input / output. An unparseable payload is ignored: it is never required.
//!
//! Decisions where the page says U or leaves room:
//! - Anthropic on 3.11+ (`prompt_tokens` with or without `cached_tokens`): the sum test decides
//!   (`cached_tokens > prompt_tokens` → added), otherwise face value.
//! - `UNSPECIFIED` or absent models: `model` falls back to `meta.request_model`, then `unknown`;
//!   `model_requested` falls back to `model`.
//! - A secondary namespace without `usage` keeps `response.status`.
//! - `ai.proxy` and `ai.ai-proxy` in one entry: `proxy` is the main row, `ai-proxy` a secondary.
//! - Detection: `started_at` + `latencies`, and an AI namespace or any of `tries`, `client_ip`,
//!   `upstream_uri`. The README predicate names only `tries`, which Kong's own rate-limit answers
//!   lack, so they would be `format_mismatch` instead of the `no_ai_block` the page asks for.
//! - For error statuses, the `error` object of `payload.response`, when logged, refines
//!   `error_type` (e.g. `context_length_exceeded`).

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::Adapter;
use super::common::{
    Draft, ParseContext, TagsBuilder, VERTEX_AI_HOST, amount, at_native, base_record, duration_ms,
    reported_cost, status_and_error, stringify_scalar, sum_test, text_at, ts_epoch_millis,
};
use super::json::{self, Kind, Obj};
use super::reject::{FieldError, excerpt};
use crate::model::{
    ApiKeyId, EventId, LIMITS, Provider, Source, TokenCounts, TokenUsage, UNASSIGNED_TEAM, UsageRecord,
    check_len,
};

pub(crate) struct Kong;

/// Attribution is a deployment convention, not part of Kong (`kong.md`, "Mapping rules"): which
/// consumer `custom_id` / tag prefix names the team and which request header names the user.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KongConventions {
    /// Prefix of a consumer `custom_id` or tag that names the team (`team:search`).
    pub team_prefix: &'static str,
    /// Request header holding the end user (matched case-insensitively).
    pub user_header: &'static str,
}

impl KongConventions {
    /// The conventions of the shared fixtures.
    pub(crate) const DEFAULT: KongConventions = KongConventions {
        team_prefix: "team:",
        user_header: "x-user-id",
    };
}

/// Namespaces of the main `ai-proxy` call: `proxy` in current Kong, `ai-proxy` in 3.6/3.7.
const MAIN_NAMESPACES: [&str; 2] = ["proxy", "ai-proxy"];

/// Tag naming the namespace of a secondary row.
const PLUGIN_TAG: &str = "kong_plugin";

/// Azure-only `meta` keys kept as tags.
const AZURE_META_KEYS: [&str; 3] = ["azure_instance_id", "azure_deployment_id", "azure_api_version"];

/// Keys of Kong's basic log serializer that mark an entry without AI data as Kong's.
const KONG_ENTRY_KEYS: [&str; 3] = ["tries", "client_ip", "upstream_uri"];

impl Adapter for Kong {
    fn source(&self) -> Source {
        Source::Kong
    }

    /// `started_at` + `latencies`, and an AI namespace or another key of Kong's basic serializer.
    /// `shared/formats/README.md` names only `tries` as the alternative, but an entry Kong
    /// answered itself (its own rate limiting: fixture line 5) has no balancer `tries`, and the
    /// page wants exactly that entry rejected as `no_ai_block` rather than `format_mismatch`.
    /// `client_ip` and `upstream_uri` are always serialized by Kong.
    fn detect(&self, obj: &Obj<'_>) -> bool {
        obj.has("started_at")
            && obj.has("latencies")
            && (has_ai_namespace(obj) || KONG_ENTRY_KEYS.iter().any(|key| obj.has(key)))
    }

    fn parse(&self, obj: &Obj<'_>, _ctx: &ParseContext, out: &mut Vec<Result<Draft, FieldError>>) {
        parse_entry(obj, &KongConventions::DEFAULT, out);
    }
}

/// Whether `ai` holds a child with `meta` or `usage` (key presence only, for detection).
fn has_ai_namespace(obj: &Obj<'_>) -> bool {
    obj.present("ai")
        .and_then(Obj::from_raw)
        .is_some_and(|ai| ai.entries().any(|(_, raw)| is_llm_call(raw)))
}

fn is_llm_call(raw: &RawValue) -> bool {
    Obj::from_raw(raw).is_some_and(|namespace| namespace.has("meta") || namespace.has("usage"))
}

/// Parses one Kong log entry into one candidate row per AI namespace. A problem of the entry
/// itself (no `ai` block, bad `request.id` or `started_at`) is one rejected candidate.
fn parse_entry(obj: &Obj<'_>, conventions: &KongConventions, out: &mut Vec<Result<Draft, FieldError>>) {
    let namespaces = match ai_namespaces(obj) {
        Ok(namespaces) => namespaces,
        Err(error) => {
            out.push(Err(error));
            return;
        }
    };
    let entry = match read_entry(obj, conventions) {
        Ok(entry) => entry,
        Err(error) => {
            out.push(Err(error));
            return;
        }
    };
    for namespace in &namespaces {
        out.push(parse_namespace(&entry, namespace).map(Draft::new));
    }
}

/// One AI namespace of an entry.
struct Namespace<'a> {
    name: String,
    obj: Obj<'a>,
    main: bool,
}

impl Namespace<'_> {
    /// The native path of a field inside this namespace (`ai.proxy.usage.prompt_tokens`).
    fn path(&self, field: &str) -> String {
        format!("ai.{}.{field}", excerpt(&self.name))
    }
}

/// The LLM calls of the `ai` block, main namespace first.
fn ai_namespaces<'a>(obj: &Obj<'a>) -> Result<Vec<Namespace<'a>>, FieldError> {
    let Some(raw) = obj.present("ai") else {
        return Err(FieldError::invalid_value(
            "ai",
            "no_ai_block: the entry has no `ai` block (plain API traffic, or a request Kong \
             refused before any LLM call)",
        ));
    };
    let ai = Obj::from_raw(raw).ok_or_else(|| FieldError::invalid_type("ai", "an object"))?;
    // `ai.payload` in Kong 3.6–3.9 is not a namespace: only children with `meta` or `usage` are
    // LLM calls.
    let mut namespaces: Vec<Namespace<'a>> = ai
        .entries()
        .filter(|(_, raw)| is_llm_call(raw))
        .filter_map(|(name, raw)| {
            Obj::from_raw(raw).map(|namespace| Namespace {
                name: name.to_owned(),
                obj: namespace,
                main: false,
            })
        })
        .collect();
    if namespaces.is_empty() {
        return Err(FieldError::invalid_value(
            "ai",
            "no_ai_block: the `ai` block holds no LLM call (no namespace with `meta` or `usage`)",
        ));
    }
    let main = MAIN_NAMESPACES
        .iter()
        .find_map(|main| namespaces.iter().position(|namespace| namespace.name == *main));
    if let Some(position) = main {
        let mut namespace = namespaces.remove(position);
        namespace.main = true;
        namespaces.insert(0, namespace);
    }
    Ok(namespaces)
}

/// What every row of one entry shares.
struct Entry {
    request_id: String,
    ts: DateTime<Utc>,
    response_status: Option<u64>,
    request_latency_ms: Option<f64>,
    attempts: u32,
    team: String,
    user_id: Option<String>,
    api_key_id: Option<ApiKeyId>,
    upstream_host: Option<String>,
}

fn read_entry(obj: &Obj<'_>, conventions: &KongConventions) -> Result<Entry, FieldError> {
    let request = obj.obj("request", "request")?;
    let request_id = request
        .as_ref()
        .map(|request| text_at(request.raw("id"), "request.id", LIMITS.event_id))
        .transpose()?
        .flatten()
        .ok_or_else(|| FieldError::missing("request.id"))?;
    let started_at = obj
        .present("started_at")
        .ok_or_else(|| FieldError::missing("started_at"))?;
    let ts = ts_epoch_millis(started_at, "started_at")?;
    let response_status = match obj.obj("response", "response")? {
        None => None,
        Some(response) => json::opt_count_lenient(response.raw("status"), "response.status")?,
    };
    let request_latency_ms = match obj.obj("latencies", "latencies")? {
        None => None,
        Some(latencies) => duration_ms(latencies.raw("request"), "latencies.request")?,
    };
    // An entry without balancer `tries` (or with an empty list) is one attempt.
    let tries = json::opt_array(obj.present("tries"), "tries", "an array")?;
    let attempts = u32::try_from(tries.len()).unwrap_or(u32::MAX).max(1);
    let team = team_of(obj, conventions)?.unwrap_or_else(|| UNASSIGNED_TEAM.to_owned());
    let user_id = match &request {
        None => None,
        Some(request) => user_of(request, conventions)?,
    };
    let api_key_id = match obj.obj("authenticated_entity", "authenticated_entity")? {
        None => None,
        Some(entity) => match text_at(entity.raw("id"), "authenticated_entity.id", LIMITS.short_text)? {
            None => None,
            Some(id) => Some(ApiKeyId::from_alias(&id).map_err(at_native("authenticated_entity.id"))?),
        },
    };
    // `service.host` only refines the provider (Gemini vs Vertex AI); a malformed one is not
    // worth rejecting the call for.
    let upstream_host = obj
        .path(&["service", "host"])
        .and_then(|raw| json::opt_str(Some(raw), "service.host").ok().flatten())
        .map(|host| host.to_ascii_lowercase());
    Ok(Entry {
        request_id,
        ts,
        response_status,
        request_latency_ms,
        attempts,
        team,
        user_id,
        api_key_id,
        upstream_host,
    })
}

/// The team from `consumer.custom_id` (`team:<name>`), else from a consumer tag of that form.
fn team_of(obj: &Obj<'_>, conventions: &KongConventions) -> Result<Option<String>, FieldError> {
    let Some(consumer) = obj.obj("consumer", "consumer")? else {
        return Ok(None);
    };
    let from_custom_id = text_at(consumer.raw("custom_id"), "consumer.custom_id", LIMITS.short_text)?
        .and_then(|custom_id| team_name(&custom_id, conventions));
    if let Some(team) = from_custom_id {
        return Ok(Some(team));
    }
    let tags = json::opt_array(consumer.present("tags"), "consumer.tags", "an array of strings")?;
    let team = tags
        .into_iter()
        .filter_map(|tag| json::opt_str(Some(tag), "consumer.tags").ok().flatten())
        .find_map(|tag| team_name(&tag, conventions));
    if let Some(team) = &team {
        check_len("consumer.tags", team, LIMITS.short_text)?;
    }
    Ok(team)
}

fn team_name(text: &str, conventions: &KongConventions) -> Option<String> {
    text.strip_prefix(conventions.team_prefix)
        .map(str::trim)
        .filter(|team| !team.is_empty())
        .map(str::to_owned)
}

/// The user from the configured request header; Kong logs a repeated header as an array.
fn user_of(request: &Obj<'_>, conventions: &KongConventions) -> Result<Option<String>, FieldError> {
    let Some(headers) = request.obj("headers", "request.headers")? else {
        return Ok(None);
    };
    let Some((name, raw)) = headers
        .entries()
        .find(|(name, _)| name.eq_ignore_ascii_case(conventions.user_header))
    else {
        return Ok(None);
    };
    let field = format!("request.headers.{}", excerpt(name));
    let value = match Kind::of(raw) {
        Kind::Array => json::array_elements(raw)
            .and_then(|values| values.into_iter().next())
            .and_then(|first| json::opt_str(Some(first), &field).ok().flatten())
            .map(|value| value.into_owned()),
        _ => json::opt_str(Some(raw), &field)?.map(|value| value.into_owned()),
    };
    let Some(value) = value.filter(|value| !value.is_empty()) else {
        return Ok(None);
    };
    check_len(&field, &value, LIMITS.short_text)?;
    Ok(Some(value))
}

fn parse_namespace(entry: &Entry, namespace: &Namespace<'_>) -> Result<UsageRecord, FieldError> {
    let meta = namespace.obj.obj("meta", &namespace.path("meta"))?;
    let usage = namespace.obj.obj("usage", &namespace.path("usage"))?;

    let event_id = if namespace.main {
        entry.request_id.clone()
    } else {
        format!("{}:{}", entry.request_id, namespace.name)
    };
    let event_id = EventId::new(event_id).map_err(at_native("request.id"))?;

    let meta_text = |key: &str, limit: usize| -> Result<Option<String>, FieldError> {
        match &meta {
            None => Ok(None),
            Some(meta) => text_at(meta.raw(key), &namespace.path(&format!("meta.{key}")), limit),
        }
    };
    let provider = match meta_text("provider_name", LIMITS.provider)? {
        None => Provider::Unknown,
        Some(name) => provider_of(&name, entry.upstream_host.as_deref()),
    };
    let request_model = meta_text("request_model", LIMITS.model)?.filter(|model| model != "UNSPECIFIED");
    let response_model = meta_text("response_model", LIMITS.model)?.filter(|model| model != "UNSPECIFIED");
    let model = response_model
        .or_else(|| request_model.clone())
        .unwrap_or_else(|| "unknown".to_owned());
    let model_requested = request_model.unwrap_or_else(|| model.clone());

    let tokens = match &usage {
        None => TokenUsage::default(),
        Some(usage) => namespace_tokens(namespace, usage)?,
    };
    let cost = match &usage {
        None => None,
        Some(usage) => amount(usage.raw("cost"), &namespace.path("usage.cost"))?,
    };
    let cache_hit = namespace
        .obj
        .path(&["cache", "cache_status"])
        .and_then(json::decode_str)
        .is_some_and(|status| status.eq_ignore_ascii_case("hit"));

    let status = if namespace.main || usage.is_none() {
        entry
            .response_status
            .ok_or_else(|| FieldError::missing("response.status"))?
    } else {
        200
    };
    // Only a failed call's body can refine its error type; a success's body is not read twice.
    let error_text = if status >= 400 {
        payload_error(namespace)
    } else {
        None
    };
    let (status_code, error_type) = status_and_error(status, "response.status", error_text.as_deref())?;
    let reported_cost_usd = reported_cost(cost, &tokens, status_code, cache_hit);

    let llm_latency_ms = match &meta {
        None => None,
        Some(meta) => duration_ms(meta.raw("llm_latency"), &namespace.path("meta.llm_latency"))?,
    };
    let (latency_ms, attempts) = if namespace.main {
        (entry.request_latency_ms.or(llm_latency_ms), entry.attempts)
    } else {
        (llm_latency_ms, 1)
    };

    let mut tags = TagsBuilder::default();
    if let Some(meta) = &meta {
        for key in AZURE_META_KEYS {
            if let Some(value) = meta.present(key).and_then(stringify_scalar) {
                tags.insert(key, value);
            }
        }
    }
    if !namespace.main {
        tags.insert(PLUGIN_TAG, namespace.name.clone());
    }

    Ok(UsageRecord {
        team: entry.team.clone(),
        user_id: entry.user_id.clone(),
        api_key_id: entry.api_key_id.clone(),
        tags: tags.build()?,
        model_requested,
        attempts,
        reported_cost_usd,
        latency_ms,
        status_code,
        error_type,
        cache_hit,
        ..base_record(Source::Kong, event_id, entry.ts, provider, model, tokens)
    })
}

/// Kong's `provider_name` in the canonical vocabulary; Kong's `gemini` driver also serves Vertex
/// AI, which only the upstream host tells apart.
fn provider_of(native: &str, upstream_host: Option<&str>) -> Provider {
    let is_vertex_host = upstream_host.is_some_and(|host| host.ends_with(VERTEX_AI_HOST));
    if native.trim().eq_ignore_ascii_case("gemini") && is_vertex_host {
        return Provider::VertexAi;
    }
    Provider::normalize(native)
}

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
fn namespace_tokens(namespace: &Namespace<'_>, usage: &Obj<'_>) -> Result<TokenUsage, FieldError> {
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

    if let Some(metadata) = body.present("usageMetadata").and_then(Obj::from_raw) {
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
    let usage = body.present("usage").and_then(Obj::from_raw)?;
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

/// The `error` object of a logged response body, to refine the error type of a failed call.
fn payload_error(namespace: &Namespace<'_>) -> Option<String> {
    let raw = namespace.obj.path(&["payload", "response"])?;
    let text = json::decode_str(raw)?;
    let body = Obj::parse(&text).ok()?;
    body.present("error").map(|error| error.get().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::golden::assert_golden;
    use crate::ingest::{FormatChoice, ParsedBatch, RejectCode, parse_body};
    use crate::model::ErrorType;

    fn parse(body: &str) -> ParsedBatch {
        let ctx = ParseContext {
            now: DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
                .unwrap()
                .into(),
        };
        parse_body(body.as_bytes(), FormatChoice::Forced(Source::Kong), &ctx).unwrap()
    }

    fn only_record(body: &str) -> UsageRecord {
        let batch = parse(body);
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        assert_eq!(batch.accepted.len(), 1);
        batch.accepted.into_iter().next().unwrap().record
    }

    fn only_error(body: &str) -> (Option<String>, RejectCode, String) {
        let batch = parse(body);
        assert!(batch.accepted.is_empty(), "{:?}", batch.accepted);
        assert_eq!(batch.rejected.len(), 1);
        let rejected = batch.rejected.into_iter().next().unwrap();
        (rejected.field, rejected.code, rejected.message)
    }

    /// A minimal Kong entry around an `ai` block and extra top-level fields.
    fn entry(ai: &str, extra: &str) -> String {
        format!(
            r#"{{"request":{{"id":"req1","headers":{{"X-User-Id":["u_1","u_2"]}}}},"response":{{"status":200}},"latencies":{{"request":50}},"started_at":1795422630300,"consumer":{{"custom_id":"c-17","tags":["tier:gold","team:growth"]}}{extra},"ai":{ai}}}"#
        )
    }

    #[test]
    fn golden_fixture() {
        let batch = assert_golden(
            "kong/sample.ndjson",
            "kong/sample.expected.ndjson",
            Source::Kong,
            (12, 11, 1),
        );
        let rejected = &batch.rejected[0];
        assert_eq!(rejected.line, Some(5));
        assert_eq!(rejected.code, RejectCode::InvalidValue);
        assert!(rejected.message.contains("no_ai_block"), "{}", rejected.message);
    }

    #[test]
    fn detection_needs_kong_serializer_keys() {
        let detect = |text: &str| Kong.detect(&Obj::parse(text).unwrap());
        assert!(detect(
            r#"{"started_at":1,"latencies":{},"ai":{"proxy":{"usage":{}}}}"#
        ));
        assert!(detect(
            r#"{"started_at":1,"latencies":{},"client_ip":"10.0.0.1"}"#
        ));
        assert!(detect(r#"{"started_at":null,"latencies":null,"tries":[]}"#));
        assert!(!detect(r#"{"started_at":1,"latencies":{}}"#));
        assert!(!detect(
            r#"{"started_at":1,"latencies":{},"ai":{"payload":{"request":"{}"}}}"#
        ));
    }

    #[test]
    fn conventions_from_tags_and_repeated_headers() {
        let record = only_record(&entry(
            r#"{"proxy":{"usage":{"prompt_tokens":10,"completion_tokens":2},"meta":{"provider_name":"openai","request_model":"gpt-4o","response_model":"UNSPECIFIED"}}}"#,
            "",
        ));
        assert_eq!(record.team, "growth");
        assert_eq!(record.user_id.as_deref(), Some("u_1"));
        assert_eq!(record.attempts, 1);
        assert_eq!(record.model, "gpt-4o");
        assert_eq!(record.model_requested, "gpt-4o");
        assert_eq!(record.latency_ms, Some(50.0));
        assert_eq!(record.api_key_id, None);
    }

    #[test]
    fn cached_tokens_above_the_prompt_count_are_added() {
        // Anthropic on 3.11+: 412 uncached prompt tokens and 18,240 cache reads.
        let record = only_record(&entry(
            r#"{"proxy":{"usage":{"prompt_tokens":412,"completion_tokens":498,"total_tokens":910,"prompt_tokens_details":{"cached_tokens":18240}},"meta":{"provider_name":"anthropic","request_model":"claude-sonnet-4-20250514"}}}"#,
            "",
        ));
        assert_eq!(record.tokens.input().get(), 18_652);
        assert_eq!(record.tokens.cached_input().get(), 18_240);
    }

    #[test]
    fn native_anthropic_payloads_restore_the_dropped_cache_counts() {
        let payload = r#"{\"type\":\"message\",\"usage\":{\"input_tokens\":412,\"output_tokens\":498,\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":50}}"#;
        let record = only_record(&entry(
            &format!(
                r#"{{"proxy":{{"usage":{{"prompt_tokens":412,"completion_tokens":498,"total_tokens":910}},"meta":{{"provider_name":"anthropic"}},"payload":{{"response":"{payload}"}}}}}}"#
            ),
            "",
        ));
        assert_eq!(record.tokens.input().get(), 562);
        assert_eq!(record.tokens.cached_input().get(), 100);
        assert_eq!(record.tokens.cache_write().get(), 50);
        assert_eq!(record.tokens.output().get(), 498);
    }

    #[test]
    fn gemini_thoughts_from_the_payload_and_vertex_hosts() {
        let payload = r#"{\"usageMetadata\":{\"promptTokenCount\":100,\"candidatesTokenCount\":240,\"thoughtsTokenCount\":610,\"totalTokenCount\":950}}"#;
        let record = only_record(&entry(
            &format!(
                r#"{{"proxy":{{"usage":{{"prompt_tokens":100,"completion_tokens":240}},"meta":{{"provider_name":"gemini","request_model":"gemini-2.5-pro"}},"payload":{{"response":"{payload}"}}}}}}"#
            ),
            r#","service":{"host":"us-central1-aiplatform.googleapis.com"}"#,
        ));
        assert_eq!(record.provider, Provider::VertexAi);
        assert_eq!(record.tokens.output().get(), 850);
        assert_eq!(record.tokens.reasoning().get(), 610);
    }

    #[test]
    fn unparseable_payloads_are_ignored() {
        let record = only_record(&entry(
            r#"{"proxy":{"usage":{"prompt_tokens":10,"completion_tokens":2},"meta":{"provider_name":"gemini"},"payload":{"response":"{\"usage\": trunc"}}}"#,
            "",
        ));
        assert_eq!(record.provider, Provider::Gemini);
        assert_eq!(record.tokens.output().get(), 2);
    }

    #[test]
    fn a_context_length_error_body_refines_the_error_type() {
        let payload =
            r#"{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"context_length_exceeded\"}}"#;
        let record = only_record(&format!(
            r#"{{"request":{{"id":"r"}},"response":{{"status":400}},"latencies":{{"request":5}},"started_at":1,"ai":{{"proxy":{{"usage":{{"prompt_tokens":0,"completion_tokens":0,"cost":0}},"meta":{{"provider_name":"openai"}},"payload":{{"response":"{payload}"}}}}}}}}"#
        ));
        assert_eq!(record.error_type, Some(ErrorType::ContextLength));
        assert_eq!(
            record.reported_cost_usd.map(|usd| usd.as_decimal().is_zero()),
            Some(true)
        );
    }

    #[test]
    fn raw_secrets_are_never_stored_as_api_key_ids() {
        let (field, code, _) = only_error(&entry(
            r#"{"proxy":{"usage":{"prompt_tokens":1}}}"#,
            r#","authenticated_entity":{"id":"sk-proj-abcdef123456"}"#,
        ));
        assert_eq!(
            (field.as_deref(), code),
            (Some("authenticated_entity.id"), RejectCode::InvalidValue)
        );
    }

    #[test]
    fn an_ai_block_without_llm_calls_is_no_ai_block() {
        let (field, code, message) = only_error(&entry(r#"{"payload":{"request":"{}"}}"#, ""));
        assert_eq!((field.as_deref(), code), (Some("ai"), RejectCode::InvalidValue));
        assert!(message.contains("no_ai_block"));
        let (field, code, _) = only_error(&entry("[1]", ""));
        assert_eq!((field.as_deref(), code), (Some("ai"), RejectCode::InvalidType));
    }

    #[test]
    fn bad_fields_name_the_native_path() {
        let cases = [
            (
                r#"{"proxy":{"usage":{"prompt_tokens":-1}}}"#,
                "ai.proxy.usage.prompt_tokens",
                RejectCode::InvalidValue,
            ),
            (
                r#"{"proxy":{"usage":{"completion_token":"x"}}}"#,
                "ai.proxy.usage.completion_token",
                RejectCode::InvalidType,
            ),
            (
                r#"{"proxy":{"usage":{"cost":"free"}}}"#,
                "ai.proxy.usage.cost",
                RejectCode::InvalidValue,
            ),
            (
                r#"{"proxy":{"usage":{"prompt_tokens":1},"meta":{"llm_latency":-3}}}"#,
                "ai.proxy.meta.llm_latency",
                RejectCode::InvalidValue,
            ),
            (
                r#"{"proxy":{"usage":5,"meta":{}}}"#,
                "ai.proxy.usage",
                RejectCode::InvalidType,
            ),
        ];
        for (ai, want_field, want_code) in cases {
            let (field, code, _) = only_error(&entry(ai, ""));
            assert_eq!((field.as_deref(), code), (Some(want_field), want_code), "{ai}");
        }
        let (field, code, _) = only_error(&entry(r#"{"proxy":{"usage":{}}}"#, r#","started_at":"soon""#));
        assert_eq!(
            (field.as_deref(), code),
            (Some("started_at"), RejectCode::InvalidType)
        );
        let (field, code, _) =
            only_error(r#"{"started_at":1,"latencies":{},"ai":{"proxy":{"usage":{"prompt_tokens":1}}}}"#);
        assert_eq!(
            (field.as_deref(), code),
            (Some("request.id"), RejectCode::MissingField)
        );
    }

    #[test]
    fn secondary_namespaces_without_a_main_row_keep_their_suffix() {
        let batch = parse(&entry(
            r#"{"ai-response-transformer":{"usage":{"prompt_tokens":5,"completion_tokens":1,"cost":0},"meta":{"provider_name":"openai","llm_latency":40}}}"#,
            r#","response":{"status":502}"#,
        ));
        assert_eq!(batch.accepted.len(), 1);
        let record = &batch.accepted[0].record;
        assert_eq!(record.event_id.as_str(), "req1:ai-response-transformer");
        assert_eq!(record.status_code, 200);
        assert_eq!(record.latency_ms, Some(40.0));
        assert_eq!(record.tags.get("kong_plugin"), Some("ai-response-transformer"));
        // Zero is not free: a transformer call with tokens and no configured prices.
        assert_eq!(record.reported_cost_usd, None);
    }

    #[test]
    fn garbage_gives_errors_not_panics() {
        for body in [
            r#"{"started_at":null,"latencies":null,"tries":7}"#,
            r#"{"started_at":1e400,"latencies":[],"tries":[],"ai":{"proxy":{"usage":{"prompt_tokens":1e30}}}}"#,
            r#"{"request":{"id":""},"started_at":-99999999999999999,"latencies":{},"ai":{"proxy":{"meta":[]}}}"#,
            r#"{"request":"x","started_at":1,"latencies":{"request":"fast"},"ai":{"proxy":{"usage":{}}}}"#,
            "{}",
            "[null, 1]",
        ] {
            let batch = parse(body);
            assert!(batch.accepted.is_empty(), "{body}: {:?}", batch.accepted);
        }
    }
}
