//! `synth`: deterministic, realistic synthetic LLM traffic for benchmarks, demos and load tests.
//!
//! One seed gives one sequence of [`Call`]s, in time order across `days` days ending at `end`,
//! with the shapes that make accounting hard: a dozen teams of Zipf-distributed size with their
//! projects, API keys and users; a model mix dominated by cheap models with a few costly
//! reasoning models; log-normal prompt and completion sizes; prompt-cache reads and writes;
//! reasoning tokens; embeddings; response-cache hits; fallbacks and router-chosen models; a few
//! percent of errors (rate limits, timeouts, server errors, context-length failures); latency
//! with a long tail; a model the catalog does not know (it must show up as unpriced). Traffic
//! follows office hours and quiets down at weekends.
//!
//! [`formats`] writes calls as the gateways do (canonical NDJSON, LiteLLM logging payloads,
//! OTLP/JSON trace documents); `llm-ledger generate` is the command-line front end and
//! `llm-ledger bench` feeds the benchmarks from it.

pub mod formats;

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// The seed: the same options give the same calls.
    pub seed: u64,
    /// How many calls.
    pub events: u64,
    /// The calls span `[end − days, end)`.
    pub end: DateTime<Utc>,
    pub days: u32,
}

/// The kind of work a model does, which shapes its token counts and latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Chat,
    Reasoning,
    Embedding,
}

/// A model in the mix: how often it is called, what the gateway's own price map says it costs
/// (for the `reported` cost gateways send; deliberately as floats, as they do), and its speed.
struct ModelProfile {
    provider: &'static str,
    requested: &'static str,
    served: &'static str,
    weight: u32,
    kind: Kind,
    input_per_mtok: f64,
    output_per_mtok: f64,
    cached_per_mtok: Option<f64>,
    /// Anthropic-style explicit cache writes.
    cache_writes: bool,
    ms_per_output_token: f64,
}

#[rustfmt::skip]
const MODELS: &[ModelProfile] = &[
    ModelProfile { provider: "openai", requested: "gpt-4o-mini", served: "gpt-4o-mini-2024-07-18", weight: 260, kind: Kind::Chat, input_per_mtok: 0.15, output_per_mtok: 0.6, cached_per_mtok: Some(0.075), cache_writes: false, ms_per_output_token: 9.0 },
    ModelProfile { provider: "openai", requested: "gpt-4.1-mini", served: "gpt-4.1-mini-2025-04-14", weight: 120, kind: Kind::Chat, input_per_mtok: 0.4, output_per_mtok: 1.6, cached_per_mtok: Some(0.1), cache_writes: false, ms_per_output_token: 10.0 },
    ModelProfile { provider: "openai", requested: "gpt-5-mini", served: "gpt-5-mini-2025-08-07", weight: 90, kind: Kind::Reasoning, input_per_mtok: 0.25, output_per_mtok: 2.0, cached_per_mtok: Some(0.025), cache_writes: false, ms_per_output_token: 8.0 },
    ModelProfile { provider: "openai", requested: "gpt-5", served: "gpt-5-2025-08-07", weight: 45, kind: Kind::Reasoning, input_per_mtok: 1.25, output_per_mtok: 10.0, cached_per_mtok: Some(0.125), cache_writes: false, ms_per_output_token: 14.0 },
    ModelProfile { provider: "openai", requested: "o4-mini", served: "o4-mini-2025-04-16", weight: 30, kind: Kind::Reasoning, input_per_mtok: 1.1, output_per_mtok: 4.4, cached_per_mtok: Some(0.275), cache_writes: false, ms_per_output_token: 9.0 },
    ModelProfile { provider: "openai", requested: "text-embedding-3-small", served: "text-embedding-3-small", weight: 110, kind: Kind::Embedding, input_per_mtok: 0.02, output_per_mtok: 0.0, cached_per_mtok: None, cache_writes: false, ms_per_output_token: 0.0 },
    ModelProfile { provider: "anthropic", requested: "claude-sonnet-4-5", served: "claude-sonnet-4-5-20250929", weight: 110, kind: Kind::Chat, input_per_mtok: 3.0, output_per_mtok: 15.0, cached_per_mtok: Some(0.3), cache_writes: true, ms_per_output_token: 16.0 },
    ModelProfile { provider: "anthropic", requested: "claude-haiku-4-5", served: "claude-haiku-4-5-20251001", weight: 80, kind: Kind::Chat, input_per_mtok: 1.0, output_per_mtok: 5.0, cached_per_mtok: Some(0.1), cache_writes: true, ms_per_output_token: 7.0 },
    ModelProfile { provider: "anthropic", requested: "claude-opus-4-6", served: "claude-opus-4-6-20260205", weight: 12, kind: Kind::Reasoning, input_per_mtok: 5.0, output_per_mtok: 25.0, cached_per_mtok: Some(0.5), cache_writes: true, ms_per_output_token: 22.0 },
    ModelProfile { provider: "vertex_ai", requested: "gemini-2.5-flash", served: "gemini-2.5-flash", weight: 70, kind: Kind::Chat, input_per_mtok: 0.3, output_per_mtok: 2.5, cached_per_mtok: Some(0.03), cache_writes: false, ms_per_output_token: 5.0 },
    ModelProfile { provider: "vertex_ai", requested: "gemini-2.5-pro", served: "gemini-2.5-pro", weight: 20, kind: Kind::Reasoning, input_per_mtok: 1.25, output_per_mtok: 10.0, cached_per_mtok: Some(0.125), cache_writes: false, ms_per_output_token: 12.0 },
    ModelProfile { provider: "deepseek", requested: "deepseek-chat", served: "deepseek-chat", weight: 25, kind: Kind::Chat, input_per_mtok: 0.28, output_per_mtok: 0.42, cached_per_mtok: Some(0.028), cache_writes: false, ms_per_output_token: 12.0 },
    ModelProfile { provider: "groq", requested: "openai/gpt-oss-20b", served: "openai/gpt-oss-20b", weight: 20, kind: Kind::Chat, input_per_mtok: 0.075, output_per_mtok: 0.3, cached_per_mtok: None, cache_writes: false, ms_per_output_token: 1.5 },
    ModelProfile { provider: "mistral", requested: "codestral-latest", served: "codestral-latest", weight: 15, kind: Kind::Chat, input_per_mtok: 0.3, output_per_mtok: 0.9, cached_per_mtok: None, cache_writes: false, ms_per_output_token: 6.0 },
    // Not in any public price map: the ledger must show it as unpriced, never as free.
    ModelProfile { provider: "self_hosted", requested: "acme-triage-7b", served: "acme-triage-7b", weight: 8, kind: Kind::Chat, input_per_mtok: 0.0, output_per_mtok: 0.0, cached_per_mtok: None, cache_writes: false, ms_per_output_token: 4.0 },
];

const TEAMS: &[&str] = &[
    "search",
    "support-bot",
    "growth",
    "platform",
    "data-science",
    "mobile",
    "billing",
    "sales-assist",
    "risk",
    "legal-ai",
    "marketing",
    "infra-ops",
];
const PROJECTS: &[&str] = &["api", "batch", "assistant", "eval"];
const FEATURES: &[&str] = &[
    "chat",
    "summarize",
    "classify",
    "extract",
    "rerank",
    "agent",
    "codegen",
];
const KEY_KINDS: &[&str] = &["prod", "batch", "staging", "ci", "notebook"];
const USERS_PER_TEAM: u32 = 400;

/// A team with what hangs off it.
#[derive(Debug)]
pub struct Team {
    pub name: Arc<str>,
    /// LiteLLM's team id (a UUID) for the alias.
    pub id: Arc<str>,
    pub projects: Vec<Arc<str>>,
    pub keys: Vec<ApiKey>,
}

/// An API key of a team: the alias gateways show and the hash they log instead of the key.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub alias: Arc<str>,
    pub hash: Arc<str>,
}

/// One generated LLM call, in canonical terms (token counts follow the canonical convention:
/// input includes cache reads and writes, output includes reasoning).
#[derive(Debug, Clone)]
pub struct Call {
    pub index: u64,
    /// A unique id for the gateway's request id.
    pub request_id: String,
    /// 16 random bytes in hex: trace id, and the call's UUID-like ids.
    pub trace_id: String,
    pub span_id: String,
    pub ts: DateTime<Utc>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub streamed: bool,
    pub team: Arc<str>,
    pub team_id: Arc<str>,
    pub project: Arc<str>,
    pub user: String,
    pub key: ApiKey,
    pub environment: &'static str,
    pub feature: &'static str,
    pub provider: &'static str,
    pub model_requested: &'static str,
    pub model: &'static str,
    pub route: Option<&'static str>,
    pub fallback_from: Option<&'static str>,
    pub attempts: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
    pub status_code: u16,
    /// The canonical error type of a failed call (`rate_limit`, `timeout`, …).
    pub error_type: Option<&'static str>,
    /// The exception class name gateways such as LiteLLM log for it.
    pub error_class: Option<&'static str>,
    pub error_message: Option<&'static str>,
    pub cache_hit: bool,
    /// What the gateway's own price map said (a float, as gateways report it); `None` when the
    /// gateway could not price the model.
    pub reported_cost_usd: Option<f64>,
}

impl Call {
    /// The call failed.
    pub fn is_error(&self) -> bool {
        self.status_code >= 400
    }
}

/// The generator: an iterator of calls in time order.
pub struct Synth {
    rng: SmallRng,
    options: SynthOptions,
    teams: Vec<Team>,
    team_weights: Vec<f64>,
    model_weights: Vec<f64>,
    /// Cumulative traffic weight at the end of each hour of the span.
    hour_cdf: Vec<f64>,
    start: DateTime<Utc>,
    next: u64,
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}"); // Writing to a String cannot fail.
            out
        })
}

fn sha_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// Picks an index from cumulative weights.
fn pick(rng: &mut SmallRng, cumulative: &[f64]) -> usize {
    let total = cumulative.last().copied().unwrap_or(0.0);
    let target = rng.random::<f64>() * total;
    cumulative
        .partition_point(|weight| *weight <= target)
        .min(cumulative.len().saturating_sub(1))
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    weights
        .scan(0.0, |sum, weight| {
            *sum += weight;
            Some(*sum)
        })
        .collect()
}

/// A log-normal sample with the given median and shape, clamped.
fn log_normal(rng: &mut SmallRng, median: f64, sigma: f64, low: f64, high: f64) -> f64 {
    // Box–Muller.
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (median * (sigma * normal).exp()).clamp(low, high)
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn tokens(value: f64) -> u64 {
    value.round().max(0.0) as u64
}

/// Relative traffic in an hour of the day (UTC, a business spread over a few time zones).
const HOURLY: [f64; 24] = [
    3.0, 2.0, 1.5, 1.5, 2.0, 3.0, 5.0, 8.0, 11.0, 13.0, 14.0, 14.0, 13.0, 14.0, 15.0, 15.0, 14.0, 12.0, 10.0,
    8.0, 7.0, 6.0, 5.0, 4.0,
];

impl Synth {
    #[must_use]
    pub fn new(options: SynthOptions) -> Synth {
        let mut rng = SmallRng::seed_from_u64(options.seed);
        let teams: Vec<Team> = TEAMS
            .iter()
            .enumerate()
            .map(|(index, name)| {
                let id = {
                    let digest = sha_hex(&format!("team:{}:{name}", options.seed));
                    format!(
                        "{}-{}-{}-{}-{}",
                        &digest[0..8],
                        &digest[8..12],
                        &digest[12..16],
                        &digest[16..20],
                        &digest[20..32]
                    )
                };
                let project_count = 1 + index % PROJECTS.len().min(3);
                let key_count = 2 + index % 4;
                Team {
                    name: Arc::from(*name),
                    id: Arc::from(id.as_str()),
                    projects: PROJECTS[..project_count]
                        .iter()
                        .map(|project| Arc::from(format!("{name}-{project}").as_str()))
                        .collect(),
                    keys: (0..key_count)
                        .map(|slot| {
                            let alias = format!("{name}-{}", KEY_KINDS[slot % KEY_KINDS.len()]);
                            let hash = sha_hex(&format!("sk-{}-{alias}", options.seed));
                            ApiKey {
                                alias: Arc::from(alias.as_str()),
                                hash: Arc::from(hash.as_str()),
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        // Zipf-sized teams, in a seed-dependent order.
        let mut order: Vec<usize> = (0..teams.len()).collect();
        for slot in (1..order.len()).rev() {
            order.swap(slot, rng.random_range(0..=slot));
        }
        let mut team_weights = vec![0.0; teams.len()];
        for (rank, team) in order.iter().enumerate() {
            team_weights[*team] = 1.0 / (rank as f64 + 1.0);
        }
        let start = options.end - Duration::days(i64::from(options.days.max(1)));
        let hours = i64::from(options.days.max(1)) * 24;
        let hour_cdf = cumulative((0..hours).map(|hour| {
            let at = start + Duration::hours(hour);
            let weekend = matches!(at.weekday(), Weekday::Sat | Weekday::Sun);
            HOURLY[at.hour() as usize] * if weekend { 0.4 } else { 1.0 }
        }));
        Synth {
            rng,
            team_weights: cumulative(team_weights.into_iter()),
            model_weights: cumulative(MODELS.iter().map(|model| f64::from(model.weight))),
            teams,
            hour_cdf,
            start,
            options,
            next: 0,
        }
    }

    /// The teams, with their projects and keys.
    #[must_use]
    pub fn teams(&self) -> &[Team] {
        &self.teams
    }

    /// The instant of the `index`-th call: the traffic curve inverted, so calls come in time
    /// order and their density follows office hours.
    fn instant(&mut self, index: u64) -> DateTime<Utc> {
        let total = self.hour_cdf.last().copied().unwrap_or(1.0);
        #[allow(clippy::cast_precision_loss)]
        let position = (index as f64 + self.rng.random::<f64>()) / self.options.events.max(1) as f64 * total;
        let hour = self
            .hour_cdf
            .partition_point(|weight| *weight <= position)
            .min(self.hour_cdf.len() - 1);
        let before = if hour == 0 { 0.0 } else { self.hour_cdf[hour - 1] };
        let within = ((position - before) / (self.hour_cdf[hour] - before)).clamp(0.0, 0.999_999);
        #[allow(clippy::cast_possible_truncation)]
        let micros = (within * 3_600_000_000.0) as i64;
        let hour = i64::try_from(hour).unwrap_or(0);
        // Millisecond precision, as gateways log.
        self.start + Duration::hours(hour) + Duration::milliseconds(micros / 1000)
    }

    fn random_hex(&mut self, bytes: usize) -> String {
        let data: Vec<u8> = (0..bytes).map(|_| self.rng.random()).collect();
        hex(&data)
    }

    fn call(&mut self, index: u64) -> Call {
        let ts = self.instant(index);
        let team_index = pick(&mut self.rng, &self.team_weights);
        let (team, team_id, project, key) = {
            let team = &self.teams[team_index];
            let project = team.projects[self.rng.random_range(0..team.projects.len())].clone();
            // The production key carries most traffic.
            let key = if self.rng.random_bool(0.6) {
                0
            } else {
                self.rng.random_range(0..team.keys.len())
            };
            (
                team.name.clone(),
                team.id.clone(),
                project,
                team.keys[key].clone(),
            )
        };
        // Zipf-ish users: a few power users per team.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let user_rank = (f64::from(USERS_PER_TEAM) * self.rng.random::<f64>().powi(3)) as u32;
        let user = format!("u_{:02}{:04}", team_index, user_rank);
        let environment = if key.alias.ends_with("staging") || key.alias.ends_with("ci") {
            "staging"
        } else {
            "prod"
        };
        let feature = FEATURES[(team_index + usize::from(self.rng.random_bool(0.3))) % FEATURES.len()];

        let mut profile = &MODELS[pick(&mut self.rng, &self.model_weights)];
        let mut model_requested = profile.requested;
        let mut route = None;
        let mut fallback_from = None;
        let mut attempts = 1;
        let roll: f64 = self.rng.random();
        if roll < 0.04 && profile.kind != Kind::Embedding {
            // A router chose the model.
            model_requested = "auto";
            route = Some("router");
        } else if roll < 0.055 && profile.kind != Kind::Embedding {
            // The first choice failed over to a second one.
            let original = profile;
            let mut candidate = &MODELS[pick(&mut self.rng, &self.model_weights)];
            while candidate.requested == original.requested || candidate.kind == Kind::Embedding {
                candidate = &MODELS[pick(&mut self.rng, &self.model_weights)];
            }
            fallback_from = Some(original.requested);
            profile = candidate;
            model_requested = original.requested;
            route = Some("fallback");
            attempts = 2;
        }

        let (mut input, mut output, mut reasoning) = match profile.kind {
            Kind::Embedding => (log_normal(&mut self.rng, 350.0, 1.0, 3.0, 8_000.0), 0.0, 0.0),
            Kind::Chat => (
                log_normal(&mut self.rng, 1_100.0, 1.2, 8.0, 190_000.0),
                log_normal(&mut self.rng, 220.0, 0.9, 1.0, 16_000.0),
                0.0,
            ),
            Kind::Reasoning => {
                let reasoning = log_normal(&mut self.rng, 700.0, 1.1, 0.0, 60_000.0);
                (
                    log_normal(&mut self.rng, 2_500.0, 1.1, 8.0, 190_000.0),
                    log_normal(&mut self.rng, 300.0, 0.9, 1.0, 16_000.0) + reasoning,
                    reasoning,
                )
            }
        };
        // Prompt caching: long prompts repeat their prefix.
        let mut cached = 0.0;
        let mut cache_write = 0.0;
        if profile.cached_per_mtok.is_some() && input >= 1_024.0 {
            if self.rng.random_bool(0.35) {
                cached = (input * self.rng.random_range(0.4..0.95) / 128.0).floor() * 128.0;
            }
            if profile.cache_writes && self.rng.random_bool(0.08) {
                cache_write = ((input - cached) * self.rng.random_range(0.3..0.9)).floor();
            }
        }
        let cache_hit = profile.kind != Kind::Embedding && self.rng.random_bool(0.02);

        let status_roll: f64 = self.rng.random();
        let (status_code, failure) = if cache_hit {
            (200, None)
        } else if status_roll < 0.012 {
            (
                429,
                Some((
                    "rate_limit",
                    "RateLimitError",
                    "Rate limit reached for requests per minute",
                )),
            )
        } else if status_roll < 0.016 {
            (
                500,
                Some((
                    "server_error",
                    "InternalServerError",
                    "The server had an error processing your request",
                )),
            )
        } else if status_roll < 0.019 {
            (
                408,
                Some(("timeout", "Timeout", "Request timed out after 600 seconds")),
            )
        } else if status_roll < 0.021 {
            (
                400,
                Some((
                    "context_length",
                    "ContextWindowExceededError",
                    "The maximum context length is exceeded",
                )),
            )
        } else {
            (200, None)
        };
        if status_code >= 400 {
            // Failed calls bill nothing, except a timeout that streamed part of an answer.
            if status_code == 408 {
                output = (output * 0.3).floor();
                reasoning = reasoning.min(output);
            } else {
                input = 0.0;
                output = 0.0;
                reasoning = 0.0;
            }
            cached = 0.0;
            cache_write = 0.0;
        }

        let streamed = profile.kind != Kind::Embedding && self.rng.random_bool(0.6);
        let (latency_ms, ttft_ms) = if cache_hit {
            (log_normal(&mut self.rng, 12.0, 0.5, 2.0, 200.0), None)
        } else {
            let base = match profile.kind {
                Kind::Embedding => log_normal(&mut self.rng, 90.0, 0.5, 15.0, 5_000.0),
                _ => log_normal(&mut self.rng, 450.0, 0.6, 80.0, 30_000.0),
            };
            let generation =
                output * profile.ms_per_output_token * log_normal(&mut self.rng, 1.0, 0.25, 0.3, 5.0);
            let mut latency = base + generation;
            // The long tail: overloaded providers, retries inside the SDK.
            if self.rng.random_bool(0.01) {
                latency *= 1.0 / self.rng.random_range(0.02..0.5);
            }
            if status_code == 408 {
                latency = 600_000.0;
            } else if status_code == 429 {
                latency = log_normal(&mut self.rng, 60.0, 0.5, 5.0, 2_000.0);
            }
            let latency = latency.min(600_000.0);
            let ttft = (streamed && status_code == 200).then(|| base.min(latency));
            (
                (latency * 1000.0).round() / 1000.0,
                ttft.map(|value| (value * 1000.0).round() / 1000.0),
            )
        };

        let billed_input = input - cached - cache_write;
        let reported_cost_usd = if profile.provider == "self_hosted" {
            None
        } else if cache_hit {
            Some(0.0)
        } else {
            let cached_price = profile.cached_per_mtok.unwrap_or(profile.input_per_mtok);
            Some(
                (billed_input * profile.input_per_mtok
                    + cached * cached_price
                    + cache_write * profile.input_per_mtok * 1.25
                    + output * profile.output_per_mtok)
                    / 1e6,
            )
        };
        let trace_id = self.random_hex(16);
        let span_id = self.random_hex(8);
        Call {
            index,
            request_id: format!("{}-{}", self.random_hex(12), index),
            trace_id,
            span_id,
            ts,
            latency_ms,
            ttft_ms,
            streamed,
            team,
            team_id,
            project,
            user,
            key,
            environment,
            feature,
            provider: profile.provider,
            model_requested,
            model: profile.served,
            route,
            fallback_from,
            attempts,
            input_tokens: tokens(input),
            output_tokens: tokens(output),
            cached_input_tokens: tokens(cached),
            cache_write_tokens: tokens(cache_write),
            reasoning_tokens: tokens(reasoning),
            status_code,
            error_type: failure.map(|(kind, _, _)| kind),
            error_class: failure.map(|(_, class, _)| class),
            error_message: failure.map(|(_, _, message)| message),
            cache_hit,
            reported_cost_usd,
        }
    }
}

impl Iterator for Synth {
    type Item = Call;

    fn next(&mut self) -> Option<Call> {
        if self.next >= self.options.events {
            return None;
        }
        let index = self.next;
        self.next += 1;
        Some(self.call(index))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.options.events - self.next).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(events: u64) -> SynthOptions {
        SynthOptions {
            seed: 42,
            events,
            end: "2026-11-01T00:00:00Z".parse().unwrap(),
            days: 30,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_calls_in_time_order() {
        let first: Vec<Call> = Synth::new(options(2_000)).collect();
        let second: Vec<Call> = Synth::new(options(2_000)).collect();
        assert_eq!(first.len(), 2_000);
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(
                (a.ts, &a.request_id, a.input_tokens),
                (b.ts, &b.request_id, b.input_tokens)
            );
        }
        assert!(first.windows(2).all(|pair| pair[0].ts <= pair[1].ts));
        let start: DateTime<Utc> = "2026-10-02T00:00:00Z".parse().unwrap();
        assert!(
            first
                .iter()
                .all(|call| call.ts >= start && call.ts < options(0).end)
        );
    }

    #[test]
    fn token_counts_follow_the_canonical_convention() {
        for call in Synth::new(options(20_000)) {
            assert!(
                call.cached_input_tokens + call.cache_write_tokens <= call.input_tokens,
                "{call:?}"
            );
            assert!(call.reasoning_tokens <= call.output_tokens, "{call:?}");
        }
    }

    #[test]
    fn the_mix_is_realistic() {
        let calls: Vec<Call> = Synth::new(options(50_000)).collect();
        let share = |test: &dyn Fn(&Call) -> bool| {
            #[allow(clippy::cast_precision_loss)]
            let share = calls.iter().filter(|call| test(call)).count() as f64 / calls.len() as f64;
            share
        };
        let errors = share(&|call| call.is_error());
        assert!((0.01..0.04).contains(&errors), "{errors}");
        assert!(share(&|call| call.cached_input_tokens > 0) > 0.05);
        assert!(share(&|call| call.reasoning_tokens > 0) > 0.05);
        assert!(share(&|call| call.provider == "self_hosted") > 0.001);
        assert!(share(&|call| call.route == Some("fallback")) > 0.005);
        // A long latency tail: p99 well above ten times the median.
        let mut latencies: Vec<f64> = calls
            .iter()
            .filter(|call| !call.is_error())
            .map(|call| call.latency_ms)
            .collect();
        latencies.sort_by(f64::total_cmp);
        let median = latencies[latencies.len() / 2];
        let p99 = latencies[latencies.len() * 99 / 100];
        assert!(p99 > 8.0 * median, "{median} {p99}");
        // Weekdays busier than weekends, afternoons busier than nights.
        let at = |hour: u32| {
            calls
                .iter()
                .filter(|call| chrono::Timelike::hour(&call.ts) == hour)
                .count()
        };
        assert!(at(14) > 3 * at(2));
    }
}
