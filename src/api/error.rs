//! The one place errors become HTTP. [`ApiError`] maps every failure to a status and a stable
//! `snake_case` code in one exhaustive `match`; the body is always
//! `{"error": {"code", "message", "details"}}`. Codes are part of the API and never change.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::Value as Json;

use crate::ingest::IngestError;
use crate::pricing::PricingError;
use crate::reports::ReportError;
use crate::sql::SqlError;
use crate::store::StoreError;
use crate::store::writer::error_chain;

/// Every failure a request can end in.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is empty")]
    EmptyBody,
    #[error("{0}")]
    InvalidJson(String),
    #[error("the body is not valid UTF-8")]
    InvalidUtf8,
    #[error("{0}")]
    UnknownFormat(String),
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    #[error(
        "unsupported content type `{0}`; send application/json or application/x-ndjson (with curl: -H 'Content-Type: application/x-ndjson' --data-binary @FILE)"
    )]
    UnsupportedMediaType(String),
    #[error("unsupported content encoding `{0}`; send gzip, zstd or identity")]
    UnsupportedEncoding(String),
    #[error("{0}")]
    BadEncoding(String),
    #[error("parameter `{parameter}`: {reason}")]
    InvalidParameter { parameter: String, reason: String },
    #[error("{0}")]
    InvalidPrice(String),
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("the ledger is busy writing; retry shortly")]
    WriterBusy,
    #[error("the lake cannot be written: {0}")]
    LakeUnavailable(String),
    #[error("the request took longer than {seconds} s")]
    Timeout { seconds: u64 },
    #[error("{construct} is not allowed: {reason}")]
    SqlNotAllowed { construct: String, reason: String },
    #[error("{0}")]
    SqlInvalid(String),
    #[error("the query ran longer than {timeout_ms} ms and was stopped")]
    QueryTimeout { timeout_ms: u64 },
    #[error("{limit} ad-hoc SQL queries are already running; retry shortly")]
    SqlBusy { limit: usize },
    #[error("the query needed more than {limit_bytes} bytes of memory and was stopped")]
    QueryMemoryLimit { limit_bytes: u64 },
    #[error(
        "the database ran out of memory answering this request ({0}); narrow the request or raise `memory_limit`"
    )]
    OutOfMemory(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{reason}")]
    Forbidden { reason: String },
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status and stable code of each variant.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::EmptyBody => (StatusCode::BAD_REQUEST, "empty_body"),
            ApiError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::InvalidUtf8 => (StatusCode::BAD_REQUEST, "invalid_utf8"),
            ApiError::UnknownFormat(_) => (StatusCode::BAD_REQUEST, "unknown_format"),
            ApiError::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::UnsupportedEncoding(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding"),
            ApiError::BadEncoding(_) => (StatusCode::BAD_REQUEST, "bad_encoding"),
            ApiError::InvalidParameter { .. } => (StatusCode::BAD_REQUEST, "invalid_parameter"),
            ApiError::InvalidPrice(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_price"),
            ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::WriterBusy => (StatusCode::SERVICE_UNAVAILABLE, "writer_busy"),
            ApiError::LakeUnavailable(_) => (StatusCode::CONFLICT, "lake_unavailable"),
            ApiError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            ApiError::SqlNotAllowed { .. } => (StatusCode::FORBIDDEN, "sql_not_allowed"),
            ApiError::SqlInvalid(_) => (StatusCode::BAD_REQUEST, "sql_invalid"),
            ApiError::QueryTimeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "query_timeout"),
            ApiError::SqlBusy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "sql_busy"),
            ApiError::QueryMemoryLimit { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "query_memory_limit"),
            ApiError::OutOfMemory(_) => (StatusCode::SERVICE_UNAVAILABLE, "out_of_memory"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    fn details(&self) -> Json {
        match self {
            ApiError::PayloadTooLarge { limit } => serde_json::json!({ "limit_bytes": limit }),
            ApiError::InvalidParameter { parameter, .. } => serde_json::json!({ "parameter": parameter }),
            ApiError::Timeout { seconds } => serde_json::json!({ "timeout_seconds": seconds }),
            ApiError::SqlNotAllowed { construct, reason } => {
                serde_json::json!({ "construct": construct, "reason": reason })
            }
            ApiError::QueryTimeout { timeout_ms } => serde_json::json!({ "timeout_ms": timeout_ms }),
            ApiError::SqlBusy { limit } => serde_json::json!({ "max_concurrent": limit }),
            ApiError::QueryMemoryLimit { limit_bytes } => serde_json::json!({ "limit_bytes": limit_bytes }),
            _ => Json::Null,
        }
    }

    /// All stable codes, for the OpenAPI document and the tests.
    pub const CODES: &'static [&'static str] = &[
        "empty_body",
        "invalid_json",
        "invalid_utf8",
        "unknown_format",
        "payload_too_large",
        "unsupported_media_type",
        "unsupported_encoding",
        "bad_encoding",
        "invalid_parameter",
        "invalid_price",
        "not_found",
        "writer_busy",
        "lake_unavailable",
        "timeout",
        "sql_not_allowed",
        "sql_invalid",
        "query_timeout",
        "sql_busy",
        "query_memory_limit",
        "out_of_memory",
        "unauthorized",
        "forbidden",
        "internal",
    ];
}

/// The error body every failing request gets.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, in a stable code and a message for people.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code (`empty_body`, `invalid_json`, `unknown_format`, `payload_too_large`,
    /// `unsupported_media_type`, `unsupported_encoding`, `bad_encoding`, `invalid_parameter`,
    /// `invalid_price`, `not_found`, `writer_busy`, `lake_unavailable`, `timeout`, `sql_not_allowed`,
    /// `sql_invalid`, `query_timeout`, `sql_busy`, `query_memory_limit`, `out_of_memory`,
    /// `unauthorized`, `forbidden`, `internal`).
    #[schema(example = "invalid_parameter")]
    pub code: String,
    pub message: String,
    /// Structured context (`{"parameter": "tz"}`); null when there is none.
    #[schema(value_type = Object)]
    pub details: Json,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.status_and_code();
        let message = match self {
            ApiError::Internal(chain) => {
                tracing::error!(error = %chain, "request failed");
                "internal error; the server log has the details".to_owned()
            }
            other => {
                tracing::debug!(code, error = %other, "request refused");
                other.to_string()
            }
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message,
                details: self.details(),
            },
        };
        let mut response = HttpResponse::build(status).json(body);
        if matches!(self, ApiError::WriterBusy | ApiError::SqlBusy { .. }) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if matches!(self, ApiError::Unauthorized(_)) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"llm-ledger\""),
            );
        }
        response
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(error: crate::auth::AuthError) -> ApiError {
        match error {
            crate::auth::AuthError::Role { .. } => ApiError::Forbidden {
                reason: error.to_string(),
            },
            other => ApiError::Unauthorized(other.to_string()),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> ApiError {
        match error {
            IngestError::EmptyBody => ApiError::EmptyBody,
            IngestError::InvalidJson { reason } => ApiError::InvalidJson(reason),
            IngestError::InvalidUtf8 => ApiError::InvalidUtf8,
            IngestError::UnknownFormat { reason } => ApiError::UnknownFormat(reason),
            IngestError::PayloadTooLarge { limit } => ApiError::PayloadTooLarge { limit },
            error @ IngestError::BadEncoding { .. } => ApiError::BadEncoding(error.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::WriterBusy => ApiError::WriterBusy,
            other => ApiError::Internal(error_chain(&other)),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(error: ReportError) -> ApiError {
        match error {
            ReportError::InvalidParameter { parameter, reason } => {
                ApiError::InvalidParameter { parameter, reason }
            }
            ReportError::UnknownReport(name) => ApiError::NotFound {
                what: format!("report `{name}`"),
            },
            ReportError::Store(store) => ApiError::from(store),
            scoped @ ReportError::OutOfScope { .. } => ApiError::Forbidden {
                reason: scoped.to_string(),
            },
            ReportError::Query(error) if crate::store::is_out_of_memory(&error) => {
                ApiError::OutOfMemory(first_line(&error.to_string()))
            }
            other @ (ReportError::Query(_) | ReportError::Shape(_)) => {
                ApiError::Internal(error_chain(&other))
            }
        }
    }
}

impl From<SqlError> for ApiError {
    fn from(error: SqlError) -> ApiError {
        match error {
            SqlError::NotAllowed { construct, reason } => ApiError::SqlNotAllowed { construct, reason },
            SqlError::Invalid(message) => ApiError::SqlInvalid(message),
            SqlError::Timeout { limit } => ApiError::QueryTimeout {
                timeout_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
            },
            SqlError::Busy { limit } => ApiError::SqlBusy { limit },
            SqlError::MemoryLimit { limit_bytes } => ApiError::QueryMemoryLimit { limit_bytes },
            SqlError::OutOfMemory(message) => ApiError::OutOfMemory(first_line(&message)),
            other
            @ (SqlError::Output(_) | SqlError::Unsafe(_) | SqlError::Db { .. } | SqlError::Store(_)) => {
                ApiError::Internal(error_chain(&other))
            }
        }
    }
}

/// The first line of a DuckDB message (the rest lists DuckDB's tuning advice, not ours).
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().trim().to_owned()
}

impl From<PricingError> for ApiError {
    fn from(error: PricingError) -> ApiError {
        match error {
            PricingError::InvalidSpec { .. } | PricingError::InvalidFile { .. } => {
                ApiError::InvalidPrice(error.to_string())
            }
            other => ApiError::Internal(error_chain(&other)),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> ApiError {
        ApiError::Internal(format!("a blocking task failed: {error}"))
    }
}
