//! The exported columns as polars types, and their CSV form.
//!
//! The Parquet schema is the store's: text as UTF-8 strings, instants as `TIMESTAMP` (UTC,
//! microseconds, not adjusted: DuckDB stores UTC in `TIMESTAMP` and reads it back as the same
//! type), money as `DECIMAL(38,12)` (Parquet's logical decimal, never a float), counts as 64-bit
//! integers, `attempts` 32-bit, `status_code` 16-bit, and `tags` as a list of `{key, value}`
//! structs, the shape of a `MAP` that every engine reads (DuckDB: `map_from_entries(tags)`).
//!
//! CSV has no nested or decimal types: money becomes its exact decimal text with twelve places,
//! `tags` a JSON object, instants RFC 3339 with microseconds and `Z`.

use polars::prelude::*;
use serde_json::{Map, Value as Json};

use crate::reports::output::decimal_text;

/// The exported columns (`queries/export.sql`), in order, with their polars types.
pub fn event_schema() -> Schema {
    let text = DataType::String;
    let count = DataType::Int64;
    let money = DataType::Decimal(Some(38), Some(12));
    let instant = DataType::Datetime(TimeUnit::Microseconds, None);
    let tags = DataType::List(Box::new(DataType::Struct(vec![
        Field::new("key".into(), DataType::String),
        Field::new("value".into(), DataType::String),
    ])));
    let columns: [(&str, DataType); 36] = [
        ("event_id", text.clone()),
        ("source", text.clone()),
        ("ts", instant.clone()),
        ("team", text.clone()),
        ("project", text.clone()),
        ("user_id", text.clone()),
        ("api_key_id", text.clone()),
        ("tags", tags),
        ("provider", text.clone()),
        ("model_requested", text.clone()),
        ("model", text.clone()),
        ("model_key", text.clone()),
        ("route", text.clone()),
        ("fallback_from", text.clone()),
        ("attempts", DataType::Int32),
        ("request_count", count.clone()),
        ("input_tokens", count.clone()),
        ("output_tokens", count.clone()),
        ("cached_input_tokens", count.clone()),
        ("cache_write_tokens", count.clone()),
        ("cache_write_1h_tokens", count.clone()),
        ("reasoning_tokens", count),
        ("service_tier", text.clone()),
        ("reported_cost_usd", money.clone()),
        ("cost_usd", money.clone()),
        ("list_cost_usd", money),
        ("cost_source", text.clone()),
        ("price_id", text.clone()),
        ("contract_id", text.clone()),
        ("latency_ms", DataType::Float64),
        ("ttft_ms", DataType::Float64),
        ("status_code", DataType::Int16),
        ("is_error", DataType::Boolean),
        ("error_type", text),
        ("cache_hit", DataType::Boolean),
        ("ingested_at", instant),
    ];
    Schema::from_iter(
        columns
            .into_iter()
            .map(|(name, dtype)| Field::new(name.into(), dtype)),
    )
}

/// Brings a window read from DuckDB to exactly [`event_schema`] (same names, order and types;
/// a column of another type is cast strictly, so nothing is silently lost), as one chunk (one
/// Parquet row group).
///
/// # Errors
/// A missing column or a cast that would lose values (a defect, not bad data).
pub fn conform(frame: DataFrame, schema: &Schema) -> PolarsResult<DataFrame> {
    let mut columns = Vec::with_capacity(schema.len());
    for (name, dtype) in schema.iter() {
        let column = frame.column(name)?;
        columns.push(if column.dtype() == dtype {
            column.clone()
        } else {
            column.strict_cast(dtype)?
        });
    }
    let mut conformed = DataFrame::new(columns)?;
    conformed.rechunk_mut();
    Ok(conformed)
}

/// The CSV schema: [`event_schema`] with money and tags as text.
pub fn csv_schema(schema: &Schema) -> Schema {
    Schema::from_iter(schema.iter().map(|(name, dtype)| {
        let dtype = match dtype {
            DataType::Decimal(_, _) | DataType::List(_) => DataType::String,
            other => other.clone(),
        };
        Field::new(name.clone(), dtype)
    }))
}

/// A conformed window as CSV columns: money as exact decimal text, tags as a JSON object.
///
/// # Errors
/// When a column does not have the type [`event_schema`] gives it.
pub fn to_csv_frame(frame: &DataFrame) -> PolarsResult<DataFrame> {
    let mut columns = Vec::with_capacity(frame.width());
    for column in frame.get_columns() {
        columns.push(match column.dtype() {
            DataType::Decimal(_, _) => decimal_texts(column)?,
            DataType::List(_) => tags_json(column)?,
            _ => column.clone(),
        });
    }
    DataFrame::new(columns)
}

fn decimal_texts(column: &Column) -> PolarsResult<Column> {
    let series = column.as_materialized_series();
    let decimals = series.decimal()?;
    let scale = decimals.scale();
    let texts: StringChunked = decimals
        .physical()
        .iter()
        .map(|units| units.map(|units| decimal_text(units, scale)))
        .collect();
    Ok(texts.with_name(column.name().clone()).into_column())
}

fn tags_json(column: &Column) -> PolarsResult<Column> {
    let lists = column.as_materialized_series().list()?;
    let mut texts: Vec<Option<String>> = Vec::with_capacity(lists.len());
    for entries in lists.into_iter() {
        let Some(entries) = entries else {
            texts.push(None);
            continue;
        };
        let fields = entries.struct_()?.fields_as_series();
        let mut object = Map::new();
        if let [keys, values] = fields.as_slice() {
            for (key, value) in keys.str()?.into_iter().zip(values.str()?) {
                if let Some(key) = key {
                    object.insert(
                        key.to_owned(),
                        value.map_or(Json::Null, |value| Json::String(value.to_owned())),
                    );
                }
            }
        }
        texts.push(Some(Json::Object(object).to_string()));
    }
    Ok(Column::new(column.name().clone(), texts))
}
