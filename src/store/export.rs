//! Canonical events out of the store, as NDJSON in chunks (for `GET /v1/export` and re-ingest:
//! an exported file is valid canonical input and dedupes against the original feed).

use chrono::{DateTime, Utc};
use duckdb::Connection;
use duckdb::types::Value;
use rust_decimal::Decimal;
use serde_json::{Map, Value as Json};

use super::StoreError;
use super::reader::timestamp_value;
use crate::model::Usd;

pub const EXPORT_SQL: &str = include_str!("../../queries/export.sql");

fn instant_json(value: Value) -> Json {
    match value {
        Value::Timestamp(_, micros) => DateTime::<Utc>::from_timestamp_micros(micros)
            .map_or(Json::Null, |instant| {
                Json::String(instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            }),
        _ => Json::Null,
    }
}

fn money_json(value: Option<Decimal>) -> Json {
    value.map_or(Json::Null, |amount| {
        Json::String(Usd::signed(amount).to_fixed_string())
    })
}

fn plain_json(value: Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(flag) => Json::Bool(flag),
        Value::TinyInt(v) => Json::from(v),
        Value::SmallInt(v) => Json::from(v),
        Value::Int(v) => Json::from(v),
        Value::BigInt(v) => Json::from(v),
        Value::Double(v) => serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number),
        Value::Text(text) => Json::String(text),
        Value::Map(entries) => {
            let mut object = Map::new();
            for (key, value) in entries.iter() {
                if let (Value::Text(key), Value::Text(value)) = (key, value) {
                    object.insert(key.clone(), Json::String(value.clone()));
                }
            }
            Json::Object(object)
        }
        other => Json::String(format!("{other:?}")),
    }
}

/// Streams the events of `[from, to)` as NDJSON, handing `rows_per_chunk` lines at a time to
/// `sink`; stops early when `sink` returns false (the client went away).
///
/// # Errors
/// Query failures.
pub fn export_ndjson(
    conn: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    rows_per_chunk: usize,
    mut sink: impl FnMut(Vec<u8>) -> bool,
) -> Result<usize, StoreError> {
    let mut statement = conn
        .prepare_cached(EXPORT_SQL)
        .map_err(StoreError::db("preparing the export"))?;
    let mut rows = statement
        .query(duckdb::named_params! {"from": timestamp_value(from), "to": timestamp_value(to)})
        .map_err(StoreError::db("running the export"))?;
    // Column names exist once the statement ran.
    let names: Vec<String> = rows
        .as_ref()
        .map(|statement| statement.column_names())
        .unwrap_or_default();
    let mut buffer = Vec::new();
    let mut in_buffer = 0;
    let mut total = 0;
    while let Some(row) = rows.next().map_err(StoreError::db("reading exported rows"))? {
        let mut object = Map::with_capacity(names.len());
        for (idx, name) in names.iter().enumerate() {
            let json = match name.as_str() {
                "ts" | "ingested_at" => {
                    instant_json(row.get(idx).map_err(StoreError::db("reading a timestamp"))?)
                }
                "cost_usd" | "list_cost_usd" | "reported_cost_usd" => {
                    money_json(row.get(idx).map_err(StoreError::db("reading an amount"))?)
                }
                _ => plain_json(row.get(idx).map_err(StoreError::db("reading a column"))?),
            };
            object.insert(name.clone(), json);
        }
        serde_json::to_writer(&mut buffer, &Json::Object(object))
            .map_err(|error| StoreError::Rows(error.to_string()))?;
        buffer.push(b'\n');
        in_buffer += 1;
        total += 1;
        if in_buffer >= rows_per_chunk {
            if !sink(std::mem::take(&mut buffer)) {
                return Ok(total);
            }
            in_buffer = 0;
        }
    }
    if !buffer.is_empty() {
        sink(buffer);
    }
    Ok(total)
}
