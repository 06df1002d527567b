//! `kong`: Kong Gateway log entries (http-log, file-log, …) carrying the AI plugins' `ai` block.
//!
//! Spec: [`shared/formats/kong.md`](../../../../shared/formats/kong.md). Each AI namespace under
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
//!
//! Layout: this file holds the [`Adapter`] impl, detection and the split of an entry into its AI
//! namespaces; [`entry`] reads what every row of an entry shares (request id, time, status,
//! attribution), [`namespace`] turns one namespace into a record and [`tokens`] reads its counts,
//! recovering from `payload.response` what Kong's drivers drop. Nothing here writes, prices, or
//! panics on any input.

mod entry;
mod namespace;
#[cfg(test)]
mod tests;
mod tokens;

use crate::ingest::json::RawValue;

use super::Adapter;
use super::common::{Draft, ParseContext};
use super::json::Obj;
use super::reject::{FieldError, excerpt};
use crate::model::Source;

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
pub(super) const PLUGIN_TAG: &str = "kong_plugin";

/// Azure-only `meta` keys kept as tags.
pub(super) const AZURE_META_KEYS: [&str; 3] =
    ["azure_instance_id", "azure_deployment_id", "azure_api_version"];

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
    obj.child("ai")
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
    let entry = match entry::read_entry(obj, conventions) {
        Ok(entry) => entry,
        Err(error) => {
            out.push(Err(error));
            return;
        }
    };
    for namespace in &namespaces {
        out.push(namespace::parse_namespace(&entry, namespace).map(Draft::new));
    }
}

/// One AI namespace of an entry.
pub(super) struct Namespace<'a> {
    pub(super) name: String,
    pub(super) obj: Obj<'a>,
    pub(super) main: bool,
}

impl Namespace<'_> {
    /// The native path of a field inside this namespace (`ai.proxy.usage.prompt_tokens`).
    pub(super) fn path(&self, field: &str) -> String {
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
