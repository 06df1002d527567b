//! Retention from the outside: which day a pass deletes up to (from the configured policy, a
//! `keep` period or an explicit `before` date), and the periodic pass `serve` runs. The deleting
//! itself happens on the writer thread (`store::retention`).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::RetentionPolicy;
use crate::store::{StoreError, Writer};

/// How often `serve` applies the retention policy (the first pass runs at startup).
pub const PASS_INTERVAL: Duration = Duration::from_secs(3600);

/// Picks the first UTC day a pass keeps: `before` (`YYYY-MM-DD`, not after today), else the
/// cutoff of `keep` (`400d`), else of the configured policy.
///
/// # Errors
/// A message naming the bad field (`keep`, `before`), or `keep` when nothing says how long to
/// keep events.
pub fn first_kept_day(
    keep: Option<&str>,
    before: Option<&str>,
    configured: RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<NaiveDate, (&'static str, String)> {
    match (keep, before) {
        (Some(_), Some(_)) => Err(("before", "give `keep` or `before`, not both".to_owned())),
        (None, Some(text)) => {
            let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| ("before", format!("expected a date YYYY-MM-DD, got `{text}`")))?;
            if day > now.date_naive() {
                return Err((
                    "before",
                    format!("`{text}` is after today (UTC); retention never deletes today's events"),
                ));
            }
            Ok(day)
        }
        (Some(text), None) => {
            let policy = RetentionPolicy::parse(text).ok_or_else(|| {
                (
                    "keep",
                    format!("expected whole days such as `400d`, got `{text}`"),
                )
            })?;
            cutoff_day(policy, now).ok_or_else(|| ("keep", format!("`{text}` keeps everything")))
        }
        (None, None) => cutoff_day(configured, now).ok_or_else(|| {
            (
                "keep",
                "no retention is configured (`retention` / LEDGER_RETENTION); give `keep` or `before`"
                    .to_owned(),
            )
        }),
    }
}

fn cutoff_day(policy: RetentionPolicy, now: DateTime<Utc>) -> Option<NaiveDate> {
    policy.cutoff(now).map(|cutoff| cutoff.date_naive())
}

/// Applies the writer's retention policy now and then every [`PASS_INTERVAL`], until the writer
/// stops. Does nothing when the policy keeps events forever.
pub async fn run_periodically(writer: Writer) {
    let policy = writer.retention_policy();
    if policy.keep_days.is_none() {
        return;
    }
    let mut ticks = tokio::time::interval(PASS_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(before) = cutoff_day(policy, Utc::now()) else {
            return;
        };
        // The writer logs each pass and each failure; a failed pass runs again next time.
        if let Err(StoreError::WriterGone) = writer.apply_retention(before).await {
            return;
        }
    }
}
