//! A batch of priced records in the shapes the writer stores: the events as an Arrow batch and
//! the FOCUS lines they bill.
//!
//! Encoding costs about as much CPU as DuckDB's append itself, and the writer is one thread. So
//! the ingest pipeline encodes each request on the thread that parsed it (`pipeline::prepare`)
//! and the writer only appends; it encodes again only the requests whose records were not all
//! new (duplicates or expired records: the encoding must cover exactly the stored ones). The
//! hourly rollup sums are made here too, per request; the writer merges them over its group
//! (appending them per request would multiply the rollup rows appended, and compacted later, by
//! the group's size) and folds the hours into days.

use chrono::{DateTime, Utc};
use duckdb::arrow::record_batch::RecordBatch;

use super::StoreError;
use super::focus::{ChargeClass, LineLedger, LineOwner};
use super::rollup::RequestSums;
use super::rows::to_record_batch;
use crate::pricing::PricedRecord;

/// Records encoded for storage.
#[derive(Debug)]
pub struct Encoded {
    /// How many records it encodes.
    pub records: usize,
    /// The rows of `usage_events`.
    pub events: RecordBatch,
    /// The FOCUS lines the records bill.
    pub lines: LineLedger,
    /// The records' hourly rollup sums.
    pub hourly: RequestSums,
}

impl Encoded {
    /// Encodes `records`, ingested at `ingested_at`.
    ///
    /// # Errors
    /// [`StoreError::Rows`] when Arrow refuses the arrays (a defect).
    pub fn of<'a>(
        records: impl IntoIterator<Item = &'a PricedRecord>,
        ingested_at: DateTime<Utc>,
    ) -> Result<Encoded, StoreError> {
        let all: Vec<&PricedRecord> = records.into_iter().collect();
        let mut lines = LineLedger::default();
        for priced in &all {
            let owner = LineOwner::of(priced);
            lines.add_call(
                &owner,
                &priced.cost,
                ChargeClass::Usage,
                LineLedger::billing_month(owner.ts),
            );
        }
        Ok(Encoded {
            records: all.len(),
            events: to_record_batch(&all, ingested_at)?,
            lines,
            hourly: RequestSums::of(&all),
        })
    }
}

/// Priced records on their way to the writer, usually with their encoding.
#[derive(Debug)]
pub struct IngestBatch {
    pub records: Vec<PricedRecord>,
    /// The encoding of all of `records`, when it was made off the writer thread.
    pub encoded: Option<Encoded>,
}

impl IngestBatch {
    /// Records the writer will encode itself.
    #[must_use]
    pub fn new(records: Vec<PricedRecord>) -> IngestBatch {
        IngestBatch {
            records,
            encoded: None,
        }
    }
}
