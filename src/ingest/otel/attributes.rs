//! OTLP attributes: a `KeyValue` list read lazily ([`Attributes`]), the span → scope → resource
//! lookup a span sees ([`Layers`]), and typed reads of `AnyValue`s (text, counts, amounts,
//! seconds) whose errors name the attribute's path. Classification reads never reject.

use std::borrow::Cow;

use crate::ingest::json::RawValue;

use crate::ingest::common::{amount, non_negative, stringify_scalar};
use crate::ingest::json::{self, Obj};
use crate::ingest::reject::FieldError;
use crate::model::{LIMITS, Usd, check_len};

/// One OTLP `KeyValue` list (`key` → raw `AnyValue`) and its path, for error messages.
pub(crate) struct Attributes<'a> {
    path: String,
    entries: Vec<(Cow<'a, str>, Option<&'a RawValue>)>,
}

impl<'a> Attributes<'a> {
    /// Reads a `KeyValue` array; absent or null is empty. Values are decoded only when read.
    pub(crate) fn parse(raw: Option<&'a RawValue>, path: String) -> Result<Attributes<'a>, FieldError> {
        let mut entries = Vec::new();
        for (index, entry) in json::opt_array(raw, &path, "an array")?.into_iter().enumerate() {
            let entry_field = format!("{path}[{index}]");
            let entry = Obj::from_raw(entry)
                .ok_or_else(|| FieldError::invalid_type(&entry_field, "a key-value object"))?;
            let key_field = format!("{entry_field}.key");
            let key = json::opt_str(entry.raw("key"), &key_field)?
                .ok_or_else(|| FieldError::missing(&key_field))?;
            entries.push((key, entry.present("value")));
        }
        Ok(Attributes { path, entries })
    }

    /// `Some(value)` when the key is set (the last occurrence wins); the value may be absent.
    pub(super) fn find(&self, key: &str) -> Option<Option<&'a RawValue>> {
        self.entries
            .iter()
            .rev()
            .find(|(name, _)| name.as_ref() == key)
            .map(|(_, value)| *value)
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(key, _)| key.as_ref())
    }

    pub(super) fn with_prefix<'s>(
        &'s self,
        prefix: &'s str,
    ) -> impl Iterator<Item = (&'s str, Option<&'a RawValue>)> {
        self.entries
            .iter()
            .filter_map(move |(key, value)| key.strip_prefix(prefix).map(|rest| (rest, *value)))
    }

    pub(super) fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }
}

/// The attribute sets a span sees, innermost first: its own, its scope's, its resource's.
pub(super) struct Layers<'s, 'a> {
    pub(super) innermost_first: [&'s Attributes<'a>; 3],
}

impl<'a> Layers<'_, 'a> {
    /// The innermost attribute `key` that has a value, with its field path.
    pub(super) fn find(&self, key: &str) -> Option<(String, &'a RawValue)> {
        self.innermost_first.iter().find_map(|attributes| {
            attributes
                .find(key)
                .flatten()
                .map(|raw| (attributes.field(key), raw))
        })
    }

    pub(super) fn text(&self, key: &str, limit: usize) -> Result<Option<String>, FieldError> {
        let Some((field, raw)) = self.find(key) else {
            return Ok(None);
        };
        match any_value(raw, &field)? {
            AnyValue::Unset => Ok(None),
            AnyValue::Composite => Err(FieldError::invalid_type(&field, "a scalar value")),
            AnyValue::Scalar(inner) => {
                let text = stringify_scalar(inner)
                    .ok_or_else(|| FieldError::invalid_type(&field, "a scalar value"))?;
                if text.is_empty() {
                    return Ok(None);
                }
                check_len(&field, &text, limit)?;
                Ok(Some(text))
            }
        }
    }

    /// `keys[0] ?? keys[1] ?? …`: only an absent value falls through, a malformed one is an error.
    pub(super) fn first_text(&self, keys: &[&str], limit: usize) -> Result<Option<String>, FieldError> {
        for key in keys {
            if let Some(text) = self.text(key, limit)? {
                return Ok(Some(text));
            }
        }
        Ok(None)
    }

    /// Counts arrive as `intValue` strings or numbers, and sometimes as integral doubles.
    pub(super) fn first_count(&self, keys: &[&str]) -> Result<Option<u64>, FieldError> {
        for key in keys {
            let Some((field, raw)) = self.find(key) else {
                continue;
            };
            match any_value(raw, &field)? {
                AnyValue::Unset => {}
                AnyValue::Composite => return Err(FieldError::invalid_type(&field, "a token count")),
                AnyValue::Scalar(inner) => {
                    if let Some(count) = json::opt_count_lenient(Some(inner), &field)? {
                        return Ok(Some(count));
                    }
                }
            }
        }
        Ok(None)
    }

    /// A USD amount read from the number's decimal text, never through a float.
    pub(super) fn amount(&self, key: &str) -> Result<Option<Usd>, FieldError> {
        let Some((field, raw)) = self.find(key) else {
            return Ok(None);
        };
        match any_value(raw, &field)? {
            AnyValue::Unset => Ok(None),
            AnyValue::Composite => Err(FieldError::invalid_type(&field, "a decimal number")),
            AnyValue::Scalar(inner) => amount(Some(inner), &field),
        }
    }

    /// A non-negative duration in seconds.
    pub(super) fn seconds(&self, key: &str) -> Result<Option<f64>, FieldError> {
        let Some((field, raw)) = self.find(key) else {
            return Ok(None);
        };
        let seconds = match any_value(raw, &field)? {
            AnyValue::Unset => None,
            AnyValue::Composite => return Err(FieldError::invalid_type(&field, "a number of seconds")),
            AnyValue::Scalar(inner) => json::opt_f64_lenient(Some(inner), &field)?,
        };
        non_negative(seconds, &field)
    }
}

/// An OTLP `AnyValue`, reduced to what the ledger reads.
enum AnyValue<'a> {
    /// No value set (`{}`).
    Unset,
    /// The raw JSON inside `stringValue`, `intValue`, `doubleValue` or `boolValue`.
    Scalar(&'a RawValue),
    /// `arrayValue`, `kvlistValue` or `bytesValue`: not mapped.
    Composite,
}

fn any_value<'a>(raw: &'a RawValue, field: &str) -> Result<AnyValue<'a>, FieldError> {
    let value =
        Obj::from_raw(raw).ok_or_else(|| FieldError::invalid_type(field, "an OTLP AnyValue object"))?;
    if let Some(inner) = ["stringValue", "intValue", "doubleValue", "boolValue"]
        .into_iter()
        .find_map(|key| value.present(key))
    {
        return Ok(AnyValue::Scalar(inner));
    }
    if ["arrayValue", "kvlistValue", "bytesValue"]
        .into_iter()
        .any(|key| value.present(key).is_some())
    {
        return Ok(AnyValue::Composite);
    }
    Ok(AnyValue::Unset)
}

/// Best-effort text for classification, which must never reject.
pub(super) fn loose_text(raw: &RawValue) -> Option<String> {
    match any_value(raw, "").ok()? {
        AnyValue::Scalar(inner) => stringify_scalar(inner),
        AnyValue::Unset | AnyValue::Composite => None,
    }
}

/// A tag value: scalars as text, composites skipped (the page maps none of them).
pub(super) fn tag_text(raw: Option<&RawValue>, field: &str) -> Result<Option<String>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    match any_value(raw, field)? {
        AnyValue::Unset | AnyValue::Composite => Ok(None),
        AnyValue::Scalar(inner) => {
            let text =
                stringify_scalar(inner).ok_or_else(|| FieldError::invalid_type(field, "a scalar value"))?;
            check_len(field, &text, LIMITS.tag_value)?;
            Ok(Some(text).filter(|text| !text.is_empty()))
        }
    }
}
