//! `otel`: OpenTelemetry GenAI spans in an OTLP/JSON `ExportTraceServiceRequest` (one document,
//! or NDJSON of documents as the collector's file exporter writes them). Spec:
//! [`shared/formats/otel.md`](../../../../shared/formats/otel.md).
//!
//! One record (a document) expands into one candidate row per LLM-call span; other spans (HTTP
//! server, workflow, agent and tool spans) are skipped and not counted. The walk needs nothing but
//! the document, so the OTLP/HTTP protobuf receiver can convert a message to OTLP/JSON text and
//! reuse it: [`spans_of_document`] reports every span's [`SpanOutcome`], and [`span_to_row`]
//! converts one span given its resource and scope attributes.
//!
//! Mapped (attributes are looked up on the span, then its scope, then its resource):
//! `traceId`-`spanId` (lower-cased hex) → `event_id`; `startTimeUnixNano` → `ts`;
//! `endTimeUnixNano` − start → `latency_ms`; `gen_ai.provider.name` ?? `gen_ai.system` →
//! `provider` (with `server.address` telling Vertex from AI Studio for `gcp.gen_ai`);
//! `gen_ai.response.model` ?? `gen_ai.request.model` → `model`, `gen_ai.request.model` →
//! `model_requested`; the token attributes of three naming generations (`input_tokens` /
//! `prompt_tokens`, `cache_read.input_tokens` / `cache_read_input_tokens`,
//! `cache_creation.input_tokens` / `cache_creation_input_tokens`, `reasoning.output_tokens` /
//! `reasoning_tokens`, totals `llm.usage.total_tokens` / `gen_ai.usage.total_tokens`) through the
//! sum test; `gen_ai.usage.cost` (OpenLIT) → `reported_cost_usd` from its exact decimal text, zero
//! is not free; `gen_ai.response.time_to_first_chunk` (seconds) → `ttft_ms`; `error.type`, span
//! `status.code` / `status.message` → `status_code`, `error_type`; resource `service.namespace` →
//! `team`; `project` → `project`; `user.id` ?? `traceloop.association.properties.user_id` ??
//! `gen_ai.request.user` → `user_id`; tags `environment` (`deployment.environment.name` ??
//! `deployment.environment` ?? `gen_ai.environment`), `service` (`gen_ai.application_name` ??
//! `service.name`), `workflow` (`traceloop.workflow.name`), `conversation_id`
//! (`gen_ai.conversation.id`), `service_tier` (`openai.response.service_tier` ??
//! `openai.request.service_tier`, which also sets the record's service tier) and every other
//! `traceloop.association.properties.<key>`.
//!
//! Dropped: span `name`, `kind`, `parentSpanId`, `events` (exception details), `links`, scope name
//! and version, `schemaUrl`, `gen_ai.response.id`, `gen_ai.response.finish_reasons`, request
//! parameters, captured content (`gen_ai.input.messages`, …), `server.port`,
//! `gen_ai.openai.api_base`, the streaming flags, `gen_ai.endpoint`, `traceloop.entity.name`,
//! `traceloop.span.kind`, `telemetry.*`, `service.version`, array and kvlist attribute values.
//! `cache_hit` is false (OTel has no gateway-cache attribute) and `route` is null.
//!
//! Decisions where the page is unverified (U) or silent:
//! - A span with a model or token attribute and no operation attribute counts as an LLM call.
//! - An LLM span without any model attribute is rejected (`missing_field`
//!   `…attributes.gen_ai.request.model`): the record requires a model.
//! - Ids must be 32 / 16 hex digits, so base64 ids (generic protobuf JSON) are refused instead of
//!   being lower-cased into collisions.
//! - `endTimeUnixNano` before the start is `invalid_value`; absent or 0 leaves `latency_ms` null.
//! - A status read from `error.type` or from `Error code: NNN` must be 400–599; when no status is
//!   found the call is a 500 whose error type is refined from the error text, else `unknown`.
//! - `status.code` is also accepted as its enum name (`STATUS_CODE_ERROR`) or a numeric string.
//! - Malformed containers (`resourceSpans`, a resource, scope or span that is not an object) are
//!   one rejected candidate each; malformed resource or scope attributes reject every LLM span
//!   beneath them, while their non-LLM spans stay skipped.
//!
//! Layout: this file holds the [`Adapter`] impl and the walk over resources, scopes and spans;
//! [`span`] classifies one span and turns it into a record, [`status`] reads its outcome and
//! [`attributes`] reads OTLP `KeyValue` lists and the span → scope → resource lookup. Nothing here
//! writes, prices, or panics on any input.

mod attributes;
mod span;
mod status;
#[cfg(test)]
mod tests;

use crate::ingest::json::RawValue;

use self::attributes::Attributes;
use self::span::{is_llm_call, llm_call_record};
use super::Adapter;
use super::common::{Draft, ParseContext};
use super::json::{self, Obj};
use super::reject::FieldError;
use crate::model::Source;

pub(crate) struct Otel;

impl Adapter for Otel {
    fn source(&self) -> Source {
        Source::Otel
    }

    fn detect(&self, obj: &Obj<'_>) -> bool {
        obj.has("resourceSpans")
    }

    fn parse(&self, obj: &Obj<'_>, _ctx: &ParseContext, out: &mut Vec<Result<Draft, FieldError>>) {
        out.extend(
            spans_of_document(obj)
                .into_iter()
                .filter_map(|outcome| match outcome {
                    SpanOutcome::Row(row) => Some(row),
                    SpanOutcome::NotLlmCall => None,
                }),
        );
    }
}

/// What one span of an export becomes.
// Most outcomes are rows, so the size difference wastes little; boxing would add an allocation
// per span.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum SpanOutcome {
    /// Not an LLM call: skipped on `/v1/ingest`, counted as rejected by the OTLP receiver.
    NotLlmCall,
    /// An LLM call (or a span that cannot be classified): a row, or why it is rejected.
    Row(Result<Draft, FieldError>),
}

/// Walks every span of one `ExportTraceServiceRequest` document in document order.
pub(crate) fn spans_of_document(document: &Obj<'_>) -> Vec<SpanOutcome> {
    let mut outcomes = Vec::new();
    match json::opt_array(document.raw("resourceSpans"), "resourceSpans", "an array") {
        Err(error) => outcomes.push(SpanOutcome::Row(Err(error))),
        Ok(resource_spans) => {
            for (index, resource_span) in resource_spans.into_iter().enumerate() {
                let path = format!("resourceSpans[{index}]");
                if let Err(error) = walk_resource(resource_span, &path, &mut outcomes) {
                    outcomes.push(SpanOutcome::Row(Err(error)));
                }
            }
        }
    }
    outcomes
}

/// An error returned here is about the container itself: one rejected candidate.
fn walk_resource(raw: &RawValue, path: &str, outcomes: &mut Vec<SpanOutcome>) -> Result<(), FieldError> {
    let resource_span = Obj::from_raw(raw).ok_or_else(|| FieldError::invalid_type(path, "an object"))?;
    let resource = holder_attributes(&resource_span, "resource", path);
    let scope_spans = json::opt_array(
        resource_span.raw("scopeSpans"),
        &format!("{path}.scopeSpans"),
        "an array",
    )?;
    for (index, scope_span) in scope_spans.into_iter().enumerate() {
        let scope_path = format!("{path}.scopeSpans[{index}]");
        if let Err(error) = walk_scope(scope_span, &scope_path, &resource, outcomes) {
            outcomes.push(SpanOutcome::Row(Err(error)));
        }
    }
    Ok(())
}

fn walk_scope(
    raw: &RawValue,
    path: &str,
    resource: &Result<Attributes<'_>, FieldError>,
    outcomes: &mut Vec<SpanOutcome>,
) -> Result<(), FieldError> {
    let scope_span = Obj::from_raw(raw).ok_or_else(|| FieldError::invalid_type(path, "an object"))?;
    let scope = holder_attributes(&scope_span, "scope", path);
    let inherited = Inherited {
        resource,
        scope: &scope,
    };
    for (index, span) in json::opt_array(scope_span.raw("spans"), &format!("{path}.spans"), "an array")?
        .into_iter()
        .enumerate()
    {
        let span_path = format!("{path}.spans[{index}]");
        outcomes.push(match Obj::from_raw(span) {
            None => SpanOutcome::Row(Err(FieldError::invalid_type(&span_path, "an object"))),
            Some(span) => span_to_row(&span, &span_path, &inherited),
        });
    }
    Ok(())
}

/// The attributes of the `resource` or `scope` object of a container.
fn holder_attributes<'a>(container: &Obj<'a>, key: &str, path: &str) -> Result<Attributes<'a>, FieldError> {
    let field = format!("{path}.{key}");
    let holder = container.obj(key, &field)?.unwrap_or_default();
    Attributes::parse(holder.raw("attributes"), format!("{field}.attributes"))
}

/// The attributes a span inherits. A malformed resource or scope is reported on each LLM span
/// beneath it, so every rejected span is counted once.
pub(crate) struct Inherited<'s, 'a> {
    pub resource: &'s Result<Attributes<'a>, FieldError>,
    pub scope: &'s Result<Attributes<'a>, FieldError>,
}

/// Converts one span: [`SpanOutcome::NotLlmCall`] for spans that are not model calls, else its
/// row or the problem, with fields named by their path under `span_path`.
pub(crate) fn span_to_row(span: &Obj<'_>, span_path: &str, inherited: &Inherited<'_, '_>) -> SpanOutcome {
    let attributes = match Attributes::parse(span.raw("attributes"), format!("{span_path}.attributes")) {
        Ok(attributes) => attributes,
        Err(error) => return SpanOutcome::Row(Err(error)),
    };
    if !is_llm_call(&attributes) {
        return SpanOutcome::NotLlmCall;
    }
    SpanOutcome::Row(llm_call_record(span, span_path, &attributes, inherited).map(Draft::new))
}
