//! One AI namespace of a Kong entry → one record: model, provider, tokens, cost, status, latency
//! and tags of that LLM call, on top of what the [`Entry`] shares. A failed call's logged
//! `payload.response` may refine its error type.

use super::entry::Entry;
use super::tokens::namespace_tokens;
use super::{AZURE_META_KEYS, Namespace, PLUGIN_TAG};
use crate::ingest::common::{
    TagsBuilder, VERTEX_AI_HOST, amount, at_native, base_record, duration_ms, reported_cost,
    status_and_error, stringify_scalar, text_at,
};
use crate::ingest::json::{self, Obj};
use crate::ingest::reject::FieldError;
use crate::model::{ErrorType, EventId, LIMITS, Provider, Source, TokenUsage, UsageRecord};

pub(super) fn parse_namespace(entry: &Entry, namespace: &Namespace<'_>) -> Result<UsageRecord, FieldError> {
    let meta = namespace.obj.obj("meta", &namespace.path("meta"))?;
    let usage = namespace.obj.obj("usage", &namespace.path("usage"))?;

    let event_id = if namespace.main {
        entry.request_id.clone()
    } else {
        format!("{}:{}", entry.request_id, namespace.name)
    };
    let event_id = EventId::new(event_id).map_err(at_native("request.id"))?;

    let (provider, model, model_requested) =
        provider_and_models(namespace, meta.as_ref(), entry.upstream_host.as_deref())?;

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

    let (status_code, error_type) = status_of(entry, namespace, usage.is_some())?;
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

    Ok(UsageRecord {
        team: entry.team.clone(),
        user_id: entry.user_id.clone(),
        api_key_id: entry.api_key_id.clone(),
        tags: tags_of(namespace, meta.as_ref()).build()?,
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

/// The provider, the served model and the requested model of one namespace, from its `meta`.
/// Kong writes `UNSPECIFIED` when it does not know a model, which counts as absent.
fn provider_and_models(
    namespace: &Namespace<'_>,
    meta: Option<&Obj<'_>>,
    upstream_host: Option<&str>,
) -> Result<(Provider, String, String), FieldError> {
    let meta_text = |key: &str, limit: usize| -> Result<Option<String>, FieldError> {
        match meta {
            None => Ok(None),
            Some(meta) => text_at(meta.raw(key), &namespace.path(&format!("meta.{key}")), limit),
        }
    };
    let provider = match meta_text("provider_name", LIMITS.provider)? {
        None => Provider::Unknown,
        Some(name) => provider_of(&name, upstream_host),
    };
    let request_model = meta_text("request_model", LIMITS.model)?.filter(|model| model != "UNSPECIFIED");
    let response_model = meta_text("response_model", LIMITS.model)?.filter(|model| model != "UNSPECIFIED");
    let model = response_model
        .or_else(|| request_model.clone())
        .unwrap_or_else(|| "unknown".to_owned());
    let model_requested = request_model.unwrap_or_else(|| model.clone());
    Ok((provider, model, model_requested))
}

/// The status of one namespace's call: the entry's `response.status` for the main namespace (and
/// for a secondary one without `usage`), else 200; a failed call's logged body refines the error
/// type.
fn status_of(
    entry: &Entry,
    namespace: &Namespace<'_>,
    has_usage: bool,
) -> Result<(u16, Option<ErrorType>), FieldError> {
    let status = if namespace.main || !has_usage {
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
    status_and_error(status, "response.status", error_text.as_deref())
}

/// The Azure `meta` keys, and the namespace of a secondary row as `kong_plugin`.
fn tags_of(namespace: &Namespace<'_>, meta: Option<&Obj<'_>>) -> TagsBuilder {
    let mut tags = TagsBuilder::default();
    if let Some(meta) = meta {
        for key in AZURE_META_KEYS {
            if let Some(value) = meta.present(key).and_then(stringify_scalar) {
                tags.insert(key, value);
            }
        }
    }
    if !namespace.main {
        tags.insert(PLUGIN_TAG, namespace.name.clone());
    }
    tags
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

/// The `error` object of a logged response body, to refine the error type of a failed call.
fn payload_error(namespace: &Namespace<'_>) -> Option<String> {
    let raw = namespace.obj.path(&["payload", "response"])?;
    let text = json::decode_str(raw)?;
    let body = Obj::parse(&text).ok()?;
    body.present("error").map(|error| error.get().to_owned())
}
