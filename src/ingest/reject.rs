//! Per-record problems. They are data returned next to the accepted records, never an `Err` of
//! the whole request (STYLE.md section 4).
//!
//! [`FieldError`] is what a parser returns for one record (a native field path, a stable
//! [`RejectCode`] and a message); [`Rejected`] is the same with the record's position, as the API
//! answers it. Messages never echo an oversized value in full ([`excerpt`]).

use std::fmt;

use serde::Serialize;

use crate::model::RecordError;

/// Stable reason codes of a rejected record (`shared/formats/canonical.md`, "Validation errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    InvalidJson,
    InvalidUtf8,
    MissingField,
    InvalidType,
    InvalidValue,
    FieldTooLong,
    UnknownField,
    FormatMismatch,
    /// The record's `ts` is before the retention cutoff: the ledger no longer keeps that period.
    Expired,
}

impl RejectCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectCode::InvalidJson => "invalid_json",
            RejectCode::InvalidUtf8 => "invalid_utf8",
            RejectCode::MissingField => "missing_field",
            RejectCode::InvalidType => "invalid_type",
            RejectCode::InvalidValue => "invalid_value",
            RejectCode::FieldTooLong => "field_too_long",
            RejectCode::UnknownField => "unknown_field",
            RejectCode::FormatMismatch => "format_mismatch",
            RejectCode::Expired => "expired",
        }
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with one record: which field (a dotted path in the native format, or `None` for
/// the whole record), a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Option<String>,
    pub code: RejectCode,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: RejectCode, message: impl Into<String>) -> FieldError {
        FieldError {
            field: Some(field.into()),
            code,
            message: message.into(),
        }
    }

    pub fn record(code: RejectCode, message: impl Into<String>) -> FieldError {
        FieldError {
            field: None,
            code,
            message: message.into(),
        }
    }

    pub fn missing(field: &str) -> FieldError {
        FieldError::new(field, RejectCode::MissingField, format!("`{field}` is required"))
    }

    pub fn invalid_type(field: &str, expected: &str) -> FieldError {
        FieldError::new(field, RejectCode::InvalidType, format!("expected {expected}"))
    }

    pub fn invalid_value(field: &str, message: impl Into<String>) -> FieldError {
        FieldError::new(field, RejectCode::InvalidValue, message)
    }
}

impl From<RecordError> for FieldError {
    fn from(error: RecordError) -> FieldError {
        let code = match error {
            RecordError::TooLong { .. } => RejectCode::FieldTooLong,
            RecordError::Invalid { .. } => RejectCode::InvalidValue,
        };
        FieldError::new(error.field().to_owned(), code, error.to_string())
    }
}

/// A rejected candidate row: its 0-based position among the body's records, its 1-based physical
/// line (`None` inside a JSON array) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Rejected {
    /// 0-based position of the record among the body's records (blank lines are not records).
    pub index: usize,
    /// 1-based physical line of the record; null for the elements of a JSON array.
    pub line: Option<usize>,
    /// The field at fault, as a dotted path in the sent format; null when the whole record is.
    pub field: Option<String>,
    pub code: RejectCode,
    pub message: String,
}

/// Shortens a value for an error message: never echo an oversized value in full.
pub(crate) fn excerpt(value: &str) -> String {
    const MAX_CHARS: usize = 64;
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}
