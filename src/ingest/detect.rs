//! Envelopes and format detection (`shared/formats/README.md`, "Auto-detection").
//!
//! Detection runs once per body on the first record that parses as a JSON object, after
//! envelopes are unwrapped, and tries the adapters of [`super::ADAPTERS`] in order: the first
//! whose predicate matches names the format of the whole body. Predicates test for the presence
//! of keys only, never for valid values.

use std::borrow::Cow;

use super::json::{self, Kind, Obj};
use super::{ADAPTERS, Adapter};

/// Unwraps a document-level envelope that wraps one record in a string (the Datadog log entry of
/// LiteLLM's datadog logger): returns the inner text when `obj` is such an envelope.
pub(crate) fn unwrap_text_envelope<'a>(obj: &Obj<'a>) -> Option<Cow<'a, str>> {
    let message = obj.raw("message")?;
    if obj.has("ddsource") && Kind::of(message) == Kind::String {
        return json::decode_str(message);
    }
    None
}

/// Unwraps document-level envelopes that hold several records (Cloudflare `result`, Helicone
/// `data` + `error`, LiteLLM spend-log pages) or one (OpenRouter `data` object). Returns the
/// document itself when it is no envelope.
pub(crate) fn unwrap_envelope<'a>(obj: Obj<'a>) -> Vec<Obj<'a>> {
    if let Some(elements) = envelope_array(&obj) {
        return elements;
    }
    if let Some(data) = obj.present("data")
        && Kind::of(data) == Kind::Object
        && obj.keys().all(|key| key == "data")
        && let Some(inner) = Obj::from_raw(data)
    {
        return vec![inner];
    }
    vec![obj]
}

fn envelope_array<'a>(obj: &Obj<'a>) -> Option<Vec<Obj<'a>>> {
    let cloudflare =
        obj.has("result") && (obj.has("result_info") || (obj.has("success") && obj.has("errors")));
    let key = if cloudflare {
        "result"
    } else if obj.has("data") && (obj.has("error") || is_spend_log_page(obj)) {
        "data"
    } else {
        return None;
    };
    let raw = obj.present(key)?;
    if Kind::of(raw) != Kind::Array {
        return None;
    }
    let elements = json::array_elements(raw)?;
    Some(elements.into_iter().filter_map(Obj::from_raw).collect())
}

fn is_spend_log_page(obj: &Obj<'_>) -> bool {
    let Some(raw) = obj.present("data") else {
        return false;
    };
    let Some(elements) = json::array_elements(raw) else {
        return false;
    };
    elements
        .first()
        .and_then(|first| Obj::from_raw(first))
        .is_some_and(|first| first.has("spend") && first.has("request_id"))
}

/// Returns the first adapter whose predicate matches the record.
pub(crate) fn detect(obj: &Obj<'_>) -> Option<&'static dyn Adapter> {
    ADAPTERS.iter().copied().find(|adapter| adapter.detect(obj))
}
