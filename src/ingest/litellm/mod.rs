//! `litellm`: LiteLLM proxy logs, in both shapes a proxy emits, mapped to `source = litellm`.
//!
//! Spec: [`shared/formats/litellm.md`](../../../../shared/formats/litellm.md).
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
//!
//! Layout: this file holds the [`Adapter`] impl, shape detection, the [`Call`] both shapes read
//! into, and the identity/model/provider helpers they share. [`payload`] and [`spend_row`] read
//! one shape each; [`timing`], [`tokens`], [`outcome`] and [`attribution`] read one concept from
//! either; [`attempts`] links the rows of one retry/fallback chain across records. Nothing here
//! writes, prices, or panics on any input.

mod attempts;
mod attribution;
mod outcome;
mod payload;
mod spend_row;
#[cfg(test)]
mod tests;
mod timing;
mod tokens;

use crate::ingest::json::RawValue;
use chrono::{DateTime, Utc};

use self::attribution::Attribution;
use self::outcome::Outcome;
use self::timing::Timing;
use super::Adapter;
use super::common::{
    AttemptLink, Draft, ParseContext, at_native, base_record, reported_cost, text_at, text_field,
};
use super::json::{self, Obj};
use super::reject::FieldError;
use crate::model::{EventId, LIMITS, Provider, ServiceTier, Source, TokenUsage, UsageRecord, Usd};

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
            spend_row::parse_spend_row(obj)
        } else {
            payload::parse_payload(obj)
        };
        out.push(call.map(Call::into_draft));
    }

    fn finish_batch(&self, rows: &mut [Draft]) {
        attempts::link_attempts(rows);
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
    /// The provider service tier that served the call (`response.service_tier`), when logged.
    service_tier: ServiceTier,
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
            service_tier: self.service_tier,
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
