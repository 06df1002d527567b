//! The operator's price overrides file: TOML (`[[price]]` tables, each a [`PriceSpec`], and
//! `[[contract]]` tables, each a [`ContractSpec`]) or CSV
//! (one spec per row; columns named like the spec's fields, `variants` and `aliases` not
//! supported). Prices are read as exact decimals; in TOML write them as strings for more than 15
//! significant digits.

use std::path::Path;

use polars::prelude::*;
use serde::Deserialize;

use super::spec::{PriceSpec, parse_instant};
use super::{ContractSpec, PricingError};
use crate::model::parse_decimal_text;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverridesFile {
    #[serde(default)]
    price: Vec<PriceSpec>,
    #[serde(default)]
    contract: Vec<ContractSpec>,
}

/// What an overrides file holds.
#[derive(Debug, Default)]
pub struct Overrides {
    pub prices: Vec<PriceSpec>,
    pub contracts: Vec<ContractSpec>,
}

/// Reads an overrides file, TOML (`[[price]]` and `[[contract]]` tables) or CSV (prices only)
/// by its extension.
///
/// # Errors
/// [`PricingError::InvalidFile`] naming the file and, for CSV, the line.
pub fn read(path: &Path) -> Result<Overrides, PricingError> {
    let origin = path.display().to_string();
    let invalid = |line: usize, reason: String| PricingError::InvalidFile {
        origin: origin.clone(),
        line,
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|error| invalid(0, error.to_string()))?;
    let is_csv = path
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("csv"));
    if is_csv {
        return Ok(Overrides {
            prices: read_csv(&text, &origin)?,
            contracts: Vec::new(),
        });
    }
    let file: OverridesFile = toml::from_str(&text).map_err(|error| {
        let line = error.span().map_or(0, |span| {
            text[..span.start.min(text.len())].lines().count().max(1)
        });
        invalid(line, error.message().to_owned())
    })?;
    Ok(Overrides {
        prices: file.price,
        contracts: file.contract,
    })
}

const CSV_COLUMNS: &[&str] = &[
    "provider",
    "model",
    "model_key",
    "effective_from",
    "effective_to",
    "input_per_mtok",
    "output_per_mtok",
    "cached_input_per_mtok",
    "cache_write_per_mtok",
    "cache_write_1h_per_mtok",
    "reasoning_per_mtok",
    "per_request",
    "note",
];

/// Reads CSV with polars, every column as text so that prices never pass through a float.
fn read_csv(text: &str, origin: &str) -> Result<Vec<PriceSpec>, PricingError> {
    let invalid = |line: usize, reason: String| PricingError::InvalidFile {
        origin: origin.to_owned(),
        line,
        reason,
    };
    let frame = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .into_reader_with_file_handle(std::io::Cursor::new(text.as_bytes().to_vec()))
        .finish()
        .map_err(|error| invalid(1, error.to_string()))?;
    for name in frame.get_column_names() {
        if !CSV_COLUMNS.contains(&name.as_str()) {
            return Err(invalid(1, format!("unknown column `{name}`")));
        }
    }
    let cell = |name: &str, row: usize| -> Result<Option<String>, PricingError> {
        let Ok(column) = frame.column(name) else {
            return Ok(None);
        };
        match column
            .get(row)
            .map_err(|error| invalid(row + 2, error.to_string()))?
        {
            AnyValue::String(value) if !value.trim().is_empty() => Ok(Some(value.trim().to_owned())),
            AnyValue::StringOwned(value) if !value.trim().is_empty() => Ok(Some(value.trim().to_string())),
            _ => Ok(None),
        }
    };
    let mut specs = Vec::with_capacity(frame.height());
    for row in 0..frame.height() {
        let line = row + 2;
        let required = |name: &str| -> Result<String, PricingError> {
            cell(name, row)?.ok_or_else(|| invalid(line, format!("`{name}` is required")))
        };
        let decimal = |name: &str| -> Result<Option<rust_decimal::Decimal>, PricingError> {
            cell(name, row)?
                .map(|text| {
                    parse_decimal_text(&text).map_err(|error| invalid(line, format!("`{name}`: {error}")))
                })
                .transpose()
        };
        let instant = |name: &str, text: String| {
            parse_instant(&text)
                .ok_or_else(|| invalid(line, format!("`{name}`: expected YYYY-MM-DD or RFC 3339")))
        };
        let mut spec = PriceSpec {
            provider: required("provider")?,
            model: required("model")?,
            model_key: cell("model_key", row)?,
            effective_from: instant("effective_from", required("effective_from")?)?,
            effective_to: cell("effective_to", row)?
                .map(|text| instant("effective_to", text))
                .transpose()?,
            input_per_mtok: None,
            output_per_mtok: None,
            cached_input_per_mtok: None,
            cache_write_per_mtok: None,
            cache_write_1h_per_mtok: None,
            reasoning_per_mtok: None,
            per_request: None,
            variants: Vec::new(),
            aliases: Vec::new(),
            note: cell("note", row)?,
        };
        spec.input_per_mtok = decimal("input_per_mtok")?;
        spec.output_per_mtok = decimal("output_per_mtok")?;
        spec.cached_input_per_mtok = decimal("cached_input_per_mtok")?;
        spec.cache_write_per_mtok = decimal("cache_write_per_mtok")?;
        spec.cache_write_1h_per_mtok = decimal("cache_write_1h_per_mtok")?;
        spec.reasoning_per_mtok = decimal("reasoning_per_mtok")?;
        spec.per_request = decimal("per_request")?;
        specs.push(spec);
    }
    Ok(specs)
}
