//! Token counts of a LiteLLM call: the headline counts and usage details, looked up in the usage
//! blocks a record carries, in order. In: the record and its usage blocks; out: a
//! [`TokenUsage`] whose errors name the native path of the offending count.

use std::cell::RefCell;

use crate::ingest::json::RawValue;

use crate::ingest::common::{at_native, sum_test};
use crate::ingest::json::{self, Obj};
use crate::ingest::reject::FieldError;
use crate::model::{TokenCounts, TokenUsage};

/// An object holding LiteLLM's usage block (OpenAI shape plus LiteLLM extras), and its path.
pub(super) struct UsageSource<'a> {
    path: &'static str,
    usage: Obj<'a>,
    /// Its nested detail objects (`prompt_tokens_details`, …), each opened once: every count
    /// looked up in them would otherwise parse them again.
    nested: RefCell<Vec<(&'static str, Option<Obj<'a>>)>>,
}

impl<'a> UsageSource<'a> {
    /// The value at `path` inside the usage block, or `None` when any step is absent, null or
    /// not an object.
    fn lookup(&self, path: &[&'static str]) -> Option<&'a RawValue> {
        let (first, rest) = path.split_first()?;
        if rest.is_empty() {
            return self.usage.present(first);
        }
        let mut nested = self.nested.borrow_mut();
        let idx = match nested.iter().position(|(name, _)| name == first) {
            Some(idx) => idx,
            None => {
                nested.push((first, self.usage.child(first)));
                nested.len() - 1
            }
        };
        nested[idx].1.as_ref()?.path(rest)
    }
}

pub(super) fn usage_sources<'a, const N: usize>(
    candidates: [(Option<Obj<'a>>, &'static str); N],
) -> Vec<UsageSource<'a>> {
    // A usage block that is not an object (a redacted response) is simply not a source.
    candidates
        .into_iter()
        .filter_map(|(usage, path)| {
            Some(UsageSource {
                path,
                usage: usage?,
                nested: RefCell::new(Vec::new()),
            })
        })
        .collect()
}

/// A count and where it was read (for error messages, which alone spell the path out).
struct Count {
    value: u64,
    /// The usage block (`response.usage`), or `None` for a top-level field.
    source: Option<&'static str>,
    path: &'static [&'static str],
}

impl Count {
    /// The native field, as error messages name it: `response.usage.prompt_tokens`.
    fn field(&self) -> String {
        let path = self.path.join(".");
        match self.source {
            Some(source) => format!("{source}.{path}"),
            None => path,
        }
    }
}

/// Reads the first count found, source by source and then alternative by alternative.
fn detail(
    sources: &[UsageSource<'_>],
    alternatives: &[&'static [&'static str]],
) -> Result<Option<Count>, FieldError> {
    for source in sources {
        for path in alternatives {
            let Some(raw) = source.lookup(path) else {
                continue;
            };
            let count = |value| Count {
                value,
                source: Some(source.path),
                path,
            };
            // The field is spelled out only for an error.
            match json::opt_count_lenient(Some(raw), "") {
                Ok(Some(value)) => return Ok(Some(count(value))),
                Ok(None) => {}
                Err(error) => return Err(at_native(&count(0).field())(error)),
            }
        }
    }
    Ok(None)
}

/// A headline count: the top-level field (`path` is its one key), else the same key in a usage
/// block.
fn headline(
    obj: &Obj<'_>,
    sources: &[UsageSource<'_>],
    path: &'static [&'static str],
) -> Result<Option<Count>, FieldError> {
    let key = path.first().copied().unwrap_or_default();
    if let Some(value) = json::opt_count_lenient(obj.raw(key), key)? {
        return Ok(Some(Count {
            value,
            source: None,
            path,
        }));
    }
    detail(sources, &[path])
}

const CACHED_PATHS: &[&[&str]] = &[
    &["prompt_tokens_details", "cached_tokens"],
    &["cache_read_input_tokens"],
    &["prompt_cache_hit_tokens"],
];
const WRITTEN_PATHS: &[&[&str]] = &[
    &["prompt_tokens_details", "cache_creation_tokens"],
    &["cache_creation_input_tokens"],
];
const WRITTEN_1H_PATHS: &[&[&str]] = &[
    &[
        "prompt_tokens_details",
        "cache_creation_token_details",
        "ephemeral_1h_input_tokens",
    ],
    // Anthropic's own usage block, as some LiteLLM versions pass it through.
    &["cache_creation", "ephemeral_1h_input_tokens"],
];
const TEXT_PATHS: &[&[&str]] = &[&["prompt_tokens_details", "text_tokens"]];
const REASONING_PATHS: &[&[&str]] = &[&["completion_tokens_details", "reasoning_tokens"]];

/// LiteLLM's OpenAI-style normalisation: `prompt_tokens` includes cache reads and writes and
/// `completion_tokens` includes reasoning, with two repairs for older releases (module doc).
pub(super) fn token_usage(obj: &Obj<'_>, sources: &[UsageSource<'_>]) -> Result<TokenUsage, FieldError> {
    let prompt =
        headline(obj, sources, &["prompt_tokens"])?.ok_or_else(|| FieldError::missing("prompt_tokens"))?;
    let completion = headline(obj, sources, &["completion_tokens"])?
        .ok_or_else(|| FieldError::missing("completion_tokens"))?;
    let total = headline(obj, sources, &["total_tokens"])?.map(|count| count.value);
    let cached = detail(sources, CACHED_PATHS)?;
    let written = detail(sources, WRITTEN_PATHS)?;
    let written_1h = detail(sources, WRITTEN_1H_PATHS)?;
    let text = detail(sources, TEXT_PATHS)?;
    let reasoning = detail(sources, REASONING_PATHS)?;
    let value = |count: &Option<Count>| count.as_ref().map_or(0, |count| count.value);

    let cache_read = value(&cached);
    let cache_write = value(&written);
    let mut input = prompt.value;
    if let Some(text) = &text {
        // Older releases added only the cache reads to an Anthropic prompt: add the missing writes.
        let expected = cache_read.saturating_add(cache_write).saturating_add(text.value);
        if input < expected {
            input = input.saturating_add((expected - input).min(cache_write));
        }
    }
    let output = sum_test(input, completion.value, total, 0, 0, value(&reasoning)).output;

    let counts = TokenCounts {
        input,
        output,
        cached_input: cache_read,
        cache_write,
        cache_write_1h: value(&written_1h),
        reasoning: value(&reasoning),
    };
    TokenUsage::new(counts).map_err(|error| {
        let field_of = |count: &Option<Count>| count.as_ref().map(Count::field);
        let native = match error.field() {
            "cached_input_tokens" => field_of(&cached),
            "cache_write_tokens" => field_of(&written).or_else(|| field_of(&cached)),
            "cache_write_1h_tokens" => field_of(&written_1h),
            "reasoning_tokens" => field_of(&reasoning),
            _ => None,
        };
        at_native(&native.unwrap_or_else(|| prompt.field()))(error)
    })
}
