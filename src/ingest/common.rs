//! Coercions and types every adapter shares. The second time an adapter needs a conversion, it
//! moves here (STYLE.md section 12).

use chrono::{DateTime, Utc};

use super::json::{self, Obj};
use super::reject::FieldError;
use crate::model::{UsageRecord, check_len};

/// A candidate row as an adapter produces it: the record, plus how it links to the other calls of
/// the same logical request when the format only says so across records (LiteLLM logs each
/// attempt of a fallback chain separately).
// `link` is read by the adapters of formats that log attempts separately (issue 4).
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub record: UsageRecord,
    pub link: Option<AttemptLink>,
}

impl Draft {
    pub(crate) fn new(record: UsageRecord) -> Draft {
        Draft { record, link: None }
    }
}

/// One attempt of a logical request that spans several log records.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub(crate) struct AttemptLink {
    /// Groups the attempts (LiteLLM's `trace_id`).
    pub group: String,
    /// Orders the attempts.
    pub started: DateTime<Utc>,
    pub failed: bool,
    /// What the caller asked for, as this attempt recorded it.
    pub requested: Option<String>,
}

/// Reads an optional string field within a length limit; empty strings count as absent.
pub(crate) fn text_field(obj: &Obj<'_>, field: &str, limit: usize) -> Result<Option<String>, FieldError> {
    text_at(obj.raw(field), field, limit)
}

/// Like [`text_field`] for a raw value found elsewhere (a nested path).
pub(crate) fn text_at(
    raw: Option<&serde_json::value::RawValue>,
    field: &str,
    limit: usize,
) -> Result<Option<String>, FieldError> {
    let Some(text) = json::opt_str(raw, field)? else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(None);
    }
    check_len(field, &text, limit)?;
    Ok(Some(text.into_owned()))
}
