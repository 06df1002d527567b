//! A sandbox result as JSON, CSV, an Arrow IPC stream or Parquet.
//!
//! JSON and CSV are written from DuckDB's Arrow batches directly: decimals (money among them) as
//! exact strings at their own scale, integers as numbers (a decimal of scale 0, such as a sum of
//! integers, too while it fits 64 bits), timestamps as RFC 3339 in UTC, lists as arrays, structs
//! and maps as objects. A CSV cell holds the text of its JSON value (nested values as JSON).
//!
//! Arrow and Parquet go through polars' Arrow implementation: the batches cross over by the Arrow
//! C data interface ([`to_polars`]), then polars-arrow writes the IPC stream and polars the
//! Parquet file (decimals stay DECIMAL).

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use duckdb::arrow::array::{Array, AsArray, StructArray};
use duckdb::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use duckdb::arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::arrow::util::display::{ArrayFormatter, FormatOptions};
use polars::prelude::{DataFrame, ParquetWriter};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::SqlError;
use super::result::{QueryOutput, SqlColumn, micros};

/// An output format of ad-hoc SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlFormat {
    Json,
    Csv,
    Arrow,
    Parquet,
}

impl SqlFormat {
    pub const NAMES: &'static str = "json, csv, arrow or parquet";

    /// The format of a `format` value: `json`, `csv`, `arrow`, `parquet`.
    pub fn parse(name: &str) -> Option<SqlFormat> {
        match name.trim().to_ascii_lowercase().as_str() {
            "json" => Some(SqlFormat::Json),
            "csv" => Some(SqlFormat::Csv),
            "arrow" | "ipc" | "arrow_ipc" => Some(SqlFormat::Arrow),
            "parquet" => Some(SqlFormat::Parquet),
            _ => None,
        }
    }

    /// The format a media type asks for (from `Accept`); `None` for anything else.
    pub fn from_media_type(media_type: &str) -> Option<SqlFormat> {
        match media_type.trim().to_ascii_lowercase().as_str() {
            "application/json" => Some(SqlFormat::Json),
            "text/csv" => Some(SqlFormat::Csv),
            "application/vnd.apache.arrow.stream" => Some(SqlFormat::Arrow),
            "application/vnd.apache.parquet" | "application/x-parquet" => Some(SqlFormat::Parquet),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            SqlFormat::Json => "application/json",
            SqlFormat::Csv => "text/csv; charset=utf-8",
            SqlFormat::Arrow => "application/vnd.apache.arrow.stream",
            SqlFormat::Parquet => "application/vnd.apache.parquet",
        }
    }
}

/// The JSON document of a result.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SqlDocument {
    /// The result's columns, in order.
    pub columns: Vec<SqlColumn>,
    /// One object per row, keyed by column name. Decimals (money) are strings holding the exact
    /// value at the column's scale; integers are numbers; timestamps are RFC 3339 in UTC; lists
    /// are arrays, structs and maps objects.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Json>,
    /// Rows returned (at most the row cap).
    pub row_count: usize,
    /// Whether the query had more rows than the cap; the rest were not read.
    pub truncated: bool,
    /// Time from receiving the query to having its rows, in milliseconds.
    pub elapsed_ms: u64,
}

impl QueryOutput {
    /// Encodes the result.
    ///
    /// # Errors
    /// [`SqlError::Output`] when a writer fails (a defect or an unsupported nested type).
    pub fn encode(&self, format: SqlFormat) -> Result<Vec<u8>, SqlError> {
        match format {
            SqlFormat::Json => self.json_document(),
            SqlFormat::Csv => Ok(self.csv()),
            SqlFormat::Arrow => self.arrow_stream(),
            SqlFormat::Parquet => self.parquet(),
        }
    }

    /// The rows as JSON objects.
    pub fn rows_json(&self) -> Vec<Json> {
        let mut rows = Vec::with_capacity(self.row_count);
        self.each_row_json(|row| rows.push(row));
        rows
    }

    fn each_row_json(&self, mut each: impl FnMut(Json)) {
        for batch in &self.batches {
            for row in 0..batch.num_rows() {
                let mut object = Map::with_capacity(self.columns.len());
                for (column, array) in self.columns.iter().zip(batch.columns()) {
                    object.insert(column.name.clone(), cell_json(array.as_ref(), row));
                }
                each(Json::Object(object));
            }
        }
    }

    /// The [`SqlDocument`], written a row at a time (a whole result as JSON values would take
    /// many times the memory of its text).
    fn json_document(&self) -> Result<Vec<u8>, SqlError> {
        let mut out = Vec::new();
        out.extend_from_slice(b"{\"columns\":");
        serde_json::to_writer(&mut out, &self.columns).map_err(output_error)?;
        out.extend_from_slice(b",\"rows\":[");
        let mut first = true;
        let mut failure = None;
        self.each_row_json(|row| {
            if !first {
                out.push(b',');
            }
            first = false;
            if let Err(error) = serde_json::to_writer(&mut out, &row) {
                failure.get_or_insert(error);
            }
        });
        if let Some(error) = failure {
            return Err(output_error(error));
        }
        let tail = serde_json::json!({
            "row_count": self.row_count,
            "truncated": self.truncated,
            "elapsed_ms": u64::try_from(self.elapsed.as_millis()).unwrap_or(u64::MAX),
        });
        out.extend_from_slice(b"],");
        // The tail object's members, without its braces: `"row_count":…,"truncated":…,…}`.
        let tail = serde_json::to_vec(&tail).map_err(output_error)?;
        out.extend_from_slice(&tail[1..]);
        Ok(out)
    }

    fn csv(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let header: Vec<String> = self
            .columns
            .iter()
            .map(|column| csv_field(&column.name))
            .collect();
        out.extend_from_slice(header.join(",").as_bytes());
        out.push(b'\n');
        for batch in &self.batches {
            for row in 0..batch.num_rows() {
                let cells: Vec<String> = batch
                    .columns()
                    .iter()
                    .map(|array| csv_field(&cell_text(&cell_json(array.as_ref(), row))))
                    .collect();
                out.extend_from_slice(cells.join(",").as_bytes());
                out.push(b'\n');
            }
        }
        out
    }

    fn arrow_stream(&self) -> Result<Vec<u8>, SqlError> {
        use polars_arrow::io::ipc::write::{StreamWriter, WriteOptions};
        use polars_arrow::record_batch::RecordBatchT;

        let empty = to_polars(&RecordBatch::new_empty(self.schema.clone()))?;
        let schema: polars_arrow::datatypes::ArrowSchema = empty.fields().iter().cloned().collect();
        let schema = Arc::new(schema);
        let mut buffer = Vec::new();
        let mut writer = StreamWriter::new(&mut buffer, WriteOptions { compression: None });
        writer.start(&schema, None).map_err(output_error)?;
        for batch in &self.batches {
            let columns = to_polars(batch)?;
            let chunk = RecordBatchT::try_new(columns.len(), schema.clone(), columns.values().to_vec())
                .map_err(output_error)?;
            writer.write(&chunk, None).map_err(output_error)?;
        }
        writer.finish().map_err(output_error)?;
        Ok(buffer)
    }

    fn parquet(&self) -> Result<Vec<u8>, SqlError> {
        let mut frame = DataFrame::try_from(to_polars(&RecordBatch::new_empty(self.schema.clone()))?)
            .map_err(output_error)?;
        for batch in &self.batches {
            let part = DataFrame::try_from(to_polars(batch)?).map_err(output_error)?;
            frame.vstack_mut_owned(part).map_err(output_error)?;
        }
        let mut buffer = Vec::new();
        ParquetWriter::new(&mut buffer)
            .finish(&mut frame)
            .map_err(output_error)?;
        Ok(buffer)
    }
}

fn output_error(error: impl std::fmt::Display) -> SqlError {
    SqlError::Output(error.to_string())
}

/// One batch as polars-arrow arrays (a struct array of its columns), through the Arrow C data
/// interface.
fn to_polars(batch: &RecordBatch) -> Result<polars_arrow::array::StructArray, SqlError> {
    let data = StructArray::from(batch.clone()).into_data();
    let (array, schema) = duckdb::arrow::ffi::to_ffi(&data).map_err(output_error)?;
    // SAFETY: arrow-rs' `FFI_ArrowArray`/`FFI_ArrowSchema` and polars-arrow's
    // `ArrowArray`/`ArrowSchema` are both `#[repr(C)]` definitions of the C data interface's
    // `ArrowArray` and `ArrowSchema` structs (same fields, same order; `transmute` checks the
    // sizes). The transmute moves each struct without running arrow-rs' `Drop`, so its release
    // callback runs exactly once: when polars drops the schema below and the imported arrays
    // later. The interface allows moving the base structs.
    let array = unsafe { std::mem::transmute::<FFI_ArrowArray, polars_arrow::ffi::ArrowArray>(array) };
    let schema = unsafe { std::mem::transmute::<FFI_ArrowSchema, polars_arrow::ffi::ArrowSchema>(schema) };
    // SAFETY: `schema` and `array` were just exported by arrow-rs from valid array data.
    let field = unsafe { polars_arrow::ffi::import_field_from_c(&schema) }.map_err(output_error)?;
    let imported =
        unsafe { polars_arrow::ffi::import_array_from_c(array, field.dtype) }.map_err(output_error)?;
    imported
        .as_any()
        .downcast_ref::<polars_arrow::array::StructArray>()
        .cloned()
        .ok_or_else(|| SqlError::Output("a record batch did not cross over as a struct".to_owned()))
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The CSV text of a JSON value: strings as they are, nested values as JSON, null empty.
fn cell_text(value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// An exact decimal with `scale` places (`"0.000125000000"`); scale 0 is a number when it fits.
fn decimal_json(units: i128, scale: i8) -> Json {
    if scale <= 0 {
        let value = units.checked_mul(10i128.pow(u32::from(scale.unsigned_abs())));
        return match value.map(i64::try_from) {
            Some(Ok(small)) => Json::from(small),
            Some(Err(_)) => Json::String(units.to_string()),
            None => Json::String(format!("{units}e{}", scale.unsigned_abs())),
        };
    }
    let scale = usize::from(scale.unsigned_abs());
    let digits = units.unsigned_abs().to_string();
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (integer, fraction) = padded.split_at(padded.len() - scale);
    Json::String(format!(
        "{}{integer}.{fraction}",
        if units < 0 { "-" } else { "" }
    ))
}

fn float_json(value: f64) -> Json {
    if value.is_nan() {
        Json::String("NaN".to_owned())
    } else if value.is_infinite() {
        Json::String(if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned())
    } else {
        serde_json::Number::from_f64(value).map_or(Json::Null, Json::Number)
    }
}

fn hex_json(bytes: &[u8]) -> Json {
    let mut text = String::with_capacity(2 + bytes.len() * 2);
    text.push_str("\\x");
    for byte in bytes {
        text.push_str(&format!("{byte:02x}"));
    }
    Json::String(text)
}

fn timestamp_json(value: i64, unit: TimeUnit) -> Json {
    DateTime::<Utc>::from_timestamp_micros(micros(value, unit)).map_or(Json::Null, |instant| {
        Json::String(instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    })
}

fn date_json(days: i64) -> Json {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_signed(chrono::Duration::days(days)))
        .map_or(Json::Null, |date| Json::String(date.to_string()))
}

fn time_json(nanos: i64) -> Json {
    let seconds = nanos.div_euclid(1_000_000_000);
    let fraction = nanos.rem_euclid(1_000_000_000);
    u32::try_from(seconds)
        .ok()
        .zip(u32::try_from(fraction).ok())
        .and_then(|(seconds, fraction)| NaiveTime::from_num_seconds_from_midnight_opt(seconds, fraction))
        .map_or(Json::Null, |time| Json::String(time.to_string()))
}

/// DuckDB's text of a value, for types without a JSON form of their own.
fn display_json(array: &dyn Array, row: usize) -> Json {
    use std::fmt::Write;
    let Ok(formatter) = ArrayFormatter::try_new(array, &FormatOptions::default()) else {
        return Json::Null;
    };
    let mut text = String::new();
    match write!(text, "{}", formatter.value(row)) {
        Ok(()) => Json::String(text),
        Err(_) => Json::Null,
    }
}

/// One value of an Arrow array as JSON.
fn cell_json(array: &dyn Array, row: usize) -> Json {
    // A NULL column (`SELECT NULL`) has no validity buffer: every value is null.
    if array.is_null(row) || array.data_type() == &DataType::Null {
        return Json::Null;
    }
    let value = match array.data_type() {
        DataType::Boolean => array.as_boolean_opt().map(|a| Json::Bool(a.value(row))),
        DataType::Int8 => array
            .as_primitive_opt::<Int8Type>()
            .map(|a| Json::from(a.value(row))),
        DataType::Int16 => array
            .as_primitive_opt::<Int16Type>()
            .map(|a| Json::from(a.value(row))),
        DataType::Int32 => array
            .as_primitive_opt::<Int32Type>()
            .map(|a| Json::from(a.value(row))),
        DataType::Int64 => array
            .as_primitive_opt::<Int64Type>()
            .map(|a| Json::from(a.value(row))),
        DataType::UInt8 => array
            .as_primitive_opt::<UInt8Type>()
            .map(|a| Json::from(a.value(row))),
        DataType::UInt16 => array
            .as_primitive_opt::<UInt16Type>()
            .map(|a| Json::from(a.value(row))),
        DataType::UInt32 => array
            .as_primitive_opt::<UInt32Type>()
            .map(|a| Json::from(a.value(row))),
        DataType::UInt64 => array
            .as_primitive_opt::<UInt64Type>()
            .map(|a| Json::from(a.value(row))),
        DataType::Float32 => array
            .as_primitive_opt::<Float32Type>()
            .map(|a| float_json(f64::from(a.value(row)))),
        DataType::Float64 => array
            .as_primitive_opt::<Float64Type>()
            .map(|a| float_json(a.value(row))),
        DataType::Decimal128(_, scale) => array
            .as_primitive_opt::<Decimal128Type>()
            .map(|a| decimal_json(a.value(row), *scale)),
        DataType::Utf8 => array.as_string_opt::<i32>().map(|a| Json::from(a.value(row))),
        DataType::LargeUtf8 => array.as_string_opt::<i64>().map(|a| Json::from(a.value(row))),
        DataType::Utf8View => array.as_string_view_opt().map(|a| Json::from(a.value(row))),
        DataType::Binary => array.as_binary_opt::<i32>().map(|a| hex_json(a.value(row))),
        DataType::LargeBinary => array.as_binary_opt::<i64>().map(|a| hex_json(a.value(row))),
        DataType::BinaryView => array.as_binary_view_opt().map(|a| hex_json(a.value(row))),
        DataType::FixedSizeBinary(_) => array.as_fixed_size_binary_opt().map(|a| hex_json(a.value(row))),
        DataType::Date32 => array
            .as_primitive_opt::<Date32Type>()
            .map(|a| date_json(i64::from(a.value(row)))),
        DataType::Date64 => array
            .as_primitive_opt::<Date64Type>()
            .map(|a| date_json(a.value(row).div_euclid(86_400_000))),
        DataType::Time32(TimeUnit::Second) => array
            .as_primitive_opt::<Time32SecondType>()
            .map(|a| time_json(i64::from(a.value(row)) * 1_000_000_000)),
        DataType::Time32(_) => array
            .as_primitive_opt::<Time32MillisecondType>()
            .map(|a| time_json(i64::from(a.value(row)) * 1_000_000)),
        DataType::Time64(TimeUnit::Nanosecond) => array
            .as_primitive_opt::<Time64NanosecondType>()
            .map(|a| time_json(a.value(row))),
        DataType::Time64(_) => array
            .as_primitive_opt::<Time64MicrosecondType>()
            .map(|a| time_json(a.value(row).saturating_mul(1000))),
        DataType::Timestamp(unit, _) => {
            timestamp_value(array, row, *unit).map(|value| timestamp_json(value, *unit))
        }
        DataType::List(_) => array
            .as_list_opt::<i32>()
            .map(|a| list_json(a.value(row).as_ref())),
        DataType::LargeList(_) => array
            .as_list_opt::<i64>()
            .map(|a| list_json(a.value(row).as_ref())),
        DataType::FixedSizeList(_, _) => array
            .as_fixed_size_list_opt()
            .map(|a| list_json(a.value(row).as_ref())),
        DataType::Struct(_) => array.as_struct_opt().map(|a| struct_json(a, row)),
        DataType::Map(_, _) => array.as_map_opt().map(|a| map_json(&a.value(row))),
        _ => None,
    };
    value.unwrap_or_else(|| display_json(array, row))
}

fn timestamp_value(array: &dyn Array, row: usize, unit: TimeUnit) -> Option<i64> {
    match unit {
        TimeUnit::Second => array
            .as_primitive_opt::<TimestampSecondType>()
            .map(|a| a.value(row)),
        TimeUnit::Millisecond => array
            .as_primitive_opt::<TimestampMillisecondType>()
            .map(|a| a.value(row)),
        TimeUnit::Microsecond => array
            .as_primitive_opt::<TimestampMicrosecondType>()
            .map(|a| a.value(row)),
        TimeUnit::Nanosecond => array
            .as_primitive_opt::<TimestampNanosecondType>()
            .map(|a| a.value(row)),
    }
}

fn list_json(items: &dyn Array) -> Json {
    Json::Array((0..items.len()).map(|item| cell_json(items, item)).collect())
}

fn struct_json(array: &StructArray, row: usize) -> Json {
    let mut object = Map::new();
    for (field, column) in array.fields().iter().zip(array.columns()) {
        object.insert(field.name().clone(), cell_json(column.as_ref(), row));
    }
    Json::Object(object)
}

/// A map's entries as an object (keys as text).
fn map_json(entries: &StructArray) -> Json {
    let mut object = Map::new();
    if let [keys, values] = entries.columns() {
        for entry in 0..entries.len() {
            let key = match cell_json(keys.as_ref(), entry) {
                Json::String(text) => text,
                other => other.to_string(),
            };
            object.insert(key, cell_json(values.as_ref(), entry));
        }
    }
    Json::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_at_their_scale() {
        assert_eq!(decimal_json(125_000_000, 12), Json::from("0.000125000000"));
        assert_eq!(decimal_json(-5, 2), Json::from("-0.05"));
        assert_eq!(decimal_json(42, 0), Json::from(42));
        assert_eq!(decimal_json(i128::MAX, 0), Json::from(i128::MAX.to_string()));
        assert_eq!(decimal_json(15, 18), Json::from("0.000000000000000015"));
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
