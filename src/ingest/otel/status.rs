//! The outcome of one span: `error.type`, the span `status` and SDK error messages → HTTP status
//! and error type. In: the span and its attribute [`Layers`]; out: `(status_code, error_type)`.

use crate::ingest::json::RawValue;

use super::attributes::Layers;
use crate::ingest::common::{refine_error_type, status_and_error};
use crate::ingest::json::{self, Kind, Obj};
use crate::ingest::reject::{FieldError, excerpt};
use crate::model::{ErrorType, LIMITS};

/// `error.type` or an error span status marks a failed call; its HTTP status comes from
/// `error.type` (a number or an SDK exception name), else from `Error code: NNN` in the status
/// message, else it is an unclassified 500.
pub(super) fn status_and_error_type(
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
