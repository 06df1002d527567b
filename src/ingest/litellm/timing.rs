//! Time of a LiteLLM call: `startTime`-style instants in any of LiteLLM's three spellings, and the
//! latency and TTFT derived from them. In: raw values; out: UTC instants and milliseconds.

use crate::ingest::json::RawValue;
use chrono::{DateTime, Utc};

use crate::ingest::common::{non_negative, ts_epoch_seconds, ts_text};
use crate::ingest::json::{self, Kind};
use crate::ingest::reject::FieldError;
use crate::model::parse_decimal_text;

/// `startTime`-style values: float epoch seconds (payloads), ISO strings (spend rows) or naive
/// `YYYY-MM-DD HH:MM:SS.ffffff` strings (GCS pub/sub), which LiteLLM writes in UTC.
pub(super) fn instant(raw: Option<&RawValue>, field: &str) -> Result<Option<DateTime<Utc>>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    match Kind::of(raw) {
        Kind::Null => Ok(None),
        Kind::Number => ts_epoch_seconds(raw, field).map(Some),
        Kind::String => {
            let text = json::decode_str(raw).unwrap_or_default();
            if text.trim().is_empty() {
                Ok(None)
            } else if parse_decimal_text(&text).is_ok() {
                ts_epoch_seconds(raw, field).map(Some)
            } else {
                ts_text(&text, field, true).map(Some)
            }
        }
        Kind::Bool | Kind::Array | Kind::Object => Err(FieldError::invalid_type(
            field,
            "epoch seconds or a timestamp string",
        )),
    }
}

pub(super) struct Timing {
    pub(super) latency_ms: Option<f64>,
    pub(super) ttft_ms: Option<f64>,
}

impl Timing {
    /// Latency from `duration_ms` when the log has it, else from start to end; TTFT from a first
    /// chunk strictly before the end.
    pub(super) fn from_instants(
        start: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
        first_chunk: Option<DateTime<Utc>>,
        duration_ms: Option<f64>,
    ) -> Result<Timing, FieldError> {
        let span = match end {
            None => None,
            Some(end) if end < start => {
                return Err(FieldError::invalid_value("endTime", "is before startTime"));
            }
            Some(end) => millis_between(start, end),
        };
        let latency_ms = non_negative(duration_ms, "request_duration_ms")?.or(span);
        let ttft_ms = match (first_chunk, end) {
            (Some(first), Some(end)) if start <= first && first < end => millis_between(start, first),
            _ => None,
        }
        .filter(|ttft| latency_ms.is_none_or(|latency| *ttft <= latency));
        Ok(Timing { latency_ms, ttft_ms })
    }
}

/// Exact to the microsecond, which is all the epoch-seconds parser keeps.
fn millis_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Option<f64> {
    (to - from)
        .num_microseconds()
        .map(|micros| micros as f64 / 1000.0)
}
