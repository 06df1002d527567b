//! `GET /v1/export`: the canonical events of a time range, streamed as Parquet, CSV or NDJSON.
//!
//! The export runs on a blocking thread and writes through a [`ChannelWriter`] whose chunks are
//! the response body, so memory stays bounded (a window of events and a few chunks in flight)
//! and a client that goes away stops the export.

use std::io::Write;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::AppState;
use super::auth::ReadKey;
use super::error::{ApiError, ErrorBody};
use crate::export::{ExportFormat, ExportOptions, write_events};
use crate::model::Source;
use crate::pricing::spec::parse_instant;
use crate::store::export::ExportScope;
use crate::store::writer::error_chain;

/// Bytes per chunk of the response body.
const CHUNK_BYTES: usize = 256 * 1024;

/// Query parameters of `GET /v1/export`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Start, inclusive (RFC 3339 or `YYYY-MM-DD`, UTC); default: the beginning.
    pub from: Option<String>,
    /// End, exclusive (RFC 3339 or `YYYY-MM-DD`, UTC); default: now + 1 day.
    pub to: Option<String>,
    /// `ndjson` (default; also `jsonl`): canonical records, one per line. `parquet`: the lake's
    /// columns, money as DECIMAL(38,12), instants as UTC TIMESTAMP, tags as a list of
    /// `{key, value}`. `csv`: the same columns with a header, money as exact decimal text, tags as
    /// a JSON object, instants as RFC 3339.
    pub format: Option<String>,
    /// Only this team.
    pub team: Option<String>,
    /// Only this source (format name: `litellm`, `otel`, …).
    pub source: Option<String>,
}

fn bound(name: &str, text: Option<&str>, default: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    match text {
        None => Ok(default),
        Some(text) => parse_instant(text).ok_or_else(|| ApiError::InvalidParameter {
            parameter: name.to_owned(),
            reason: format!("expected RFC 3339 or YYYY-MM-DD, got `{text}`"),
        }),
    }
}

impl ExportQuery {
    fn parse(&self) -> Result<(ExportScope, ExportFormat), ApiError> {
        let format = match self.format.as_deref() {
            None => ExportFormat::Ndjson,
            Some(name) => ExportFormat::parse(name).ok_or_else(|| ApiError::InvalidParameter {
                parameter: "format".to_owned(),
                reason: format!("expected parquet, csv or ndjson, got `{name}`"),
            })?,
        };
        let from = bound("from", self.from.as_deref(), DateTime::<Utc>::UNIX_EPOCH)?;
        let to = bound("to", self.to.as_deref(), Utc::now() + Duration::days(1))?;
        if let Some(name) = self.source.as_deref()
            && Source::parse(name).is_none()
        {
            return Err(ApiError::InvalidParameter {
                parameter: "source".to_owned(),
                reason: format!(
                    "unknown source `{name}`; use one of {}",
                    crate::ingest::format_names().join(", ")
                ),
            });
        }
        let scope = ExportScope {
            from,
            to,
            team: self.team.clone(),
            source: self.source.clone(),
        };
        Ok((scope, format))
    }
}

/// Forwards written bytes to the response body in chunks of [`CHUNK_BYTES`]; a closed
/// response (the client went away) is a `BrokenPipe` error, which stops the export.
/// A client that takes no bytes for `stall_limit` (the request time limit) is treated as gone:
/// a stalled reader must not hold a read connection and its snapshot forever.
struct ChannelWriter {
    sender: mpsc::Sender<Result<web::Bytes, ApiError>>,
    buffer: Vec<u8>,
    runtime: tokio::runtime::Handle,
    stall_limit: std::time::Duration,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        let chunk = std::mem::take(&mut self.buffer);
        // This runs on a blocking thread, where waiting on the runtime is allowed.
        self.runtime
            .block_on(
                self.sender
                    .send_timeout(Ok(web::Bytes::from(chunk)), self.stall_limit),
            )
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the client went away or stopped reading",
                )
            })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            Ok(())
        } else {
            self.send()
        }
    }
}

/// Export canonical events.
///
/// Streams the stored records of `[from, to)`, oldest first, with the server-computed fields
/// (`model_key`, `cost_usd`, `list_cost_usd`, `cost_source`, `price_id`, `contract_id`,
/// `is_error`, `ingested_at`). `ndjson` output is valid input for `POST /v1/ingest` (it dedupes
/// against the original feed); `parquet` has the columns and types of the Parquet lake; `csv`
/// the same columns as text. Money is exact in every format. The export is one consistent
/// snapshot, read and sent a window at a time; an error after the first bytes ends the
/// response early (an incomplete Parquet file has no footer and does not open).
#[utoipa::path(get, path = "/v1/export", tag = "export",
    params(ExportQuery),
    responses(
        (status = 200, description = "The events, as an attachment",
            headers(("content-disposition" = String, description = "`attachment; filename=\"llm-ledger-events_<from>_<to>.<format>\"`")),
            content(
                (String = "application/x-ndjson"),
                (String = "text/csv"),
                (Vec<u8> = "application/vnd.apache.parquet"))),
        (status = 400, description = "Bad parameter (`invalid_parameter`)", body = ErrorBody)))]
pub async fn export(
    state: web::Data<AppState>,
    query: web::Query<ExportQuery>,
    caller: ReadKey,
) -> Result<HttpResponse, ApiError> {
    let (scope, format) = query.parse()?;
    let file_name = format!(
        "llm-ledger-events_{}_{}.{}",
        scope.from.format("%Y%m%dT%H%M%SZ"),
        scope.to.format("%Y%m%dT%H%M%SZ"),
        format.extension()
    );
    // A team-scoped key exports its team's events only; asking for another team is refused.
    super::auth::check_team_request(caller.team_scope(), scope.team.iter())?;
    let team_scope: Option<String> = caller.team_scope().map(str::to_owned);
    let (sender, receiver) = mpsc::channel::<Result<web::Bytes, ApiError>>(4);
    let readers = state.readers.clone();
    let runtime = tokio::runtime::Handle::current();
    let stall_limit = state.request_timeout;
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            sender: sender.clone(),
            buffer: Vec::with_capacity(CHUNK_BYTES),
            runtime,
            stall_limit,
        };
        let result = readers.with_conn(|conn| {
            write_events(
                conn,
                &scope,
                team_scope.as_deref(),
                format,
                ExportOptions::default(),
                &mut out,
            )
        });
        match result {
            Ok(events) => tracing::info!(events, format = format.extension(), "export streamed"),
            Err(error) if error.is_disconnect() => {
                tracing::debug!("export stopped: the client went away");
            }
            Err(error) => {
                let chain = error_chain(&error);
                tracing::error!(error = %chain, "export failed");
                // The client may be gone too; nothing else to tell.
                let _ = sender.blocking_send(Err(ApiError::Internal(chain)));
            }
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .streaming(stream))
}
