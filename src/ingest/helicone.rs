//! `helicone`: Helicone request records (`/v1/request/query-clickhouse`, `@helicone/export`), one
//! object per request; the `{"data": [...], "error": null}` envelope is unwrapped before this
//! adapter sees a record (`detect.rs`).
//!
//! Spec: [`shared/formats/helicone.md`](../../../shared/formats/helicone.md).
//!
//! Fields mapped: `request_id` → `event_id`; `request_created_at` → `ts` (naive text is UTC, an
//! offset is honoured); `provider` (+ `target_url` for `GOOGLE`) → `provider`; `request_model`
//! (else `model`) → `model`; `request_body.model` → `model_requested`, `route`, `attempts`,
//! `fallback_from` (AI Gateway fallback lists); `prompt_tokens` + `prompt_cache_read_tokens` +
//! `prompt_cache_write_tokens` → `input_tokens` (Helicone stores the prompt net of the cache for
//! every provider); `completion_tokens` → `output_tokens`; inline `response_body.usage`
//! (`prompt_tokens`, `completion_tokens`, `prompt_tokens_details.cached_tokens`,
//! `completion_tokens_details.reasoning_tokens`) and `response_body.usageMetadata`
//! (`thoughtsTokenCount`, `candidatesTokenCount`) → reasoning and the two corrections of the page;
//! `cost` (else `costUSD`) → `reported_cost_usd`; `delay_ms` → `latency_ms`;
//! `time_to_first_token` → `ttft_ms`; `response_status` and `response_body.error.code` / `.type`
//! → `status_code`, `error_type`; `request_user_id` → `user_id`; `properties` (else
//! `request_properties`): `team`, `project`, the rest → `tags`; `cache_reference_id` →
//! `cache_hit`.
//!
//! Fields dropped: `response_id`, `response_created_at`, `response_model`, `model_override`,
//! `total_tokens` (it excludes the cache), `prompt_audio_tokens`, `completion_audio_tokens`,
//! `cache_enabled` (requested, not hit), `signed_body_url`, `storage_location`,
//! `ai_gateway_body_mapping`, `country_code`, `scores`, `asset_ids`, `asset_urls`, `prompt_id`,
//! `prompt_version`, `request_referrer`, `updated_at`, `feedback_*`, `llmSchema`, `request_path`,
//! `helicone_user`. There is no API-key column, so `api_key_id` stays null.
//!
//! Decisions where the page is unverified (**U**) or silent:
//! - `cost` is read as dollars: the query API already divides ClickHouse's nano-dollar integers by
//!   1e9, and no value-based guess can tell a raw ClickHouse integer from a large bill.
//! - Bodies sent as JSON text are parsed; S3 placeholders simply hold none of the fields read.
//!   A malformed body never rejects a record (bodies are hints); only the columns can.
//! - Reasoning larger than the stored `completion_tokens` means the stored count excluded it, so it
//!   is added (the sum test's `r > c` branch), which keeps `reasoning ≤ output`.
//! - Fallback lists: an entry `model/provider` is split at its last `/` only when the suffix is a
//!   known provider, so `meta-llama/Llama-3` stays one model name. The served entry is the first
//!   one whose provider agrees and whose model equals the served model or is its undated prefix;
//!   failing that, the only entry with the served provider. No match leaves `route` null.
//! - A missing `response_status` means 200 unless the response body holds an `error`; then the
//!   record is rejected (`missing_field`).

use super::Adapter;
use super::common::{
    Attribution, Draft, ParseContext, TagsBuilder, VERTEX_AI_HOST, amount, at_native, base_record,
    duration_ms, error_text, object_text, reported_cost, status_and_error, text_field, ts_text,
};
use super::json::{self, Obj};
use super::reject::FieldError;
use crate::model::{
    ErrorType, EventId, LIMITS, Provider, Source, TokenCounts, TokenUsage, UNASSIGNED_TEAM, UsageRecord,
    check_len,
};

pub(crate) struct Helicone;

/// Keys of which the detection predicate needs one, next to `request_id` and
/// `request_created_at`.
const DETECTION_KEYS: &[&str] = &[
    "delay_ms",
    "prompt_cache_read_tokens",
    "cache_reference_id",
    "response_status",
];

/// What `cache_reference_id` holds on every row that was not served from Helicone's cache.
const NO_CACHE_REFERENCE: &str = "00000000-0000-0000-0000-000000000000";

impl Adapter for Helicone {
    fn source(&self) -> Source {
        Source::Helicone
    }

    fn detect(&self, obj: &Obj<'_>) -> bool {
        obj.has("request_id")
            && obj.has("request_created_at")
            && DETECTION_KEYS.iter().any(|key| obj.has(key))
    }

    fn parse(&self, obj: &Obj<'_>, _ctx: &ParseContext, out: &mut Vec<Result<Draft, FieldError>>) {
        out.push(parse_record(obj).map(Draft::new));
    }
}

fn parse_record(obj: &Obj<'_>) -> Result<UsageRecord, FieldError> {
    let event_id =
        text_field(obj, "request_id", LIMITS.event_id)?.ok_or_else(|| FieldError::missing("request_id"))?;
    let event_id = EventId::new(event_id).map_err(at_native("request_id"))?;
    let created_at = json::opt_str(obj.raw("request_created_at"), "request_created_at")?
        .ok_or_else(|| FieldError::missing("request_created_at"))?;
    let ts = ts_text(&created_at, "request_created_at", true)?;

    // Bodies are hints (module doc): one that is not an object is ignored, never rejected.
    let request_body_text = object_text(obj.raw("request_body"), "request_body")
        .ok()
        .flatten();
    let request_body = request_body_text
        .as_deref()
        .and_then(|text| Obj::parse(text).ok());
    let response_body_text = object_text(obj.raw("response_body"), "response_body")
        .ok()
        .flatten();
    let response_body = response_body_text
        .as_deref()
        .and_then(|text| Obj::parse(text).ok());

    let target_url = json::opt_str(obj.raw("target_url"), "target_url")?;
    let provider = match text_field(obj, "provider", LIMITS.provider)? {
        None => Provider::Unknown,
        Some(name) => helicone_provider(&name, target_url.as_deref()),
    };
    let model = match text_field(obj, "request_model", LIMITS.model)? {
        Some(model) => model,
        None => {
            text_field(obj, "model", LIMITS.model)?.ok_or_else(|| FieldError::missing("request_model"))?
        }
    };
    let routing = read_routing(request_body.as_ref(), &model, &provider)?;

    let tokens = read_tokens(obj, response_body.as_ref())?;
    let (status_code, error_type) = read_status(obj, response_body.as_ref())?;
    let cache_hit = text_field(obj, "cache_reference_id", LIMITS.short_text)?
        .is_some_and(|reference| reference.trim() != NO_CACHE_REFERENCE);
    let reported = match obj.present("cost") {
        Some(raw) => amount(Some(raw), "cost")?,
        None => amount(obj.raw("costUSD"), "costUSD")?,
    };
    let reported_cost_usd = reported_cost(reported, &tokens, status_code, cache_hit);
    let latency_ms = duration_ms(obj.raw("delay_ms"), "delay_ms")?;
    let ttft_ms = duration_ms(obj.raw("time_to_first_token"), "time_to_first_token")?;
    let attribution = read_attribution(obj)?;

    Ok(UsageRecord {
        team: attribution.team,
        project: attribution.project,
        user_id: attribution.user_id,
        tags: attribution.tags,
        model_requested: routing.model_requested.unwrap_or_else(|| model.clone()),
        route: routing.route,
        fallback_from: routing.fallback_from,
        attempts: routing.attempts,
        reported_cost_usd,
        latency_ms,
        ttft_ms,
        status_code,
        error_type,
        cache_hit,
        ..base_record(Source::Helicone, event_id, ts, provider, model, tokens)
    })
}

/// Helicone's upper-case provider enum (proxy) or the AI Gateway's lower-case ids. `GOOGLE` covers
/// both Google APIs; only the target URL tells Vertex AI from the Gemini API.
fn helicone_provider(native: &str, target_url: Option<&str>) -> Provider {
    if native.trim().eq_ignore_ascii_case("GOOGLE")
        && target_url.is_some_and(|url| url.contains(VERTEX_AI_HOST))
    {
        return Provider::VertexAi;
    }
    Provider::normalize(native)
}

/// Token counts (`helicone.md`, "Token semantics"): the stored prompt excludes cache reads and
/// writes for every provider, so both are added back; the inline response body, when there is
/// one, supplies reasoning and corrects the two known storage variants.
fn read_tokens(obj: &Obj<'_>, response_body: Option<&Obj<'_>>) -> Result<TokenUsage, FieldError> {
    let column = |field: &str| -> Result<u64, FieldError> {
        Ok(json::opt_count_lenient(obj.raw(field), field)?.unwrap_or(0))
    };
    let prompt = column("prompt_tokens")?;
    let cache_read = column("prompt_cache_read_tokens")?;
    let cache_write = column("prompt_cache_write_tokens")?;
    let completion = column("completion_tokens")?;

    // Body values are hints: a malformed one is ignored rather than rejecting the record.
    let body = |path: &[&str]| -> Option<u64> {
        let raw = response_body?.path(path)?;
        json::opt_count_lenient(Some(raw), "response_body").ok().flatten()
    };
    let body_prompt = body(&["usage", "prompt_tokens"]);
    let body_cached = body(&["usage", "prompt_tokens_details", "cached_tokens"]).unwrap_or(0);
    let body_completion = body(&["usage", "completion_tokens"]);
    let candidates = body(&["usageMetadata", "candidatesTokenCount"]);
    let reasoning = body(&["usage", "completion_tokens_details", "reasoning_tokens"])
        .or_else(|| body(&["usageMetadata", "thoughtsTokenCount"]))
        .unwrap_or(0);

    let out_of_range = || FieldError::invalid_value("prompt_tokens", "plus the cache counts is out of range");
    // Rows written before Helicone tracked OpenAI cache reads hold the full prompt and 0 reads.
    let (input, cached_input) = match body_prompt {
        Some(full_prompt) if cache_read == 0 && body_cached > 0 && full_prompt >= body_cached => (
            full_prompt.checked_add(cache_write).ok_or_else(out_of_range)?,
            body_cached,
        ),
        _ => (
            prompt
                .checked_add(cache_read)
                .and_then(|sum| sum.checked_add(cache_write))
                .ok_or_else(out_of_range)?,
            cache_read,
        ),
    };

    let excludes_reasoning = reasoning > 0
        && (body_completion.and_then(|full| full.checked_sub(reasoning)) == Some(completion)
            || candidates == Some(completion)
            || reasoning > completion);
    let output = if excludes_reasoning {
        completion
            .checked_add(reasoning)
            .ok_or_else(|| FieldError::invalid_value("completion_tokens", "plus reasoning is out of range"))?
    } else {
        completion
    };

    TokenUsage::new(TokenCounts {
        input,
        output,
        cached_input,
        cache_write,
        cache_write_1h: 0,
        reasoning,
    })
    .map_err(at_native("prompt_tokens"))
}

fn read_status(
    obj: &Obj<'_>,
    response_body: Option<&Obj<'_>>,
) -> Result<(u16, Option<ErrorType>), FieldError> {
    let error = response_body
        .and_then(|body| body.present("error"))
        .map(error_text);
    let status = match json::opt_count_lenient(obj.raw("response_status"), "response_status")? {
        Some(status) => status,
        None if error.is_some() => return Err(FieldError::missing("response_status")),
        None => 200,
    };
    status_and_error(status, "response_status", error.as_deref())
}

/// What the request body says about the requested model and AI Gateway fallbacks.
struct Routing {
    model_requested: Option<String>,
    route: Option<String>,
    fallback_from: Option<String>,
    attempts: u32,
}

fn read_routing(
    request_body: Option<&Obj<'_>>,
    model: &str,
    provider: &Provider,
) -> Result<Routing, FieldError> {
    let mut routing = Routing {
        model_requested: None,
        route: None,
        fallback_from: None,
        attempts: 1,
    };
    let Some(requested) = request_body
        .and_then(|body| body.present("model"))
        .and_then(json::decode_str)
    else {
        return Ok(routing);
    };
    if !requested.contains(',') {
        let requested = requested.trim();
        if !requested.is_empty() {
            check_len("request_body.model", requested, LIMITS.model)?;
            routing.model_requested = Some(requested.to_owned());
        }
        return Ok(routing);
    }
    let entries: Vec<FallbackEntry> = requested
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(FallbackEntry::parse)
        .collect();
    let Some(first) = entries.first() else {
        return Ok(routing);
    };
    check_len("request_body.model", &first.model, LIMITS.model)?;
    routing.model_requested = Some(first.model.clone());
    let position = served_position(&entries, model, provider);
    if let Some(position) = position.filter(|&position| position > 0) {
        let previous = entries.get(position - 1).map(|entry| entry.model.clone());
        if let Some(previous) = &previous {
            check_len("request_body.model", previous, LIMITS.model)?;
        }
        routing.route = Some("fallback".to_owned());
        routing.fallback_from = previous;
        routing.attempts = u32::try_from(position + 1).unwrap_or(u32::MAX);
    }
    Ok(routing)
}

/// One entry of an AI Gateway fallback list: `gpt-4o/openai` or `gpt-4o`.
struct FallbackEntry {
    model: String,
    provider: Option<Provider>,
}

impl FallbackEntry {
    fn parse(entry: &str) -> FallbackEntry {
        if let Some((model, suffix)) = entry.rsplit_once('/') {
            let provider = Provider::normalize(suffix);
            if !model.is_empty() && !matches!(provider, Provider::Other(_) | Provider::Unknown) {
                return FallbackEntry {
                    model: model.to_owned(),
                    provider: Some(provider),
                };
            }
        }
        FallbackEntry {
            model: entry.to_owned(),
            provider: None,
        }
    }
}

/// The 0-based position of the entry that served the call (see the module doc).
fn served_position(entries: &[FallbackEntry], model: &str, provider: &Provider) -> Option<usize> {
    let provider_agrees = |entry: &FallbackEntry| entry.provider.as_ref().is_none_or(|own| own == provider);
    let model_agrees = |entry: &FallbackEntry| {
        model == entry.model
            || model
                .strip_prefix(entry.model.as_str())
                .is_some_and(|rest| rest.starts_with('-'))
    };
    if let Some(position) = entries
        .iter()
        .position(|entry| provider_agrees(entry) && model_agrees(entry))
    {
        return Some(position);
    }
    let mut by_provider = entries
        .iter()
        .enumerate()
        .filter(|(_, entry)| entry.provider.as_ref() == Some(provider));
    match (by_provider.next(), by_provider.next()) {
        (Some((position, _)), None) => Some(position),
        _ => None,
    }
}

/// `request_user_id` → `user_id`; `properties` (`Helicone-Property-*` headers plus Helicone's
/// session keys): `team` and `project` are lifted, every other scalar entry becomes a tag under
/// its own, case-sensitive name.
fn read_attribution(obj: &Obj<'_>) -> Result<Attribution, FieldError> {
    let user_id = text_field(obj, "request_user_id", LIMITS.short_text)?;
    let (field, raw) = match obj.present("properties") {
        Some(raw) => ("properties", Some(raw)),
        None => ("request_properties", obj.raw("request_properties")),
    };
    let mut entries = TagsBuilder::default();
    let text = object_text(raw, field)?;
    if let Some(properties) = text.as_deref().and_then(|text| Obj::parse(text).ok()) {
        entries.extend_from(&properties);
    }
    let team = entries
        .lift("team", field)?
        .unwrap_or_else(|| UNASSIGNED_TEAM.to_owned());
    let project = entries.lift("project", field)?;
    let tags = entries.build().map_err(at_native(field))?;
    Ok(Attribution {
        team,
        project,
        user_id,
        tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::golden::assert_golden;
    use crate::ingest::{FormatChoice, ParsedBatch, RejectCode, parse_body};
    use crate::model::Usd;

    fn parse_text(text: &str) -> ParsedBatch {
        let ctx = ParseContext {
            now: chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
                .unwrap()
                .into(),
        };
        parse_body(text.as_bytes(), FormatChoice::Auto, &ctx).unwrap()
    }

    fn parse_one(text: &str) -> Result<UsageRecord, FieldError> {
        parse_record(&Obj::parse(text).unwrap())
    }

    /// A minimal record with `extra` spliced in (later keys win).
    fn line(extra: &str) -> String {
        let base = r#""request_id":"req-1","request_created_at":"2026-11-23 08:10:00.123","response_status":200,"provider":"OPENAI","request_model":"gpt-4o","delay_ms":100,"prompt_tokens":100,"completion_tokens":20,"cost":0.001"#;
        if extra.is_empty() {
            format!("{{{base}}}")
        } else {
            format!("{{{base},{extra}}}")
        }
    }

    #[test]
    fn golden_fixture() {
        assert_golden(
            "helicone/sample.ndjson",
            "helicone/sample.expected.ndjson",
            Source::Helicone,
            (11, 11, 0),
        );
    }

    #[test]
    fn the_query_envelope_is_unwrapped() {
        let body = format!(
            "{{\"data\":[{},{}],\"error\":null}}",
            line(""),
            line(r#""request_id":"req-2""#)
        );
        let batch = parse_text(&body);
        assert_eq!(batch.format, Some(Source::Helicone));
        assert_eq!((batch.received, batch.accepted.len()), (2, 2));
    }

    #[test]
    fn detection_needs_ids_and_a_helicone_column() {
        let detects = |text: &str| Helicone.detect(&Obj::parse(text).unwrap());
        assert!(detects(
            r#"{"request_id":null,"request_created_at":1,"delay_ms":"x"}"#
        ));
        assert!(detects(
            r#"{"request_id":"a","request_created_at":"b","cache_reference_id":null}"#
        ));
        assert!(!detects(
            r#"{"request_id":"a","request_created_at":"b","cost":1}"#
        ));
        assert!(!detects(r#"{"request_id":"a","delay_ms":1}"#));
    }

    #[test]
    fn providers_fold_and_google_splits_by_url() {
        let provider = |extra: &str| parse_one(&line(extra)).unwrap().provider;
        assert_eq!(
            provider(
                r#""provider":"GOOGLE","target_url":"https://us-central1-aiplatform.googleapis.com/v1/x""#
            ),
            Provider::VertexAi
        );
        assert_eq!(provider(r#""provider":"GOOGLE""#), Provider::Gemini);
        assert_eq!(provider(r#""provider":"X""#), Provider::Xai);
        assert_eq!(provider(r#""provider":"AZURE""#), Provider::Azure);
        assert_eq!(provider(r#""provider":"BEDROCK""#), Provider::Bedrock);
        assert_eq!(provider(r#""provider":"TOGETHER""#), Provider::TogetherAi);
        assert_eq!(
            provider(r#""provider":"LOCAL""#),
            Provider::Other("other".to_owned())
        );
        assert_eq!(provider(r#""provider":"vertex""#), Provider::VertexAi);
    }

    #[test]
    fn old_openai_rows_take_the_cache_from_the_body() {
        let record = parse_one(&line(
            r#""prompt_tokens":8400,"prompt_cache_read_tokens":0,"response_body":{"usage":{"prompt_tokens":8400,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":6144}}}"#,
        ))
        .unwrap();
        assert_eq!(record.tokens.input().get(), 8400);
        assert_eq!(record.tokens.cached_input().get(), 6144);
    }

    #[test]
    fn reasoning_subtracted_by_the_processor_is_added_back() {
        // The stored 418 is the body's 2,210 minus 1,792 reasoning tokens.
        let record = parse_one(&line(
            r#""completion_tokens":418,"response_body":"{\"usage\":{\"completion_tokens\":2210,\"completion_tokens_details\":{\"reasoning_tokens\":1792}}}""#,
        ))
        .unwrap();
        assert_eq!(record.tokens.output().get(), 2210);
        assert_eq!(record.tokens.reasoning().get(), 1792);
        // Gemini: the stored count equals the candidates, thoughts are separate.
        let record = parse_one(&line(
            r#""provider":"GOOGLE","completion_tokens":240,"response_body":{"usageMetadata":{"candidatesTokenCount":240,"thoughtsTokenCount":610}}"#,
        ))
        .unwrap();
        assert_eq!(record.tokens.output().get(), 850);
    }

    #[test]
    fn fallback_lists_find_the_served_entry() {
        let record = parse_one(&line(
            r#""provider":"azure","request_model":"gpt-4o-2024-08-06","request_body":{"model":"gpt-4o/openai,gpt-4o/azure,claude-sonnet-4/anthropic"}"#,
        ))
        .unwrap();
        assert_eq!(record.model_requested, "gpt-4o");
        assert_eq!(record.route.as_deref(), Some("fallback"));
        assert_eq!(record.fallback_from.as_deref(), Some("gpt-4o"));
        assert_eq!(record.attempts, 2);
        // Served by the first entry: no fallback happened.
        let record = parse_one(&line(
            r#""provider":"OPENAI","request_model":"gpt-4o","request_body":{"model":"gpt-4o,meta-llama/Llama-3"}"#,
        ))
        .unwrap();
        assert_eq!((record.route, record.attempts), (None, 1));
        assert_eq!(record.model_requested, "gpt-4o");
    }

    #[test]
    fn unpriced_and_zero_costs() {
        let record = parse_one(&line(r#""cost":null,"costUSD":0.25"#)).unwrap();
        assert_eq!(
            record.reported_cost_usd.map(Usd::as_decimal),
            Some("0.25".parse().unwrap())
        );
        let record = parse_one(&line(r#""cost":0"#)).unwrap();
        assert_eq!(record.reported_cost_usd, None);
        let record = parse_one(&line(
            r#""cost":0,"cache_reference_id":"73de452e-a695-4552-8464-525d38b2e299""#,
        ))
        .unwrap();
        assert!(record.cache_hit);
        assert_eq!(record.reported_cost_usd, Some(Usd::ZERO));
    }

    #[test]
    fn malformed_fields_name_the_native_path() {
        let cases = [
            (r#""prompt_tokens":-4"#, RejectCode::InvalidValue, "prompt_tokens"),
            (
                r#""prompt_cache_read_tokens":"lots""#,
                RejectCode::InvalidType,
                "prompt_cache_read_tokens",
            ),
            (
                r#""response_status":0"#,
                RejectCode::InvalidValue,
                "response_status",
            ),
            (
                r#""request_created_at":"yesterday""#,
                RejectCode::InvalidValue,
                "request_created_at",
            ),
            (r#""request_id":"""#, RejectCode::MissingField, "request_id"),
            (r#""cost":"abc""#, RejectCode::InvalidValue, "cost"),
            (r#""delay_ms":-1"#, RejectCode::InvalidValue, "delay_ms"),
            (r#""properties":[1]"#, RejectCode::InvalidType, "properties"),
            (
                r#""response_status":null,"response_body":{"error":{"type":"overloaded_error"}}"#,
                RejectCode::MissingField,
                "response_status",
            ),
        ];
        for (extra, code, field) in cases {
            let error = parse_one(&line(extra)).unwrap_err();
            assert_eq!(
                (error.code, error.field.as_deref()),
                (code, Some(field)),
                "{extra}"
            );
        }
        let too_long = format!(r#""properties":{{"team":"{}"}}"#, "t".repeat(300));
        let error = parse_one(&line(&too_long)).unwrap_err();
        assert_eq!(
            (error.code, error.field.as_deref()),
            (RejectCode::FieldTooLong, Some("properties.team"))
        );
    }

    #[test]
    fn error_bodies_refine_the_status() {
        let record = parse_one(&line(
            r#""response_status":529,"response_body":{"type":"error","error":{"type":"overloaded_error","message":"rate_limit"}}"#,
        ))
        .unwrap();
        assert_eq!(record.error_type, Some(ErrorType::Overloaded));
    }

    #[test]
    fn garbage_values_are_errors_not_panics() {
        for text in [
            r#"{"request_id":5,"request_created_at":"2026-11-23 08:10:00"}"#,
            r#"{"request_id":"é","request_created_at":"2026-11-23 08:10:00","request_model":"m","response_body":"{\"usage\":","response_status":1e3}"#,
            r#"{"request_id":"x","request_created_at":[],"delay_ms":{}}"#,
        ] {
            assert!(parse_one(text).is_err(), "{text}");
        }
        // Malformed bodies are hints only: the record still parses.
        let record = parse_one(&line(
            r#""response_body":{"usage":{"completion_tokens":"x"}},"request_body":"{""#,
        ))
        .unwrap();
        assert_eq!(record.tokens.output().get(), 20);
        let batch = parse_text(&format!(
            "{}\n[]\n{{\"request_id\":\"a\",\"request_created_at\":\"b\",\"delay_ms\":1}}",
            line("")
        ));
        assert_eq!((batch.received, batch.accepted.len()), (3, 1));
    }
}
