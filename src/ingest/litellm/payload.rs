//! The StandardLoggingPayload shape (generic_api webhook, S3/GCS objects, custom callbacks,
//! unwrapped Datadog entries): one payload → one [`Call`]. Reads nothing the spend rows have and
//! knows nothing of other records.

use super::attribution::{Attribution, Shape};
use super::outcome::Outcome;
use super::timing::{Timing, instant};
use super::tokens::{token_usage, usage_sources};
use super::{
    Call, event_id, first_text, is_cache_hit_id, provider_of, requested_model, strip_provider_prefix,
};
use crate::ingest::common::{amount, text_at, text_field};
use crate::ingest::json::{self, Obj};
use crate::ingest::reject::FieldError;
use crate::model::{LIMITS, ServiceTier};

pub(super) fn parse_payload(obj: &Obj<'_>) -> Result<Call, FieldError> {
    let event_id = event_id(obj, "id")?;
    let metadata = obj.obj("metadata", "metadata")?.unwrap_or_default();
    let ts = instant(obj.raw("startTime"), "startTime")?.ok_or_else(|| FieldError::missing("startTime"))?;
    let streamed = json::opt_bool(obj.raw("stream"), "stream")?.unwrap_or(false);
    let end = instant(obj.raw("endTime"), "endTime")?;
    let first_chunk = instant(obj.raw("completionStartTime"), "completionStartTime")?;
    let timing = Timing::from_instants(ts, end, streamed.then_some(first_chunk).flatten(), None)?;

    let provider_name = text_field(obj, "custom_llm_provider", LIMITS.provider)?;
    // The response is read for three fields: open it once (a redacted or non-object response
    // simply has none of them).
    let response = obj.child("response").unwrap_or_default();
    let model = match text_at(response.present("model"), "response.model", LIMITS.model)? {
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

    let sources = usage_sources([
        (response.child("usage"), "response.usage"),
        (metadata.child("usage_object"), "metadata.usage_object"),
        (
            obj.child("hidden_params")
                .and_then(|hidden| hidden.child("usage_object")),
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
    // OpenAI answers which tier served the call (`default`, `flex`, `priority`); it selects the
    // catalog's tier prices. An unknown name is priced at the standard rate.
    let service_tier = json::string_at(response.present("service_tier"))
        .or_else(|| json::string_at(obj.path(&["model_parameters", "service_tier"])))
        .and_then(|name| ServiceTier::parse(&name))
        .unwrap_or_default();

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
        service_tier,
        attempt_group,
    })
}
