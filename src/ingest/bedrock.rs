//! `bedrock`: Amazon Bedrock model invocation logs (CloudWatch Logs or S3), one JSON record per
//! invocation. Spec: [`shared/formats/bedrock.md`](../../../shared/formats/bedrock.md).
//!
//! Mapped: `requestId` → `event_id`; `timestamp` → `ts` (ISO with an offset, second precision);
//! every record → `provider = bedrock`; `modelId` → `model` and `model_requested`, verbatim
//! (inference-profile prefixes and ARNs are the catalog's job); `identity.arn` → `api_key_id` (an
//! IAM identity, not a secret); `requestMetadata` → `team`, `project`, `user_id`, the other keys →
//! tags; `inferenceRegion` ≠ `region` → `route = cross_region:<inferenceRegion>`;
//! `input.inputTokenCount` + cache reads + cache writes → `input_tokens` (Bedrock counts the
//! uncached part only); `input.cacheReadInputTokenCount` / `cacheWriteInputTokenCount` (falling back
//! to the Converse body's `usage.cacheReadInputTokens` / `cacheWriteInputTokens`) →
//! `cached_input_tokens` / `cache_write_tokens`; `output.outputTokenCount` → `output_tokens`
//! (thinking included; `reasoning_tokens` stays 0); Converse `metrics.latencyMs` or the stream's
//! last `amazon-bedrock-invocationMetrics` (`invocationLatency`, `firstByteLatency`) → `latency_ms`,
//! `ttft_ms`; `errorCode` → `status_code`, `error_type`.
//!
//! Dropped: `schemaVersion`, `accountId` (the optional `aws_account` tag is not emitted, as in the
//! fixture expectations), `operation`, the content types, the request and response bodies apart
//! from the fields above, the S3 body pointers. Bedrock logs carry no cost, so
//! `reported_cost_usd` is always null, and Bedrock has no response cache, so `cache_hit` is false.
//!
//! Decisions where the page is unverified (U) or silent:
//! - Detection tests the value of `schemaType`, as the README predicate states; it is a
//!   discriminator, not a field that is later validated.
//! - Error records (`errorCode`, U) keep any token counts they carry; absent counts are 0. A
//!   successful record without counts is accepted with 0 tokens too, because the page marks every
//!   count optional (image models log none).
//! - An `errorCode` outside the page's table becomes 500 `unknown`.
//! - A record with `inferenceRegion` but no `region` is routed `cross_region:` (the regions
//!   cannot be shown to be equal).
//! - Negative latencies are `invalid_value`; a non-JSON body (a string) yields no latency.

use crate::ingest::json::RawValue;

use super::Adapter;
use super::common::{
    Attribution, Draft, ParseContext, TagsBuilder, at_native, base_record, non_negative, text_at, text_field,
    ts_text,
};
use super::json::{self, Kind, Obj};
use super::reject::FieldError;
use crate::model::{
    ApiKeyId, ErrorType, EventId, LIMITS, Provider, Source, TokenCounts, TokenUsage, UNASSIGNED_TEAM,
    UsageRecord, check_len,
};

pub(crate) struct Bedrock;

/// The value of `schemaType` that names an invocation log record.
const SCHEMA_TYPE: &str = "ModelInvocationLog";

/// Exception names of failed invocations, with the HTTP status the Bedrock runtime API documents
/// for each and the error type the format page assigns (`ModelNotReadyException` is a 429 that
/// means the model is not loaded yet, hence `overloaded`).
const ERROR_CODES: &[(&str, u16, ErrorType)] = &[
    ("ThrottlingException", 429, ErrorType::RateLimit),
    ("ValidationException", 400, ErrorType::BadRequest),
    ("AccessDeniedException", 403, ErrorType::Auth),
    ("ResourceNotFoundException", 404, ErrorType::NotFound),
    ("ModelTimeoutException", 408, ErrorType::Timeout),
    ("ServiceUnavailableException", 503, ErrorType::Overloaded),
    ("ModelNotReadyException", 429, ErrorType::Overloaded),
    ("ServiceQuotaExceededException", 400, ErrorType::RateLimit),
    ("InternalServerException", 500, ErrorType::ServerError),
    ("ModelErrorException", 424, ErrorType::ServerError),
];

/// The chunk key that carries Bedrock's own metrics at the end of a streamed response body.
const INVOCATION_METRICS: &str = "amazon-bedrock-invocationMetrics";

impl Adapter for Bedrock {
    fn source(&self) -> Source {
        Source::Bedrock
    }

    fn detect(&self, obj: &Obj<'_>) -> bool {
        json::string_at(obj.raw("schemaType")).is_some_and(|schema_type| schema_type == SCHEMA_TYPE)
    }

    fn parse(&self, obj: &Obj<'_>, _ctx: &ParseContext, out: &mut Vec<Result<Draft, FieldError>>) {
        out.push(parse_record(obj).map(Draft::new));
    }
}

fn parse_record(obj: &Obj<'_>) -> Result<UsageRecord, FieldError> {
    let request_id =
        text_field(obj, "requestId", LIMITS.event_id)?.ok_or_else(|| FieldError::missing("requestId"))?;
    let event_id = EventId::new(request_id).map_err(at_native("requestId"))?;
    let timestamp =
        json::opt_str(obj.raw("timestamp"), "timestamp")?.ok_or_else(|| FieldError::missing("timestamp"))?;
    let ts = ts_text(&timestamp, "timestamp", false)?;
    let model = text_field(obj, "modelId", LIMITS.model)?.ok_or_else(|| FieldError::missing("modelId"))?;

    let input = obj.obj("input", "input")?.unwrap_or_default();
    let output = obj.obj("output", "output")?.unwrap_or_default();
    let tokens = token_usage(&input, &output)?;
    let attribution = attribution(obj)?;
    let api_key_id = match obj.obj("identity", "identity")? {
        None => None,
        Some(identity) => text_at(identity.raw("arn"), "identity.arn", LIMITS.short_text)?
            .map(|arn| ApiKeyId::from_alias(&arn).map_err(at_native("identity.arn")))
            .transpose()?,
    };
    let route = route(obj)?;
    let timings = timings(&output)?;
    let (status_code, error_type) = match text_field(obj, "errorCode", LIMITS.short_text)? {
        None => (200, None),
        Some(code) => status_of_error_code(&code),
    };

    Ok(UsageRecord {
        team: attribution.team,
        project: attribution.project,
        user_id: attribution.user_id,
        api_key_id,
        tags: attribution.tags,
        route,
        latency_ms: timings.latency_ms,
        ttft_ms: timings.ttft_ms,
        status_code,
        error_type,
        ..base_record(Source::Bedrock, event_id, ts, Provider::Bedrock, model, tokens)
    })
}

/// `inputTokenCount` excludes the prompt cache (Anthropic convention, for every Bedrock model),
/// so the cache reads and writes are added back to get the canonical input.
fn token_usage(input: &Obj<'_>, output: &Obj<'_>) -> Result<TokenUsage, FieldError> {
    let uncached = json::opt_count(input.raw("inputTokenCount"), "input.inputTokenCount")?.unwrap_or(0);
    let cache_read = count_with_fallback(
        (
            input.raw("cacheReadInputTokenCount"),
            "input.cacheReadInputTokenCount",
        ),
        (
            output.path(&["outputBodyJson", "usage", "cacheReadInputTokens"]),
            "output.outputBodyJson.usage.cacheReadInputTokens",
        ),
    )?;
    let cache_write = count_with_fallback(
        (
            input.raw("cacheWriteInputTokenCount"),
            "input.cacheWriteInputTokenCount",
        ),
        (
            output.path(&["outputBodyJson", "usage", "cacheWriteInputTokens"]),
            "output.outputBodyJson.usage.cacheWriteInputTokens",
        ),
    )?;
    let output_tokens =
        json::opt_count(output.raw("outputTokenCount"), "output.outputTokenCount")?.unwrap_or(0);
    // Each count is at most i64::MAX, so the sum cannot overflow u64; the store keeps BIGINT.
    let input_tokens = uncached
        .checked_add(cache_read)
        .and_then(|sum| sum.checked_add(cache_write))
        .filter(|sum| i64::try_from(*sum).is_ok())
        .ok_or_else(|| {
            FieldError::invalid_value(
                "input.inputTokenCount",
                "plus the cache read and write counts is out of range",
            )
        })?;
    Ok(TokenUsage::new(TokenCounts {
        input: input_tokens,
        output: output_tokens,
        cached_input: cache_read,
        cache_write,
        ..TokenCounts::default()
    })?)
}

/// `primary ?? fallback ?? 0`, where only absent or null falls through: a malformed primary is an
/// error, never silently replaced.
fn count_with_fallback(
    primary: (Option<&RawValue>, &str),
    fallback: (Option<&RawValue>, &str),
) -> Result<u64, FieldError> {
    match json::opt_count(primary.0, primary.1)? {
        Some(count) => Ok(count),
        None => Ok(json::opt_count(fallback.0, fallback.1)?.unwrap_or(0)),
    }
}

/// `requestMetadata` (Converse's caller-supplied string map): three reserved keys are lifted,
/// the rest become tags.
fn attribution(obj: &Obj<'_>) -> Result<Attribution, FieldError> {
    let mut tags = TagsBuilder::default();
    if let Some(metadata) = obj.obj("requestMetadata", "requestMetadata")? {
        tags.extend_from(&metadata);
    }
    let team = tags
        .lift("team", "requestMetadata")?
        .unwrap_or_else(|| UNASSIGNED_TEAM.to_owned());
    let project = tags.lift("project", "requestMetadata")?;
    let user_id = tags.lift("user_id", "requestMetadata")?;
    Ok(Attribution {
        team,
        project,
        user_id,
        tags: tags.build()?,
    })
}

/// A cross-Region inference profile ran the request elsewhere; some models are priced
/// differently there, so the route records where.
fn route(obj: &Obj<'_>) -> Result<Option<String>, FieldError> {
    let region = text_field(obj, "region", LIMITS.short_text)?;
    let Some(inference_region) = text_field(obj, "inferenceRegion", LIMITS.short_text)? else {
        return Ok(None);
    };
    if region.as_deref() == Some(inference_region.as_str()) {
        return Ok(None);
    }
    let route = format!("cross_region:{inference_region}");
    check_len("inferenceRegion", &route, LIMITS.short_text)?;
    Ok(Some(route))
}

#[derive(Debug, Default, PartialEq)]
struct Timings {
    latency_ms: Option<f64>,
    ttft_ms: Option<f64>,
}

/// Converse bodies (objects) carry `metrics.latencyMs`; streamed bodies (arrays of chunks) end
/// with Bedrock's invocation metrics. Bodies delivered to S3 carry neither.
fn timings(output: &Obj<'_>) -> Result<Timings, FieldError> {
    let Some(body) = output.present("outputBodyJson") else {
        return Ok(Timings::default());
    };
    match Kind::of(body) {
        Kind::Object => Ok(Timings {
            latency_ms: metric_ms(
                output.path(&["outputBodyJson", "metrics", "latencyMs"]),
                "output.outputBodyJson.metrics.latencyMs",
            )?,
            ttft_ms: None,
        }),
        Kind::Array => stream_timings(body),
        _ => Ok(Timings::default()),
    }
}

fn stream_timings(body: &RawValue) -> Result<Timings, FieldError> {
    let chunks = json::array_elements(body)
        .ok_or_else(|| FieldError::invalid_type("output.outputBodyJson", "an array of chunks"))?;
    // The metrics sit in the last chunk; searching backwards tolerates trailing chunks.
    let last_with_metrics = chunks.iter().enumerate().rev().find_map(|(index, chunk)| {
        Obj::from_raw(chunk)
            .filter(|chunk| chunk.has(INVOCATION_METRICS))
            .map(|chunk| (index, chunk))
    });
    let Some((index, chunk)) = last_with_metrics else {
        return Ok(Timings::default());
    };
    let field = format!("output.outputBodyJson[{index}].{INVOCATION_METRICS}");
    let Some(metrics) = chunk.obj(INVOCATION_METRICS, &field)? else {
        return Ok(Timings::default());
    };
    Ok(Timings {
        latency_ms: metric_ms(
            metrics.raw("invocationLatency"),
            &format!("{field}.invocationLatency"),
        )?,
        ttft_ms: metric_ms(
            metrics.raw("firstByteLatency"),
            &format!("{field}.firstByteLatency"),
        )?,
    })
}

/// Bedrock writes its metrics as JSON numbers; a quoted one is a type error, not a duration.
fn metric_ms(raw: Option<&RawValue>, field: &str) -> Result<Option<f64>, FieldError> {
    non_negative(json::opt_f64(raw, field)?, field)
}

/// Maps an exception name to the status the caller saw and its error type; unknown names are a
/// failure we cannot classify.
fn status_of_error_code(code: &str) -> (u16, Option<ErrorType>) {
    ERROR_CODES
        .iter()
        .find(|(name, _, _)| *name == code)
        .map_or((500, Some(ErrorType::Unknown)), |(_, status, error_type)| {
            (*status, Some(*error_type))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::golden::assert_golden;
    use crate::ingest::reject::RejectCode;
    use crate::ingest::{FormatChoice, ParsedBatch, parse_body};

    #[test]
    fn golden_fixture() {
        assert_golden(
            "bedrock/sample.ndjson",
            "bedrock/sample.expected.ndjson",
            Source::Bedrock,
            (10, 10, 0),
        );
    }

    fn parse_lines(lines: &[serde_json::Value]) -> ParsedBatch {
        let body: Vec<String> = lines.iter().map(serde_json::Value::to_string).collect();
        parse_body(
            body.join("\n").as_bytes(),
            FormatChoice::Auto,
            &ParseContext::now(),
        )
        .unwrap()
    }

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "schemaType": "ModelInvocationLog",
            "timestamp": "2026-11-23T09:15:46Z",
            "region": "us-east-1",
            "requestId": "req-1",
            "modelId": "anthropic.claude-3-5-haiku-20241022-v1:0",
            "input": {"inputTokenCount": 100},
            "output": {"outputTokenCount": 20}
        })
    }

    fn with(mut record: serde_json::Value, pointer: &str, value: serde_json::Value) -> serde_json::Value {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        record
            .pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.to_owned(), value);
        record
    }

    fn rejected_one(record: serde_json::Value) -> (Option<String>, RejectCode) {
        let batch = parse_lines(&[record]);
        assert_eq!(batch.accepted.len(), 0, "{:?}", batch.accepted);
        let rejected = &batch.rejected[0];
        (rejected.field.clone(), rejected.code)
    }

    #[test]
    fn cache_counts_fall_back_to_the_converse_usage() {
        let record = with(
            minimal(),
            "/output/outputBodyJson",
            serde_json::json!({"usage": {"cacheReadInputTokens": 900, "cacheWriteInputTokens": 50},
                               "metrics": {"latencyMs": 812}}),
        );
        let batch = parse_lines(&[record]);
        let row = &batch.accepted[0].record;
        assert_eq!(row.tokens.input().get(), 1050);
        assert_eq!(row.tokens.cached_input().get(), 900);
        assert_eq!(row.tokens.cache_write().get(), 50);
        assert_eq!(row.latency_ms, Some(812.0));
        assert_eq!(row.route, None);
    }

    #[test]
    fn error_codes_follow_the_page_table() {
        assert_eq!(
            status_of_error_code("ModelNotReadyException"),
            (429, Some(ErrorType::Overloaded))
        );
        assert_eq!(
            status_of_error_code("ServiceQuotaExceededException"),
            (400, Some(ErrorType::RateLimit))
        );
        assert_eq!(
            status_of_error_code("ModelErrorException"),
            (424, Some(ErrorType::ServerError))
        );
        assert_eq!(
            status_of_error_code("SomethingNewException"),
            (500, Some(ErrorType::Unknown))
        );
    }

    #[test]
    fn malformed_fields_name_the_native_path() {
        let cases = [
            (
                with(minimal(), "/input/inputTokenCount", serde_json::json!("100")),
                "input.inputTokenCount",
                RejectCode::InvalidType,
            ),
            (
                with(minimal(), "/output/outputTokenCount", serde_json::json!(-3)),
                "output.outputTokenCount",
                RejectCode::InvalidValue,
            ),
            (
                with(minimal(), "/requestId", serde_json::Value::Null),
                "requestId",
                RejectCode::MissingField,
            ),
            (
                with(minimal(), "/timestamp", serde_json::json!("2026-11-23T09:15:46")),
                "timestamp",
                RejectCode::InvalidValue,
            ),
            (
                with(minimal(), "/input", serde_json::json!(5)),
                "input",
                RejectCode::InvalidType,
            ),
            (
                with(
                    minimal(),
                    "/identity",
                    serde_json::json!({"arn": "AKIAIOSFODNN7EXAMPLE"}),
                ),
                "identity.arn",
                RejectCode::InvalidValue,
            ),
            (
                with(minimal(), "/requestMetadata", serde_json::json!(["team"])),
                "requestMetadata",
                RejectCode::InvalidType,
            ),
            (
                with(
                    minimal(),
                    "/output/outputBodyJson",
                    serde_json::json!([{"type": "message_stop", INVOCATION_METRICS: {"invocationLatency": -1}}]),
                ),
                "output.outputBodyJson[0].amazon-bedrock-invocationMetrics.invocationLatency",
                RejectCode::InvalidValue,
            ),
        ];
        for (record, field, code) in cases {
            assert_eq!(rejected_one(record), (Some(field.to_owned()), code), "{field}");
        }
    }

    #[test]
    fn cross_region_route_needs_a_different_region() {
        let same = with(minimal(), "/inferenceRegion", serde_json::json!("us-east-1"));
        let other = with(minimal(), "/inferenceRegion", serde_json::json!("eu-west-3"));
        let batch = parse_lines(&[same, other]);
        assert_eq!(batch.accepted[0].record.route, None);
        assert_eq!(
            batch.accepted[1].record.route.as_deref(),
            Some("cross_region:eu-west-3")
        );
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        let garbage = [
            minimal(),
            serde_json::json!({"schemaType": "ModelInvocationLog"}),
            serde_json::json!({"schemaType": "ModelInvocationLog", "requestId": 7}),
            with(
                minimal(),
                "/output/outputBodyJson",
                serde_json::json!([1, "x", {INVOCATION_METRICS: 5}]),
            ),
            with(
                minimal(),
                "/output/outputBodyJson",
                serde_json::json!("plain text"),
            ),
            with(
                minimal(),
                "/requestMetadata",
                serde_json::json!({"team": {"nested": true}, "n": 3}),
            ),
            serde_json::json!({"schemaType": "SomethingElse"}),
        ];
        let batch = parse_lines(&garbage);
        assert_eq!(batch.received, garbage.len());
        // The first record, the plain-text body and the nested metadata parse; the stream whose
        // metrics chunk is not an object, the two stubs and the foreign schema do not.
        assert_eq!(batch.accepted.len(), 3, "{:?}", batch.rejected);
        assert_eq!(batch.accepted[2].record.tags.get("n"), Some("3"));
        assert_eq!(batch.accepted[2].record.team, UNASSIGNED_TEAM);
        let codes: Vec<RejectCode> = batch.rejected.iter().map(|rejected| rejected.code).collect();
        assert_eq!(
            codes,
            [
                RejectCode::MissingField,
                RejectCode::InvalidType,
                RejectCode::InvalidType,
                RejectCode::FormatMismatch
            ]
        );
    }
}
