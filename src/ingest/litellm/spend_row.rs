//! The `LiteLLM_SpendLogs` row shape (`/spend/logs` arrays, `{data: […]}` pages, NDJSON): one row
//! → one [`Call`]. Rows carry no response object and no `stream` flag, and write `cache_hit` as
//! text; those quirks live here.

use crate::ingest::json::RawValue;

use super::attribution::{Attribution, Shape};
use super::outcome::Outcome;
use super::timing::{Timing, instant};
use super::tokens::{token_usage, usage_sources};
use super::{
    Call, event_id, first_text, is_cache_hit_id, provider_of, requested_model, strip_provider_prefix,
};
use crate::ingest::common::{amount, text_field};
use crate::ingest::json::{self, Kind, Obj};
use crate::ingest::reject::{FieldError, excerpt};
use crate::model::{LIMITS, ServiceTier};

pub(super) fn parse_spend_row(obj: &Obj<'_>) -> Result<Call, FieldError> {
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

    let sources = usage_sources([
        (
            metadata.child("additional_usage_values"),
            "metadata.additional_usage_values",
        ),
        (metadata.child("usage_object"), "metadata.usage_object"),
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
        service_tier: ServiceTier::Standard,
        attempt_group,
    })
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
