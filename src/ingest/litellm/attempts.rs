//! Attempt chains across records: LiteLLM logs each attempt of a retry/fallback chain as its own
//! record, so `attempts`, `fallback_from`, `route` and `model_requested` are only known once the
//! whole batch is parsed. In: the batch's drafts with their [`AttemptLink`]s; out: the same rows,
//! completed. Chains are only seen within one request body.
//!
//! [`AttemptLink`]: crate::ingest::common::AttemptLink

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::ingest::common::Draft;

/// One linked row, as the chain needs it.
struct Attempt {
    row: usize,
    started: DateTime<Utc>,
    failed: bool,
    requested: Option<String>,
    model: String,
}

/// LiteLLM logs each attempt of a retry/fallback chain as its own record sharing a `trace_id`
/// (spend rows: `session_id`). Ordered by start: every row gets `attempts` = its position and
/// the earliest row's `model_group` as `model_requested`; a success after a failure of another
/// model gets `fallback_from` = the latest such model and `route = "fallback"`.
pub(super) fn link_attempts(rows: &mut [Draft]) {
    let mut groups: BTreeMap<&str, Vec<Attempt>> = BTreeMap::new();
    for (row, draft) in rows.iter().enumerate() {
        if let Some(link) = &draft.link {
            groups.entry(link.group.as_str()).or_default().push(Attempt {
                row,
                started: link.started,
                failed: link.failed,
                requested: link.requested.clone(),
                model: draft.record.model.clone(),
            });
        }
    }
    let mut updates: Vec<(usize, u32, Option<String>, Option<String>)> = Vec::new();
    for mut chain in groups.into_values() {
        // Stable: attempts that started in the same microsecond keep their input order.
        chain.sort_by_key(|attempt| attempt.started);
        let requested = chain.first().and_then(|attempt| attempt.requested.clone());
        // The latest failed model, and the latest failed model other than that one: enough to
        // answer "latest earlier failure whose model differs" for any success in one pass.
        let mut latest_failure: Option<&str> = None;
        let mut latest_other_failure: Option<&str> = None;
        for (position, attempt) in chain.iter().enumerate() {
            let fallback_from = if attempt.failed {
                None
            } else if latest_failure.is_some_and(|model| model != attempt.model) {
                latest_failure
            } else {
                latest_other_failure.filter(|model| *model != attempt.model)
            };
            let attempts = u32::try_from(position.saturating_add(1)).unwrap_or(u32::MAX);
            updates.push((
                attempt.row,
                attempts,
                requested.clone(),
                fallback_from.map(str::to_owned),
            ));
            if attempt.failed && latest_failure != Some(attempt.model.as_str()) {
                latest_other_failure = latest_failure;
                latest_failure = Some(attempt.model.as_str());
            }
        }
    }
    for (row, attempts, requested, fallback_from) in updates {
        let Some(draft) = rows.get_mut(row) else {
            continue;
        };
        draft.record.attempts = attempts;
        if let Some(requested) = requested {
            draft.record.model_requested = requested;
        }
        if fallback_from.is_some() {
            draft.record.route = Some("fallback".to_owned());
            draft.record.fallback_from = fallback_from;
        }
    }
}
