//! A lazy, borrowed view of one JSON object, and typed readers that turn its fields into values
//! or [`FieldError`]s naming the field.
//!
//! Why lazy: native gateway payloads are large (messages, metadata, price blobs) and the ledger
//! reads a few dozen fields. [`Obj`] keeps each value as a borrowed [`RawValue`] (validated but
//! not materialised), so untouched parts cost a scan, not an allocation. The scan is
//! [`scan`]'s single pass; serde_json decides whatever that pass leaves to it (errors, deep
//! nesting), so both give the same result. It also keeps the exact
//! text of numbers, which is how costs written as binary floats (`0.07722000000000001`) are read
//! into decimals without passing through `f64`.
//!
//! Duplicate keys: the last occurrence wins, as with `serde_json::Value`.
//!
//! Readers: `opt_*` read one field strictly (`opt_count`, `opt_str`, `opt_decimal`, …) or
//! leniently for native formats that quote numbers (`opt_count_lenient`, `opt_f64_lenient`);
//! [`opt_array`] / [`array_elements`] borrow array elements; [`string_at`] reads a string for
//! detection without ever failing. No reader panics, and none knows a gateway: field names come
//! from the caller, so every error names the path the caller was reading.

use std::borrow::Cow;
use std::fmt;
use std::rc::Rc;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use super::reject::{FieldError, RejectCode, excerpt};
use crate::model::parse_decimal_text;

mod scan;

/// The exact text of one valid JSON value, borrowed from the record. Only a validating parse
/// makes one: [`Obj::parse`], [`array_elements`], or serde_json (through `Deserialize`).
#[repr(transparent)]
pub(crate) struct RawValue(str);

impl RawValue {
    pub(crate) fn get(&self) -> &str {
        &self.0
    }

    /// Views text that a validating parse has accepted as one JSON value.
    fn from_valid(json: &str) -> &RawValue {
        // SAFETY: `RawValue` is `repr(transparent)` over `str`, so the pointer cast keeps the
        // layout and the lifetime of the borrowed text.
        unsafe { &*(std::ptr::from_ref::<str>(json) as *const RawValue) }
    }

    /// An owned copy, for a value kept past its record.
    pub(crate) fn to_boxed(&self) -> Box<RawValue> {
        let text: Box<str> = self.0.into();
        // SAFETY: as in `from_valid`, for the owning pointer of the same layout.
        unsafe { Box::from_raw(Box::into_raw(text) as *mut RawValue) }
    }

    /// Views a value serde_json has parsed.
    pub(crate) fn of_serde(raw: &serde_json::value::RawValue) -> &RawValue {
        RawValue::from_valid(raw.get())
    }
}

impl<'de> Deserialize<'de> for Box<RawValue> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <Box<serde_json::value::RawValue>>::deserialize(deserializer)
            .map(|raw| RawValue::of_serde(&raw).to_boxed())
    }
}

impl fmt::Debug for RawValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for &'a RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&serde_json::value::RawValue>::deserialize(deserializer).map(RawValue::of_serde)
    }
}

/// The JSON type of a raw value, read from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    pub(crate) fn of(raw: &RawValue) -> Kind {
        match raw.get().as_bytes().first() {
            Some(b'n') => Kind::Null,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'"') => Kind::String,
            Some(b'[') => Kind::Array,
            Some(b'{') => Kind::Object,
            _ => Kind::Number,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// One JSON object whose values are kept raw until read. Cloning one (as [`Obj::child`] does)
/// shares its entries instead of copying them.
#[derive(Clone, Default)]
pub(crate) struct Obj<'a> {
    entries: Rc<[Entry<'a>]>,
}

/// One key and its value.
#[derive(Clone)]
struct Entry<'a> {
    key: Cow<'a, str>,
    raw: &'a RawValue,
    /// The value as an object, when it is one and was parsed in the same pass as this entry's
    /// object. `None` when serde_json parsed it; [`Obj::child`] then parses on demand.
    child: Option<Obj<'a>>,
}

impl fmt::Debug for Obj<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|entry| &entry.key))
            .finish()
    }
}

impl<'a> Obj<'a> {
    /// Parses text that must hold exactly one JSON object.
    pub(crate) fn parse(text: &'a str) -> Result<Obj<'a>, serde_json::Error> {
        if let Some(obj) = scan::object(text) {
            return Ok(obj);
        }
        let entries = serde_json::from_str::<Entries<'a>>(text)?.0;
        Ok(Obj {
            entries: entries
                .into_iter()
                .map(|(key, raw)| Entry {
                    key,
                    raw,
                    child: None,
                })
                .collect(),
        })
    }

    /// Views a raw value as an object, or `None` when it is not one.
    pub(crate) fn from_raw(raw: &'a RawValue) -> Option<Obj<'a>> {
        if Kind::of(raw) != Kind::Object {
            return None;
        }
        Obj::parse(raw.get()).ok()
    }

    pub(crate) fn raw(&self, key: &str) -> Option<&'a RawValue> {
        self.entries
            .iter()
            .rev()
            .find(|entry| entry.key == key)
            .map(|entry| entry.raw)
    }

    /// Returns the raw value unless it is absent or `null`.
    pub(crate) fn present(&self, key: &str) -> Option<&'a RawValue> {
        self.raw(key).filter(|raw| Kind::of(raw) != Kind::Null)
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|entry| entry.key.as_ref())
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, &'a RawValue)> {
        self.entries.iter().map(|entry| (entry.key.as_ref(), entry.raw))
    }

    /// The object at `key` when the parse of this one already holds it.
    fn parsed_child(&self, key: &str) -> Option<&Obj<'a>> {
        self.entries
            .iter()
            .rev()
            .find(|entry| entry.key == key)?
            .child
            .as_ref()
    }

    /// The object at `key`; `None` when it is absent, null or not an object.
    pub(crate) fn child(&self, key: &str) -> Option<Obj<'a>> {
        match self.parsed_child(key) {
            Some(child) => Some(child.clone()),
            None => Obj::from_raw(self.present(key)?),
        }
    }

    /// Follows a path of nested objects (`["usage", "prompt_tokens"]`); `None` when any step is
    /// absent, null or not an object.
    pub(crate) fn path(&self, path: &[&str]) -> Option<&'a RawValue> {
        match path {
            [] => None,
            [last] => self.present(last),
            [first, rest @ ..] => match self.parsed_child(first) {
                Some(child) => child.path(rest),
                None => Obj::from_raw(self.present(first)?)?.path(rest),
            },
        }
    }

    /// Returns the nested object at `key`, or an error when it is something else.
    pub(crate) fn obj(&self, key: &str, field: &str) -> Result<Option<Obj<'a>>, FieldError> {
        match self.present(key) {
            None => Ok(None),
            Some(_) => self
                .child(key)
                .map(Some)
                .ok_or_else(|| FieldError::invalid_type(field, "an object")),
        }
    }
}

/// The entries of an object, borrowed from the input text.
struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Entries(entries))
    }
}

/// An object key, borrowed unless it contains escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(value)))
            }
            fn visit_str<E>(self, value: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(value.to_owned())))
            }
            fn visit_string<E>(self, value: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(value)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Decodes a raw JSON string, borrowing when it holds no escapes.
pub(crate) fn decode_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text).ok().map(Cow::Owned)
}

/// Reads a string without ever failing: `None` when absent or not a string. For detection
/// predicates, which test the shape of a record and must never reject it.
pub(crate) fn string_at(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    raw.and_then(decode_str)
}

/// Returns the elements of a JSON array, borrowed; `None` when the value is not an array.
pub(crate) fn array_elements(raw: &RawValue) -> Option<Vec<&RawValue>> {
    if Kind::of(raw) != Kind::Array {
        return None;
    }
    scan::array_elements(raw.get()).or_else(|| serde_json::from_str(raw.get()).ok())
}

/// Reads an optional array: absent or null is empty (OTLP/JSON and Kong omit empty lists).
///
/// # Errors
/// `invalid_type` with `expected` (`"an array of strings"`) for any other value.
pub(crate) fn opt_array<'a>(
    raw: Option<&'a RawValue>,
    field: &str,
    expected: &str,
) -> Result<Vec<&'a RawValue>, FieldError> {
    match raw {
        None => Ok(Vec::new()),
        Some(raw) if Kind::of(raw) == Kind::Null => Ok(Vec::new()),
        Some(raw) => array_elements(raw).ok_or_else(|| FieldError::invalid_type(field, expected)),
    }
}

/// Reads a string; `None` when absent or null.
pub(crate) fn opt_str<'a>(
    raw: Option<&'a RawValue>,
    field: &str,
) -> Result<Option<Cow<'a, str>>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    match Kind::of(raw) {
        Kind::Null => Ok(None),
        Kind::String => decode_str(raw)
            .map(Some)
            .ok_or_else(|| FieldError::invalid_type(field, "a string")),
        other => Err(type_error(field, "a string", other)),
    }
}

/// Reads a non-negative integer strictly: strings, fractions and exponents are type errors,
/// negative values are value errors. The upper bound is `i64::MAX`, what DuckDB's BIGINT holds.
pub(crate) fn opt_count(raw: Option<&RawValue>, field: &str) -> Result<Option<u64>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    match Kind::of(raw) {
        Kind::Null => Ok(None),
        Kind::Number => parse_count_text(raw.get(), field).map(Some),
        other => Err(type_error(field, "a non-negative integer", other)),
    }
}

/// Reads a non-negative integer leniently, for native formats that write counts as strings
/// (`"123"`) or as integral floats (`12.0`).
pub(crate) fn opt_count_lenient(raw: Option<&RawValue>, field: &str) -> Result<Option<u64>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    match Kind::of(raw) {
        Kind::Null => Ok(None),
        Kind::Number => parse_count_lenient(raw.get(), field).map(Some),
        Kind::String => {
            let text = decode_str(raw).unwrap_or_default();
            if text.trim().is_empty() {
                return Ok(None);
            }
            parse_count_lenient(text.trim(), field).map(Some)
        }
        other => Err(type_error(field, "a non-negative integer", other)),
    }
}

fn parse_count_text(text: &str, field: &str) -> Result<u64, FieldError> {
    if text.contains(['.', 'e', 'E']) {
        return Err(FieldError::new(
            field,
            RejectCode::InvalidType,
            format!("expected a non-negative integer, got `{}`", excerpt(text)),
        ));
    }
    match text.parse::<i128>() {
        Ok(value) if value < 0 => Err(FieldError::invalid_value(
            field,
            format!("must not be negative, got `{}`", excerpt(text)),
        )),
        Ok(value) if value <= i128::from(i64::MAX) => Ok(value as u64),
        _ => Err(FieldError::new(
            field,
            RejectCode::InvalidType,
            format!("expected an integer in range, got `{}`", excerpt(text)),
        )),
    }
}

fn parse_count_lenient(text: &str, field: &str) -> Result<u64, FieldError> {
    if !text.contains(['.', 'e', 'E']) {
        return parse_count_text(text, field);
    }
    let value =
        parse_decimal_text(text).map_err(|_| FieldError::invalid_type(field, "a non-negative integer"))?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(FieldError::invalid_value(
            field,
            format!("must not be negative, got `{}`", excerpt(text)),
        ));
    }
    if !value.fract().is_zero() {
        return Err(FieldError::new(
            field,
            RejectCode::InvalidType,
            format!("expected a whole number, got `{}`", excerpt(text)),
        ));
    }
    rust_decimal::prelude::ToPrimitive::to_u64(&value.trunc())
        .filter(|count| *count <= i64::MAX as u64)
        .ok_or_else(|| FieldError::invalid_type(field, "an integer in range"))
}

/// Reads an integer that may be negative, for native fields such as epoch times.
pub(crate) fn opt_i64(raw: Option<&RawValue>, field: &str) -> Result<Option<i64>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    match Kind::of(raw) {
        Kind::Null => Ok(None),
        Kind::Number => raw
            .get()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| FieldError::invalid_type(field, "an integer")),
        Kind::String => {
            let text = decode_str(raw).unwrap_or_default();
            text.trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| FieldError::invalid_type(field, "an integer"))
        }
        other => Err(type_error(field, "an integer", other)),
    }
}

/// Reads a JSON number as `f64` (durations, not money).
pub(crate) fn opt_f64(raw: Option<&RawValue>, field: &str) -> Result<Option<f64>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    match Kind::of(raw) {
        Kind::Null => Ok(None),
        Kind::Number => raw
            .get()
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite())
            .map(Some)
            .ok_or_else(|| FieldError::invalid_type(field, "a finite number")),
        other => Err(type_error(field, "a number", other)),
    }
}

/// Reads a number or a numeric string as `f64`, for native formats that quote numbers.
pub(crate) fn opt_f64_lenient(raw: Option<&RawValue>, field: &str) -> Result<Option<f64>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    match Kind::of(raw) {
        Kind::String => {
            let text = decode_str(raw).unwrap_or_default();
            if text.trim().is_empty() {
                return Ok(None);
            }
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|value| value.is_finite())
                .map(Some)
                .ok_or_else(|| FieldError::invalid_type(field, "a number"))
        }
        _ => opt_f64(Some(raw), field),
    }
}

/// Reads a JSON boolean strictly; `None` when absent or null.
pub(crate) fn opt_bool(raw: Option<&RawValue>, field: &str) -> Result<Option<bool>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    match raw.get() {
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        "null" => Ok(None),
        _ => Err(type_error(field, "a boolean", Kind::of(raw))),
    }
}

/// Reads an exact decimal from a JSON number or a numeric string, never through a float.
pub(crate) fn opt_decimal(raw: Option<&RawValue>, field: &str) -> Result<Option<Decimal>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    let text: Cow<'_, str> = match Kind::of(raw) {
        Kind::Null => return Ok(None),
        Kind::Number => Cow::Borrowed(raw.get()),
        Kind::String => decode_str(raw).unwrap_or_default(),
        other => return Err(type_error(field, "a decimal number or string", other)),
    };
    parse_decimal_text(&text).map(Some).map_err(|_| {
        FieldError::new(
            field,
            RejectCode::InvalidValue,
            format!("expected a decimal number, got `{}`", excerpt(&text)),
        )
    })
}

fn type_error(field: &str, expected: &str, got: Kind) -> FieldError {
    FieldError::new(
        field,
        RejectCode::InvalidType,
        format!("expected {expected}, got {}", got.name()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_lazily_and_exactly() {
        let obj = Obj::parse(r#"{"a":"x\"y","n":1250,"c":0.07722000000000001,"o":{"p":{"q":5}},"a":"last"}"#)
            .unwrap();
        assert_eq!(opt_str(obj.raw("a"), "a").unwrap().unwrap(), "last");
        assert_eq!(opt_count(obj.raw("n"), "n").unwrap(), Some(1250));
        assert_eq!(
            opt_decimal(obj.raw("c"), "c").unwrap().unwrap().to_string(),
            "0.07722000000000001"
        );
        assert_eq!(opt_count(obj.path(&["o", "p", "q"]), "q").unwrap(), Some(5));
        assert!(obj.path(&["o", "missing", "q"]).is_none());
    }

    #[test]
    fn counts_are_strict() {
        let obj =
            Obj::parse(r#"{"s":"1250","f":12.5,"e":1e+30,"neg":-5,"big":99999999999999999999}"#).unwrap();
        for (key, code) in [
            ("s", RejectCode::InvalidType),
            ("f", RejectCode::InvalidType),
            ("e", RejectCode::InvalidType),
            ("neg", RejectCode::InvalidValue),
            ("big", RejectCode::InvalidType),
        ] {
            assert_eq!(opt_count(obj.raw(key), key).unwrap_err().code, code, "{key}");
        }
        assert_eq!(opt_count_lenient(obj.raw("s"), "s").unwrap(), Some(1250));
        assert_eq!(
            opt_count_lenient(Obj::parse(r#"{"x":12.0}"#).unwrap().raw("x"), "x").unwrap(),
            Some(12)
        );
    }

    #[test]
    fn non_objects_are_refused() {
        assert!(Obj::parse("[1,2]").is_err());
        assert!(Obj::parse("{\"a\":1} trailing").is_err());
        assert!(Obj::parse("{\"a\":").is_err());
    }
}
