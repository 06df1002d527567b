//! `openai_usage`: pages of OpenAI's organization Usage API for completions
//! (`GET /v1/organization/usage/completions`), aggregated into time buckets. One canonical row per
//! (bucket, result), with `request_count = num_model_requests`.
//!
//! Spec: [`shared/formats/openai_usage.md`](../../../shared/formats/openai_usage.md) (fixtures
//! `shared/fixtures/openai_usage/`).
//!
//! - mapped: bucket `start_time` → `ts`; `start_time`, `end_time` and the grouping columns →
//!   the synthetic `event_id` (`start-end-project-key-model-(batch|sync)-user-tier`, nulls as
//!   empty strings); `project_id` → `project`; `user_id`; `api_key_id` (an id such as `key_…`,
//!   refused if it looks like a secret); `model` → `model` and `model_requested` (null →
//!   `unknown`); `input_tokens`, `input_cached_tokens`, `output_tokens` (reasoning is inside and
//!   not reported separately); `num_model_requests` → `request_count`; `batch` → tag
//!   `batch: "true"` and service tier `batch`; `service_tier` → tag (unless `default`) and
//!   service tier when it names one the catalog knows.
//! - dropped: the page's `has_more` / `next_page` (each page is its own ingest body), the newer
//!   finer splits (`input_uncached_tokens`, `input_text_tokens`, `input_image_tokens`, …,
//!   `api_source`).
//! - constant: `provider = openai`, `status_code = 200`, no error type, no latency, no cost (the
//!   Costs API is reconciliation input and is not detected as usage).
//!
//! Decisions where the page leaves room:
//! - `team` stays `unassigned`: the page asks for a configured project → team map, and the
//!   configuration has none yet, so nothing is invented here.
//! - Non-zero `input_audio_tokens` / `output_audio_tokens` become tags of the same name: the page
//!   maps them to tags "if non-zero" without naming the keys.
//! - A bucket whose `end_time` is after `ctx.now` is still filling up; each of its results is
//!   rejected (`invalid_value`, "bucket not closed") because dedupe would freeze the partial count.
//!   A result with zero tokens and zero requests is skipped first, so it is never counted.
//! - A bucket-level problem (bad `start_time`) rejects each of the bucket's results, since each
//!   result is one candidate row; a page or bucket whose results cannot be read at all counts as
//!   one rejected candidate.
//! - Detection needs a first result to look at: a page whose buckets are all empty is not
//!   recognised (with `?format=openai_usage` it yields no rows).

use crate::ingest::json::RawValue;
use chrono::{DateTime, Utc};

use super::Adapter;
use super::common::{Draft, ParseContext, TagsBuilder, at_native, base_record, text_at};
use super::json::{self, Obj};
use super::reject::{FieldError, excerpt};
use crate::model::{
    ApiKeyId, EventId, LIMITS, Provider, ServiceTier, Source, Tags, TokenCounts, TokenUsage, UsageRecord,
};

pub(crate) struct OpenaiUsage;

/// The `object` of a completions usage result.
const USAGE_RESULT: &str = "organization.usage.completions.result";

impl Adapter for OpenaiUsage {
    fn source(&self) -> Source {
        Source::OpenaiUsage
    }

    fn detect(&self, obj: &Obj<'_>) -> bool {
        let is_page = json::string_at(obj.raw("object")).is_some_and(|kind| kind == "page");
        is_page
            && first_result(obj).is_some_and(|result| {
                result.has("num_model_requests")
                    || json::string_at(result.raw("object")).is_some_and(|kind| kind == USAGE_RESULT)
            })
    }

    fn parse(&self, obj: &Obj<'_>, ctx: &ParseContext, out: &mut Vec<Result<Draft, FieldError>>) {
        if let Err(error) = parse_page(obj, ctx, out) {
            out.push(Err(error));
        }
    }
}

/// The first result of the first bucket that has one: what detection looks at.
fn first_result<'a>(page: &Obj<'a>) -> Option<Obj<'a>> {
    let buckets = json::array_elements(page.present("data")?)?;
    buckets.into_iter().filter_map(Obj::from_raw).find_map(|bucket| {
        let results = json::array_elements(bucket.present("results")?)?;
        results.first().copied().and_then(Obj::from_raw)
    })
}

/// Pushes one candidate per result of every bucket.
///
/// # Errors
/// A page that is not a page of buckets: one rejected candidate.
fn parse_page(
    page: &Obj<'_>,
    ctx: &ParseContext,
    out: &mut Vec<Result<Draft, FieldError>>,
) -> Result<(), FieldError> {
    if let Some(kind) = json::opt_str(page.raw("object"), "object")?
        && kind != "page"
    {
        return Err(FieldError::invalid_value(
            "object",
            format!("expected a usage page (`page`), got `{}`", excerpt(&kind)),
        ));
    }
    let raw = page.present("data").ok_or_else(|| FieldError::missing("data"))?;
    let buckets =
        json::array_elements(raw).ok_or_else(|| FieldError::invalid_type("data", "an array of buckets"))?;
    for (bucket_index, raw_bucket) in buckets.into_iter().enumerate() {
        let path = format!("data[{bucket_index}]");
        if let Err(error) = parse_bucket(raw_bucket, &path, ctx, out) {
            out.push(Err(error));
        }
    }
    Ok(())
}

/// The bounds of a closed bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    start_time: i64,
    end_time: i64,
    start: DateTime<Utc>,
}

/// Pushes one candidate per non-empty result of a bucket.
///
/// # Errors
/// A bucket whose results cannot be read: one rejected candidate.
fn parse_bucket(
    raw: &RawValue,
    path: &str,
    ctx: &ParseContext,
    out: &mut Vec<Result<Draft, FieldError>>,
) -> Result<(), FieldError> {
    let bucket = Obj::from_raw(raw).ok_or_else(|| FieldError::invalid_type(path, "a bucket object"))?;
    let results_path = format!("{path}.results");
    let results = match bucket.present("results") {
        None => return Err(FieldError::missing(&results_path)),
        Some(raw) => json::array_elements(raw)
            .ok_or_else(|| FieldError::invalid_type(&results_path, "an array of results"))?,
    };
    let bounds = read_bounds(&bucket, path, ctx);
    for (result_index, raw_result) in results.into_iter().enumerate() {
        let result_path = format!("{results_path}[{result_index}]");
        let candidate = match parse_result(raw_result, &result_path, &bounds) {
            Ok(None) => continue,
            Ok(Some(record)) => Ok(Draft::new(record)),
            Err(error) => Err(error),
        };
        out.push(candidate);
    }
    Ok(())
}

/// Reads `start_time` / `end_time` and refuses a bucket that has not closed at `ctx.now`.
fn read_bounds(bucket: &Obj<'_>, path: &str, ctx: &ParseContext) -> Result<Bucket, FieldError> {
    let start_field = format!("{path}.start_time");
    let end_field = format!("{path}.end_time");
    let start_time = json::opt_i64(bucket.raw("start_time"), &start_field)?
        .ok_or_else(|| FieldError::missing(&start_field))?;
    let end_time =
        json::opt_i64(bucket.raw("end_time"), &end_field)?.ok_or_else(|| FieldError::missing(&end_field))?;
    let start = DateTime::from_timestamp(start_time, 0).ok_or_else(|| {
        FieldError::invalid_value(&start_field, format!("`{start_time}` is not a valid epoch time"))
    })?;
    let end = DateTime::from_timestamp(end_time, 0).ok_or_else(|| {
        FieldError::invalid_value(&end_field, format!("`{end_time}` is not a valid epoch time"))
    })?;
    if end <= start {
        return Err(FieldError::invalid_value(
            &end_field,
            format!("({end_time}) is not after start_time ({start_time})"),
        ));
    }
    if end > ctx.now {
        return Err(FieldError::invalid_value(
            &end_field,
            format!(
                "bucket not closed: it ends at {} and the ingest clock is {}; pull it again after it closes",
                end.to_rfc3339(),
                ctx.now.to_rfc3339()
            ),
        ));
    }
    Ok(Bucket {
        start_time,
        end_time,
        start,
    })
}

/// The counts of one result, read before anything else so that empty results can be skipped.
struct Counts {
    input: u64,
    output: u64,
    cached_input: u64,
    input_audio: u64,
    output_audio: u64,
    requests: u64,
}

impl Counts {
    fn read(result: &Obj<'_>, path: &str) -> Result<Counts, FieldError> {
        let count = |key: &str| -> Result<Option<u64>, FieldError> {
            json::opt_count_lenient(result.raw(key), &format!("{path}.{key}"))
        };
        let required = |key: &str| -> Result<u64, FieldError> {
            count(key)?.ok_or_else(|| FieldError::missing(&format!("{path}.{key}")))
        };
        Ok(Counts {
            input: required("input_tokens")?,
            output: required("output_tokens")?,
            cached_input: count("input_cached_tokens")?.unwrap_or(0),
            input_audio: count("input_audio_tokens")?.unwrap_or(0),
            output_audio: count("output_audio_tokens")?.unwrap_or(0),
            requests: required("num_model_requests")?,
        })
    }

    fn all_zero(&self) -> bool {
        [
            self.input,
            self.output,
            self.cached_input,
            self.input_audio,
            self.output_audio,
            self.requests,
        ]
        .iter()
        .all(|count| *count == 0)
    }
}

/// One result as a record; `Ok(None)` for a result with zero of everything (skipped, not counted).
fn parse_result(
    raw: &RawValue,
    path: &str,
    bounds: &Result<Bucket, FieldError>,
) -> Result<Option<UsageRecord>, FieldError> {
    let result = Obj::from_raw(raw).ok_or_else(|| FieldError::invalid_type(path, "a result object"))?;
    let object_field = format!("{path}.object");
    if let Some(kind) = json::opt_str(result.raw("object"), &object_field)?
        && kind != USAGE_RESULT
    {
        return Err(FieldError::invalid_value(
            &object_field,
            format!(
                "only completions usage results (`{USAGE_RESULT}`) are usage; got `{}`",
                excerpt(&kind)
            ),
        ));
    }
    let counts = Counts::read(&result, path)?;
    if counts.all_zero() {
        return Ok(None);
    }
    let bucket = bounds.clone()?;
    let grouping = Grouping::read(&result, path)?;

    let event_id =
        EventId::new(grouping.synthetic_event_id(&bucket)).map_err(at_native(&format!("{path}.event_id")))?;
    let api_key_id = match &grouping.api_key_id {
        None => None,
        Some(alias) => Some(ApiKeyId::from_alias(alias).map_err(at_native(&format!("{path}.api_key_id")))?),
    };
    let tokens = TokenUsage::new(TokenCounts {
        input: counts.input,
        output: counts.output,
        cached_input: counts.cached_input,
        ..TokenCounts::default()
    })
    .map_err(|error| {
        let native = match error.field() {
            "cached_input_tokens" => "input_cached_tokens",
            "output_tokens" => "output_tokens",
            _ => "input_tokens",
        };
        at_native(&format!("{path}.{native}"))(error)
    })?;
    let tags = grouping.tags(&counts)?;
    let service_tier = grouping.service_tier();
    let model = grouping.model.unwrap_or_else(|| "unknown".to_owned());

    Ok(Some(UsageRecord {
        project: grouping.project_id,
        user_id: grouping.user_id,
        api_key_id,
        tags,
        request_count: counts.requests,
        service_tier,
        ..base_record(
            Source::OpenaiUsage,
            event_id,
            bucket.start,
            Provider::Openai,
            model,
            tokens,
        )
    }))
}

/// The grouping columns of a result; a column not in the request's `group_by` is null.
struct Grouping {
    project_id: Option<String>,
    user_id: Option<String>,
    api_key_id: Option<String>,
    model: Option<String>,
    batch: Option<bool>,
    service_tier: Option<String>,
}

impl Grouping {
    fn read(result: &Obj<'_>, path: &str) -> Result<Grouping, FieldError> {
        let text = |key: &str, limit: usize| text_at(result.raw(key), &format!("{path}.{key}"), limit);
        Ok(Grouping {
            project_id: text("project_id", LIMITS.short_text)?,
            user_id: text("user_id", LIMITS.short_text)?,
            api_key_id: text("api_key_id", LIMITS.short_text)?,
            model: text("model", LIMITS.model)?,
            batch: json::opt_bool(result.raw("batch"), &format!("{path}.batch"))?,
            service_tier: text("service_tier", LIMITS.tag_value)?,
        })
    }

    /// `start-end-project-key-model-(batch|sync)-user-tier`, nulls as empty strings: stable, so
    /// re-pulling the same window with the same grouping dedupes.
    fn synthetic_event_id(&self, bucket: &Bucket) -> String {
        let batch = match self.batch {
            Some(true) => "batch",
            Some(false) => "sync",
            None => "",
        };
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        [
            bucket.start_time.to_string(),
            bucket.end_time.to_string(),
            text(&self.project_id),
            text(&self.api_key_id),
            text(&self.model),
            batch.to_owned(),
            text(&self.user_id),
            text(&self.service_tier),
        ]
        .join("-")
    }

    /// `batch: "true"`, `service_tier` unless `default`, and non-zero audio counts.
    fn tags(&self, counts: &Counts) -> Result<Tags, FieldError> {
        let mut tags = TagsBuilder::default();
        if self.batch == Some(true) {
            tags.insert("batch", "true");
        }
        if let Some(tier) = self.service_tier.as_deref()
            && tier != "default"
        {
            tags.insert("service_tier", tier);
        }
        if counts.input_audio > 0 {
            tags.insert("input_audio_tokens", counts.input_audio.to_string());
        }
        if counts.output_audio > 0 {
            tags.insert("output_audio_tokens", counts.output_audio.to_string());
        }
        tags.build()
    }

    /// Batch traffic is billed at the batch price whatever tier it names; an unknown tier name is
    /// kept in the tag and priced at the standard card.
    fn service_tier(&self) -> ServiceTier {
        if self.batch == Some(true) {
            return ServiceTier::Batch;
        }
        self.service_tier
            .as_deref()
            .and_then(ServiceTier::parse)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::golden::{assert_golden, fixture_path};
    use crate::ingest::reject::RejectCode;
    use crate::ingest::{FormatChoice, IngestError, parse_body};

    fn clock(instant: &str) -> ParseContext {
        ParseContext {
            now: DateTime::parse_from_rfc3339(instant).unwrap().into(),
        }
    }

    fn parse_text(text: &str, ctx: &ParseContext) -> Vec<Result<Draft, FieldError>> {
        let obj = Obj::parse(text).unwrap();
        let mut out = Vec::new();
        OpenaiUsage.parse(&obj, ctx, &mut out);
        out
    }

    /// A page with one closed bucket (2026-11-23) holding the given results.
    fn page(results: &str) -> String {
        format!(
            r#"{{"object":"page","data":[{{"object":"bucket","start_time":1795392000,"end_time":1795478400,"results":[{results}]}}],"has_more":false,"next_page":null}}"#
        )
    }

    fn result(extra: &str) -> String {
        let base = r#""object":"organization.usage.completions.result","input_tokens":100,"output_tokens":20,"input_cached_tokens":0,"num_model_requests":2,"project_id":"proj_A","user_id":null,"api_key_id":"key_A","model":"gpt-4o-mini-2024-07-18","batch":null,"service_tier":null"#;
        if extra.is_empty() {
            format!("{{{base}}}")
        } else {
            format!("{{{base},{extra}}}")
        }
    }

    #[test]
    fn golden_usage_page() {
        let batch = assert_golden(
            "openai_usage/sample.json",
            "openai_usage/sample.expected.ndjson",
            Source::OpenaiUsage,
            (8, 8, 0),
        );
        let batch_row = &batch.accepted[3].record;
        assert_eq!(batch_row.service_tier, ServiceTier::Batch);
        assert_eq!(batch.accepted[0].record.service_tier, ServiceTier::Standard);
    }

    #[test]
    fn buckets_still_open_at_the_clock_are_refused() {
        let body = std::fs::read(fixture_path("openai_usage/sample.json")).unwrap();
        // Day 2's bucket ends at 2026-11-25T00:00:00Z.
        let batch = parse_body(&body, FormatChoice::Auto, &clock("2026-11-24T18:00:00Z")).unwrap();
        assert_eq!(
            (batch.received, batch.accepted.len(), batch.rejected.len()),
            (8, 4, 4)
        );
        for rejected in &batch.rejected {
            assert_eq!(rejected.code, RejectCode::InvalidValue);
            assert_eq!(rejected.field.as_deref(), Some("data[1].end_time"));
            assert!(
                rejected.message.contains("bucket not closed"),
                "{}",
                rejected.message
            );
        }
        // Exactly at the end of the bucket it has closed.
        let batch = parse_body(&body, FormatChoice::Auto, &clock("2026-11-25T00:00:00Z")).unwrap();
        assert_eq!((batch.accepted.len(), batch.rejected.len()), (8, 0));
    }

    #[test]
    fn a_costs_page_is_not_usage() {
        let body = std::fs::read(fixture_path("openai_usage/costs.json")).unwrap();
        let outcome = parse_body(&body, FormatChoice::Auto, &clock("2026-11-25T12:00:00Z"));
        assert!(
            matches!(outcome, Err(IngestError::UnknownFormat { .. })),
            "{outcome:?}"
        );
        // Forced, each cost result is refused by its `object`, never read as tokens.
        let batch = parse_body(
            &body,
            FormatChoice::Forced(Source::OpenaiUsage),
            &clock("2026-11-25T12:00:00Z"),
        )
        .unwrap();
        assert!(batch.accepted.is_empty());
        assert!(batch.rejected.iter().all(|rejected| {
            rejected.code == RejectCode::InvalidValue
                && rejected
                    .field
                    .as_deref()
                    .is_some_and(|field| field.ends_with(".object"))
        }));
    }

    #[test]
    fn empty_results_are_skipped_and_not_counted() {
        let text = page(&format!(
            "{},{}",
            result(r#""input_tokens":0,"output_tokens":0,"num_model_requests":0"#),
            result("")
        ));
        let out = parse_text(&text, &clock("2026-11-25T12:00:00Z"));
        assert_eq!(out.len(), 1);
        let record = out.into_iter().next().unwrap().unwrap().record;
        assert_eq!(record.request_count, 2);
        assert_eq!(
            record.event_id.as_str(),
            "1795392000-1795478400-proj_A-key_A-gpt-4o-mini-2024-07-18---"
        );
    }

    #[test]
    fn tiers_audio_and_null_models_map_as_documented() {
        let text = page(&result(
            r#""service_tier":"flex","model":null,"input_audio_tokens":30,"batch":false"#,
        ));
        let record = parse_text(&text, &clock("2026-11-25T12:00:00Z"))
            .pop()
            .unwrap()
            .unwrap()
            .record;
        assert_eq!(record.service_tier, ServiceTier::Flex);
        assert_eq!(record.tags.get("service_tier"), Some("flex"));
        assert_eq!(record.tags.get("input_audio_tokens"), Some("30"));
        assert_eq!(
            (record.model.as_str(), record.model_requested.as_str()),
            ("unknown", "unknown")
        );
        assert_eq!(
            record.event_id.as_str(),
            "1795392000-1795478400-proj_A-key_A--sync--flex"
        );
        let text = page(&result(r#""service_tier":"default""#));
        let record = parse_text(&text, &clock("2026-11-25T12:00:00Z"))
            .pop()
            .unwrap()
            .unwrap()
            .record;
        assert!(record.tags.is_empty());
    }

    #[test]
    fn malformed_results_name_their_native_path() {
        let cases = [
            (
                r#""input_tokens":"lots""#,
                "data[0].results[0].input_tokens",
                RejectCode::InvalidType,
            ),
            (
                r#""output_tokens":null"#,
                "data[0].results[0].output_tokens",
                RejectCode::MissingField,
            ),
            (
                r#""num_model_requests":-1"#,
                "data[0].results[0].num_model_requests",
                RejectCode::InvalidValue,
            ),
            (
                r#""input_cached_tokens":500"#,
                "data[0].results[0].input_cached_tokens",
                RejectCode::InvalidValue,
            ),
            (
                r#""api_key_id":"sk-proj-secret""#,
                "data[0].results[0].api_key_id",
                RejectCode::InvalidValue,
            ),
            (
                r#""batch":"yes""#,
                "data[0].results[0].batch",
                RejectCode::InvalidType,
            ),
            (
                r#""object":"organization.usage.embeddings.result""#,
                "data[0].results[0].object",
                RejectCode::InvalidValue,
            ),
        ];
        for (extra, field, code) in cases {
            let out = parse_text(&page(&result(extra)), &clock("2026-11-25T12:00:00Z"));
            let error = out.into_iter().next().unwrap().unwrap_err();
            assert_eq!(
                (error.field.as_deref(), error.code),
                (Some(field), code),
                "{extra}"
            );
        }
    }

    #[test]
    fn bucket_problems_reject_each_result_once() {
        let text = r#"{"object":"page","data":[{"start_time":"x","end_time":1795478400,"results":[{"input_tokens":1,"output_tokens":1,"num_model_requests":1},{"input_tokens":0,"output_tokens":0,"num_model_requests":0},{"input_tokens":2,"output_tokens":1,"num_model_requests":1}]},{"start_time":1,"end_time":2},"oops"]}"#;
        let out = parse_text(text, &clock("2026-11-25T12:00:00Z"));
        let fields: Vec<_> = out
            .iter()
            .map(|candidate| candidate.as_ref().unwrap_err().field.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            fields,
            [
                "data[0].start_time",
                "data[0].start_time",
                "data[1].results",
                "data[2]"
            ]
        );
    }

    #[test]
    fn detection_looks_past_empty_buckets_and_needs_a_page() {
        let detects = |text: &str| OpenaiUsage.detect(&Obj::parse(text).unwrap());
        assert!(detects(
            r#"{"object":"page","data":[{"results":[]},{"results":[{"num_model_requests":null}]}]}"#
        ));
        assert!(!detects(r#"{"object":"page","data":[{"results":[]}]}"#));
        assert!(!detects(
            r#"{"object":"list","data":[{"results":[{"num_model_requests":1}]}]}"#
        ));
        assert!(!detects(
            r#"{"object":"page","data":[{"results":[{"object":"organization.costs.result"}]}]}"#
        ));
    }

    #[test]
    fn garbage_never_panics() {
        let ctx = clock("2026-11-25T12:00:00Z");
        for text in [
            "{}",
            r#"{"object":"page"}"#,
            r#"{"object":"page","data":{}}"#,
            r#"{"object":5,"data":[]}"#,
            r#"{"object":"page","data":[{"start_time":-9223372036854775808,"end_time":9223372036854775807,"results":[{"input_tokens":1,"output_tokens":1,"num_model_requests":1}]}]}"#,
            r#"{"object":"page","data":[{"start_time":1,"end_time":2,"results":[{"input_tokens":1e400,"output_tokens":[],"num_model_requests":{}}]}]}"#,
        ] {
            let out = parse_text(text, &ctx);
            assert!(out.iter().all(Result::is_err), "{text}");
        }
        assert!(parse_text(r#"{"object":"page","data":[]}"#, &ctx).is_empty());
        let outcome = parse_body(
            b"[1, \"x\", null]",
            FormatChoice::Forced(Source::OpenaiUsage),
            &ctx,
        );
        assert!(outcome.is_ok());
    }
}
