//! `cloudflare`: Cloudflare AI Gateway log records, one object per proxied request.
//!
//! Spec: [`shared/formats/cloudflare.md`](../../../shared/formats/cloudflare.md). Records arrive
//! bare (NDJSON, a JSON array) or inside the logs API envelope `{"result": [...], "result_info"}`,
//! which [`super::detect`] unwraps before this adapter sees them.
//!
//! Fields mapped: `id` → `event_id`, `created_at` → `ts`, `provider` → `provider` (normalised),
//! `model` → `model` / `model_requested`, `tokens_in` / `tokens_out` → `input_tokens` /
//! `output_tokens` (null → 0), `cost` → `reported_cost_usd` (exact decimal text, zero is not
//! free), `duration` → `latency_ms`, `status_code` (else `success`) → `status_code` /
//! `error_type`, `cached` → `cache_hit`, `metadata` (JSON string or object) → `team`, `project`,
//! `user_id` (or `user`) and `tags`, `step` → `attempts`, and across records (in
//! [`Adapter::finish_batch`]) `route`, `fallback_from` and `model_requested` of fallback steps.
//!
//! Fields dropped: `path`, `model_type`, `success` when `status_code` is present, `custom_cost`
//! (the expected rows carry no tag for it; a mismatch with the catalog on such rows is expected
//! and the reconciliation report shows it), `request_type`, the content types, sizes and body
//! heads. Cloudflare reports no prompt-cache, cache-write or reasoning counts, no TTFT and no API
//! key identity, so those stay 0 / null; Anthropic prompt-cache traffic is under-counted and
//! cannot be repaired from the log.
//!
//! Decisions where the page says U (unverified):
//! - Fallback chains: a row with `step > 0` is linked to the row of the same batch with
//!   `step − 1`, equal `metadata` (both absent counts as equal) and `created_at` at most 60 s
//!   earlier; when several match, the latest one wins. Only rows that carry `step` take part.
//! - `compat` / `dynamic` providers: the served provider is read from a `<provider>/<model>`
//!   prefix of `model` when that prefix is a Cloudflare provider id, else `unknown`.
//! - `status_code` absent: 500 when `success` is `false`, otherwise 200.
//! - Metadata: `user` is lifted into `user_id` only when `user_id` is absent; otherwise it stays
//!   a tag. Non-scalar metadata values are dropped (Cloudflare allows only scalars).
//! - `created_at` must carry an offset (`Z`); naive times are refused.

use std::collections::BTreeMap;

use crate::ingest::json::RawValue;
use chrono::{DateTime, TimeDelta, Utc};

use super::Adapter;
use super::common::{
    AttemptLink, Attribution, Draft, ParseContext, TagsBuilder, amount, at_native, base_record, duration_ms,
    reported_cost, status_and_error, stringify_scalar, text_field, ts_text,
};
use super::json::{self, Kind, Obj};
use super::reject::{FieldError, excerpt};
use crate::model::{
    EventId, LIMITS, Provider, Source, TokenCounts, TokenUsage, UNASSIGNED_TEAM, UsageRecord,
};

pub(crate) struct Cloudflare;

/// How far back a fallback step looks for the step before it (`cloudflare.md`, "Mapping rules").
const FALLBACK_WINDOW: TimeDelta = TimeDelta::seconds(60);

/// The route name of a row that served a request after an earlier step failed.
const FALLBACK_ROUTE: &str = "fallback";

impl Adapter for Cloudflare {
    fn source(&self) -> Source {
        Source::Cloudflare
    }

    fn detect(&self, obj: &Obj<'_>) -> bool {
        obj.has("id")
            && obj.has("created_at")
            && obj.has("provider")
            && obj.has("duration")
            && (obj.has("tokens_in") || obj.has("tokens_out"))
    }

    fn parse(&self, obj: &Obj<'_>, _ctx: &ParseContext, out: &mut Vec<Result<Draft, FieldError>>) {
        out.push(parse_record(obj));
    }

    fn finish_batch(&self, rows: &mut [Draft]) {
        link_fallback_steps(rows);
    }
}

fn parse_record(obj: &Obj<'_>) -> Result<Draft, FieldError> {
    let event_id = json::opt_str(obj.raw("id"), "id")?.ok_or_else(|| FieldError::missing("id"))?;
    let event_id = EventId::new(event_id.into_owned()).map_err(at_native("id"))?;
    let created_at = json::opt_str(obj.raw("created_at"), "created_at")?
        .ok_or_else(|| FieldError::missing("created_at"))?;
    let ts = ts_text(&created_at, "created_at", false)?;

    let model = text_field(obj, "model", LIMITS.model)?.unwrap_or_else(|| "unknown".to_owned());
    let provider_name = text_field(obj, "provider", LIMITS.provider)?;
    let provider = provider_name
        .as_deref()
        .map_or(Provider::Unknown, |name| provider_from_native(name, &model));

    let input = json::opt_count_lenient(obj.raw("tokens_in"), "tokens_in")?.unwrap_or(0);
    let output = json::opt_count_lenient(obj.raw("tokens_out"), "tokens_out")?.unwrap_or(0);
    // Cloudflare keeps one input and one output number per call; cache and reasoning subsets are
    // not in the log, so they are 0 (cloudflare.md, "Token semantics").
    let tokens = TokenUsage::new(TokenCounts {
        input,
        output,
        ..TokenCounts::default()
    })?;

    let success = json::opt_bool(obj.raw("success"), "success")?;
    let status = match json::opt_count_lenient(obj.raw("status_code"), "status_code")? {
        Some(status) => status,
        None if success == Some(false) => 500,
        None => 200,
    };
    let (status_code, error_type) = status_and_error(status, "status_code", None)?;
    let cache_hit = json::opt_bool(obj.raw("cached"), "cached")?.unwrap_or(false);
    let cost = amount(obj.raw("cost"), "cost")?;
    let reported_cost_usd = reported_cost(cost, &tokens, status_code, cache_hit);
    let latency_ms = duration_ms(obj.raw("duration"), "duration")?;
    let step = json::opt_count_lenient(obj.raw("step"), "step")?;
    let attempts = match step {
        None => 1,
        Some(step) => u32::try_from(step)
            .ok()
            .and_then(|step| step.checked_add(1))
            .ok_or_else(|| FieldError::invalid_value("step", format!("`{step}` is out of range")))?,
    };

    let metadata = read_metadata(obj)?;
    let attribution = attribution_from(&metadata)?;

    let record = UsageRecord {
        team: attribution.team,
        project: attribution.project,
        user_id: attribution.user_id,
        tags: attribution.tags,
        attempts,
        reported_cost_usd,
        latency_ms,
        status_code,
        error_type,
        cache_hit,
        ..base_record(Source::Cloudflare, event_id, ts, provider, model.clone(), tokens)
    };
    // Only rows that say where they stand in a chain can be linked; the group is the metadata,
    // which the caller sends unchanged on every step of one request.
    Ok(match step {
        None => Draft::new(record),
        Some(_) => Draft::linked(
            record,
            AttemptLink {
                group: metadata_group_key(&metadata),
                started: ts,
                failed: status_code >= 400,
                requested: Some(model),
            },
        ),
    })
}

/// Maps Cloudflare's provider ids (the URL segment) into the canonical vocabulary. The shared
/// folding in [`Provider::normalize`] knows most of them; `perplexity-ai` and the routing
/// pseudo-providers are Cloudflare's own.
fn provider_from_native(native: &str, model: &str) -> Provider {
    match native.trim().to_ascii_lowercase().as_str() {
        "perplexity-ai" => Provider::Perplexity,
        "compat" | "dynamic" => served_provider_of(model),
        _ => Provider::normalize(native),
    }
}

/// Provider ids Cloudflare uses in `compat` model names (`openai/gpt-4o-mini`).
const CLOUDFLARE_PROVIDER_IDS: &[&str] = &[
    "openai",
    "anthropic",
    "workers-ai",
    "azure-openai",
    "aws-bedrock",
    "google-ai-studio",
    "google-vertex-ai",
    "groq",
    "mistral",
    "cohere",
    "grok",
    "deepseek",
    "perplexity-ai",
    "openrouter",
    "huggingface",
    "replicate",
    "cerebras",
];

/// The served provider of a `compat` / dynamic-route row, read from a `<provider>/…` model
/// prefix; `unknown` when the log does not name it.
fn served_provider_of(model: &str) -> Provider {
    let Some((prefix, _)) = model.split_once('/') else {
        return Provider::Unknown;
    };
    let prefix = prefix.trim().to_ascii_lowercase();
    if !CLOUDFLARE_PROVIDER_IDS.contains(&prefix.as_str()) {
        return Provider::Unknown;
    }
    provider_from_native(&prefix, "")
}

/// The metadata entries of one record, as raw values.
type Metadata = Vec<(String, Box<RawValue>)>;

/// Reads `metadata`: a JSON-encoded string in the REST API, an object in the Worker binding.
fn read_metadata(obj: &Obj<'_>) -> Result<Metadata, FieldError> {
    let Some(raw) = obj.present("metadata") else {
        return Ok(Metadata::new());
    };
    let entries = match Kind::of(raw) {
        Kind::Object => object_entries(raw.get()),
        Kind::String => {
            let text = json::decode_str(raw).unwrap_or_default();
            if text.trim().is_empty() {
                return Ok(Metadata::new());
            }
            object_entries(&text)
        }
        _ => {
            return Err(FieldError::invalid_type(
                "metadata",
                "a JSON object or a JSON-encoded string",
            ));
        }
    };
    entries.ok_or_else(|| {
        FieldError::invalid_value("metadata", format!("not a JSON object: `{}`", excerpt(raw.get())))
    })
}

fn object_entries(text: &str) -> Option<Metadata> {
    let obj = Obj::parse(text).ok()?;
    obj.entries()
        .map(|(key, raw)| {
            serde_json::from_str::<Box<RawValue>>(raw.get())
                .ok()
                .map(|owned| (key.to_owned(), owned))
        })
        .collect()
}

/// The attribution a record's metadata carries: scalar entries only, `team`, `project` and
/// `user_id` (else `user`) lifted out of the tags.
fn attribution_from(metadata: &Metadata) -> Result<Attribution, FieldError> {
    let mut tags = TagsBuilder::default();
    for (key, raw) in metadata {
        if let Some(value) = stringify_scalar(raw) {
            tags.insert(key.as_str(), value);
        }
    }
    let team = tags
        .lift("team", "metadata")?
        .unwrap_or_else(|| UNASSIGNED_TEAM.to_owned());
    let project = tags.lift("project", "metadata")?;
    let user_id = match tags.lift("user_id", "metadata")? {
        Some(user_id) => Some(user_id),
        None => tags.lift("user", "metadata")?,
    };
    Ok(Attribution {
        team,
        project,
        user_id,
        tags: tags.build()?,
    })
}

/// A stable text for "equal metadata": entries sorted by key, values by their JSON text.
fn metadata_group_key(metadata: &Metadata) -> String {
    let sorted: BTreeMap<&str, &str> = metadata
        .iter()
        .map(|(key, raw)| (key.as_str(), raw.get()))
        .collect();
    serde_json::to_string(&sorted).unwrap_or_default()
}

/// Links the steps of fallback chains (`cloudflare.md`, "Mapping rules"): a step `n > 0` takes
/// the step `n − 1` row with the same metadata, at most 60 s earlier, as the attempt it replaced.
/// Rows are resolved in step order, so each step inherits the chain's first `model_requested`.
fn link_fallback_steps(rows: &mut [Draft]) {
    let mut order: Vec<usize> = (0..rows.len())
        .filter(|&index| rows.get(index).is_some_and(|row| row.link.is_some()))
        .collect();
    order.sort_by_key(|&index| rows.get(index).map(|row| (row.record.attempts, row.record.ts)));
    for &index in &order {
        let Some(row) = rows.get(index) else { continue };
        let (Some(link), attempts) = (row.link.as_ref(), row.record.attempts) else {
            continue;
        };
        if attempts < 2 {
            continue;
        }
        let Some(previous) = previous_step(rows, index, &link.group, attempts - 1, link.started) else {
            continue;
        };
        let Some(previous_row) = rows.get(previous) else {
            continue;
        };
        let fallback_from = previous_row.record.model.clone();
        let model_requested = previous_row.record.model_requested.clone();
        if let Some(row) = rows.get_mut(index) {
            row.record.fallback_from = Some(fallback_from);
            row.record.model_requested = model_requested;
            row.record.route = Some(FALLBACK_ROUTE.to_owned());
        }
    }
}

/// The latest row of `group` with `attempts` that started in the window before `started`.
fn previous_step(
    rows: &[Draft],
    index: usize,
    group: &str,
    attempts: u32,
    started: DateTime<Utc>,
) -> Option<usize> {
    rows.iter()
        .enumerate()
        .filter(|(candidate, _)| *candidate != index)
        .filter_map(|(candidate, row)| row.link.as_ref().map(|link| (candidate, row, link)))
        .filter(|(_, row, link)| {
            row.record.attempts == attempts
                && link.group == group
                && link.started <= started
                && started - link.started <= FALLBACK_WINDOW
        })
        .max_by_key(|(_, _, link)| link.started)
        .map(|(candidate, _, _)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::golden::assert_golden;
    use crate::ingest::{FormatChoice, ParsedBatch, RejectCode, parse_body};
    use crate::model::ErrorType;

    fn parse(body: &str) -> ParsedBatch {
        let ctx = ParseContext {
            now: DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
                .unwrap()
                .into(),
        };
        parse_body(body.as_bytes(), FormatChoice::Forced(Source::Cloudflare), &ctx).unwrap()
    }

    fn only_record(body: &str) -> UsageRecord {
        let batch = parse(body);
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        assert_eq!(batch.accepted.len(), 1);
        batch.accepted.into_iter().next().unwrap().record
    }

    fn only_error(body: &str) -> (Option<String>, RejectCode, String) {
        let batch = parse(body);
        assert!(batch.accepted.is_empty());
        assert_eq!(batch.rejected.len(), 1);
        let rejected = batch.rejected.into_iter().next().unwrap();
        (rejected.field, rejected.code, rejected.message)
    }

    const BASE: &str = r#""id":"01TEST","created_at":"2026-11-23T08:20:00.123Z","duration":100"#;

    #[test]
    fn golden_fixture() {
        assert_golden(
            "cloudflare/sample.ndjson",
            "cloudflare/sample.expected.ndjson",
            Source::Cloudflare,
            (12, 12, 0),
        );
    }

    #[test]
    fn detection_needs_the_token_keys() {
        let detect = |text: &str| Cloudflare.detect(&Obj::parse(text).unwrap());
        let keys = r#""id":1,"created_at":null,"provider":"x","duration":"#;
        assert!(detect(&format!(r#"{{{keys}1,"tokens_out":null}}"#)));
        assert!(!detect(&format!(r#"{{{keys}1}}"#)));
    }

    #[test]
    fn the_api_envelope_is_unwrapped_and_detected() {
        let body = format!(
            r#"{{"result":[{{{BASE},"provider":"openai","model":"gpt-4o-mini","tokens_in":10,"tokens_out":2,"cost":0.00001}}],"result_info":{{"page":1,"per_page":20,"count":1,"total_count":1}},"success":true,"errors":[],"messages":[]}}"#
        );
        let ctx = ParseContext::now();
        let batch = parse_body(body.as_bytes(), FormatChoice::Auto, &ctx).unwrap();
        assert_eq!(batch.format, Some(Source::Cloudflare));
        assert_eq!(batch.accepted.len(), 1);
        assert_eq!(
            batch.accepted[0]
                .record
                .reported_cost_usd
                .unwrap()
                .as_decimal()
                .to_string(),
            "0.00001"
        );
    }

    #[test]
    fn worker_metadata_objects_and_the_user_key_are_accepted() {
        let record = only_record(&format!(
            r#"{{{BASE},"provider":"perplexity-ai","model":"sonar","tokens_in":10,"tokens_out":2,"metadata":{{"team":"search","user":"u_9","project":7,"ab":false,"nested":{{"x":1}}}}}}"#
        ));
        assert_eq!(record.team, "search");
        assert_eq!(record.user_id.as_deref(), Some("u_9"));
        assert_eq!(record.project.as_deref(), Some("7"));
        assert_eq!(record.tags.get("ab"), Some("false"));
        assert_eq!(record.tags.len(), 1);
        assert_eq!(record.provider, Provider::Perplexity);
    }

    #[test]
    fn user_id_wins_over_user_which_stays_a_tag() {
        let record = only_record(&format!(
            r#"{{{BASE},"provider":"openai","model":"m","tokens_in":1,"metadata":"{{\"user_id\":\"a\",\"user\":\"b\"}}"}}"#
        ));
        assert_eq!(record.user_id.as_deref(), Some("a"));
        assert_eq!(record.tags.get("user"), Some("b"));
        assert_eq!(record.team, UNASSIGNED_TEAM);
    }

    #[test]
    fn malformed_metadata_is_an_invalid_value() {
        let (field, code, _) = only_error(&format!(
            r#"{{{BASE},"provider":"openai","model":"m","tokens_in":1,"metadata":"{{team: search"}}"#
        ));
        assert_eq!(
            (field.as_deref(), code),
            (Some("metadata"), RejectCode::InvalidValue)
        );
        let (field, code, _) = only_error(&format!(
            r#"{{{BASE},"provider":"openai","model":"m","tokens_in":1,"metadata":"[1,2]"}}"#
        ));
        assert_eq!(
            (field.as_deref(), code),
            (Some("metadata"), RejectCode::InvalidValue)
        );
        let (field, code, _) = only_error(&format!(
            r#"{{{BASE},"provider":"openai","model":"m","tokens_in":1,"metadata":5}}"#
        ));
        assert_eq!(
            (field.as_deref(), code),
            (Some("metadata"), RejectCode::InvalidType)
        );
    }

    #[test]
    fn zero_cost_on_a_priced_success_is_unknown_not_free() {
        let record = only_record(&format!(
            r#"{{{BASE},"provider":"openai","model":"m","tokens_in":10,"tokens_out":2,"cost":0,"cached":false,"status_code":200}}"#
        ));
        assert_eq!(record.reported_cost_usd, None);
    }

    #[test]
    fn a_missing_status_follows_success() {
        let record = only_record(&format!(
            r#"{{{BASE},"provider":"workers-ai","model":"@cf/x","tokens_in":null,"success":false}}"#
        ));
        assert_eq!(record.status_code, 500);
        assert_eq!(record.error_type, Some(ErrorType::ServerError));
        assert_eq!(record.provider, Provider::WorkersAi);
        let record = only_record(&format!(
            r#"{{{BASE},"provider":"grok","model":"","tokens_out":3}}"#
        ));
        assert_eq!(record.status_code, 200);
        assert_eq!(record.model, "unknown");
        assert_eq!(record.provider, Provider::Xai);
    }

    #[test]
    fn compat_rows_take_the_provider_from_the_model_prefix() {
        let record = only_record(&format!(
            r#"{{{BASE},"provider":"compat","model":"google-ai-studio/gemini-2.5-flash","tokens_in":1}}"#
        ));
        assert_eq!(record.provider, Provider::Gemini);
        assert_eq!(record.model, "google-ai-studio/gemini-2.5-flash");
        let record = only_record(&format!(
            r#"{{{BASE},"provider":"compat","model":"gpt-4o","tokens_in":1}}"#
        ));
        assert_eq!(record.provider, Provider::Unknown);
    }

    #[test]
    fn bad_fields_name_the_native_path() {
        let cases = [
            (
                r#""provider":"openai","tokens_in":-4"#,
                "tokens_in",
                RejectCode::InvalidValue,
            ),
            (
                r#""provider":"openai","tokens_in":1.5"#,
                "tokens_in",
                RejectCode::InvalidType,
            ),
            (
                r#""provider":"openai","tokens_in":1,"cost":"abc""#,
                "cost",
                RejectCode::InvalidValue,
            ),
            (
                r#""provider":"openai","tokens_in":1,"cost":-1"#,
                "cost",
                RejectCode::InvalidValue,
            ),
            (
                r#""provider":"openai","tokens_in":1,"status_code":42"#,
                "status_code",
                RejectCode::InvalidValue,
            ),
            (
                r#""provider":"openai","tokens_in":1,"cached":"yes""#,
                "cached",
                RejectCode::InvalidType,
            ),
            (
                r#""provider":["x"],"tokens_in":1"#,
                "provider",
                RejectCode::InvalidType,
            ),
        ];
        for (fields, want_field, want_code) in cases {
            let (field, code, _) = only_error(&format!("{{{BASE},{fields}}}"));
            assert_eq!(
                (field.as_deref(), code),
                (Some(want_field), want_code),
                "{fields}"
            );
        }
        let (field, code, _) = only_error(r#"{"created_at":"2026-11-23T08:20:00Z","tokens_in":1}"#);
        assert_eq!((field.as_deref(), code), (Some("id"), RejectCode::MissingField));
        let (field, code, _) = only_error(r#"{"id":"x","created_at":"2026-11-23 08:20:00","tokens_in":1}"#);
        assert_eq!(
            (field.as_deref(), code),
            (Some("created_at"), RejectCode::InvalidValue)
        );
    }

    #[test]
    fn garbage_gives_errors_not_panics() {
        for body in [
            r#"{"id":{},"created_at":[],"duration":"x","tokens_in":"","provider":null}"#,
            r#"{"id":"","created_at":"","duration":null}"#,
            r#"{"id":"x","created_at":"2026-11-23T08:20:00Z","step":99999999999999999999}"#,
            r#"{"id":"x","created_at":"2026-11-23T08:20:00Z","step":-1}"#,
            "{}",
            "[1, \"a\", null]",
        ] {
            let batch = parse(body);
            assert!(batch.accepted.is_empty(), "{body}");
        }
    }

    fn step(id: &str, created_at: &str, step: u32, model: &str, metadata: &str) -> String {
        format!(
            r#"{{"id":"{id}","created_at":"{created_at}","duration":10,"provider":"openai","model":"{model}","tokens_in":1,"tokens_out":1,"step":{step},"metadata":"{metadata}"}}"#
        )
    }

    #[test]
    fn fallback_steps_link_only_within_the_window_and_the_same_metadata() {
        let same = r#"{\"request\":\"r1\"}"#;
        let body = [
            step("a", "2026-11-23T10:00:00Z", 0, "m0", same),
            step("b", "2026-11-23T10:00:01Z", 1, "m1", same),
            step("c", "2026-11-23T10:00:02Z", 2, "m2", same),
            // Too late for step 0 at 10:00:00 (61 s).
            step("d", "2026-11-23T10:01:01Z", 1, "late", same),
            // Other metadata.
            step("e", "2026-11-23T10:00:01Z", 1, "other", r#"{\"request\":\"r2\"}"#),
        ]
        .join("\n");
        let batch = parse(&body);
        let rows: Vec<&UsageRecord> = batch.accepted.iter().map(|row| &row.record).collect();
        assert_eq!(rows.len(), 5);
        assert_eq!((rows[0].route.as_deref(), rows[0].attempts), (None, 1));
        assert_eq!(rows[1].fallback_from.as_deref(), Some("m0"));
        assert_eq!(rows[1].model_requested, "m0");
        assert_eq!(rows[1].route.as_deref(), Some("fallback"));
        assert_eq!(rows[2].fallback_from.as_deref(), Some("m1"));
        assert_eq!(rows[2].model_requested, "m0");
        assert_eq!(rows[2].attempts, 3);
        for row in [rows[3], rows[4]] {
            assert_eq!(row.fallback_from, None);
            assert_eq!(row.model_requested, row.model);
            assert_eq!(row.attempts, 2);
        }
    }
}
