//! The canonical usage record and the value types it is made of.
//!
//! What lives here: [`UsageRecord`] (one LLM call, DESIGN.md's canonical table), the money and
//! token types ([`Usd`], [`PricePerToken`], [`TokenCount`], [`TokenUsage`]) and the closed
//! vocabularies ([`Source`], [`Provider`], [`ErrorType`], [`CostSource`]).
//!
//! Invariants: this module depends on nothing else in the crate, holds no `serde_json::Value`,
//! and never uses a float for money. Every constructor validates, so a `UsageRecord` that exists
//! is a valid one (token subsets never exceed their totals, keys are never raw secrets).

mod money;
mod record;
mod vocab;

pub(crate) use money::parse_decimal_text;
pub use money::{MoneyError, PricePerToken, TokenCount, USD_SCALE, Usd};
pub(crate) use record::check_len;
pub use record::{
    ApiKeyId, CostSource, EventId, LIMITS, RecordError, Tags, TokenCounts, TokenUsage, UNASSIGNED_TEAM,
    UsageRecord,
};
pub use vocab::{ErrorType, Provider, ServiceTier, Source};
