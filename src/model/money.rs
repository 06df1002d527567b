//! Money and token counts. Money is `rust_decimal::Decimal`, never a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Digits after the decimal point of stored money: DuckDB's `DECIMAL(38,12)`.
pub const USD_SCALE: u32 = 12;

/// A problem building a money value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount `{0}` is negative")]
    Negative(String),
    #[error("amount `{0}` is not a decimal number")]
    NotADecimal(String),
    #[error("arithmetic overflow while computing a cost")]
    Overflow,
}

/// An amount of US dollars, exact. Serialised as a JSON string holding the decimal.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Usd(Decimal);

impl Usd {
    pub const ZERO: Usd = Usd(Decimal::ZERO);

    /// Builds an amount from a decimal; negative amounts are refused.
    pub fn new(amount: Decimal) -> Result<Usd, MoneyError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(MoneyError::Negative(amount.to_string()));
        }
        Ok(Usd(amount.normalize()))
    }

    /// Builds an amount that may be negative (a cost delta, a correction).
    pub fn signed(amount: Decimal) -> Usd {
        Usd(amount.normalize())
    }

    /// Parses the exact decimal text of a number (`"0.0003135"`, `1.5e-07`, `"12"`).
    pub fn parse_exact(text: &str) -> Result<Usd, MoneyError> {
        Usd::new(parse_decimal_text(text)?)
    }

    pub fn as_decimal(self) -> Decimal {
        self.0
    }

    /// Returns the amount rounded half-to-even to the stored scale of 12 decimal places.
    pub fn to_stored_scale(self) -> Usd {
        Usd(self
            .0
            .round_dp_with_strategy(USD_SCALE, RoundingStrategy::MidpointNearestEven))
    }

    pub fn checked_add(self, other: Usd) -> Option<Usd> {
        self.0.checked_add(other.0).map(Usd)
    }

    pub fn checked_sub(self, other: Usd) -> Option<Usd> {
        self.0.checked_sub(other.0).map(Usd)
    }

    /// Formats with exactly 12 decimal places, as stored (`"0.000125000000"`).
    pub fn to_fixed_string(self) -> String {
        let mut rounded = self.to_stored_scale().0;
        rounded.rescale(USD_SCALE);
        rounded.to_string()
    }
}

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_fixed_string())
    }
}

impl fmt::Debug for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Usd({})", self.0)
    }
}

impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_fixed_string())
    }
}

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Usd, D::Error> {
        let text = String::deserialize(deserializer)?;
        Usd::parse_exact(&text).map_err(serde::de::Error::custom)
    }
}

/// A price in USD for one token. Catalog files write prices per million tokens.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PricePerToken(Decimal);

impl PricePerToken {
    pub const ZERO: PricePerToken = PricePerToken(Decimal::ZERO);

    pub fn new(per_token: Decimal) -> Result<PricePerToken, MoneyError> {
        if per_token.is_sign_negative() && !per_token.is_zero() {
            return Err(MoneyError::Negative(per_token.to_string()));
        }
        Ok(PricePerToken(per_token.normalize()))
    }

    /// Builds a per-token price from a price per million tokens.
    pub fn from_per_million(per_mtok: Decimal) -> Result<PricePerToken, MoneyError> {
        let per_token = per_mtok
            .checked_div(Decimal::from(1_000_000))
            .ok_or(MoneyError::Overflow)?;
        PricePerToken::new(per_token)
    }

    /// Parses the exact decimal text of a per-token price (`2.5e-06`).
    pub fn parse_per_token(text: &str) -> Result<PricePerToken, MoneyError> {
        PricePerToken::new(parse_decimal_text(text)?)
    }

    pub fn as_decimal(self) -> Decimal {
        self.0
    }

    /// Returns the price per million tokens, the unit catalog files use.
    pub fn per_million(self) -> Decimal {
        (self.0 * Decimal::from(1_000_000)).normalize()
    }

    /// Returns this price scaled by a factor (a contracted discount, a TTL multiplier).
    pub fn scaled(self, factor: Decimal) -> Result<PricePerToken, MoneyError> {
        let scaled = self.0.checked_mul(factor).ok_or(MoneyError::Overflow)?;
        PricePerToken::new(scaled)
    }
}

impl fmt::Debug for PricePerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PricePerToken({})", self.0)
    }
}

/// A non-negative number of tokens.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenCount(u64);

impl TokenCount {
    pub const ZERO: TokenCount = TokenCount(0);

    pub const fn new(count: u64) -> TokenCount {
        TokenCount(count)
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    /// Returns what these tokens cost at `price`, exactly.
    pub fn cost_at(self, price: PricePerToken) -> Result<Usd, MoneyError> {
        Decimal::from(self.0)
            .checked_mul(price.0)
            .map(Usd)
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_add(self, other: TokenCount) -> Option<TokenCount> {
        self.0.checked_add(other.0).map(TokenCount)
    }

    pub fn saturating_sub(self, other: TokenCount) -> TokenCount {
        TokenCount(self.0.saturating_sub(other.0))
    }
}

impl fmt::Debug for TokenCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for TokenCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Parses the decimal text of a JSON number or string exactly: plain (`0.07722000000000001`)
/// or scientific (`1.5e-07`). Never goes through a binary float.
pub(crate) fn parse_decimal_text(text: &str) -> Result<Decimal, MoneyError> {
    let trimmed = text.trim();
    let not_decimal = || MoneyError::NotADecimal(truncate_for_message(trimmed));
    if trimmed.is_empty() {
        return Err(not_decimal());
    }
    let parsed = if trimmed.contains(['e', 'E']) {
        Decimal::from_scientific(trimmed)
    } else {
        Decimal::from_str_exact(trimmed)
    };
    match parsed {
        Ok(value) => Ok(value),
        // More than 28 significant digits: round the excess fraction digits away, which is far
        // below the stored scale of 12 decimal places.
        Err(_) if !trimmed.contains(['e', 'E']) => Decimal::from_str(trimmed).map_err(|_| not_decimal()),
        Err(_) => Err(not_decimal()),
    }
}

fn truncate_for_message(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_is_read_exactly() {
        assert_eq!(
            parse_decimal_text("0.07722000000000001").unwrap().to_string(),
            "0.07722000000000001"
        );
        assert_eq!(parse_decimal_text("1.5e-07").unwrap().to_string(), "0.00000015");
        assert_eq!(parse_decimal_text("2.5E-06").unwrap().to_string(), "0.0000025");
        assert!(parse_decimal_text("abc").is_err());
    }

    #[test]
    fn usd_formats_at_stored_scale() {
        let usd = Usd::parse_exact("0.000125").unwrap();
        assert_eq!(usd.to_fixed_string(), "0.000125000000");
        let tiny = Usd::parse_exact("0.0000000000005").unwrap();
        assert_eq!(tiny.to_fixed_string(), "0.000000000000");
        let half_up = Usd::parse_exact("0.0000000000015").unwrap();
        assert_eq!(half_up.to_fixed_string(), "0.000000000002");
    }

    #[test]
    fn tokens_times_price_is_exact() {
        let price = PricePerToken::from_per_million(Decimal::from_str("0.15").unwrap()).unwrap();
        let cost = TokenCount::new(1250).cost_at(price).unwrap();
        assert_eq!(cost.as_decimal().normalize().to_string(), "0.0001875");
    }

    #[test]
    fn negative_money_is_refused() {
        assert!(Usd::parse_exact("-0.0004").is_err());
        assert!(Usd::parse_exact("-0").is_ok());
    }
}
