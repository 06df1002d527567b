//! A sandbox query's result: the columns (unique names, DuckDB type names) and the record
//! batches DuckDB streamed, made ready for every output format.
//!
//! DuckDB may return two columns of the same name (`SELECT 1 AS a, 2 AS a`, or `*` over a join);
//! the second becomes `a_1`, so JSON objects, CSV headers and Parquet schemas stay well formed.
//! Types the encoders cannot carry are turned into text here, once: intervals and unions become
//! their DuckDB text, enum dictionaries their values, and timestamps with a time zone the UTC
//! instant they hold (their column type still says `TIMESTAMP WITH TIME ZONE`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use duckdb::arrow::array::ArrayRef;
use duckdb::arrow::compute::{can_cast_types, cast};
use duckdb::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;
use serde::Serialize;

use super::SqlError;

/// A result column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SqlColumn {
    /// The column's name (a repeated name gets a suffix: `team`, `team_1`).
    #[schema(example = "cost_usd")]
    pub name: String,
    /// Its DuckDB type as the result carries it (`VARCHAR`, `BIGINT`, `DECIMAL(38,12)`,
    /// `TIMESTAMP`, `MAP(VARCHAR, VARCHAR)`, …; a sum of integers is `DECIMAL(38,0)`).
    #[serde(rename = "type")]
    #[schema(example = "DECIMAL(38,12)")]
    pub type_name: String,
}

/// The rows of one query, ready to encode.
#[derive(Debug)]
pub struct QueryOutput {
    pub columns: Vec<SqlColumn>,
    /// The schema of `batches`: unique names, types the encoders carry.
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub row_count: usize,
    /// Whether rows past the row cap were left unread.
    pub truncated: bool,
    pub elapsed: Duration,
}

/// How DuckDB's result columns become output columns.
#[derive(Debug)]
pub struct Shape {
    pub columns: Vec<SqlColumn>,
    pub schema: SchemaRef,
}

impl Shape {
    /// Plans the output for a result schema.
    ///
    /// # Errors
    /// [`SqlError::Invalid`] for a column type that cannot be returned, naming the column.
    pub fn of(result: &Schema) -> Result<Shape, SqlError> {
        let mut taken: HashSet<String> = HashSet::new();
        let mut columns = Vec::with_capacity(result.fields().len());
        let mut fields = Vec::with_capacity(result.fields().len());
        for field in result.fields() {
            let mut name = field.name().clone();
            let mut suffix = 0;
            while taken.contains(&name.to_ascii_lowercase()) {
                suffix += 1;
                name = format!("{}_{suffix}", field.name());
            }
            taken.insert(name.to_ascii_lowercase());
            let output_type = output_type(field.data_type());
            if &output_type != field.data_type() && !can_cast_types(field.data_type(), &output_type) {
                return Err(SqlError::Invalid(format!(
                    "column `{name}` has type {}, which cannot be returned; cast it, e.g. to VARCHAR",
                    duckdb_type_name(field.data_type())
                )));
            }
            columns.push(SqlColumn {
                name: name.clone(),
                type_name: duckdb_type_name(field.data_type()),
            });
            fields.push(Field::new(name, output_type, field.is_nullable()));
        }
        Ok(Shape {
            columns,
            schema: Arc::new(Schema::new(fields)),
        })
    }

    /// Renames and converts one batch to the output schema.
    ///
    /// # Errors
    /// [`SqlError::Invalid`] when a value cannot be converted.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch, SqlError> {
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
        for (array, field) in batch.columns().iter().zip(self.schema.fields()) {
            if array.data_type() == field.data_type() {
                arrays.push(array.clone());
            } else {
                let converted = cast(array, field.data_type()).map_err(|error| {
                    SqlError::Invalid(format!("column `{}` cannot be returned: {error}", field.name()))
                })?;
                arrays.push(converted);
            }
        }
        RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|error| SqlError::Output(format!("cannot assemble the result: {error}")))
    }
}

/// The type a column is returned as.
fn output_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Interval(_) | DataType::Union(_, _) => DataType::Utf8,
        DataType::Dictionary(_, values) => output_type(values),
        DataType::Timestamp(unit, Some(_)) => DataType::Timestamp(*unit, None),
        other => other.clone(),
    }
}

/// DuckDB's name of the type a DuckDB result column arrives with in Arrow.
pub fn duckdb_type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Null => "NULL".to_owned(),
        DataType::Boolean => "BOOLEAN".to_owned(),
        DataType::Int8 => "TINYINT".to_owned(),
        DataType::Int16 => "SMALLINT".to_owned(),
        DataType::Int32 => "INTEGER".to_owned(),
        DataType::Int64 => "BIGINT".to_owned(),
        DataType::UInt8 => "UTINYINT".to_owned(),
        DataType::UInt16 => "USMALLINT".to_owned(),
        DataType::UInt32 => "UINTEGER".to_owned(),
        DataType::UInt64 => "UBIGINT".to_owned(),
        DataType::Float16 | DataType::Float32 => "FLOAT".to_owned(),
        DataType::Float64 => "DOUBLE".to_owned(),
        DataType::Decimal32(precision, scale)
        | DataType::Decimal64(precision, scale)
        | DataType::Decimal128(precision, scale)
        | DataType::Decimal256(precision, scale) => format!("DECIMAL({precision},{scale})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".to_owned(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            "BLOB".to_owned()
        }
        DataType::Date32 | DataType::Date64 => "DATE".to_owned(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME".to_owned(),
        DataType::Timestamp(_, None) => "TIMESTAMP".to_owned(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP WITH TIME ZONE".to_owned(),
        DataType::Duration(_) | DataType::Interval(_) => "INTERVAL".to_owned(),
        DataType::List(item)
        | DataType::LargeList(item)
        | DataType::ListView(item)
        | DataType::LargeListView(item) => {
            format!("{}[]", duckdb_type_name(item.data_type()))
        }
        DataType::FixedSizeList(item, size) => format!("{}[{size}]", duckdb_type_name(item.data_type())),
        DataType::Struct(fields) => {
            let members: Vec<String> = fields
                .iter()
                .map(|field| format!("{} {}", field.name(), duckdb_type_name(field.data_type())))
                .collect();
            format!("STRUCT({})", members.join(", "))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(pair) if pair.len() == 2 => format!(
                "MAP({}, {})",
                duckdb_type_name(pair[0].data_type()),
                duckdb_type_name(pair[1].data_type())
            ),
            _ => "MAP".to_owned(),
        },
        DataType::Dictionary(_, _) => "ENUM".to_owned(),
        DataType::Union(_, _) => "UNION".to_owned(),
        other => format!("{other}"),
    }
}

/// Microseconds of a timestamp value in `unit`.
pub fn micros(value: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => value.saturating_mul(1_000_000),
        TimeUnit::Millisecond => value.saturating_mul(1000),
        TimeUnit::Microsecond => value,
        TimeUnit::Nanosecond => value / 1000,
    }
}
