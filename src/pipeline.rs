//! The ingest pipeline both front doors share (`POST /v1/ingest` and `llm-ledger import`):
//! decode → parse → price, then the writer stores what is new. Keeping it in one place is what
//! makes an imported file and a posted body end in the same rows.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ingest::{self, FormatChoice, IngestError, RejectCode, Rejected};
use crate::model::Source;
use crate::pricing::{self, Catalog, PricedRecord};
use crate::store::{Encoded, IngestBatch, IngestOutcome, StoreError, Writer};

/// Most per-record errors listed in one response; the counts stay exact.
pub const MAX_LISTED_ERRORS: usize = 1000;

/// A parsed and priced body, not yet stored.
pub struct Prepared {
    pub format: Option<Source>,
    pub received: usize,
    pub priced: Vec<PricedRecord>,
    /// Where each of `priced` was in the body (record index, line), for refusals found later.
    pub positions: Vec<(usize, Option<usize>)>,
    pub rejected: Vec<Rejected>,
    /// `priced` encoded for the writer (made here, off the writer thread); dropped when records
    /// are taken out of `priced`.
    pub encoded: Option<Encoded>,
}

impl Prepared {
    /// Refuses the records whose `ts` is before `cutoff` (the retention cutoff) as `expired`.
    pub fn expire(&mut self, cutoff: Option<DateTime<Utc>>) {
        let Some(cutoff) = cutoff else {
            return;
        };
        if self.priced.iter().all(|priced| priced.record.ts >= cutoff) {
            return;
        }
        let priced = std::mem::take(&mut self.priced);
        let positions = std::mem::take(&mut self.positions);
        self.encoded = None;
        for (idx, priced) in priced.into_iter().enumerate() {
            // `prepare` gives every record its position; a hand-built batch without them still
            // keeps every record.
            let (index, line) = positions.get(idx).copied().unwrap_or((idx, None));
            if priced.record.ts < cutoff {
                self.rejected.push(expired(index, line, cutoff));
            } else {
                self.priced.push(priced);
                self.positions.push((index, line));
            }
        }
        self.rejected.sort_by_key(|rejected| rejected.index);
    }
}

/// The refusal of a record older than the retention cutoff.
fn expired(index: usize, line: Option<usize>, cutoff: DateTime<Utc>) -> Rejected {
    Rejected {
        index,
        line,
        field: None,
        code: RejectCode::Expired,
        message: format!(
            "`ts` is before the retention cutoff `{}`: the ledger no longer keeps events that old",
            cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    }
}

/// Decodes, parses and prices a body. Blocking: run it off the async workers.
///
/// # Errors
/// Whole-body problems ([`IngestError`]).
pub fn prepare(
    raw: Vec<u8>,
    encoding: ingest::body::Encoding,
    max_body_bytes: u64,
    choice: FormatChoice,
    catalog: &Catalog,
) -> Result<Prepared, IngestError> {
    let mut clock = crate::store::writer::PhaseClock::start();
    let body = ingest::body::decode(encoding, raw, max_body_bytes)?;
    clock.lap("decode");
    let parsed = ingest::parse_body(&body, choice, &ingest::ParseContext::now())?;
    clock.lap("parse");
    let positions = parsed
        .accepted
        .iter()
        .map(|located| (located.index, located.line))
        .collect();
    let priced: Vec<PricedRecord> = parsed
        .accepted
        .into_iter()
        .map(|located| pricing::price(catalog, located.record))
        .collect();
    clock.lap("price");
    // An encoding failure (a defect) is left for the writer to meet and report.
    let encoded = Encoded::of(&priced, Utc::now()).ok();
    clock.lap("encode");
    tracing::debug!(records = priced.len(), bytes = body.len(), phases = %clock, "body prepared");
    Ok(Prepared {
        format: parsed.format,
        received: parsed.received,
        priced,
        positions,
        rejected: parsed.rejected,
        encoded,
    })
}

/// The ingest response (DESIGN.md, "Ingest response").
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct IngestResponse {
    /// The format the body was read as.
    #[schema(example = "litellm")]
    pub format: Option<String>,
    /// Candidate rows in the body.
    pub received: usize,
    /// Rows stored by this request.
    pub accepted: usize,
    /// Rows whose `(source, event_id)` was already stored, or repeated in the body.
    pub duplicates: usize,
    /// Rows refused; each is listed in `errors`.
    pub rejected: usize,
    /// Why each refused row was refused (at most 1000 are listed).
    #[schema(value_type = Vec<RejectedSchema>)]
    pub errors: Vec<RejectedOut>,
    /// True when more rows were refused than `errors` lists.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub errors_truncated: bool,
}

/// One refused row in a response.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RejectedOut {
    pub index: usize,
    pub line: Option<usize>,
    pub field: Option<String>,
    pub code: String,
    pub message: String,
}

/// OpenAPI shape of [`RejectedOut`].
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RejectedSchema {
    /// 0-based position of the row among the body's records.
    index: usize,
    /// 1-based physical line; null inside a JSON array.
    line: Option<usize>,
    /// The field at fault as a dotted path in the sent format; null for the whole record.
    field: Option<String>,
    /// `invalid_json`, `invalid_utf8`, `missing_field`, `invalid_type`, `invalid_value`,
    /// `field_too_long`, `unknown_field`, `format_mismatch` or `expired` (`ts` before the
    /// retention cutoff).
    code: String,
    message: String,
}

impl IngestResponse {
    pub fn new(
        prepared_format: Option<Source>,
        received: usize,
        rejected: &[Rejected],
        outcome: IngestOutcome,
    ) -> IngestResponse {
        IngestResponse {
            format: prepared_format.map(|source| source.as_str().to_owned()),
            received,
            accepted: outcome.accepted,
            duplicates: outcome.duplicates,
            rejected: rejected.len(),
            errors: rejected
                .iter()
                .take(MAX_LISTED_ERRORS)
                .map(|rejected| RejectedOut {
                    index: rejected.index,
                    line: rejected.line,
                    field: rejected.field.clone(),
                    code: rejected.code.as_str().to_owned(),
                    message: rejected.message.clone(),
                })
                .collect(),
            errors_truncated: rejected.len() > MAX_LISTED_ERRORS,
        }
    }
}

/// Stores a prepared body unless strict mode refuses it; returns the response and whether it
/// was refused (strict with rejections: nothing stored). Records before the retention cutoff
/// are refused as `expired`, here and again by the writer at commit time (a pass may start in
/// between; such late refusals are listed too, though in strict mode the rest is then stored).
///
/// # Errors
/// Store failures ([`StoreError::WriterBusy`] when the queue is full and `wait` is false).
pub async fn store(
    writer: &Writer,
    mut prepared: Prepared,
    strict: bool,
    wait: bool,
) -> Result<(IngestResponse, bool), StoreError> {
    prepared.expire(writer.expired_before(Utc::now()));
    let Prepared {
        format,
        received,
        priced,
        positions,
        mut rejected,
        encoded,
    } = prepared;
    if strict && !rejected.is_empty() {
        return Ok((
            IngestResponse::new(format, received, &rejected, IngestOutcome::default()),
            true,
        ));
    }
    let cutoff = writer.expired_before(Utc::now());
    let outcome = if priced.is_empty() {
        IngestOutcome::default()
    } else {
        let batch = IngestBatch {
            records: priced,
            encoded,
        };
        if wait {
            writer.ingest_waiting(batch).await?
        } else {
            writer.ingest(batch).await?
        }
    };
    if !outcome.expired.is_empty() {
        let cutoff = writer
            .expired_before(Utc::now())
            .or(cutoff)
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        for position in &outcome.expired {
            if let Some((index, line)) = positions.get(*position) {
                rejected.push(expired(*index, *line, cutoff));
            }
        }
        rejected.sort_by_key(|rejected| rejected.index);
    }
    Ok((IngestResponse::new(format, received, &rejected, outcome), false))
}
