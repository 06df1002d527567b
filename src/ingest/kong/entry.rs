//! What every row of one Kong entry shares: `request.id`, `started_at`, `response.status`,
//! `latencies.request`, `tries`, and the attribution the deployment's [`KongConventions`] read
//! from the consumer, the request headers and `authenticated_entity`.

use chrono::{DateTime, Utc};

use super::KongConventions;
use crate::ingest::common::{at_native, duration_ms, text_at, ts_epoch_millis};
use crate::ingest::json::{self, Kind, Obj};
use crate::ingest::reject::{FieldError, excerpt};
use crate::model::{ApiKeyId, LIMITS, UNASSIGNED_TEAM, check_len};

/// What every row of one entry shares.
pub(super) struct Entry {
    pub(super) request_id: String,
    pub(super) ts: DateTime<Utc>,
    pub(super) response_status: Option<u64>,
    pub(super) request_latency_ms: Option<f64>,
    pub(super) attempts: u32,
    pub(super) team: String,
    pub(super) user_id: Option<String>,
    pub(super) api_key_id: Option<ApiKeyId>,
    pub(super) upstream_host: Option<String>,
}

pub(super) fn read_entry(obj: &Obj<'_>, conventions: &KongConventions) -> Result<Entry, FieldError> {
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
