//! The FOCUS line ledger: priced lines summed per UTC day × attribution × price × meter × unit
//! price, written by the writer next to the events. Usage lines are written at ingest; a
//! re-price adds correction lines (reversing the old amounts, adding the new lines) and never
//! edits what was billed.

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveTime, TimeZone, Utc};
use duckdb::arrow::array::{
    ArrayRef, Decimal128Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use duckdb::arrow::record_batch::RecordBatch;
use hashbrown::HashMap;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::StoreError;
use crate::model::Usd;
use crate::pricing::cost::{CostLine, Meter};
use crate::pricing::{Cost, PricedRecord};

/// Scale of unit prices and line costs in `focus_lines` (DECIMAL(38,18)).
const LINE_SCALE: u32 = 18;

/// `focus_compact.sql` (the rows of some charge days merged into one row per line), kept in a
/// temp table while the days' rows are replaced.
const FOCUS_COMPACT_SQL: &str = concat!(
    "CREATE OR REPLACE TEMP TABLE compacted_focus_lines AS\n",
    include_str!("../../queries/focus_compact.sql")
);

/// Replaces the rows of the charge `days` (a `TIMESTAMP[]` value) of `focus_lines` by one row
/// per line, inside the caller's transaction; returns how many remain.
///
/// # Errors
/// Database failures.
pub fn compact_days(tx: &duckdb::Connection, days: duckdb::types::Value) -> Result<usize, StoreError> {
    tx.prepare_cached(FOCUS_COMPACT_SQL)
        .and_then(|mut statement| statement.execute([days.clone()]))
        .map_err(StoreError::db("merging FOCUS line rows"))?;
    tx.prepare_cached("DELETE FROM focus_lines WHERE charge_day IN (SELECT unnest(?::TIMESTAMP[]))")
        .and_then(|mut statement| statement.execute([days]))
        .map_err(StoreError::db("removing merged FOCUS line rows"))?;
    tx.prepare_cached("INSERT INTO focus_lines SELECT * FROM compacted_focus_lines")
        .and_then(|mut statement| statement.execute([]))
        .map_err(StoreError::db("storing merged FOCUS line rows"))
}

/// Whether a line is usage as billed, or a correction after a re-price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChargeClass {
    Usage,
    Correction,
}

impl ChargeClass {
    fn as_str(self) -> &'static str {
        match self {
            ChargeClass::Usage => "",
            ChargeClass::Correction => "Correction",
        }
    }
}

/// The attribution of a call, as its lines carry it (borrowed from the call).
#[derive(Debug, Clone, Copy)]
pub struct LineOwner<'a> {
    pub ts: DateTime<Utc>,
    pub source: &'a str,
    pub team: &'a str,
    pub project: Option<&'a str>,
    pub provider: &'a str,
    pub model_key: &'a str,
    pub service_tier: &'a str,
    pub request_count: u64,
}

impl<'a> LineOwner<'a> {
    pub fn of(priced: &'a PricedRecord) -> LineOwner<'a> {
        let record = &priced.record;
        LineOwner {
            ts: record.ts,
            source: record.source.as_str(),
            team: &record.team,
            project: record.project.as_deref(),
            provider: record.provider.as_str(),
            model_key: &priced.model_key,
            service_tier: record.service_tier.as_str(),
            request_count: record.request_count,
        }
    }
}

/// A line's identity. Lines are looked up by a borrowed [`LineKeyRef`] (most calls add to a
/// line already there), so this owned key is built only for a new line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LineKey {
    charge_day: DateTime<Utc>,
    billing_month: DateTime<Utc>,
    class: ChargeClass,
    source: String,
    team: String,
    project: Option<String>,
    provider: String,
    model_key: String,
    price_id: Option<String>,
    contract_id: Option<String>,
    meter: &'static str,
    service_tier: String,
    above_input_tokens: u64,
    list_unit_price: Option<Decimal>,
    contracted_unit_price: Option<Decimal>,
}

/// [`LineKey`] borrowed: the same fields in the same order, so that the derived hashes agree
/// (`str` and `String` hash alike).
#[derive(Debug, Clone, Copy, Hash)]
struct LineKeyRef<'a> {
    charge_day: DateTime<Utc>,
    billing_month: DateTime<Utc>,
    class: ChargeClass,
    source: &'a str,
    team: &'a str,
    project: Option<&'a str>,
    provider: &'a str,
    model_key: &'a str,
    price_id: Option<&'a str>,
    contract_id: Option<&'a str>,
    meter: &'static str,
    service_tier: &'a str,
    above_input_tokens: u64,
    list_unit_price: Option<Decimal>,
    contracted_unit_price: Option<Decimal>,
}

impl LineKeyRef<'_> {
    fn to_owned_key(self) -> LineKey {
        LineKey {
            charge_day: self.charge_day,
            billing_month: self.billing_month,
            class: self.class,
            source: self.source.to_owned(),
            team: self.team.to_owned(),
            project: self.project.map(str::to_owned),
            provider: self.provider.to_owned(),
            model_key: self.model_key.to_owned(),
            price_id: self.price_id.map(str::to_owned),
            contract_id: self.contract_id.map(str::to_owned),
            meter: self.meter,
            service_tier: self.service_tier.to_owned(),
            above_input_tokens: self.above_input_tokens,
            list_unit_price: self.list_unit_price,
            contracted_unit_price: self.contracted_unit_price,
        }
    }
}

impl hashbrown::Equivalent<LineKey> for LineKeyRef<'_> {
    fn equivalent(&self, key: &LineKey) -> bool {
        self.charge_day == key.charge_day
            && self.billing_month == key.billing_month
            && self.class == key.class
            && self.source == key.source
            && self.team == key.team
            && self.project == key.project.as_deref()
            && self.provider == key.provider
            && self.model_key == key.model_key
            && self.price_id == key.price_id.as_deref()
            && self.contract_id == key.contract_id.as_deref()
            && self.meter == key.meter
            && self.service_tier == key.service_tier
            && self.above_input_tokens == key.above_input_tokens
            && self.list_unit_price == key.list_unit_price
            && self.contracted_unit_price == key.contracted_unit_price
    }
}

#[derive(Debug, Clone, Default)]
struct LineSums {
    quantity: i64,
    requests: i64,
    list_cost: Decimal,
    contracted_cost: Decimal,
    unpriced_requests: i64,
}

impl LineSums {
    fn absorb(&mut self, other: &LineSums) {
        self.quantity = self.quantity.saturating_add(other.quantity);
        self.requests = self.requests.saturating_add(other.requests);
        self.list_cost += other.list_cost;
        self.contracted_cost += other.contracted_cost;
        self.unpriced_requests = self.unpriced_requests.saturating_add(other.unpriced_requests);
    }
}

fn day_of(ts: DateTime<Utc>) -> DateTime<Utc> {
    ts.date_naive().and_time(NaiveTime::MIN).and_utc()
}

fn month_of(ts: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(ts.year(), ts.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(ts)
}

fn signed(value: u64, sign: i64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX).saturating_mul(sign)
}

/// Priced lines being summed for one transaction.
#[derive(Debug, Default)]
pub struct LineLedger {
    lines: HashMap<LineKey, LineSums, foldhash::fast::RandomState>,
}

impl LineLedger {
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// How many lines it holds.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Adds every line of `other` (the lines of another batch of the same transaction).
    pub fn merge(&mut self, other: LineLedger) {
        if self.lines.is_empty() {
            self.lines = other.lines;
            return;
        }
        for (key, sums) in other.lines {
            self.lines.entry(key).or_default().absorb(&sums);
        }
    }

    fn add(&mut self, key: LineKeyRef<'_>, sums: LineSums) {
        match self.lines.get_mut(&key) {
            Some(entry) => entry.absorb(&sums),
            None => {
                self.lines.insert(key.to_owned_key(), sums);
            }
        }
    }

    fn key<'a>(
        owner: &LineOwner<'a>,
        class: ChargeClass,
        billing_month: DateTime<Utc>,
        cost: &'a Cost,
        meter: &'static str,
    ) -> LineKeyRef<'a> {
        LineKeyRef {
            charge_day: day_of(owner.ts),
            billing_month,
            class,
            source: owner.source,
            team: owner.team,
            project: owner.project,
            provider: owner.provider,
            model_key: owner.model_key,
            price_id: cost.price_id(),
            contract_id: cost.contract_id(),
            meter,
            service_tier: owner.service_tier,
            above_input_tokens: 0,
            list_unit_price: None,
            contracted_unit_price: None,
        }
    }

    /// Adds a call's lines as billed at ingest (`ChargeClass::Usage`, billed in the month of the
    /// call) or, at a re-price, its new lines as a correction billed in `billing_month`.
    pub fn add_call(
        &mut self,
        owner: &LineOwner,
        cost: &Cost,
        class: ChargeClass,
        billing_month: DateTime<Utc>,
    ) {
        let requests = if class == ChargeClass::Usage {
            signed(owner.request_count, 1)
        } else {
            0
        };
        let lines: &[CostLine] = cost.lines();
        if lines.is_empty() {
            self.add_amount_only(owner, cost, class, billing_month, 1, requests);
            return;
        }
        self.add_lines(owner, cost, class, billing_month, 1, requests);
    }

    /// Adds each priced line of `cost`, its quantity and amounts times `sign`.
    fn add_lines(
        &mut self,
        owner: &LineOwner,
        cost: &Cost,
        class: ChargeClass,
        billing_month: DateTime<Utc>,
        sign: i64,
        requests: i64,
    ) {
        let sign_of = Decimal::from(sign);
        for (idx, line) in cost.lines().iter().enumerate() {
            let mut key = LineLedger::key(owner, class, billing_month, cost, line.meter.as_str());
            key.above_input_tokens = line.above_input_tokens;
            key.list_unit_price = Some(line.list_unit_price.normalize());
            key.contracted_unit_price = Some(line.contracted_unit_price.normalize());
            self.add(
                key,
                LineSums {
                    quantity: signed(line.quantity, sign),
                    requests: if idx == 0 { requests } else { 0 },
                    list_cost: line.list_cost().unwrap_or_default() * sign_of,
                    contracted_cost: line.contracted_cost().unwrap_or_default() * sign_of,
                    unpriced_requests: 0,
                },
            );
        }
    }

    /// Adds a call without priced lines (reported, unpriced, a response-cache hit) as one
    /// line of `request_count` requests at its amount per request (0 when unpriced), so that
    /// ListCost = ListUnitPrice × PricingQuantity holds; when the amount does not divide
    /// exactly by the requests the unit prices stay empty.
    fn add_amount_only(
        &mut self,
        owner: &LineOwner,
        cost: &Cost,
        class: ChargeClass,
        billing_month: DateTime<Utc>,
        sign: i64,
        requests: i64,
    ) {
        let sign_of = Decimal::from(sign);
        let amount = cost.usd().map_or(Decimal::ZERO, Usd::as_decimal);
        let list = cost.list_usd().map_or(Decimal::ZERO, Usd::as_decimal);
        let unpriced = if matches!(cost, Cost::Unpriced) {
            signed(owner.request_count, sign)
        } else {
            0
        };
        let mut key = LineLedger::key(owner, class, billing_month, cost, Meter::Requests.as_str());
        let count = Decimal::from(owner.request_count);
        let per_request = |total: Decimal| {
            (owner.request_count > 0)
                .then(|| total.checked_div(count))
                .flatten()
                .filter(|unit| unit.checked_mul(count) == Some(total))
                .map(|unit| unit.normalize())
        };
        if let (Some(list_unit), Some(contracted_unit)) = (per_request(list), per_request(amount)) {
            key.list_unit_price = Some(list_unit);
            key.contracted_unit_price = Some(contracted_unit);
        }
        self.add(
            key,
            LineSums {
                quantity: signed(owner.request_count, sign),
                requests,
                list_cost: list * sign_of,
                contracted_cost: amount * sign_of,
                unpriced_requests: unpriced,
            },
        );
    }

    /// Adds the correction that reverses what a call was billed before a re-price: its old
    /// lines with quantities and amounts negated. A catalog cost whose lines could not be
    /// priced again (`lines_known` false) is reversed as one amount-only line without quantity
    /// or unit prices (FOCUS allows both to be null on a correction).
    pub fn reverse_call(
        &mut self,
        owner: &LineOwner,
        old: &Cost,
        lines_known: bool,
        billing_month: DateTime<Utc>,
    ) {
        let class = ChargeClass::Correction;
        match old {
            Cost::Catalog { .. } if !lines_known => {
                let key = LineLedger::key(owner, class, billing_month, old, Meter::Requests.as_str());
                self.add(
                    key,
                    LineSums {
                        quantity: 0,
                        requests: 0,
                        list_cost: -old.list_usd().map_or(Decimal::ZERO, Usd::as_decimal),
                        contracted_cost: -old.usd().map_or(Decimal::ZERO, Usd::as_decimal),
                        unpriced_requests: 0,
                    },
                );
            }
            Cost::Catalog { lines, .. } if !lines.is_empty() => {
                self.add_lines(owner, old, class, billing_month, -1, 0);
            }
            _ => self.add_amount_only(owner, old, class, billing_month, -1, 0),
        }
    }

    /// The month usage of `ts` is billed in.
    pub fn billing_month(ts: DateTime<Utc>) -> DateTime<Utc> {
        month_of(ts)
    }

    /// The lines as an Arrow batch in the column order of `focus_lines`.
    ///
    /// # Errors
    /// [`StoreError::Rows`] when Arrow refuses the arrays (a defect).
    pub fn to_record_batch(&self) -> Result<RecordBatch, StoreError> {
        let n = self.lines.len();
        let text = || StringBuilder::with_capacity(n, n * 16);
        let rows_error = |error: duckdb::arrow::error::ArrowError| StoreError::Rows(error.to_string());
        let decimal = || Decimal128Builder::with_capacity(n).with_precision_and_scale(38, LINE_SCALE as i8);
        let mut line_key = Decimal128Builder::with_capacity(n)
            .with_precision_and_scale(38, 0)
            .map_err(rows_error)?;
        let (mut charge_day, mut billing_month) = (
            TimestampMicrosecondBuilder::with_capacity(n),
            TimestampMicrosecondBuilder::with_capacity(n),
        );
        let (mut class, mut source, mut team, mut project, mut provider, mut model_key) =
            (text(), text(), text(), text(), text(), text());
        let (mut price_id, mut contract_id, mut meter, mut service_tier) = (text(), text(), text(), text());
        let mut above = Int64Builder::with_capacity(n);
        let mut list_unit = decimal().map_err(rows_error)?;
        let mut contracted_unit = decimal().map_err(rows_error)?;
        let (mut quantity, mut requests, mut unpriced) = (
            Int64Builder::with_capacity(n),
            Int64Builder::with_capacity(n),
            Int64Builder::with_capacity(n),
        );
        let mut list_cost = decimal().map_err(rows_error)?;
        let mut contracted_cost = decimal().map_err(rows_error)?;
        let units = |value: Decimal| -> Result<i128, StoreError> {
            let mut scaled = value;
            scaled.rescale(LINE_SCALE);
            if scaled.scale() != LINE_SCALE {
                return Err(StoreError::Rows(format!(
                    "amount `{value}` does not fit DECIMAL(38,18)"
                )));
            }
            Ok(scaled.mantissa())
        };
        for (key, sums) in &self.lines {
            line_key.append_value(line_key_of(key));
            charge_day.append_value(key.charge_day.timestamp_micros());
            billing_month.append_value(key.billing_month.timestamp_micros());
            class.append_value(key.class.as_str());
            source.append_value(&key.source);
            team.append_value(&key.team);
            project.append_option(key.project.as_deref());
            provider.append_value(&key.provider);
            model_key.append_value(&key.model_key);
            price_id.append_option(key.price_id.as_deref());
            contract_id.append_option(key.contract_id.as_deref());
            meter.append_value(key.meter);
            service_tier.append_value(&key.service_tier);
            above.append_value(i64::try_from(key.above_input_tokens).unwrap_or(i64::MAX));
            list_unit.append_option(key.list_unit_price.map(units).transpose()?);
            contracted_unit.append_option(key.contracted_unit_price.map(units).transpose()?);
            quantity.append_value(sums.quantity);
            requests.append_value(sums.requests);
            list_cost.append_value(units(sums.list_cost)?);
            contracted_cost.append_value(units(sums.contracted_cost)?);
            unpriced.append_value(sums.unpriced_requests);
        }
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("line_key", Arc::new(line_key.finish())),
            ("charge_day", Arc::new(charge_day.finish())),
            ("billing_month", Arc::new(billing_month.finish())),
            ("charge_class", Arc::new(class.finish())),
            ("source", Arc::new(source.finish())),
            ("team", Arc::new(team.finish())),
            ("project", Arc::new(project.finish())),
            ("provider", Arc::new(provider.finish())),
            ("model_key", Arc::new(model_key.finish())),
            ("price_id", Arc::new(price_id.finish())),
            ("contract_id", Arc::new(contract_id.finish())),
            ("meter", Arc::new(meter.finish())),
            ("service_tier", Arc::new(service_tier.finish())),
            ("above_input_tokens", Arc::new(above.finish())),
            ("list_unit_price", Arc::new(list_unit.finish())),
            ("contracted_unit_price", Arc::new(contracted_unit.finish())),
            ("quantity", Arc::new(quantity.finish())),
            ("requests", Arc::new(requests.finish())),
            ("list_cost_usd", Arc::new(list_cost.finish())),
            ("contracted_cost_usd", Arc::new(contracted_cost.finish())),
            ("unpriced_requests", Arc::new(unpriced.finish())),
        ];
        RecordBatch::try_from_iter(columns).map_err(rows_error)
    }
}

/// The key of a line: SHA-256 over every key column, truncated to 126 bits.
fn line_key_of(key: &LineKey) -> i128 {
    let mut hasher = Sha256::new();
    let mut field = |text: &str| {
        hasher.update(text.as_bytes());
        hasher.update([0x1f]);
    };
    field(&key.charge_day.timestamp_micros().to_string());
    field(&key.billing_month.timestamp_micros().to_string());
    field(key.class.as_str());
    field(&key.source);
    field(&key.team);
    field(key.project.as_deref().unwrap_or("\u{1e}"));
    field(&key.provider);
    field(&key.model_key);
    field(key.price_id.as_deref().unwrap_or("\u{1e}"));
    field(key.contract_id.as_deref().unwrap_or("\u{1e}"));
    field(key.meter);
    field(&key.service_tier);
    field(&key.above_input_tokens.to_string());
    field(
        &key.list_unit_price
            .map_or("\u{1e}".to_owned(), |price| price.to_string()),
    );
    field(
        &key.contracted_unit_price
            .map_or("\u{1e}".to_owned(), |price| price.to_string()),
    );
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // 126 bits keep the key inside DECIMAL(38,0) (|key| < 10^38).
    i128::from_be_bytes(bytes) >> 2
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    fn key_ref<'a>(
        project: Option<&'a str>,
        price_id: Option<&'a str>,
        unit: Option<Decimal>,
    ) -> LineKeyRef<'a> {
        let ts = Utc.with_ymd_and_hms(2026, 11, 3, 14, 5, 0).single().unwrap();
        LineKeyRef {
            charge_day: day_of(ts),
            billing_month: month_of(ts),
            class: ChargeClass::Usage,
            source: "litellm",
            team: "search",
            project,
            provider: "openai",
            model_key: "gpt-4o-mini",
            price_id,
            contract_id: None,
            meter: Meter::Input.as_str(),
            service_tier: "standard",
            above_input_tokens: 0,
            list_unit_price: unit,
            contracted_unit_price: unit,
        }
    }

    /// A line is found by its borrowed key only if both keys hash alike: otherwise adding to it
    /// again would replace its sums instead of adding to them.
    #[test]
    fn a_borrowed_line_key_hashes_and_compares_as_its_owned_key() {
        let hasher = foldhash::fast::RandomState::default();
        let keys = [
            key_ref(None, None, None),
            key_ref(
                Some("ranking"),
                Some("catalog:openai/gpt-4o-mini"),
                Some(Decimal::new(15, 8)),
            ),
        ];
        for key in keys {
            let owned = key.to_owned_key();
            assert_eq!(hasher.hash_one(key), hasher.hash_one(&owned), "{key:?}");
            assert!(hashbrown::Equivalent::equivalent(&key, &owned));
        }
        assert!(!hashbrown::Equivalent::equivalent(
            &keys[0],
            &keys[1].to_owned_key()
        ));
    }

    #[test]
    fn adding_to_a_line_twice_sums_it() {
        let mut ledger = LineLedger::default();
        let sums = |quantity: i64, cost: i64| LineSums {
            quantity,
            requests: 1,
            list_cost: Decimal::new(cost, 6),
            contracted_cost: Decimal::new(cost, 6),
            unpriced_requests: 0,
        };
        let key = key_ref(
            Some("ranking"),
            Some("catalog:openai/gpt-4o-mini"),
            Some(Decimal::new(15, 8)),
        );
        ledger.add(key, sums(1_000, 150));
        ledger.add(key, sums(2_000, 300));
        ledger.add(key_ref(None, None, None), sums(7, 1));
        assert_eq!(ledger.len(), 2);
        let line = &ledger.lines[&key.to_owned_key()];
        assert_eq!((line.quantity, line.requests), (3_000, 2));
        assert_eq!(line.list_cost, Decimal::new(450, 6));
        assert_eq!(line.contracted_cost, Decimal::new(450, 6));
    }
}
