//! Closed vocabularies of the canonical record: where a record came from, who served it, how it
//! failed, which service tier priced it.

use std::fmt;

use serde::{Serialize, Serializer};

/// The format a record came in, which is also half of its dedupe key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Canonical,
    Litellm,
    Openrouter,
    Portkey,
    Helicone,
    Cloudflare,
    Bedrock,
    Kong,
    Otel,
    OpenaiUsage,
}

impl Source {
    pub const ALL: [Source; 10] = [
        Source::Canonical,
        Source::Litellm,
        Source::Openrouter,
        Source::Portkey,
        Source::Helicone,
        Source::Cloudflare,
        Source::Bedrock,
        Source::Kong,
        Source::Otel,
        Source::OpenaiUsage,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Canonical => "canonical",
            Source::Litellm => "litellm",
            Source::Openrouter => "openrouter",
            Source::Portkey => "portkey",
            Source::Helicone => "helicone",
            Source::Cloudflare => "cloudflare",
            Source::Bedrock => "bedrock",
            Source::Kong => "kong",
            Source::Otel => "otel",
            Source::OpenaiUsage => "openai_usage",
        }
    }

    pub fn parse(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|source| source.as_str() == name)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Who served and billed the tokens, in one vocabulary aligned with LiteLLM's provider ids so an
/// imported LiteLLM price map lines up (`shared/formats/README.md`, "Provider names").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    Openai,
    Azure,
    AzureAi,
    Anthropic,
    Bedrock,
    VertexAi,
    Gemini,
    Mistral,
    Cohere,
    Groq,
    TogetherAi,
    FireworksAi,
    Deepinfra,
    Deepseek,
    Xai,
    Perplexity,
    Huggingface,
    Openrouter,
    WorkersAi,
    SelfHosted,
    Unknown,
    /// A provider outside the list above, kept as the lower-cased name it came with.
    Other(String),
}

/// Native spellings that fold into one canonical provider name.
const PROVIDER_ALIASES: &[(&str, &str)] = &[
    ("azure-openai", "azure"),
    ("azure_openai", "azure"),
    ("azure.ai.openai", "azure"),
    ("az.ai.openai", "azure"),
    ("azure.ai.inference", "azure_ai"),
    ("az.ai.inference", "azure_ai"),
    ("google-ai-studio", "gemini"),
    ("google_ai_studio", "gemini"),
    ("gcp.gemini", "gemini"),
    ("google ai studio", "gemini"),
    ("google-vertex-ai", "vertex_ai"),
    ("vertex-ai", "vertex_ai"),
    ("vertex", "vertex_ai"),
    ("gcp.vertex_ai", "vertex_ai"),
    ("gcp.gen_ai", "vertex_ai"),
    ("vertex_ai-language-models", "vertex_ai"),
    ("vertex_ai-anthropic_models", "vertex_ai"),
    ("vertex_ai-mistral_models", "vertex_ai"),
    ("vertex_ai-llama_models", "vertex_ai"),
    ("vertex_ai-embedding-models", "vertex_ai"),
    ("vertex_ai-ai21_models", "vertex_ai"),
    ("vertex_ai-deepseek_models", "vertex_ai"),
    ("vertex_ai-qwen_models", "vertex_ai"),
    ("vertex_ai-openai_models", "vertex_ai"),
    ("vertex_ai-minimax_models", "vertex_ai"),
    ("vertex_ai-moonshot_models", "vertex_ai"),
    ("vertex_ai-zai_models", "vertex_ai"),
    ("vertex_ai-image-models", "vertex_ai"),
    ("vertex_ai-text-models", "vertex_ai"),
    ("vertex_ai-chat-models", "vertex_ai"),
    ("vertex_ai-code-text-models", "vertex_ai"),
    ("vertex_ai-code-chat-models", "vertex_ai"),
    ("vertex_ai-vision-models", "vertex_ai"),
    ("google", "gemini"),
    ("aws-bedrock", "bedrock"),
    ("aws.bedrock", "bedrock"),
    ("aws", "bedrock"),
    ("amazon bedrock", "bedrock"),
    ("amazon-bedrock", "bedrock"),
    ("bedrock_converse", "bedrock"),
    ("bedrock_mantle", "bedrock"),
    ("workers-ai", "workers_ai"),
    ("cloudflare", "workers_ai"),
    ("grok", "xai"),
    ("x_ai", "xai"),
    ("x", "xai"),
    ("together-ai", "together_ai"),
    ("together", "together_ai"),
    ("mistral-ai", "mistral"),
    ("mistral_ai", "mistral"),
    ("mistralai", "mistral"),
    ("cohere_chat", "cohere"),
    ("fireworks", "fireworks_ai"),
    ("fireworks-ai", "fireworks_ai"),
    ("hosted_vllm", "self_hosted"),
    ("openai_like", "self_hosted"),
    ("ollama", "self_hosted"),
    ("ollama_chat", "self_hosted"),
    ("vllm", "self_hosted"),
    ("llama2", "self_hosted"),
    ("custom", "other"),
    ("local", "other"),
    ("text-completion-openai", "openai"),
    ("open-ai", "openai"),
    ("anthropic_messages", "anthropic"),
    ("deep-seek", "deepseek"),
    ("hugging face", "huggingface"),
    ("hf", "huggingface"),
];

impl Provider {
    /// Normalises a provider name as any gateway writes it (`azure-openai`, `AWS`, `gcp.gemini`,
    /// `Google AI Studio`) into the canonical vocabulary. Unknown names are kept, lower-cased.
    pub fn normalize(native: &str) -> Provider {
        let lowered = native.trim().to_ascii_lowercase();
        let canonical = PROVIDER_ALIASES
            .iter()
            .find(|(alias, _)| *alias == lowered)
            .map_or(lowered.as_str(), |(_, canonical)| canonical);
        match canonical {
            "openai" => Provider::Openai,
            "azure" => Provider::Azure,
            "azure_ai" => Provider::AzureAi,
            "anthropic" => Provider::Anthropic,
            "bedrock" => Provider::Bedrock,
            "vertex_ai" => Provider::VertexAi,
            "gemini" => Provider::Gemini,
            "mistral" => Provider::Mistral,
            "cohere" => Provider::Cohere,
            "groq" => Provider::Groq,
            "together_ai" => Provider::TogetherAi,
            "fireworks_ai" => Provider::FireworksAi,
            "deepinfra" => Provider::Deepinfra,
            "deepseek" => Provider::Deepseek,
            "xai" => Provider::Xai,
            "perplexity" => Provider::Perplexity,
            "huggingface" => Provider::Huggingface,
            "openrouter" => Provider::Openrouter,
            "workers_ai" => Provider::WorkersAi,
            "self_hosted" => Provider::SelfHosted,
            "unknown" | "" => Provider::Unknown,
            other => Provider::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Provider::Openai => "openai",
            Provider::Azure => "azure",
            Provider::AzureAi => "azure_ai",
            Provider::Anthropic => "anthropic",
            Provider::Bedrock => "bedrock",
            Provider::VertexAi => "vertex_ai",
            Provider::Gemini => "gemini",
            Provider::Mistral => "mistral",
            Provider::Cohere => "cohere",
            Provider::Groq => "groq",
            Provider::TogetherAi => "together_ai",
            Provider::FireworksAi => "fireworks_ai",
            Provider::Deepinfra => "deepinfra",
            Provider::Deepseek => "deepseek",
            Provider::Xai => "xai",
            Provider::Perplexity => "perplexity",
            Provider::Huggingface => "huggingface",
            Provider::Openrouter => "openrouter",
            Provider::WorkersAi => "workers_ai",
            Provider::SelfHosted => "self_hosted",
            Provider::Unknown => "unknown",
            Provider::Other(name) => name,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Provider {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Why a call failed (`shared/formats/README.md`, "Status codes and error_type").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorType {
    RateLimit,
    Timeout,
    Overloaded,
    ServerError,
    Auth,
    BadRequest,
    NotFound,
    ContextLength,
    ContentFilter,
    BudgetExceeded,
    Cancelled,
    Incomplete,
    Unknown,
}

impl ErrorType {
    pub const ALL: [ErrorType; 13] = [
        ErrorType::RateLimit,
        ErrorType::Timeout,
        ErrorType::Overloaded,
        ErrorType::ServerError,
        ErrorType::Auth,
        ErrorType::BadRequest,
        ErrorType::NotFound,
        ErrorType::ContextLength,
        ErrorType::ContentFilter,
        ErrorType::BudgetExceeded,
        ErrorType::Cancelled,
        ErrorType::Incomplete,
        ErrorType::Unknown,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorType::RateLimit => "rate_limit",
            ErrorType::Timeout => "timeout",
            ErrorType::Overloaded => "overloaded",
            ErrorType::ServerError => "server_error",
            ErrorType::Auth => "auth",
            ErrorType::BadRequest => "bad_request",
            ErrorType::NotFound => "not_found",
            ErrorType::ContextLength => "context_length",
            ErrorType::ContentFilter => "content_filter",
            ErrorType::BudgetExceeded => "budget_exceeded",
            ErrorType::Cancelled => "cancelled",
            ErrorType::Incomplete => "incomplete",
            ErrorType::Unknown => "unknown",
        }
    }

    pub fn parse(name: &str) -> Option<ErrorType> {
        ErrorType::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Returns the error type an HTTP status implies when nothing more precise is known.
    pub fn from_status(status: u16) -> Option<ErrorType> {
        match status {
            0..=399 => None,
            429 => Some(ErrorType::RateLimit),
            408 | 504 => Some(ErrorType::Timeout),
            503 | 529 => Some(ErrorType::Overloaded),
            401 | 403 => Some(ErrorType::Auth),
            402 => Some(ErrorType::BudgetExceeded),
            404 => Some(ErrorType::NotFound),
            500..=599 => Some(ErrorType::ServerError),
            _ => Some(ErrorType::BadRequest),
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The provider service tier that served a call, when the log says. Standard is the default and
/// is not stored; the others select the catalog's tier prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServiceTier {
    #[default]
    Standard,
    Batch,
    Priority,
    Flex,
}

impl ServiceTier {
    pub const fn as_str(self) -> &'static str {
        match self {
            ServiceTier::Standard => "standard",
            ServiceTier::Batch => "batch",
            ServiceTier::Priority => "priority",
            ServiceTier::Flex => "flex",
        }
    }

    /// Reads the tier names providers and gateways use (`default`, `auto` and `scale` mean the
    /// standard price; `batches` is LiteLLM's spelling of batch).
    pub fn parse(name: &str) -> Option<ServiceTier> {
        match name.trim().to_ascii_lowercase().as_str() {
            "standard" | "default" | "auto" | "scale" | "on_demand" | "on-demand" => {
                Some(ServiceTier::Standard)
            }
            "batch" | "batches" => Some(ServiceTier::Batch),
            "priority" => Some(ServiceTier::Priority),
            "flex" => Some(ServiceTier::Flex),
            _ => None,
        }
    }
}

impl Serialize for ServiceTier {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_fold_native_spellings() {
        assert_eq!(Provider::normalize("azure-openai"), Provider::Azure);
        assert_eq!(Provider::normalize("Google AI Studio"), Provider::Gemini);
        assert_eq!(Provider::normalize("AWS"), Provider::Bedrock);
        assert_eq!(Provider::normalize("hosted_vllm"), Provider::SelfHosted);
        assert_eq!(
            Provider::normalize("Acme-Cloud"),
            Provider::Other("acme-cloud".to_owned())
        );
    }

    #[test]
    fn status_maps_to_error_type() {
        assert_eq!(ErrorType::from_status(429), Some(ErrorType::RateLimit));
        assert_eq!(ErrorType::from_status(529), Some(ErrorType::Overloaded));
        assert_eq!(ErrorType::from_status(502), Some(ErrorType::ServerError));
        assert_eq!(ErrorType::from_status(413), Some(ErrorType::BadRequest));
        assert_eq!(ErrorType::from_status(200), None);
    }
}
