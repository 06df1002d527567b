//! Priced records → an Arrow record batch in the column order of `usage_events`, for DuckDB's
//! appender (columnar, no per-value conversions).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use duckdb::arrow::array::{
    ArrayRef, BooleanBuilder, Decimal128Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    MapBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use duckdb::arrow::record_batch::RecordBatch;

use super::StoreError;
use crate::model::{USD_SCALE, Usd};
use crate::pricing::PricedRecord;

/// The scaled integer of an amount at DECIMAL(38,12).
pub(crate) fn decimal_units(usd: Usd) -> i128 {
    let mut scaled = usd.to_stored_scale().as_decimal();
    scaled.rescale(USD_SCALE);
    scaled.mantissa()
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Builds the record batch of `records`, all ingested at `ingested_at`.
///
/// # Errors
/// [`StoreError::Rows`] when Arrow refuses the arrays (a schema defect, not bad input).
pub fn to_record_batch(
    records: &[&PricedRecord],
    ingested_at: DateTime<Utc>,
) -> Result<RecordBatch, StoreError> {
    let n = records.len();
    let text = || StringBuilder::with_capacity(n, n * 16);
    let (mut event_id, mut source, mut team, mut project, mut user_id, mut api_key_id) =
        (text(), text(), text(), text(), text(), text());
    let (mut provider, mut model_requested, mut model, mut model_key, mut route, mut fallback_from) =
        (text(), text(), text(), text(), text(), text());
    let (mut service_tier, mut cost_source, mut price_id, mut contract_id, mut error_type) =
        (text(), text(), text(), text(), text());
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n);
    let mut ingested = TimestampMicrosecondBuilder::with_capacity(n);
    let mut tags = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    let count = || Int64Builder::with_capacity(n);
    let (mut input, mut output, mut cached, mut write, mut write_1h, mut reasoning, mut request_count) =
        (count(), count(), count(), count(), count(), count(), count());
    let money = || Decimal128Builder::with_capacity(n).with_precision_and_scale(38, USD_SCALE as i8);
    let mut cost = money().map_err(|error| StoreError::Rows(error.to_string()))?;
    let mut list_cost = money().map_err(|error| StoreError::Rows(error.to_string()))?;
    let mut cache_savings = money().map_err(|error| StoreError::Rows(error.to_string()))?;
    let mut cache_hit_savings = money().map_err(|error| StoreError::Rows(error.to_string()))?;
    let mut reported = money().map_err(|error| StoreError::Rows(error.to_string()))?;
    let mut attempts = Int32Builder::with_capacity(n);
    let (mut latency, mut ttft) = (Float64Builder::with_capacity(n), Float64Builder::with_capacity(n));
    let mut status_code = Int16Builder::with_capacity(n);
    let (mut is_error, mut cache_hit) = (BooleanBuilder::with_capacity(n), BooleanBuilder::with_capacity(n));
    let ingested_micros = ingested_at.timestamp_micros();

    for priced in records {
        let record = &priced.record;
        event_id.append_value(record.event_id.as_str());
        source.append_value(record.source.as_str());
        ts.append_value(record.ts.timestamp_micros());
        team.append_value(&record.team);
        project.append_option(record.project.as_deref());
        user_id.append_option(record.user_id.as_deref());
        api_key_id.append_option(record.api_key_id.as_ref().map(|key| key.as_str()));
        for (key, value) in record.tags.iter() {
            tags.keys().append_value(key);
            tags.values().append_value(value);
        }
        tags.append(true)
            .map_err(|error| StoreError::Rows(error.to_string()))?;
        provider.append_value(record.provider.as_str());
        model_requested.append_value(&record.model_requested);
        model.append_value(&record.model);
        model_key.append_value(&priced.model_key);
        route.append_option(record.route.as_deref());
        fallback_from.append_option(record.fallback_from.as_deref());
        let tokens = &record.tokens;
        input.append_value(saturating_i64(tokens.input().get()));
        output.append_value(saturating_i64(tokens.output().get()));
        cached.append_value(saturating_i64(tokens.cached_input().get()));
        write.append_value(saturating_i64(tokens.cache_write().get()));
        write_1h.append_value(saturating_i64(tokens.cache_write_1h().get()));
        reasoning.append_value(saturating_i64(tokens.reasoning().get()));
        service_tier.append_value(record.service_tier.as_str());
        cost.append_option(priced.cost.usd().map(decimal_units));
        list_cost.append_option(priced.cost.list_usd().map(decimal_units));
        reported.append_option(record.reported_cost_usd.map(decimal_units));
        cost_source.append_value(priced.cost.source().as_str());
        price_id.append_option(priced.cost.price_id());
        contract_id.append_option(priced.cost.contract_id());
        request_count.append_value(saturating_i64(record.request_count));
        attempts.append_value(i32::try_from(record.attempts).unwrap_or(i32::MAX));
        latency.append_option(record.latency_ms);
        ttft.append_option(record.ttft_ms);
        status_code.append_value(i16::try_from(record.status_code).unwrap_or(i16::MAX));
        is_error.append_value(record.is_error());
        error_type.append_option(record.error_type.map(|kind| kind.as_str()));
        cache_hit.append_value(record.cache_hit);
        ingested.append_value(ingested_micros);
        cache_savings.append_option(priced.cost.cache_savings().map(decimal_units));
        cache_hit_savings.append_option(priced.cost.cache_hit_savings().map(decimal_units));
    }

    let columns: Vec<(&str, ArrayRef)> = vec![
        ("event_id", Arc::new(event_id.finish())),
        ("source", Arc::new(source.finish())),
        ("ts", Arc::new(ts.finish())),
        ("team", Arc::new(team.finish())),
        ("project", Arc::new(project.finish())),
        ("user_id", Arc::new(user_id.finish())),
        ("api_key_id", Arc::new(api_key_id.finish())),
        ("tags", Arc::new(tags.finish())),
        ("provider", Arc::new(provider.finish())),
        ("model_requested", Arc::new(model_requested.finish())),
        ("model", Arc::new(model.finish())),
        ("model_key", Arc::new(model_key.finish())),
        ("route", Arc::new(route.finish())),
        ("fallback_from", Arc::new(fallback_from.finish())),
        ("input_tokens", Arc::new(input.finish())),
        ("output_tokens", Arc::new(output.finish())),
        ("cached_input_tokens", Arc::new(cached.finish())),
        ("cache_write_tokens", Arc::new(write.finish())),
        ("cache_write_1h_tokens", Arc::new(write_1h.finish())),
        ("reasoning_tokens", Arc::new(reasoning.finish())),
        ("service_tier", Arc::new(service_tier.finish())),
        ("cost_usd", Arc::new(cost.finish())),
        ("list_cost_usd", Arc::new(list_cost.finish())),
        ("reported_cost_usd", Arc::new(reported.finish())),
        ("cost_source", Arc::new(cost_source.finish())),
        ("price_id", Arc::new(price_id.finish())),
        ("contract_id", Arc::new(contract_id.finish())),
        ("request_count", Arc::new(request_count.finish())),
        ("attempts", Arc::new(attempts.finish())),
        ("latency_ms", Arc::new(latency.finish())),
        ("ttft_ms", Arc::new(ttft.finish())),
        ("status_code", Arc::new(status_code.finish())),
        ("is_error", Arc::new(is_error.finish())),
        ("error_type", Arc::new(error_type.finish())),
        ("cache_hit", Arc::new(cache_hit.finish())),
        ("ingested_at", Arc::new(ingested.finish())),
        // Added by migration 0002, hence after `ingested_at`.
        ("cache_savings_usd", Arc::new(cache_savings.finish())),
        ("cache_hit_savings_usd", Arc::new(cache_hit_savings.finish())),
    ];
    RecordBatch::try_from_iter(columns).map_err(|error| StoreError::Rows(error.to_string()))
}
