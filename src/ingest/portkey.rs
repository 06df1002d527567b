//! `portkey`: Portkey log exports (JSONL from the app or the Log Export API), one object per
//! request.
//!
//! Spec: [`shared/formats/portkey.md`](../../../shared/formats/portkey.md).
//!
//! Fields mapped: `id` → `event_id`; `created_at` → `ts` (an offset is required); `ai_org` →
//! `provider` (else `response.provider`); `response.model` → `model` (else `ai_model`);
//! `ai_model` → `model_requested`; `response.usage` (`prompt_tokens`, `completion_tokens`,
//! `total_tokens`, `prompt_tokens_details.cached_tokens`, `cache_read_input_tokens`,
//! `cache_creation_input_tokens`, `completion_tokens_details.reasoning_tokens`) → tokens through
//! the sum test, with `req_units` / `res_units` when the export has no `response`; `cost` (US
//! cents) / 100 → `reported_cost_usd`; `cost_currency`; `response_time` → `latency_ms`;
//! `response_status_code` and `response.error.code` / `.type` → `status_code`, `error_type`;
//! `is_success` (only to tell whether a missing status can be assumed 200); `metadata` (`_user`
//! → `user_id`, `team`, `project`, the rest → `tags`); `virtual_key` → `api_key_id`; `mode` →
//! `route`; `retry_success_count` → `attempts`; `cache_status` → `cache_hit`; `trace_id` +
//! `config` → fallback chains across rows ([`Portkey::finish_batch`]). The legacy spellings
//! `response.body` and flattened `metadata.<key>` columns are read like their nested forms.
//!
//! Fields dropped: `request` / `request.body`, `total_units`, `request_url`, `request_method`,
//! `prompt_slug`, `cache_type`, `stream_mode`, `runtime`, `runtime_version`, `sdk_version`,
//! `prompt_version_id`, `response.id`, `response.choices`, and every other key.
//!
//! Decisions where the page is unverified (**U**) or silent:
//! - Fallback chains: rows with `mode == "FALLBACK"`, the same `trace_id` and the same `config`,
//!   ordered by `created_at`, each at most 60 s after the previous one, and ending at the first
//!   row that did not fail. Every row of a chain gets `model_requested` = `ai_model` of the first
//!   row; the served row also gets `fallback_from` = `ai_model` of the row before it and
//!   `attempts` = its position plus its own `retry_success_count`. Chains are only seen within
//!   one request body.
//! - A `cost_currency` other than `USD` makes `reported_cost_usd` null rather than a wrong dollar
//!   amount.
//! - A missing `response_status_code` means 200 unless `is_success` is 0 or the response holds an
//!   `error`; then the record is rejected (`missing_field`) instead of guessing a status.
//! - `response`, `response.body` and `metadata` sent as JSON text instead of objects are parsed;
//!   text that is not a JSON object is ignored, as if the column were denied.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use rust_decimal::Decimal;

use super::Adapter;
use super::common::{
    AttemptLink, Attribution, Draft, ParseContext, TagsBuilder, amount, at_native, base_record, duration_ms,
    error_text, object_text, reported_cost, status_and_error, stringify_scalar, sum_test, text_at,
    text_field, ts_text,
};
use super::json::{self, Obj};
use super::reject::FieldError;
use crate::model::{
    ApiKeyId, ErrorType, EventId, LIMITS, Provider, Source, TokenCounts, TokenUsage, UNASSIGNED_TEAM,
    UsageRecord, Usd,
};

pub(crate) struct Portkey;

/// Keys of which the detection predicate needs one, next to `ai_org` or `ai_model`.
const DETECTION_KEYS: &[&str] = &["req_units", "cost_currency", "response_status_code"];

/// Rows of one fallback chain are at most this far apart (`portkey.md`, "Mapping rules").
const FALLBACK_WINDOW_SECONDS: i64 = 60;

impl Adapter for Portkey {
    fn source(&self) -> Source {
        Source::Portkey
    }

    fn detect(&self, obj: &Obj<'_>) -> bool {
        (obj.has("ai_org") || obj.has("ai_model")) && DETECTION_KEYS.iter().any(|key| obj.has(key))
    }

    fn parse(&self, obj: &Obj<'_>, _ctx: &ParseContext, out: &mut Vec<Result<Draft, FieldError>>) {
        out.push(parse_record(obj));
    }

    /// Links the attempts of fallback chains, which Portkey logs as one row each.
    fn finish_batch(&self, rows: &mut [Draft]) {
        link_fallback_chains(rows);
    }
}

fn parse_record(obj: &Obj<'_>) -> Result<Draft, FieldError> {
    let event_id = text_field(obj, "id", LIMITS.event_id)?.ok_or_else(|| FieldError::missing("id"))?;
    let event_id = EventId::new(event_id).map_err(at_native("id"))?;
    let created_at = json::opt_str(obj.raw("created_at"), "created_at")?
        .ok_or_else(|| FieldError::missing("created_at"))?;
    let ts = ts_text(&created_at, "created_at", false)?;

    // The current export calls the body `response`, the older one `response.body`.
    let (response_field, response_raw) = match obj.raw("response") {
        Some(raw) => ("response", Some(raw)),
        None => ("response.body", obj.raw("response.body")),
    };
    let response_text = object_text(response_raw, response_field)?;
    let response = response_text.as_deref().and_then(|text| Obj::parse(text).ok());

    let models = read_models(obj, response.as_ref(), response_field)?;
    let tokens = read_tokens(obj, response.as_ref(), response_field)?;
    let (status_code, error_type) = read_status(obj, response.as_ref())?;
    let cache_hit = text_field(obj, "cache_status", LIMITS.short_text)?.is_some_and(|status| {
        let status = status.trim();
        status.eq_ignore_ascii_case("HIT") || status.eq_ignore_ascii_case("SEMANTIC HIT")
    });
    let reported = read_cost(obj)?;
    let reported_cost_usd = reported_cost(reported, &tokens, status_code, cache_hit);

    let latency_ms = duration_ms(obj.raw("response_time"), "response_time")?;

    let routing = read_routing(obj)?;

    let api_key_id = match text_field(obj, "virtual_key", LIMITS.short_text)? {
        None => None,
        Some(alias) => Some(ApiKeyId::from_alias(&alias).map_err(at_native("virtual_key"))?),
    };
    let attribution = read_attribution(obj)?;

    let link = match text_field(obj, "trace_id", LIMITS.short_text)? {
        Some(trace_id) if routing.is_fallback => {
            // The config is compared by its JSON text, so ids and inline configs both work.
            let config = obj.raw("config").map_or("null", |raw| raw.get());
            Some(AttemptLink {
                group: format!("{trace_id}\n{config}"),
                started: ts,
                failed: status_code >= 400 || error_type.is_some(),
                requested: models.ai_model,
            })
        }
        _ => None,
    };

    let record = UsageRecord {
        team: attribution.team,
        project: attribution.project,
        user_id: attribution.user_id,
        api_key_id,
        tags: attribution.tags,
        model_requested: models.model_requested,
        route: routing.route,
        attempts: routing.attempts,
        reported_cost_usd,
        latency_ms,
        status_code,
        error_type,
        cache_hit,
        ..base_record(
            Source::Portkey,
            event_id,
            ts,
            models.provider,
            models.model,
            tokens,
        )
    };
    Ok(match link {
        Some(link) => Draft::linked(record, link),
        None => Draft::new(record),
    })
}

/// What a row says about the model and who served it.
struct Models {
    /// `ai_model`: what the caller asked for, which a fallback chain also needs.
    ai_model: Option<String>,
    model: String,
    model_requested: String,
    provider: Provider,
}

/// `response.model` (else `ai_model`) is the served model, `ai_model` the requested one; `ai_org`
/// (else `response.provider`) names the provider.
fn read_models(
    obj: &Obj<'_>,
    response: Option<&Obj<'_>>,
    response_field: &str,
) -> Result<Models, FieldError> {
    let ai_model = text_field(obj, "ai_model", LIMITS.model)?;
    let response_model = match response {
        Some(response) => text_at(
            response.raw("model"),
            &format!("{response_field}.model"),
            LIMITS.model,
        )?,
        None => None,
    };
    let model = response_model
        .or_else(|| ai_model.clone())
        .ok_or_else(|| FieldError::missing("ai_model"))?;
    let model_requested = ai_model.clone().unwrap_or_else(|| model.clone());

    let provider = match text_field(obj, "ai_org", LIMITS.provider)? {
        Some(name) => Provider::normalize(&name),
        None => match response {
            Some(response) => text_at(
                response.raw("provider"),
                &format!("{response_field}.provider"),
                LIMITS.provider,
            )?
            .map_or(Provider::Unknown, |name| Provider::normalize(&name)),
            None => Provider::Unknown,
        },
    };
    Ok(Models {
        ai_model,
        model,
        model_requested,
        provider,
    })
}

/// How a row was routed: its attempts and its `mode`.
struct Routing {
    /// 1 plus `retry_success_count`.
    attempts: u32,
    /// `mode` is `FALLBACK`: the row may belong to a fallback chain.
    is_fallback: bool,
    /// `fallback` or `loadbalance`; other modes are not routes.
    route: Option<String>,
}

/// `retry_success_count` and `mode`.
fn read_routing(obj: &Obj<'_>) -> Result<Routing, FieldError> {
    let attempts = match json::opt_count_lenient(obj.raw("retry_success_count"), "retry_success_count")? {
        None => 1,
        Some(retries) => u32::try_from(retries)
            .ok()
            .and_then(|retries| retries.checked_add(1))
            .ok_or_else(|| FieldError::invalid_value("retry_success_count", "is out of range"))?,
    };
    let mode = text_field(obj, "mode", LIMITS.short_text)?;
    let is_fallback = mode
        .as_deref()
        .is_some_and(|mode| mode.trim().eq_ignore_ascii_case("FALLBACK"));
    let route = mode.and_then(|mode| {
        let mode = mode.trim();
        (mode.eq_ignore_ascii_case("FALLBACK") || mode.eq_ignore_ascii_case("LOADBALANCE"))
            .then(|| mode.to_ascii_lowercase())
    });
    Ok(Routing {
        attempts,
        is_fallback,
        route,
    })
}

/// Token counts from `response.usage`, with the sum test of `portkey.md`: Portkey shapes every
/// provider like OpenAI but keeps Anthropic's cache-exclusive `prompt_tokens` and Gemini's
/// thought-exclusive `completion_tokens`, and only the total tells which one a row is.
fn read_tokens(
    obj: &Obj<'_>,
    response: Option<&Obj<'_>>,
    response_field: &str,
) -> Result<TokenUsage, FieldError> {
    let usage_field = format!("{response_field}.usage");
    let usage = match response {
        Some(response) => response.obj("usage", &usage_field)?,
        None => None,
    };
    let req_units = json::opt_count_lenient(obj.raw("req_units"), "req_units")?;
    let res_units = json::opt_count_lenient(obj.raw("res_units"), "res_units")?;
    let Some(usage) = usage else {
        // Without `response` (an error, or a denied export column) only the units remain.
        return TokenUsage::new(TokenCounts {
            input: req_units.unwrap_or(0),
            output: res_units.unwrap_or(0),
            ..TokenCounts::default()
        })
        .map_err(at_native("req_units"));
    };
    let count = |path: &[&str]| -> Result<Option<u64>, FieldError> {
        json::opt_count_lenient(usage.path(path), &format!("{usage_field}.{}", path.join(".")))
    };
    let prompt = count(&["prompt_tokens"])?.or(req_units).unwrap_or(0);
    let completion = count(&["completion_tokens"])?.or(res_units).unwrap_or(0);
    let total = count(&["total_tokens"])?;
    let cache_read = match count(&["cache_read_input_tokens"])? {
        Some(read) => read,
        None => count(&["prompt_tokens_details", "cached_tokens"])?.unwrap_or(0),
    };
    let cache_write = count(&["cache_creation_input_tokens"])?.unwrap_or(0);
    let reasoning = count(&["completion_tokens_details", "reasoning_tokens"])?.unwrap_or(0);
    let summed = sum_test(prompt, completion, total, cache_read, cache_write, reasoning);
    TokenUsage::new(TokenCounts {
        input: summed.input,
        output: summed.output,
        cached_input: cache_read,
        cache_write,
        cache_write_1h: 0,
        reasoning,
    })
    .map_err(at_native(&usage_field))
}

/// `cost` is in US cents; the division by 100 is exact in decimal.
fn read_cost(obj: &Obj<'_>) -> Result<Option<Usd>, FieldError> {
    let Some(cents) = amount(obj.raw("cost"), "cost")? else {
        return Ok(None);
    };
    if let Some(currency) = text_field(obj, "cost_currency", LIMITS.short_text)?
        && !currency.trim().eq_ignore_ascii_case("USD")
    {
        return Ok(None);
    }
    cents
        .as_decimal()
        .checked_div(Decimal::ONE_HUNDRED)
        .and_then(|dollars| Usd::new(dollars).ok())
        .map(Some)
        .ok_or_else(|| FieldError::invalid_value("cost", "is out of range"))
}

fn read_status(obj: &Obj<'_>, response: Option<&Obj<'_>>) -> Result<(u16, Option<ErrorType>), FieldError> {
    let error = response
        .and_then(|response| response.present("error"))
        .map(error_text);
    let status = match json::opt_count_lenient(obj.raw("response_status_code"), "response_status_code")? {
        Some(status) => status,
        None => {
            let failed = obj
                .present("is_success")
                .and_then(stringify_scalar)
                .is_some_and(|flag| flag == "0" || flag == "false");
            if failed || error.is_some() {
                return Err(FieldError::missing("response_status_code"));
            }
            200
        }
    };
    status_and_error(status, "response_status_code", error.as_deref())
}

/// `metadata`: `_user`, `team` and `project` are lifted, every other scalar entry becomes a tag.
fn read_attribution(obj: &Obj<'_>) -> Result<Attribution, FieldError> {
    let mut entries = TagsBuilder::default();
    let metadata_text = object_text(obj.raw("metadata"), "metadata")?;
    if let Some(metadata) = metadata_text.as_deref().and_then(|text| Obj::parse(text).ok()) {
        entries.extend_from(&metadata);
    }
    // The older export flattened metadata into `metadata.<key>` columns.
    for (key, raw) in obj.entries() {
        if let Some(name) = key.strip_prefix("metadata.")
            && let Some(value) = stringify_scalar(raw)
        {
            entries.insert(name, value);
        }
    }
    let user_id = entries.lift("_user", "metadata")?;
    let team = entries
        .lift("team", "metadata")?
        .unwrap_or_else(|| UNASSIGNED_TEAM.to_owned());
    let project = entries.lift("project", "metadata")?;
    let tags = entries.build().map_err(at_native("metadata"))?;
    Ok(Attribution {
        team,
        project,
        user_id,
        tags,
    })
}

/// Groups fallback rows into chains (see the module doc) and fills in what only the chain knows.
fn link_fallback_chains(rows: &mut [Draft]) {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        if let Some(link) = &row.link {
            groups.entry(link.group.clone()).or_default().push(index);
        }
    }
    let window = TimeDelta::seconds(FALLBACK_WINDOW_SECONDS);
    for mut members in groups.into_values() {
        members.sort_by_key(|&index| {
            (
                rows.get(index)
                    .and_then(|row| row.link.as_ref())
                    .map(|link| link.started),
                index,
            )
        });
        let mut chain: Vec<usize> = Vec::new();
        for index in members {
            let Some(link) = rows.get(index).and_then(|row| row.link.as_ref()) else {
                continue;
            };
            let (started, failed) = (link.started, link.failed);
            let previous_started = chain
                .last()
                .and_then(|&last| rows.get(last))
                .and_then(|row| row.link.as_ref())
                .map(|link| link.started);
            if previous_started.is_some_and(|previous| started - previous > window) {
                apply_chain(rows, &chain, false);
                chain.clear();
            }
            chain.push(index);
            if !failed {
                apply_chain(rows, &chain, true);
                chain.clear();
            }
        }
        apply_chain(rows, &chain, false);
    }
}

/// Gives every row of a chain the first row's requested model; when the last row served the
/// request, it also gets the failed model before it and its position as attempts.
fn apply_chain(rows: &mut [Draft], chain: &[usize], served: bool) {
    let requested_of = |rows: &[Draft], index: usize| {
        rows.get(index)
            .and_then(|row| row.link.as_ref())
            .and_then(|link| link.requested.clone())
    };
    let Some(&first) = chain.first() else { return };
    let first_requested = requested_of(rows, first);
    for &index in chain {
        if let (Some(row), Some(requested)) = (rows.get_mut(index), &first_requested) {
            row.record.model_requested.clone_from(requested);
        }
    }
    if !served {
        return;
    }
    let Some((&served_index, earlier)) = chain.split_last() else {
        return;
    };
    let Some(&previous) = earlier.last() else { return };
    let fallback_from = requested_of(rows, previous);
    let earlier_attempts = u32::try_from(earlier.len()).unwrap_or(u32::MAX);
    if let Some(row) = rows.get_mut(served_index) {
        row.record.fallback_from = fallback_from;
        row.record.attempts = row.record.attempts.saturating_add(earlier_attempts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::golden::assert_golden;
    use crate::ingest::{FormatChoice, ParsedBatch, RejectCode, parse_body};

    fn parse_lines(lines: &[String]) -> ParsedBatch {
        let ctx = ParseContext {
            now: chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
                .unwrap()
                .into(),
        };
        parse_body(lines.join("\n").as_bytes(), FormatChoice::Auto, &ctx).unwrap()
    }

    fn parse_one(text: &str) -> Result<Draft, FieldError> {
        parse_record(&Obj::parse(text).unwrap())
    }

    /// A minimal export line with `extra` spliced in (later keys win).
    fn line(extra: &str) -> String {
        let base = r#""id":"log-1","created_at":"2026-11-23T08:05:00.123Z","ai_org":"anthropic","ai_model":"claude-sonnet-4-20250514","cost":1.5,"cost_currency":"USD","response_status_code":200"#;
        if extra.is_empty() {
            format!("{{{base}}}")
        } else {
            format!("{{{base},{extra}}}")
        }
    }

    #[test]
    fn golden_fixture() {
        assert_golden(
            "portkey/sample.ndjson",
            "portkey/sample.expected.ndjson",
            Source::Portkey,
            (12, 12, 0),
        );
    }

    #[test]
    fn detection_needs_a_model_key_and_a_unit_key() {
        let detects = |text: &str| Portkey.detect(&Obj::parse(text).unwrap());
        assert!(detects(r#"{"ai_org":null,"cost_currency":null}"#));
        assert!(detects(r#"{"ai_model":"x","req_units":"bad"}"#));
        assert!(!detects(r#"{"ai_org":"openai","cost":1}"#));
        assert!(!detects(r#"{"req_units":1,"response_status_code":200}"#));
    }

    #[test]
    fn anthropic_cache_write_is_added_back_when_the_total_counts_it() {
        let draft = parse_one(&line(
            r#""response":{"model":"claude-sonnet-4-20250514","usage":{"prompt_tokens":300,"completion_tokens":100,"total_tokens":5400,"cache_creation_input_tokens":5000}}"#,
        ))
        .unwrap();
        let tokens = draft.record.tokens;
        assert_eq!(tokens.input().get(), 5300);
        assert_eq!(tokens.cache_write().get(), 5000);
        assert_eq!(tokens.output().get(), 100);
    }

    #[test]
    fn openai_cached_tokens_stay_inside_the_prompt() {
        let draft = parse_one(&line(
            r#""ai_org":"openai","response":{"usage":{"prompt_tokens":8000,"completion_tokens":100,"total_tokens":8100,"prompt_tokens_details":{"cached_tokens":6144}}}"#,
        ))
        .unwrap();
        assert_eq!(draft.record.tokens.input().get(), 8000);
        assert_eq!(draft.record.tokens.cached_input().get(), 6144);
    }

    #[test]
    fn legacy_columns_and_units_without_response() {
        let draft = parse_one(&line(
            r#""response.body":"{\"model\":\"claude-x\"}","req_units":"40","res_units":7,"metadata.team":"search","metadata.tier":3"#,
        ))
        .unwrap();
        assert_eq!(draft.record.model, "claude-x");
        assert_eq!(draft.record.tokens.input().get(), 40);
        assert_eq!(draft.record.tokens.output().get(), 7);
        assert_eq!(draft.record.team, "search");
        assert_eq!(draft.record.tags.get("tier"), Some("3"));
    }

    #[test]
    fn cost_is_cents_and_other_currencies_are_not_dollars() {
        let draft = parse_one(&line(r#""cost":0.03135,"req_units":10"#)).unwrap();
        assert_eq!(
            draft.record.reported_cost_usd.map(Usd::as_decimal),
            Some("0.0003135".parse().unwrap())
        );
        let draft = parse_one(&line(r#""cost":3,"cost_currency":"EUR""#)).unwrap();
        assert_eq!(draft.record.reported_cost_usd, None);
    }

    #[test]
    fn error_code_refines_the_status() {
        let draft = parse_one(&line(
            r#""response_status_code":400,"response":{"error":{"code":"context_length_exceeded","message":"timeout"}}"#,
        ))
        .unwrap();
        assert_eq!(draft.record.status_code, 400);
        assert_eq!(draft.record.error_type, Some(ErrorType::ContextLength));
        let error = parse_one(&line(r#""response_status_code":null,"is_success":0"#)).unwrap_err();
        assert_eq!(
            (error.code, error.field.as_deref()),
            (RejectCode::MissingField, Some("response_status_code"))
        );
    }

    #[test]
    fn malformed_fields_name_the_native_path() {
        let cases = [
            (
                r#""response":{"usage":{"prompt_tokens":"many"}}"#,
                RejectCode::InvalidType,
                "response.usage.prompt_tokens",
            ),
            (r#""cost":-1"#, RejectCode::InvalidValue, "cost"),
            (
                r#""created_at":"2026-11-23 08:05:00""#,
                RejectCode::InvalidValue,
                "created_at",
            ),
            (r#""id":null"#, RejectCode::MissingField, "id"),
            (
                r#""virtual_key":"sk-ant-api03-secret""#,
                RejectCode::InvalidValue,
                "virtual_key",
            ),
            (
                r#""response_status_code":0"#,
                RejectCode::InvalidValue,
                "response_status_code",
            ),
            (r#""response":[1]"#, RejectCode::InvalidType, "response"),
            (r#""response_time":-3"#, RejectCode::InvalidValue, "response_time"),
        ];
        for (extra, code, field) in cases {
            let error = parse_one(&line(extra)).unwrap_err();
            assert_eq!(
                (error.code, error.field.as_deref()),
                (code, Some(field)),
                "{extra}"
            );
        }
    }

    #[test]
    fn garbage_values_are_errors_not_panics() {
        for text in [
            r#"{"ai_org":5,"req_units":{}}"#,
            r#"{"id":"x","created_at":"","ai_model":[],"cost_currency":1}"#,
            r#"{"id":"x","created_at":"2026-11-23T08:05:00Z","ai_model":"m","req_units":1e400,"metadata":"]["}"#,
            r#"{"id":"é","created_at":"2026-11-23T08:05:00Z","ai_model":"m","response_status_code":99999999999999999999}"#,
        ] {
            assert!(parse_one(text).is_err(), "{text}");
        }
        let batch = parse_lines(&[
            line(""),
            "[1,2]".to_owned(),
            "{\"ai_org\":1,\"req_units\":1}".to_owned(),
        ]);
        assert_eq!((batch.received, batch.accepted.len()), (3, 1));
    }

    #[test]
    fn fallback_chains_link_within_trace_config_and_window() {
        let row = |id: &str, at: &str, model: &str, status: u16, config: &str| {
            line(&format!(
                r#""id":"{id}","created_at":"2026-11-23T16:{at}Z","ai_model":"{model}","response_status_code":{status},"mode":"FALLBACK","trace_id":"t-1","config":"{config}","retry_success_count":1"#
            ))
        };
        let batch = parse_lines(&[
            row("c", "20:40.000", "claude-sonnet-4", 200, "pc-1"),
            row("a", "20:31.000", "gpt-4.1", 429, "pc-1"),
            row("b", "20:35.000", "gpt-4o", 503, "pc-1"),
            // Another config: not part of the chain.
            row("d", "20:36.000", "gpt-4o-mini", 200, "pc-2"),
            // Same trace and config but more than 60 s later: a new request.
            row("e", "22:00.000", "gpt-4.1", 200, "pc-1"),
        ]);
        let by_id = |id: &str| {
            batch
                .accepted
                .iter()
                .find(|row| row.record.event_id.as_str() == id)
                .map(|row| &row.record)
                .unwrap()
        };
        let served = by_id("c");
        assert_eq!(served.model_requested, "gpt-4.1");
        assert_eq!(served.fallback_from.as_deref(), Some("gpt-4o"));
        assert_eq!(served.attempts, 4);
        assert_eq!(served.route.as_deref(), Some("fallback"));
        assert_eq!(by_id("b").model_requested, "gpt-4.1");
        assert_eq!(by_id("b").fallback_from, None);
        assert_eq!(by_id("d").attempts, 2);
        assert_eq!(by_id("d").fallback_from, None);
        assert_eq!(by_id("e").model_requested, "gpt-4.1");
        assert_eq!(by_id("e").fallback_from, None);
        assert_eq!(by_id("e").attempts, 2);
    }
}
