//! Report results: DuckDB rows → a polars DataFrame → JSON rows, CSV or Parquet.
//!
//! polars does the shaping every report shares (dropping the dimensions not grouped by,
//! labelling buckets, ordering, limiting, totals) and writes CSV and Parquet. Money columns stay
//! `Decimal(38,12)` all the way and become JSON strings with twelve decimals.

use std::collections::HashMap;

use duckdb::Connection;
use polars::prelude::*;
use serde_json::{Map, Value as Json};

use super::ReportError;
use super::buckets::Bucket;
use super::filters::Bindings;
use super::params::{CommonParams, Dimension, Order, OutputFormat};

/// Runs report SQL with its bindings ([`Bindings::render`] first) and collects the rows into
/// one DataFrame.
///
/// `empty_schema` describes the result when the query returns no rows (DuckDB then yields no
/// batch to take a schema from).
///
/// # Errors
/// [`ReportError::Query`] when DuckDB fails.
pub fn query_frame(
    conn: &Connection,
    sql: &str,
    bindings: &Bindings,
    empty_schema: &[(&str, DataType)],
) -> Result<DataFrame, ReportError> {
    let sql = bindings.render(sql);
    let mut statement = conn.prepare_cached(&sql).map_err(ReportError::Query)?;
    let params = bindings.as_params(&sql);
    let frames = statement
        .query_polars(params.as_slice())
        .map_err(ReportError::Query)?;
    let mut combined: Option<DataFrame> = None;
    for frame in frames {
        match &mut combined {
            None => combined = Some(frame),
            Some(all) => {
                all.vstack_mut_owned(frame)?;
            }
        }
    }
    match combined {
        // One chunk per column: DuckDB hands over a frame per vector, and series iteration
        // (bucket labels, budgets' daily series) needs contiguous columns.
        Some(mut frame) => {
            frame.as_single_chunk_par();
            Ok(frame)
        }
        None => {
            let columns: Vec<Column> = empty_schema
                .iter()
                .map(|(name, dtype)| Column::new_empty((*name).into(), dtype))
                .collect();
            Ok(DataFrame::new(columns)?)
        }
    }
}

/// Shapes the rows of a grouped report: labels buckets (`bucket_start` → `bucket`), keeps the
/// grouped dimensions only (tag slots renamed `tag:<key>`), orders and limits.
///
/// Returns the shaped frame and the frame before the limit (for totals).
///
/// # Errors
/// When polars refuses an operation (a defect, not bad input).
pub fn shape_grouped(
    frame: DataFrame,
    params: &CommonParams,
    buckets: &[Bucket],
    tag_keys: &[String],
    metric_columns: &[&str],
) -> Result<DataFrame, ReportError> {
    let mut frame = frame;
    label_buckets(&mut frame, buckets)?;

    for (slot, key) in tag_keys.iter().enumerate() {
        frame.rename(&format!("tag{}", slot + 1), format!("tag:{key}").into())?;
    }
    let mut keep: Vec<String> = Vec::new();
    if params.bucket.is_some() {
        keep.push("bucket".to_owned());
    }
    keep.extend(params.group_by.iter().map(Dimension::label));
    keep.extend(metric_columns.iter().map(|name| (*name).to_owned()));
    keep.push("bucket_start".to_owned());
    let mut frame = frame.select(keep)?;

    let mut by: Vec<String> = vec!["bucket_start".to_owned()];
    let mut descending = vec![false];
    match params.order {
        Order::CostDesc if metric_columns.contains(&"cost_usd") => {
            by.push("cost_usd".to_owned());
            descending.push(true);
        }
        _ => {}
    }
    for dimension in &params.group_by {
        by.push(dimension.label());
        descending.push(false);
    }
    frame = frame.sort(
        by,
        SortMultipleOptions::new()
            .with_order_descending_multi(descending)
            .with_nulls_last(true)
            .with_maintain_order(true),
    )?;
    let frame = frame.drop("bucket_start")?;
    Ok(frame)
}

/// Adds a `bucket` column holding each row's bucket label (its local start in the report's
/// time zone), from the `bucket_start` column.
///
/// # Errors
/// When the frame has no `bucket_start` column.
pub fn label_buckets(frame: &mut DataFrame, buckets: &[Bucket]) -> Result<(), ReportError> {
    let labels: HashMap<i64, &str> = buckets
        .iter()
        .map(|bucket| (bucket.start.timestamp_micros(), bucket.label.as_str()))
        .collect();
    let starts = frame.column("bucket_start")?.as_materialized_series().clone();
    let mut bucket_labels: Vec<Option<String>> = Vec::with_capacity(starts.len());
    for value in starts.iter() {
        let label = match value {
            AnyValue::Datetime(micros, TimeUnit::Microseconds, _) => {
                labels.get(&micros).map(|label| (*label).to_owned())
            }
            _ => None,
        };
        bucket_labels.push(label);
    }
    frame.with_column(Column::new("bucket".into(), bucket_labels))?;
    Ok(())
}

/// The first `limit` rows, or all of them without a limit. (Polars' own `head(None)` keeps ten.)
#[must_use]
pub fn limited(frame: DataFrame, limit: Option<usize>) -> DataFrame {
    match limit {
        Some(limit) => frame.head(Some(limit)),
        None => frame,
    }
}

/// Sums the metric columns over all rows (exact for integers and decimals).
///
/// # Errors
/// When polars refuses the aggregation.
pub fn totals(frame: &DataFrame, metric_columns: &[&str]) -> Result<Map<String, Json>, ReportError> {
    let sums: Vec<Expr> = metric_columns.iter().map(|name| col(*name).sum()).collect();
    let summed = frame.clone().lazy().select(sums).collect()?;
    let mut out = Map::new();
    for name in metric_columns {
        // A column with no values at all (nothing reported) totals to null, not 0.
        let column = frame.column(name)?;
        let value = if !column.is_empty() && column.null_count() == column.len() {
            AnyValue::Null
        } else {
            summed.column(name)?.get(0)?
        };
        out.insert((*name).to_owned(), any_to_json(&value));
    }
    Ok(out)
}

/// Converts rows to JSON objects: money as strings with twelve decimals, integers as numbers.
///
/// # Errors
/// When a column cannot be read.
pub fn rows_json(frame: &DataFrame) -> Result<Vec<Json>, ReportError> {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|name| name.to_string())
        .collect();
    let columns: Vec<&Column> = frame.get_columns().iter().collect();
    let mut rows = Vec::with_capacity(frame.height());
    for row in 0..frame.height() {
        let mut object = Map::with_capacity(names.len());
        for (name, column) in names.iter().zip(&columns) {
            object.insert(name.clone(), any_to_json(&column.get(row)?));
        }
        rows.push(Json::Object(object));
    }
    Ok(rows)
}

/// One polars value as JSON.
pub fn any_to_json(value: &AnyValue<'_>) -> Json {
    match value {
        AnyValue::Null => Json::Null,
        AnyValue::Boolean(flag) => Json::Bool(*flag),
        AnyValue::String(text) => Json::String((*text).to_owned()),
        AnyValue::StringOwned(text) => Json::String(text.to_string()),
        AnyValue::Int8(v) => Json::from(*v),
        AnyValue::Int16(v) => Json::from(*v),
        AnyValue::Int32(v) => Json::from(*v),
        AnyValue::Int64(v) => Json::from(*v),
        AnyValue::UInt8(v) => Json::from(*v),
        AnyValue::UInt16(v) => Json::from(*v),
        AnyValue::UInt32(v) => Json::from(*v),
        AnyValue::UInt64(v) => Json::from(*v),
        AnyValue::Int128(v) => Json::String(v.to_string()),
        AnyValue::Float32(v) => serde_json::Number::from_f64(f64::from(*v)).map_or(Json::Null, Json::Number),
        AnyValue::Float64(v) => serde_json::Number::from_f64(*v).map_or(Json::Null, Json::Number),
        AnyValue::Decimal(units, scale) => Json::String(decimal_text(*units, *scale)),
        AnyValue::Datetime(value, unit, _) => {
            let micros = match unit {
                TimeUnit::Nanoseconds => value / 1000,
                TimeUnit::Microseconds => *value,
                TimeUnit::Milliseconds => value.saturating_mul(1000),
            };
            chrono::DateTime::<chrono::Utc>::from_timestamp_micros(micros).map_or(Json::Null, |instant| {
                Json::String(instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            })
        }
        other => Json::String(other.to_string()),
    }
}

/// Money (scale ≤ 12) with exactly twelve places; finer decimals (unit prices and line costs at
/// scale 18) exactly, trailing zeros trimmed down to twelve places.
pub fn decimal_text(units: i128, scale: usize) -> String {
    if scale <= 12 {
        return format_decimal(units, scale);
    }
    let negative = units < 0;
    let digits = units.unsigned_abs().to_string();
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (integer, fraction) = padded.split_at(padded.len() - scale);
    let mut fraction = fraction.to_owned();
    while fraction.len() > 12 && fraction.ends_with('0') {
        fraction.pop();
    }
    format!("{}{integer}.{fraction}", if negative { "-" } else { "" })
}

/// Formats a scaled integer as a decimal with twelve places (`"0.000125000000"`); amounts stored
/// at another scale are rescaled exactly (half-even when digits are dropped).
pub fn format_decimal(units: i128, scale: usize) -> String {
    const TARGET: usize = 12;
    let rescaled = if scale <= TARGET {
        units.checked_mul(10i128.pow((TARGET - scale) as u32))
    } else {
        let divisor = 10i128.pow((scale - TARGET) as u32);
        let quotient = units.div_euclid(divisor);
        let remainder = units.rem_euclid(divisor);
        let twice = remainder * 2;
        Some(if twice > divisor || (twice == divisor && quotient % 2 != 0) {
            quotient + 1
        } else {
            quotient
        })
    };
    let Some(value) = rescaled else {
        return format!("{units}e-{scale}");
    };
    let negative = value < 0;
    let digits = value.unsigned_abs().to_string();
    let padded = format!("{digits:0>13}");
    let (integer, fraction) = padded.split_at(padded.len() - TARGET);
    format!("{}{integer}.{fraction}", if negative { "-" } else { "" })
}

/// Encodes a frame as CSV (money as decimals with twelve places) or Parquet (money as
/// DECIMAL(38,12)).
///
/// # Errors
/// When polars cannot write the frame.
pub fn encode(frame: &mut DataFrame, format: OutputFormat) -> Result<Vec<u8>, ReportError> {
    let mut buffer = Vec::new();
    match format {
        OutputFormat::Json => {
            let rows = rows_json(frame)?;
            serde_json::to_writer(&mut buffer, &rows)
                .map_err(|error| ReportError::Shape(error.to_string()))?;
        }
        OutputFormat::Csv => {
            let mut text_frame = decimals_as_text(frame)?;
            CsvWriter::new(&mut buffer)
                .include_header(true)
                .finish(&mut text_frame)?;
        }
        OutputFormat::Parquet => {
            ParquetWriter::new(&mut buffer).finish(frame)?;
        }
    }
    Ok(buffer)
}

/// Replaces decimal columns with their exact twelve-place text, so CSV readers see exactly what
/// JSON clients see.
fn decimals_as_text(frame: &DataFrame) -> Result<DataFrame, ReportError> {
    let mut out = frame.clone();
    for column in frame.get_columns() {
        if let DataType::Decimal(_, _) = column.dtype() {
            let mut text: Vec<Option<String>> = Vec::with_capacity(column.len());
            for row in 0..column.len() {
                text.push(match column.get(row)? {
                    AnyValue::Decimal(units, scale) => Some(decimal_text(units, scale)),
                    _ => None,
                });
            }
            out.with_column(Column::new(column.name().clone(), text))?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_format_at_twelve_places() {
        assert_eq!(format_decimal(125_000_000, 12), "0.000125000000");
        assert_eq!(format_decimal(-5, 12), "-0.000000000005");
        assert_eq!(format_decimal(15, 1), "1.500000000000");
        assert_eq!(format_decimal(25, 13), "0.000000000002");
        assert_eq!(format_decimal(35, 13), "0.000000000004");
    }
}
