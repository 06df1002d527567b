//! Ingest: request bodies in any supported format → validated canonical records, plus one
//! [`Rejected`] entry per bad candidate row.
//!
//! Flow: [`body::decode`] (gzip/zstd with a size cap) → [`body::split`] (array, document or
//! NDJSON) → envelopes ([`detect`]) → format detection on the first object → the format's
//! [`Adapter`] turns each record into candidate rows → [`Adapter::finish_batch`] links attempts
//! across records.
//!
//! Adding a format means one new file with an [`Adapter`], one line in [`ADAPTERS`], a fixture
//! and a compliance-test entry; nothing else changes.
//!
//! Invariants: `ingest` never writes to the store and never prices; it knows nothing of HTTP.
//! Parsers never panic on any input: every problem is a [`FieldError`] or an [`IngestError`].

mod bedrock;
pub mod body;
mod canonical;
mod cloudflare;
mod common;
mod detect;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
pub(crate) mod golden;
mod helicone;
mod json;
mod kong;
mod litellm;
mod openai_usage;
mod openrouter;
mod otel;
mod portkey;
mod reject;

use std::borrow::Cow;

pub(crate) use common::Draft;
pub use common::ParseContext;
pub use reject::{RejectCode, Rejected};

use crate::model::{Source, UsageRecord};
use json::Obj;
use reject::FieldError;

/// One gateway log format. Implementations live in `ingest/<source>.rs`.
pub(crate) trait Adapter: Send + Sync {
    /// The format's name, which is also the `source` of the records it produces.
    fn source(&self) -> Source;

    /// Whether a record (an object, after envelopes are unwrapped) is in this format. Tests the
    /// presence of keys only, so a record with malformed values is still detected and then
    /// rejected field by field.
    fn detect(&self, obj: &Obj<'_>) -> bool;

    /// Turns one record into zero or more candidate rows (an OTLP document holds many spans; a
    /// non-LLM span yields none and is not counted).
    fn parse(&self, obj: &Obj<'_>, ctx: &ParseContext, out: &mut Vec<Result<Draft, FieldError>>);

    /// Fixes up rows whose meaning depends on other records of the batch (attempt chains).
    fn finish_batch(&self, _rows: &mut [Draft]) {}
}

/// Every supported format, in detection order (`shared/formats/README.md`, "Auto-detection").
pub(crate) static ADAPTERS: &[&dyn Adapter] = &[
    &bedrock::Bedrock,
    &otel::Otel,
    &openai_usage::OpenaiUsage,
    &kong::Kong,
    &cloudflare::Cloudflare,
    &helicone::Helicone,
    &portkey::Portkey,
    &openrouter::Openrouter,
    &litellm::Litellm,
    &canonical::Canonical,
];

/// Whether the body's format is sniffed or forced (`?format=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatChoice {
    Auto,
    Forced(Source),
}

impl FormatChoice {
    /// Parses the `format` parameter: `auto` or a format name.
    pub fn parse(name: &str) -> Option<FormatChoice> {
        if name == "auto" {
            return Some(FormatChoice::Auto);
        }
        let source = Source::parse(name)?;
        ADAPTERS
            .iter()
            .any(|adapter| adapter.source() == source)
            .then_some(FormatChoice::Forced(source))
    }
}

/// Names of the formats this build accepts, for error messages and docs.
pub fn format_names() -> Vec<&'static str> {
    ADAPTERS.iter().map(|adapter| adapter.source().as_str()).collect()
}

/// A failure of the whole request body. Per-record problems are [`Rejected`] entries instead.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the request body is empty")]
    EmptyBody,
    #[error("the body is not JSON: {reason}")]
    InvalidJson { reason: String },
    #[error("the body is not valid UTF-8")]
    InvalidUtf8,
    #[error("no supported format recognised: {reason}")]
    UnknownFormat { reason: String },
    #[error("the body is larger than {limit} bytes after decompression")]
    PayloadTooLarge { limit: u64 },
    #[error("the {encoding} stream cannot be decoded: {reason}")]
    BadEncoding { encoding: &'static str, reason: String },
}

/// An accepted candidate row with its position in the body.
#[derive(Debug, Clone)]
pub struct Located {
    pub index: usize,
    pub line: Option<usize>,
    pub record: UsageRecord,
}

/// The outcome of parsing one body, before pricing and storing.
#[derive(Debug, Default)]
pub struct ParsedBatch {
    /// The format used; `None` only when the body held no candidate row at all.
    pub format: Option<Source>,
    pub received: usize,
    pub accepted: Vec<Located>,
    pub rejected: Vec<Rejected>,
}

/// A record's text after document-level text envelopes are unwrapped.
struct Document<'a> {
    line: Option<usize>,
    text: Result<Cow<'a, str>, FieldError>,
}

/// Parses a decoded body into records.
///
/// # Errors
/// Whole-body problems only: empty, not JSON, not UTF-8, no format recognised.
pub fn parse_body(body: &[u8], choice: FormatChoice, ctx: &ParseContext) -> Result<ParsedBatch, IngestError> {
    let records = body::split(body)?.records;
    let mut adapter = match choice {
        FormatChoice::Forced(source) => Some(forced_adapter(source)?),
        FormatChoice::Auto => None,
    };
    let mut batch = ParsedBatch {
        format: adapter.map(|adapter| adapter.source()),
        ..ParsedBatch::default()
    };
    let mut drafts: Vec<(usize, Option<usize>, Draft)> = Vec::with_capacity(records.len());
    let mut candidates = Vec::new();
    // Record by record: each is read to the end while its text is still in the cache.
    for record in records {
        let document = to_document(record);
        let line = document.line;
        let text = match &document.text {
            Err(error) => {
                push_rejected(&mut batch, line, error.clone());
                continue;
            }
            Ok(text) => text,
        };
        let obj = match Obj::parse(text) {
            Err(error) => {
                push_rejected(&mut batch, line, invalid_json(&error));
                continue;
            }
            Ok(obj) => obj,
        };
        for obj in detect::unwrap_envelope(obj) {
            // Auto-detection reads the first object of the body; the others must match it.
            let adapter = match adapter {
                Some(adapter) => {
                    if choice == FormatChoice::Auto && !adapter.detect(&obj) {
                        let message = format!(
                            "the record is not in the batch's format `{}`; send one format per request",
                            adapter.source()
                        );
                        push_rejected(
                            &mut batch,
                            line,
                            FieldError::record(RejectCode::FormatMismatch, message),
                        );
                        continue;
                    }
                    adapter
                }
                None => {
                    let detected = detected_adapter(&obj)?;
                    batch.format = Some(detected.source());
                    *adapter.insert(detected)
                }
            };
            adapter.parse(&obj, ctx, &mut candidates);
            for candidate in candidates.drain(..) {
                match candidate {
                    Ok(draft) => {
                        drafts.push((batch.received, line, draft));
                        batch.received += 1;
                    }
                    Err(error) => push_rejected(&mut batch, line, error),
                }
            }
        }
    }
    let Some(adapter) = adapter else {
        return Err(IngestError::InvalidJson {
            reason: "no record of the body parses as a JSON object".to_owned(),
        });
    };

    let mut rows: Vec<Draft> = Vec::with_capacity(drafts.len());
    let mut positions = Vec::with_capacity(drafts.len());
    for (index, line, draft) in drafts {
        positions.push((index, line));
        rows.push(draft);
    }
    adapter.finish_batch(&mut rows);
    batch.accepted = positions
        .into_iter()
        .zip(rows)
        .map(|((index, line), draft)| Located {
            index,
            line,
            record: draft.record,
        })
        .collect();
    Ok(batch)
}

fn to_document(record: body::RawRecord<'_>) -> Document<'_> {
    let text = match record.text {
        Err(body::LineProblem::InvalidUtf8) => Err(FieldError::record(
            RejectCode::InvalidUtf8,
            "the line is not valid UTF-8",
        )),
        // Only a record mentioning `ddsource` can be a text envelope; the others are parsed once,
        // later.
        Ok(text) if memchr::memmem::find(text.as_bytes(), b"\"ddsource\"").is_some() => {
            match Obj::parse(text) {
                Ok(obj) => Ok(detect::unwrap_text_envelope(&obj)
                    .map(|inner| Cow::Owned(inner.into_owned()))
                    .unwrap_or(Cow::Borrowed(text))),
                // Reported when the objects are built, with the parser's message.
                Err(_) => Ok(Cow::Borrowed(text)),
            }
        }
        Ok(text) => Ok(Cow::Borrowed(text)),
    };
    Document {
        line: record.line,
        text,
    }
}

fn forced_adapter(source: Source) -> Result<&'static dyn Adapter, IngestError> {
    ADAPTERS
        .iter()
        .copied()
        .find(|adapter| adapter.source() == source)
        .ok_or_else(|| IngestError::UnknownFormat {
            reason: format!("format `{source}` is not supported"),
        })
}

fn detected_adapter(first: &Obj<'_>) -> Result<&'static dyn Adapter, IngestError> {
    detect::detect(first).ok_or_else(|| IngestError::UnknownFormat {
        reason: format!(
            "the first record matches none of the supported formats ({}); pass ?format=NAME to force one",
            format_names().join(", ")
        ),
    })
}

fn push_rejected(batch: &mut ParsedBatch, line: Option<usize>, error: FieldError) {
    batch.rejected.push(Rejected {
        index: batch.received,
        line,
        field: error.field,
        code: error.code,
        message: error.message,
    });
    batch.received += 1;
}

fn invalid_json(error: &serde_json::Error) -> FieldError {
    FieldError::record(RejectCode::InvalidJson, format!("not a JSON object: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANONICAL: &str = r#"{"event_id":"e1","source":"canonical","ts":"2026-11-23T08:02:11Z","team":"search","provider":"openai","model":"gpt-4o-mini","input_tokens":10,"output_tokens":2}"#;

    #[test]
    fn lines_before_the_first_object_are_refused_and_the_first_object_picks_the_format() {
        let body = format!("{{\"cut\": \n{CANONICAL}\n{{\"id\":\"x\"}}\n");
        let batch = parse_body(body.as_bytes(), FormatChoice::Auto, &ParseContext::now()).unwrap();
        assert_eq!(batch.format, Some(Source::Canonical));
        assert_eq!(batch.received, 3);
        let accepted: Vec<(usize, Option<usize>)> =
            batch.accepted.iter().map(|row| (row.index, row.line)).collect();
        assert_eq!(accepted, [(1, Some(2))]);
        let rejected: Vec<(usize, Option<usize>, RejectCode)> = batch
            .rejected
            .iter()
            .map(|row| (row.index, row.line, row.code))
            .collect();
        assert_eq!(
            rejected,
            [
                (0, Some(1), RejectCode::InvalidJson),
                (2, Some(3), RejectCode::FormatMismatch)
            ]
        );
    }

    #[test]
    fn a_body_without_any_object_is_refused_whole() {
        let error = parse_body(b"{nope\n{\"cut\":\n", FormatChoice::Auto, &ParseContext::now()).unwrap_err();
        assert!(matches!(error, IngestError::InvalidJson { .. }), "{error:?}");
        let error = parse_body(b"{\"what\":1}\n", FormatChoice::Auto, &ParseContext::now()).unwrap_err();
        assert!(matches!(error, IngestError::UnknownFormat { .. }), "{error:?}");
    }
}
