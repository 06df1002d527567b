//! Generated calls written as gateways write them: canonical NDJSON, LiteLLM standard logging
//! payloads (the `/spend/logs`-style callback body, ~1.5 KB with its metadata), and OTLP/JSON
//! trace documents of GenAI spans. Field meanings: `shared/formats/`.

use std::io::{self, Write};

use chrono::SecondsFormat;
use serde_json::{Value, json};

use super::Call;

/// The output formats of the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SynthFormat {
    /// llm-ledger's canonical records, one per line.
    Canonical,
    /// LiteLLM StandardLoggingPayload objects, one per line.
    Litellm,
    /// OTLP/JSON `ExportTraceServiceRequest` documents, one per line, `spans_per_document` spans each.
    Otel,
}

impl SynthFormat {
    /// The ingest format name (`?format=`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            SynthFormat::Canonical => "canonical",
            SynthFormat::Litellm => "litellm",
            SynthFormat::Otel => "otel",
        }
    }
}

fn rfc3339(call: &Call) -> String {
    call.ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An amount as the decimal text a careful client sends (no float noise beyond 1e-12).
fn decimal_text(amount: f64) -> String {
    let text = format!("{amount:.12}");
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    trimmed.to_owned()
}

#[allow(clippy::cast_precision_loss)]
fn epoch_seconds(call: &Call, offset_ms: f64) -> f64 {
    let millis = call.ts.timestamp_millis() as f64 + offset_ms;
    (millis / 1000.0 * 1000.0).round() / 1000.0
}

/// A canonical record.
#[must_use]
pub fn canonical(call: &Call) -> Value {
    json!({
        "event_id": format!("syn-{}", call.request_id),
        "ts": rfc3339(call),
        "team": &*call.team,
        "project": &*call.project,
        "user_id": call.user,
        "api_key_id": &*call.key.alias,
        "tags": {"env": call.environment, "feature": call.feature},
        "provider": call.provider,
        "model_requested": call.model_requested,
        "model": call.model,
        "route": call.route,
        "fallback_from": call.fallback_from,
        "attempts": call.attempts,
        "input_tokens": call.input_tokens,
        "output_tokens": call.output_tokens,
        "cached_input_tokens": call.cached_input_tokens,
        "cache_write_tokens": call.cache_write_tokens,
        "reasoning_tokens": call.reasoning_tokens,
        "reported_cost_usd": call.reported_cost_usd.map(decimal_text),
        "latency_ms": call.latency_ms,
        "ttft_ms": call.ttft_ms,
        "status_code": call.status_code,
        "error_type": call.error_type,
        "cache_hit": call.cache_hit,
    })
}

fn uuid_like(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A LiteLLM StandardLoggingPayload, as its logging callbacks and `/spend/logs` hand it over
/// (message content redacted, as most deployments configure).
#[must_use]
pub fn litellm(call: &Call) -> Value {
    let id = format!("chatcmpl-{}", uuid_like(&call.trace_id));
    let end = epoch_seconds(call, call.latency_ms);
    let completion_start = call.ttft_ms.map_or(end, |ttft| epoch_seconds(call, ttft));
    let usage = json!({
        "completion_tokens": call.output_tokens,
        "prompt_tokens": call.input_tokens,
        "total_tokens": call.input_tokens + call.output_tokens,
        "completion_tokens_details": {"reasoning_tokens": call.reasoning_tokens},
        "prompt_tokens_details": {"cached_tokens": call.cached_input_tokens, "cache_creation_tokens": call.cache_write_tokens},
    });
    let failed = call.is_error();
    json!({
        "id": id,
        "trace_id": uuid_like(&format!("{:0<32}", call.span_id)),
        "litellm_call_id": uuid_like(&call.trace_id),
        "call_type": if call.model.starts_with("text-embedding") { "aembedding" } else { "acompletion" },
        "stream": call.streamed,
        "response_cost": if failed { Some(0.0) } else { call.reported_cost_usd },
        "response_cost_failure_debug_info": call.reported_cost_usd.is_none().then(|| json!({
            "error_str": format!("This model isn't mapped yet. model={}, custom_llm_provider={}", call.model, call.provider)})),
        "status": if failed { "failure" } else { "success" },
        "custom_llm_provider": call.provider,
        "total_tokens": call.input_tokens + call.output_tokens,
        "prompt_tokens": call.input_tokens,
        "completion_tokens": call.output_tokens,
        "startTime": epoch_seconds(call, 0.0),
        "endTime": end,
        "completionStartTime": completion_start,
        "response_time": call.latency_ms / 1000.0,
        "model_map_information": {"model_map_key": call.model, "model_map_value": null},
        "model": call.model,
        "model_id": &call.key.hash[..48],
        "model_group": call.model_requested,
        "api_base": format!("https://api.{}.example/v1", call.provider),
        "metadata": {
            "user_api_key_hash": &*call.key.hash,
            "user_api_key_alias": &*call.key.alias,
            "user_api_key_org_id": "org_acme",
            "user_api_key_team_id": &*call.team_id,
            "user_api_key_team_alias": &*call.team,
            "user_api_key_project_alias": &*call.project,
            "user_api_key_user_id": call.user,
            "user_api_key_end_user_id": null,
            "user_api_key_request_route": if call.model.starts_with("text-embedding") { "/embeddings" } else { "/chat/completions" },
            "spend_logs_metadata": {"feature": call.feature, "env": call.environment},
            "requester_ip_address": format!("10.20.{}.{}", call.index % 200, call.index % 250),
            "applied_guardrails": [],
            "usage_object": usage,
        },
        "cache_hit": call.cache_hit,
        "cache_key": call.cache_hit.then(|| format!("{}", call.key.hash)),
        "saved_cache_cost": if call.cache_hit { call.reported_cost_usd.unwrap_or(0.0) } else { 0.0 },
        "request_tags": [format!("env:{}", call.environment), format!("feature:{}", call.feature)],
        "end_user": call.user,
        "user_agent": "OpenAI/Python 1.99.1",
        "messages": [{"role": "user", "content": "redacted by litellm. 'litellm.turn_off_message_logging=True'"}],
        "model_parameters": {"temperature": 0.2, "max_tokens": 4096},
        "error_str": call.error_message,
        "error_information": failed.then(|| json!({
            "error_code": call.status_code.to_string(),
            "error_class": call.error_class,
            "llm_provider": call.provider,
            "error_message": call.error_message,
        })),
        "response": if failed { Value::Null } else { json!({"id": format!("chatcmpl-{}", call.span_id), "object": "chat.completion",
            "model": call.model, "usage": {"prompt_tokens": call.input_tokens, "completion_tokens": call.output_tokens,
            "total_tokens": call.input_tokens + call.output_tokens}}) },
    })
}

/// The provider name of the OpenTelemetry GenAI registry.
fn otel_provider(provider: &str) -> &str {
    match provider {
        "vertex_ai" => "gcp.vertex_ai",
        "mistral" => "mistral_ai",
        other => other,
    }
}

fn text(key: &str, value: &str) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

fn int(key: &str, value: u64) -> Value {
    json!({"key": key, "value": {"intValue": value.to_string()}})
}

fn nanos(call: &Call, offset_ms: f64) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let offset = (offset_ms * 1_000_000.0).round() as i64;
    let start = call.ts.timestamp_nanos_opt().unwrap_or(0);
    (start + offset).to_string()
}

/// One GenAI client span of a call.
fn otel_span(call: &Call) -> Value {
    let operation = if call.model.starts_with("text-embedding") {
        "embeddings"
    } else {
        "chat"
    };
    let mut attributes = vec![
        text("gen_ai.operation.name", operation),
        text("gen_ai.provider.name", otel_provider(call.provider)),
        text("gen_ai.request.model", call.model_requested),
        text("gen_ai.response.model", call.model),
        int("gen_ai.usage.input_tokens", call.input_tokens),
        int("gen_ai.usage.output_tokens", call.output_tokens),
        text("user.id", &call.user),
        text("gen_ai.conversation.id", &call.span_id),
    ];
    if call.cached_input_tokens > 0 {
        attributes.push(int(
            "gen_ai.usage.cache_read.input_tokens",
            call.cached_input_tokens,
        ));
    }
    if call.cache_write_tokens > 0 {
        attributes.push(int(
            "gen_ai.usage.cache_creation.input_tokens",
            call.cache_write_tokens,
        ));
    }
    if call.reasoning_tokens > 0 {
        attributes.push(int("gen_ai.usage.reasoning.output_tokens", call.reasoning_tokens));
    }
    if let Some(ttft) = call.ttft_ms {
        attributes.push(
            json!({"key": "gen_ai.response.time_to_first_chunk", "value": {"doubleValue": ttft / 1000.0}}),
        );
    }
    let status = if call.is_error() {
        attributes.push(text("error.type", &call.status_code.to_string()));
        json!({"code": 2, "message": call.error_message})
    } else {
        json!({})
    };
    json!({
        "traceId": call.trace_id,
        "spanId": call.span_id,
        "name": format!("{operation} {}", call.model_requested),
        "kind": 3,
        "startTimeUnixNano": nanos(call, 0.0),
        "endTimeUnixNano": nanos(call, call.latency_ms),
        "attributes": attributes,
        "status": status,
    })
}

/// An OTLP/JSON `ExportTraceServiceRequest` of calls: one resource per team and project (the
/// service), as an SDK's batch exporter sends them.
#[must_use]
pub fn otel_document(calls: &[Call]) -> Value {
    let mut services: Vec<(String, Vec<&Call>)> = Vec::new();
    for call in calls {
        let key = format!("{}\u{1f}{}", call.team, call.project);
        match services.iter_mut().find(|(service, _)| *service == key) {
            Some((_, members)) => members.push(call),
            None => services.push((key, vec![call])),
        }
    }
    let resource_spans: Vec<Value> = services
        .into_iter()
        .map(|(_, members)| {
            let first = members[0];
            json!({
                "resource": {"attributes": [
                    text("service.name", &first.project),
                    text("service.namespace", &first.team),
                    text("project", &first.project),
                    text("deployment.environment.name", first.environment),
                    text("telemetry.sdk.language", "python"),
                    text("telemetry.sdk.name", "opentelemetry"),
                ]},
                "scopeSpans": [{
                    "scope": {"name": "opentelemetry.instrumentation.openai_v2", "version": "2.3b0"},
                    "spans": members.iter().map(|call| otel_span(call)).collect::<Vec<_>>(),
                }],
            })
        })
        .collect();
    json!({ "resourceSpans": resource_spans })
}

/// Writes calls as NDJSON in `format`; OTLP groups `spans_per_document` calls per line. Returns
/// the number of lines written.
///
/// # Errors
/// Write failures.
pub fn write_ndjson(
    out: &mut impl Write,
    format: SynthFormat,
    calls: impl Iterator<Item = Call>,
    spans_per_document: usize,
) -> io::Result<u64> {
    let mut lines = 0;
    match format {
        SynthFormat::Canonical | SynthFormat::Litellm => {
            for call in calls {
                let value = if format == SynthFormat::Canonical {
                    canonical(&call)
                } else {
                    litellm(&call)
                };
                serde_json::to_writer(&mut *out, &value)?;
                out.write_all(b"\n")?;
                lines += 1;
            }
        }
        SynthFormat::Otel => {
            let mut pending = Vec::with_capacity(spans_per_document);
            let mut flush = |pending: &mut Vec<Call>, out: &mut dyn Write| -> io::Result<()> {
                if !pending.is_empty() {
                    serde_json::to_writer(&mut *out, &otel_document(pending))?;
                    out.write_all(b"\n")?;
                    pending.clear();
                    lines += 1;
                }
                Ok(())
            };
            for call in calls {
                pending.push(call);
                if pending.len() >= spans_per_document.max(1) {
                    flush(&mut pending, out)?;
                }
            }
            flush(&mut pending, out)?;
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{self, FormatChoice, ParseContext};
    use crate::synth::{Synth, SynthOptions};

    fn calls(events: u64) -> Vec<Call> {
        Synth::new(SynthOptions {
            seed: 7,
            events,
            end: "2026-11-01T00:00:00Z".parse().unwrap(),
            days: 7,
        })
        .collect()
    }

    /// Every format reads back, through the real adapters, as the calls that were generated.
    #[test]
    fn every_format_reads_back_as_the_generated_calls() {
        let calls = calls(600);
        for format in [SynthFormat::Canonical, SynthFormat::Litellm, SynthFormat::Otel] {
            let mut body = Vec::new();
            write_ndjson(&mut body, format, calls.clone().into_iter(), 50).unwrap();
            let parsed = ingest::parse_body(&body, FormatChoice::Auto, &ParseContext::now()).unwrap();
            assert_eq!(
                parsed.format.map(|source| source.as_str()),
                Some(format.name()),
                "{format:?}"
            );
            assert!(
                parsed.rejected.is_empty(),
                "{format:?}: {:?}",
                parsed.rejected.first()
            );
            assert_eq!(parsed.accepted.len(), calls.len(), "{format:?}");
            let by_id: std::collections::HashMap<String, &Call> = calls
                .iter()
                .map(|call| {
                    let id = match format {
                        SynthFormat::Canonical => format!("syn-{}", call.request_id),
                        SynthFormat::Litellm => format!("chatcmpl-{}", uuid_like(&call.trace_id)),
                        SynthFormat::Otel => format!("{}-{}", call.trace_id, call.span_id),
                    };
                    (id, call)
                })
                .collect();
            for located in &parsed.accepted {
                let record = &located.record;
                let call = by_id[record.event_id.as_str()];
                assert_eq!(record.ts, call.ts, "{format:?}");
                assert_eq!(record.team, &*call.team, "{format:?}");
                assert_eq!(record.model, call.model, "{format:?}");
                let tokens = &record.tokens;
                assert_eq!(
                    (
                        tokens.input().get(),
                        tokens.output().get(),
                        tokens.cached_input().get(),
                        tokens.cache_write().get(),
                        tokens.reasoning().get()
                    ),
                    (
                        call.input_tokens,
                        call.output_tokens,
                        call.cached_input_tokens,
                        call.cache_write_tokens,
                        call.reasoning_tokens
                    ),
                    "{format:?} {call:?}"
                );
                assert_eq!(record.is_error(), call.is_error(), "{format:?} {call:?}");
                assert_eq!(record.status_code, call.status_code, "{format:?} {call:?}");
            }
        }
    }

    #[test]
    fn litellm_payloads_have_their_real_size() {
        let calls = calls(1_000);
        let mut body = Vec::new();
        write_ndjson(&mut body, SynthFormat::Litellm, calls.into_iter(), 1).unwrap();
        let mean = body.len() / 1_000;
        assert!((1_300..2_200).contains(&mean), "{mean} bytes per payload");
    }
}
