//! Model-name normalisation: the lookup ladder of `shared/formats/README.md` ("Model names and
//! price lookup") reduced to pure functions on strings. The catalog applies them to its own keys
//! and to every record's model, so both meet on the same `model_key`.

/// Gateway routing prefixes that say who routed or served the call, not which model it was
/// (`azure/gpt-4.1`, `openrouter/openai/gpt-4o`, `bedrock/us.anthropic.…`, `meta-llama/llama-…`).
const ROUTING_PREFIXES: &[&str] = &[
    "openai",
    "azure",
    "azure_ai",
    "anthropic",
    "bedrock",
    "bedrock_converse",
    "vertex_ai",
    "vertex_ai_beta",
    "gemini",
    "google",
    "mistral",
    "mistralai",
    "cohere",
    "cohere_chat",
    "groq",
    "together_ai",
    "togethercomputer",
    "fireworks_ai",
    "accounts/fireworks/models",
    "deepinfra",
    "deepseek",
    "xai",
    "x-ai",
    "perplexity",
    "huggingface",
    "openrouter",
    "meta-llama",
    "meta",
    "qwen",
    "moonshotai",
    "workers_ai",
    "@cf/meta",
    "@cf",
    "hosted_vllm",
    "ollama",
    "ollama_chat",
    "openai_like",
    "text-completion-openai",
];

/// Bedrock cross-Region inference-profile prefixes (`us.anthropic.…`).
const REGION_PREFIXES: &[&str] = &[
    "us-gov.", "us.", "eu.", "apac.", "global.", "au.", "jp.", "ca.", "uk.",
];

/// Bedrock model-id vendor prefixes (`anthropic.claude-…-v1:0`).
const BEDROCK_VENDORS: &[&str] = &[
    "anthropic.",
    "meta.",
    "amazon.",
    "mistral.",
    "cohere.",
    "ai21.",
    "deepseek.",
    "openai.",
    "qwen.",
    "writer.",
    "twelvelabs.",
    "stability.",
    "moonshot.",
    "minimax.",
    "google.",
    "nvidia.",
];

/// Strips one leading routing prefix, if the model starts with one.
pub fn strip_routing_prefix(model: &str) -> Option<&str> {
    // Longest first, so that `accounts/fireworks/models/` wins over shorter ones.
    ROUTING_PREFIXES
        .iter()
        .filter(|prefix| {
            model.len() > prefix.len() + 1
                && model.as_bytes()[prefix.len()] == b'/'
                && model[..prefix.len()].eq_ignore_ascii_case(prefix)
        })
        .max_by_key(|prefix| prefix.len())
        .map(|prefix| &model[prefix.len() + 1..])
}

/// Strips all leading routing prefixes (`openrouter/openai/gpt-4o` → `gpt-4o`).
pub fn strip_routing_prefixes(model: &str) -> &str {
    let mut current = model;
    while let Some(rest) = strip_routing_prefix(current) {
        current = rest;
    }
    current
}

/// Strips a Bedrock cross-Region prefix (`us.anthropic.…` → `anthropic.…`).
pub fn strip_region_prefix(model: &str) -> Option<&str> {
    REGION_PREFIXES
        .iter()
        .find_map(|prefix| model.strip_prefix(prefix))
        .filter(|rest| BEDROCK_VENDORS.iter().any(|vendor| rest.starts_with(vendor)))
}

/// Reduces a Bedrock ARN to the model or profile id it names; `None` for ARNs that do not
/// carry one (application inference profiles, provisioned or imported models), which only
/// user-defined aliases can price.
pub fn strip_arn(model: &str) -> Option<&str> {
    if !model.starts_with("arn:") {
        return Some(model);
    }
    // arn:partition:service:region:account:resource — the resource may itself contain ':'.
    let resource = model.splitn(6, ':').nth(5)?;
    let (kind, id) = resource.split_once('/')?;
    match kind {
        "foundation-model" | "inference-profile" => Some(id),
        _ => None,
    }
}

/// The normalised model name shared across gateways: routing prefixes, ARNs, Bedrock region and
/// vendor prefixes, Bedrock version suffixes and Vertex `@` versions removed, lower-cased.
///
/// `us.anthropic.claude-sonnet-4-20250514-v1:0`, `anthropic/claude-sonnet-4-20250514` and
/// `claude-sonnet-4@20250514` all become `claude-sonnet-4-20250514`.
pub fn normalize(model: &str) -> String {
    let lowered = model.trim().to_ascii_lowercase();
    let mut current: &str = strip_routing_prefixes(&lowered);
    if let Some(id) = strip_arn(current) {
        current = id;
    }
    if let Some(rest) = strip_region_prefix(current) {
        current = rest;
    }
    let had_vendor = BEDROCK_VENDORS
        .iter()
        .find_map(|vendor| current.strip_prefix(vendor));
    let is_bedrock_id = had_vendor.is_some();
    if let Some(rest) = had_vendor {
        current = rest;
    }
    let mut name = current.to_owned();
    if is_bedrock_id {
        name = strip_bedrock_version(&name).to_owned();
    }
    // Vertex writes versions as `claude-3-5-haiku@20241022`.
    name = name.replacen('@', "-", 1);
    family_spelling(&name)
}

/// Folds the spellings one model family uses across vendors: OpenRouter writes Anthropic
/// versions with dots (`claude-3.5-haiku`, `claude-sonnet-4.5`) where Anthropic uses dashes, and
/// Bedrock writes Meta's versions without a dot (`llama3-3-70b-instruct`) where everyone else
/// writes `llama-3.3-70b-instruct`.
fn family_spelling(name: &str) -> String {
    if name.starts_with("claude-") {
        return name.replace('.', "-");
    }
    if let Some(rest) = name.strip_prefix("llama")
        && rest.starts_with(|c: char| c.is_ascii_digit())
    {
        let mut parts = rest.split('-');
        let major = parts.next().unwrap_or_default();
        let remaining: Vec<&str> = parts.collect();
        if !major.chars().all(|c| c.is_ascii_digit()) {
            return name.to_owned();
        }
        return match remaining.split_first() {
            Some((minor, tail)) if minor.len() <= 2 && minor.chars().all(|c| c.is_ascii_digit()) => {
                let mut folded = format!("llama-{major}.{minor}");
                for part in tail {
                    folded.push('-');
                    folded.push_str(part);
                }
                folded
            }
            _ => format!("llama-{rest}"),
        };
    }
    name.to_owned()
}

/// Removes a Bedrock version suffix (`-v1:0`, `-v2`, `:0`).
fn strip_bedrock_version(model: &str) -> &str {
    let without_throughput = match model.rsplit_once(':') {
        Some((head, tail)) if tail.chars().all(|c| c.is_ascii_digit() || c == 'k') => head,
        _ => model,
    };
    match without_throughput.rsplit_once("-v") {
        Some((head, tail)) if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit()) => head,
        _ => without_throughput,
    }
}

/// Removes a trailing snapshot date (`-2024-07-18`, `-20250514`, `-0125`), giving the undated
/// alias of a dated model id; `None` when there is no date.
pub fn strip_snapshot_date(model_key: &str) -> Option<&str> {
    let bytes = model_key.as_bytes();
    let digits_at = |start: usize, len: usize| {
        bytes
            .get(start..start + len)
            .is_some_and(|slice| slice.iter().all(u8::is_ascii_digit))
    };
    let len = bytes.len();
    // -YYYY-MM-DD
    if len > 11
        && bytes[len - 11] == b'-'
        && digits_at(len - 10, 4)
        && bytes[len - 6] == b'-'
        && digits_at(len - 5, 2)
        && bytes[len - 3] == b'-'
        && digits_at(len - 2, 2)
    {
        return Some(&model_key[..len - 11]);
    }
    // -YYYYMMDD
    if len > 9 && bytes[len - 9] == b'-' && digits_at(len - 8, 8) && model_key[len - 8..].starts_with("20") {
        return Some(&model_key[..len - 9]);
    }
    None
}

/// The provider that owns a model family, used to break ties when a model is priced by several
/// providers and the record's own provider has no entry.
pub fn first_party_rank(provider: &str, model_key: &str) -> u8 {
    let owner = if model_key.starts_with("claude") {
        "anthropic"
    } else if model_key.starts_with("gpt")
        || model_key.starts_with("o1")
        || model_key.starts_with("o3")
        || model_key.starts_with("o4")
        || model_key.starts_with("text-embedding")
    {
        "openai"
    } else if model_key.starts_with("gemini") {
        "gemini"
    } else if model_key.starts_with("mistral") || model_key.starts_with("codestral") {
        "mistral"
    } else if model_key.starts_with("command") {
        "cohere"
    } else if model_key.starts_with("deepseek") {
        "deepseek"
    } else if model_key.starts_with("grok") {
        "xai"
    } else {
        ""
    };
    match provider {
        p if p == owner => 0,
        "openai" | "anthropic" | "gemini" => 1,
        "vertex_ai" | "bedrock" | "azure" => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bedrock_and_gateway_names_meet() {
        for name in [
            "us.anthropic.claude-sonnet-4-20250514-v1:0",
            "anthropic.claude-sonnet-4-20250514-v1:0",
            "bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0",
            "anthropic/claude-sonnet-4-20250514",
            "claude-sonnet-4@20250514",
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0",
        ] {
            assert_eq!(normalize(name), "claude-sonnet-4-20250514", "{name}");
        }
        assert_eq!(normalize("openrouter/openai/gpt-4o"), "gpt-4o");
        assert_eq!(
            normalize("meta-llama/llama-3.3-70b-instruct"),
            "llama-3.3-70b-instruct"
        );
        assert_eq!(normalize("gpt-4o-mini-2024-07-18"), "gpt-4o-mini-2024-07-18");
        assert_eq!(normalize("acme-triage-7b"), "acme-triage-7b");
        assert_eq!(normalize("anthropic/claude-3.5-haiku"), "claude-3-5-haiku");
        assert_eq!(
            normalize("meta.llama3-3-70b-instruct-v1:0"),
            "llama-3.3-70b-instruct"
        );
        assert_eq!(normalize("meta.llama3-70b-instruct-v1:0"), "llama-3-70b-instruct");
        assert_eq!(
            normalize("meta-llama/llama-3.1-8b-instruct"),
            "llama-3.1-8b-instruct"
        );
    }

    #[test]
    fn snapshot_dates_are_stripped() {
        assert_eq!(strip_snapshot_date("gpt-4o-mini-2024-07-18"), Some("gpt-4o-mini"));
        assert_eq!(
            strip_snapshot_date("claude-sonnet-4-20250514"),
            Some("claude-sonnet-4")
        );
        assert_eq!(strip_snapshot_date("gpt-4o"), None);
        assert_eq!(strip_snapshot_date("llama-3.1-8b"), None);
    }

    #[test]
    fn application_profile_arns_have_no_model() {
        assert_eq!(
            strip_arn("arn:aws:bedrock:us-east-1:123:application-inference-profile/abc123"),
            None
        );
    }
}
