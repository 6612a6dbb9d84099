//! `ApiError`: every error a client can see, and the one place that maps each to an
//! HTTP status and the JSON body `{"error":{"code":...,"message":...,"field":...}}`
//! (docs/contract.md §6.1): `field` names the JSON path, query parameter or path
//! parameter at fault, whenever one is. Domain modules return their own small error enums; the `From` impls here turn
//! each into its status and code. Internal errors answer 500 with a generic message;
//! their cause chain goes to the log.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::content::fetch::FetchError;
use crate::content::StreamError;
use crate::log::{LogError, StoreError};
use crate::records::erasure::RegisterError;
use crate::records::tokens::TokenError;
use crate::statement::pii::PersonalData;
use crate::statement::request::RequestError;
use crate::statement::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request: bad JSON syntax, a bad query parameter, bad hex or base64.
    #[error("{message}")]
    BadRequest { code: &'static str, field: Option<String>, message: String },
    /// Well-formed JSON that does not satisfy the schema or a rule of a field.
    #[error("{message}")]
    Unprocessable { code: &'static str, field: Option<String>, message: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The path exists but does not serve this method; `allow` is the `Allow` value.
    #[error("{method} is not a method of {path}; it answers {allow}")]
    MethodNotAllowed { method: String, path: String, allow: String },
    /// The request clashes with what exists (a backup of that name).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The client stopped sending a request body part-way.
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests; retry after {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// A server the service was asked to fetch from failed (unreachable, broken answer).
    #[error("{message}")]
    BadGateway { code: &'static str, message: String },
    /// A server the service was asked to fetch from did not answer in time.
    #[error("{message}")]
    GatewayTimeout { code: &'static str, message: String },
    #[error("the service is temporarily unable to accept this request: {0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, field: None, message: message.into() }
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable { code, field: None, message: message.into() }
    }

    /// The same error, naming `field` (a JSON path, a query or path parameter) as the one
    /// at fault. Only `400` and `422` errors are about one field; any other is returned
    /// unchanged.
    #[must_use]
    pub fn with_field(self, field: impl Into<String>) -> Self {
        match self {
            Self::BadRequest { code, message, .. } => Self::BadRequest { code, field: Some(field.into()), message },
            Self::Unprocessable { code, message, .. } => {
                Self::Unprocessable { code, field: Some(field.into()), message }
            }
            other => other,
        }
    }

    /// The field at fault, if one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::BadRequest { field, .. } | Self::Unprocessable { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::BadGateway { code, .. }
            | Self::GatewayTimeout { code, .. } => code,
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::Gone(_) => "gone",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::RequestTimeout(_) => "request_timeout",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        let message = e.to_string();
        Self::Unprocessable { code: "invalid_field", field: Some(e.field), message }
    }
}

impl From<PersonalData> for ApiError {
    fn from(e: PersonalData) -> Self {
        let message = e.to_string();
        Self::Unprocessable { code: "personal_data", field: Some(e.field), message }
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Field(e) => e.into(),
            RequestError::PersonalData(e) => e.into(),
            RequestError::Content { field, message } => {
                Self::Unprocessable { code: "invalid_content", field: field.map(str::to_owned), message }
            }
            e @ RequestError::Base64(_) => {
                Self::bad_request("invalid_base64", e.to_string()).with_field("content_base64")
            }
        }
    }
}

impl From<FetchError> for ApiError {
    fn from(e: FetchError) -> Self {
        let message = e.to_string();
        // Every 422 here is about the URL the client sent: name it.
        let url = |code| Self::unprocessable(code, message.clone()).with_field("url");
        match e {
            FetchError::Disabled => url("url_disabled"),
            FetchError::InvalidUrl(_) => url("invalid_url"),
            FetchError::Forbidden(_) => url("url_forbidden"),
            FetchError::Unresolvable(_) => url("url_unresolvable"),
            FetchError::Status(_) => url("url_status"),
            FetchError::TooManyRedirects => url("url_redirects"),
            // The remote resource is too large, not this request: 422, not 413.
            FetchError::TooLarge { .. } => url("url_too_large"),
            FetchError::Unreachable(_) => Self::BadGateway { code: "url_unreachable", message },
            FetchError::Timeout(_) => Self::GatewayTimeout { code: "url_timeout", message },
        }
    }
}

/// An append to the log that failed. A leaf too long for a log entry is the request's
/// fault; anything else means the log cannot take appends now.
impl From<LogError> for ApiError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::LeafTooLarge { len } => Self::unprocessable(
                "statement_too_large",
                format!(
                    "the signed statement would be {len} bytes; a log entry holds at most {}: shorten the \
                     disclosure, model or other free-text fields",
                    crate::log::tiles::MAX_ENTRY_LEN
                ),
            ),
            e => Self::Unavailable(e.to_string()),
        }
    }
}

/// Storage: a backend that failed or cannot be reached (a database down, a conflict
/// that outlasted its retries) means the service cannot answer now (503); anything else
/// (damaged data, a missing capability) is a fault of this service (500).
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Backend { .. } | StoreError::Conflict(_) | StoreError::Leased => {
                Self::Unavailable(e.to_string())
            }
            e => Self::internal(e),
        }
    }
}

/// Tokens and the erasure register: as storage, and a damaged record is a fault (500).
impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Store(e) => e.into(),
            e => Self::internal(e),
        }
    }
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::Store(e) => e.into(),
            e => Self::internal(e),
        }
    }
}

/// A streamed body that could not be hashed to its end.
impl<E: std::fmt::Display> From<StreamError<E>> for ApiError {
    fn from(e: StreamError<E>) -> Self {
        match e {
            StreamError::TooLarge { max_bytes, .. } => Self::PayloadTooLarge(format!(
                "the body exceeds the {max_bytes} bytes this service accepts for a streamed upload (--max-upload-bytes)"
            )),
            StreamError::Source(e) => {
                Self::bad_request("incomplete_body", format!("the request body could not be read to its end: {e}"))
            }
            StreamError::Idle { idle, seen } => Self::RequestTimeout(format!(
                "the request body stopped after {seen} bytes: nothing arrived for {} s (--upload-idle-secs)",
                idle.as_secs()
            )),
            StreamError::Hasher(e) => Self::internal(anyhow::anyhow!("hashing a streamed body: {e}")),
            StreamError::Sink(e) => Self::internal(anyhow::anyhow!("spooling a streamed body: {e}")),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            Self::GatewayTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            Self::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "internal error; the operator's log has the details".to_owned()
            }
            other => other.to_string(),
        };
        let field = self.field();
        let mut resp = HttpResponse::build(self.status_code());
        if let Self::Unauthorized(_) = self {
            resp.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Self::MethodNotAllowed { allow, .. } = self {
            resp.insert_header((header::ALLOW, allow.as_str()));
        }
        if let Self::TooManyRequests { retry_after_secs } = self {
            resp.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        resp.json(Body { error: Inner { code: self.code(), message, field } })
    }
}
