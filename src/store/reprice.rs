//! Re-pricing stored events after prices or contracts changed (`POST /v1/admin/reprice`): runs
//! on the writer, in one transaction, a day of events at a time. Each event is priced again with
//! the current catalog exactly as at ingest; only events whose outcome (model key, cost, list
//! cost, source, price id, contract) changes are written. Running it twice changes nothing the
//! second time.

use chrono::{DateTime, Duration, Utc};

use super::focus::{ChargeClass, LineLedger, LineOwner};
use super::writer::apply_staged;
use duckdb::types::Value;
use duckdb::{Connection, Transaction};
use rust_decimal::Decimal;
use serde::Serialize;

use super::StoreError;
use super::reader::timestamp_value;
use super::rows::decimal_units;
use crate::model::{Provider, ServiceTier, TokenCounts, TokenUsage, Usd};
use crate::pricing::{Catalog, Cost, PriceQuery, quote};

pub const REPRICE_SQL: &str = include_str!("../../queries/reprice.sql");

/// Which events to re-price.
#[derive(Debug, Clone)]
pub struct RepriceScope {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// A model key or gateway model string.
    pub model: Option<String>,
    pub provider: Option<String>,
}

/// What re-pricing changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RepriceOutcome {
    /// Events in scope.
    pub examined: u64,
    /// Events whose price changed.
    pub changed: u64,
    /// Events that had no price and now have one.
    pub newly_priced: u64,
    /// Events counted at the gateway's reported cost that now have a catalog price.
    pub newly_catalog_priced: u64,
    /// Events that had a price and now have none.
    pub newly_unpriced: u64,
    /// New minus old booked cost over the changed events (unpriced counts as 0), exact decimal.
    #[schema(value_type = String, example = "12.345000000000")]
    pub cost_delta_usd: String,
    /// New minus old list cost over the changed events.
    #[schema(value_type = String)]
    pub list_cost_delta_usd: String,
}

/// One stored event's pricing inputs and outcome.
struct Stored {
    rid: i64,
    ts: DateTime<Utc>,
    team: String,
    provider: Provider,
    model: String,
    model_key: String,
    tokens: TokenUsage,
    service_tier: ServiceTier,
    request_count: u64,
    cache_hit: bool,
    reported: Option<Usd>,
    cost: Option<Decimal>,
    list_cost: Option<Decimal>,
    cost_source: String,
    price_id: Option<String>,
    contract_id: Option<String>,
    source: String,
    project: Option<String>,
    cache_savings: Option<Decimal>,
    cache_hit_savings: Option<Decimal>,
}

impl Stored {
    /// The event's stored price as a [`Cost`]. Its lines were not stored: they are priced
    /// again with the entry and contract named by the stored ids when those still give the
    /// stored amounts exactly (ids name one set of prices), and are empty otherwise.
    /// Returns the cost and whether its lines are known.
    fn old_cost(&self, catalog: &Catalog, query: &PriceQuery<'_>) -> (Cost, bool) {
        let usd = |amount: Option<Decimal>| Usd::signed(amount.unwrap_or_default());
        match self.cost_source.as_str() {
            "catalog" => self
                .price_id
                .as_deref()
                .and_then(|price_id| {
                    crate::pricing::requote(
                        catalog,
                        query,
                        price_id,
                        self.contract_id.as_deref(),
                        (usd(self.cost), usd(self.list_cost)),
                    )
                })
                .map(|cost| (cost, true))
                .unwrap_or_else(|| {
                    (
                        Cost::Catalog {
                            usd: usd(self.cost),
                            list_usd: usd(self.list_cost),
                            price_id: self.price_id.clone().unwrap_or_default(),
                            contract_id: self.contract_id.clone(),
                            lines: Vec::new(),
                            cache_savings: usd(self.cache_savings),
                            cache_hit_savings: usd(self.cache_hit_savings),
                        },
                        false,
                    )
                }),
            "reported" => (Cost::Reported { usd: usd(self.cost) }, true),
            _ => (Cost::Unpriced, true),
        }
    }

    fn owner<'a>(&'a self, model_key: &'a str) -> LineOwner<'a> {
        LineOwner {
            ts: self.ts,
            source: &self.source,
            team: &self.team,
            project: self.project.as_deref(),
            provider: self.provider.as_str(),
            model_key,
            service_tier: self.service_tier.as_str(),
            request_count: self.request_count,
        }
    }
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn read_chunk(
    tx: &Transaction<'_>,
    scope: &RepriceScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Stored>, StoreError> {
    let mut statement = tx
        .prepare_cached(REPRICE_SQL)
        .map_err(StoreError::db("preparing the re-price scan"))?;
    let text = |value: &Option<String>| value.clone().map_or(Value::Null, Value::Text);
    let rows = statement
        .query_map(
            duckdb::named_params! {
                "from": timestamp_value(from),
                "to": timestamp_value(to),
                "model": text(&scope.model),
                "provider": text(&scope.provider),
            },
            |row| {
                let counts = TokenCounts {
                    input: count(row.get("input_tokens")?),
                    output: count(row.get("output_tokens")?),
                    cached_input: count(row.get("cached_input_tokens")?),
                    cache_write: count(row.get("cache_write_tokens")?),
                    cache_write_1h: count(row.get("cache_write_1h_tokens")?),
                    reasoning: count(row.get("reasoning_tokens")?),
                };
                let tier: String = row.get("service_tier")?;
                let provider: String = row.get("provider")?;
                let reported: Option<Decimal> = row.get("reported_cost_usd")?;
                Ok((
                    counts,
                    Stored {
                        rid: row.get("rid")?,
                        ts: row.get("ts")?,
                        team: row.get("team")?,
                        provider: Provider::normalize(&provider),
                        model: row.get("model")?,
                        model_key: row.get("model_key")?,
                        tokens: TokenUsage::default(),
                        service_tier: ServiceTier::parse(&tier).unwrap_or_default(),
                        request_count: count(row.get("request_count")?),
                        cache_hit: row.get("cache_hit")?,
                        reported: reported.map(Usd::signed),
                        cost: row.get("cost_usd")?,
                        list_cost: row.get("list_cost_usd")?,
                        cost_source: row.get("cost_source")?,
                        price_id: row.get("price_id")?,
                        contract_id: row.get("contract_id")?,
                        source: row.get("source")?,
                        project: row.get("project")?,
                        cache_savings: row.get("cache_savings_usd")?,
                        cache_hit_savings: row.get("cache_hit_savings_usd")?,
                    },
                ))
            },
        )
        .map_err(StoreError::db("scanning events to re-price"))?;
    let mut out = Vec::new();
    for row in rows {
        let (counts, mut stored) = row.map_err(StoreError::db("reading an event to re-price"))?;
        // Stored counts passed validation at ingest; a row that no longer does keeps its price.
        let Ok(tokens) = TokenUsage::new(counts) else {
            continue;
        };
        stored.tokens = tokens;
        out.push(stored);
    }
    Ok(out)
}

fn same(old: Option<Decimal>, new: Option<Usd>) -> bool {
    match (old, new) {
        (None, None) => true,
        (Some(old), Some(new)) => old == new.as_decimal(),
        _ => false,
    }
}

/// Re-prices the events of `scope` with `catalog`, inside the caller's transaction.
///
/// # Errors
/// Database failures; nothing is then changed (the caller rolls back).
pub fn reprice(
    tx: &Transaction<'_>,
    scope: &RepriceScope,
    catalog: &Catalog,
) -> Result<RepriceOutcome, StoreError> {
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS reprice_updates (
             rid BIGINT, model_key VARCHAR, cost_usd DECIMAL(38,12), list_cost_usd DECIMAL(38,12),
             cost_source VARCHAR, price_id VARCHAR, contract_id VARCHAR,
             cache_savings_usd DECIMAL(38,12), cache_hit_savings_usd DECIMAL(38,12));
         DELETE FROM reprice_updates;",
    )
    .map_err(StoreError::db("preparing re-price updates"))?;
    let mut outcome = RepriceOutcome::default();
    let mut lines = LineLedger::default();
    let billing_month = LineLedger::billing_month(Utc::now());
    let (mut cost_delta, mut list_delta) = (Decimal::ZERO, Decimal::ZERO);
    let mut chunk_start = scope.from;
    while chunk_start < scope.to {
        let chunk_end = (chunk_start + Duration::days(1)).min(scope.to);
        let stored = read_chunk(tx, scope, chunk_start, chunk_end)?;
        let mut appender = tx
            .appender_to_catalog_and_db("reprice_updates", "temp", "main")
            .map_err(StoreError::db("opening the re-price appender"))?;
        for event in stored {
            outcome.examined += 1;
            let query = PriceQuery {
                provider: &event.provider,
                model: &event.model,
                ts: event.ts,
                team: &event.team,
                tokens: event.tokens,
                service_tier: event.service_tier,
                request_count: event.request_count,
                cache_hit: event.cache_hit,
                reported_cost_usd: event.reported,
            };
            let new = quote(catalog, &query);
            let unchanged = new.model_key == event.model_key
                && same(event.cost, new.cost.usd())
                && same(event.list_cost, new.cost.list_usd())
                && new.cost.source().as_str() == event.cost_source
                && new.cost.price_id() == event.price_id.as_deref()
                && new.cost.contract_id() == event.contract_id.as_deref()
                && same(event.cache_savings, new.cost.cache_savings())
                && same(event.cache_hit_savings, new.cost.cache_hit_savings());
            if unchanged {
                continue;
            }
            outcome.changed += 1;
            let (old_cost, lines_known) = event.old_cost(catalog, &query);
            lines.reverse_call(
                &event.owner(&event.model_key),
                &old_cost,
                lines_known,
                billing_month,
            );
            lines.add_call(
                &event.owner(&new.model_key),
                &new.cost,
                ChargeClass::Correction,
                billing_month,
            );
            let was_unpriced = event.cost_source == "unpriced";
            let is_unpriced = matches!(new.cost, Cost::Unpriced);
            outcome.newly_priced += u64::from(was_unpriced && !is_unpriced);
            outcome.newly_unpriced += u64::from(!was_unpriced && is_unpriced);
            outcome.newly_catalog_priced +=
                u64::from(event.cost_source == "reported" && matches!(new.cost, Cost::Catalog { .. }));
            cost_delta +=
                new.cost.usd().map_or(Decimal::ZERO, Usd::as_decimal) - event.cost.unwrap_or_default();
            list_delta += new.cost.list_usd().map_or(Decimal::ZERO, Usd::as_decimal)
                - event.list_cost.unwrap_or_default();
            let money = |usd: Option<Usd>| {
                usd.map_or(Value::Null, |usd| {
                    Value::Decimal(
                        duckdb::types::Decimal::new(38, 12, decimal_units(usd)).unwrap_or_else(|_| {
                            // decimal_units always fits DECIMAL(38,12): rust_decimal holds 96 bits.
                            duckdb::types::Decimal::from(usd.as_decimal())
                        }),
                    )
                })
            };
            let text = |value: Option<&str>| value.map_or(Value::Null, |value| Value::Text(value.to_owned()));
            appender
                .append_row(duckdb::params![
                    event.rid,
                    new.model_key,
                    money(new.cost.usd()),
                    money(new.cost.list_usd()),
                    new.cost.source().as_str(),
                    text(new.cost.price_id()),
                    text(new.cost.contract_id()),
                    money(new.cost.cache_savings()),
                    money(new.cost.cache_hit_savings()),
                ])
                .map_err(StoreError::db("staging a re-priced event"))?;
        }
        appender
            .flush()
            .map_err(StoreError::db("flushing re-priced events"))?;
        chunk_start = chunk_end;
    }
    // The rollups move each changed event from its old row to its new one: stage the old
    // version with sign −1, update, stage the new version with sign +1.
    tx.execute_batch(
        "INSERT INTO staged_events
             SELECT e.*, -1 FROM usage_events e WHERE e.rowid IN (SELECT rid FROM reprice_updates);
         UPDATE usage_events SET
             model_key = u.model_key, cost_usd = u.cost_usd, list_cost_usd = u.list_cost_usd,
             cost_source = u.cost_source, price_id = u.price_id, contract_id = u.contract_id,
             cache_savings_usd = u.cache_savings_usd, cache_hit_savings_usd = u.cache_hit_savings_usd
         FROM reprice_updates u
         WHERE usage_events.rowid = u.rid;
         INSERT INTO staged_events
             SELECT e.*, 1 FROM usage_events e WHERE e.rowid IN (SELECT rid FROM reprice_updates);
         DELETE FROM reprice_updates;",
    )
    .map_err(StoreError::db("writing re-priced events"))?;
    apply_staged(tx, &lines)?;
    outcome.cost_delta_usd = Usd::signed(cost_delta).to_fixed_string();
    outcome.list_cost_delta_usd = Usd::signed(list_delta).to_fixed_string();
    Ok(outcome)
}

/// Runs [`reprice`] in its own transaction.
///
/// # Errors
/// Database failures; nothing is changed.
pub fn reprice_committed(
    conn: &mut Connection,
    scope: &RepriceScope,
    catalog: &Catalog,
) -> Result<RepriceOutcome, StoreError> {
    let tx = conn
        .transaction()
        .map_err(StoreError::db("beginning a transaction"))?;
    let outcome = reprice(&tx, scope, catalog)?;
    tx.commit()
        .map_err(StoreError::db("committing re-priced events"))?;
    Ok(outcome)
}
