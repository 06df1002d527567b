//! Outcome of a LiteLLM call: `status` plus the `error_information` block → HTTP status, error
//! type and whether the attempt failed (which [`super::attempts`] needs). LiteLLM's exception
//! classes are mapped here; generic text refinement is `common::refine_error_type`.

use crate::ingest::json::RawValue;

use crate::ingest::common::{http_status, refine_error_type, stringify_scalar, text_at};
use crate::ingest::json::{self, Kind, Obj};
use crate::ingest::reject::{FieldError, excerpt};
use crate::model::ErrorType;

pub(super) struct Outcome {
    pub(super) status_code: u16,
    pub(super) error_type: Option<ErrorType>,
    pub(super) failed: bool,
}

impl Outcome {
    /// `status` (`success` | `failure`) and the `error_information` block. Without a status, a
    /// non-empty `error_class` or `error_code` means failure.
    pub(super) fn read(
        status: Option<&RawValue>,
        status_field: &str,
        error_information: Option<&Obj<'_>>,
        error_prefix: &str,
        error_str: Option<&str>,
    ) -> Result<Outcome, FieldError> {
        let field = |key: &str| format!("{error_prefix}.{key}");
        let read_text = |key: &str| -> Result<Option<String>, FieldError> {
            match error_information {
                None => Ok(None),
                Some(info) => text_at(info.raw(key), &field(key), usize::MAX),
            }
        };
        let class = read_text("error_class")?;
        let message = read_text("error_message")?.or_else(|| error_str.map(str::to_owned));
        let code = error_information
            .and_then(|info| info.present("error_code"))
            .and_then(stringify_scalar)
            .map(|code| code.trim().to_owned())
            .filter(|code| !code.is_empty());

        let failed = match json::opt_str(status, status_field)?.as_deref() {
            None => class.is_some() || code.is_some(),
            Some(text) if text.eq_ignore_ascii_case("success") => false,
            Some(text) if text.eq_ignore_ascii_case("failure") => true,
            Some(other) => {
                return Err(FieldError::invalid_value(
                    status_field,
                    format!("expected `success` or `failure`, got `{}`", excerpt(other)),
                ));
            }
        };
        if !failed {
            return Ok(Outcome {
                status_code: 200,
                error_type: None,
                failed,
            });
        }

        // `error_class` may be module-qualified (`litellm.exceptions.RateLimitError`).
        let class = class
            .as_deref()
            .map(|class| class.rsplit('.').next().unwrap_or(class));
        let status_code = match code.as_deref().map(str::parse::<u64>) {
            Some(Ok(code)) => http_status(code, &field("error_code"))?,
            _ => status_of_class(class),
        };
        let budget = error_information.is_some_and(has_budget_details);
        let error_type = error_type_of(class, message.as_deref(), budget, status_code);
        Ok(Outcome {
            status_code,
            error_type: Some(error_type),
            failed,
        })
    }
}

/// Newer releases fill `error_budget_*` when a rate-limit error is really a spent budget.
fn has_budget_details(info: &Obj<'_>) -> bool {
    info.entries().any(|(key, raw)| {
        key.starts_with("error_budget_")
            && match Kind::of(raw) {
                Kind::Null => false,
                Kind::String => json::decode_str(raw).is_some_and(|text| !text.trim().is_empty()),
                _ => true,
            }
    })
}

/// The status LiteLLM's exception classes carry, for failures logged without a numeric code.
fn status_of_class(class: Option<&str>) -> u16 {
    match class {
        Some("RateLimitError") => 429,
        Some("Timeout" | "APITimeoutError") => 408,
        Some("AuthenticationError") => 401,
        Some("PermissionDeniedError") => 403,
        Some("NotFoundError") => 404,
        Some(
            "BadRequestError"
            | "ContextWindowExceededError"
            | "ContentPolicyViolationError"
            | "BudgetExceededError"
            | "UnsupportedParamsError",
        ) => 400,
        Some("UnprocessableEntityError") => 422,
        Some("ServiceUnavailableError") => 503,
        _ => 500,
    }
}

/// Specific exception classes decide; generic ones are refined from the class name and the error
/// text, then from the status. A failure whose status is not an error status is `unknown`.
fn error_type_of(class: Option<&str>, message: Option<&str>, budget: bool, status_code: u16) -> ErrorType {
    let specific = match class {
        Some("RateLimitError") | None if budget => Some(ErrorType::BudgetExceeded),
        Some("BudgetExceededError") => Some(ErrorType::BudgetExceeded),
        Some("RateLimitError") => Some(ErrorType::RateLimit),
        Some("Timeout" | "APITimeoutError") => Some(ErrorType::Timeout),
        Some("ContentPolicyViolationError") => Some(ErrorType::ContentFilter),
        Some("ContextWindowExceededError") => Some(ErrorType::ContextLength),
        Some("AuthenticationError" | "PermissionDeniedError") => Some(ErrorType::Auth),
        Some("NotFoundError") => Some(ErrorType::NotFound),
        Some("ServiceUnavailableError") => Some(ErrorType::Overloaded),
        _ => None,
    };
    specific
        .or_else(|| class.and_then(refine_error_type))
        .or_else(|| message.and_then(refine_error_type))
        .or_else(|| ErrorType::from_status(status_code))
        .unwrap_or(ErrorType::Unknown)
}
