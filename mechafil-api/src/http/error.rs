//! [`ApiError`]: every failure the HTTP API can answer with, mapped to an honest status code
//! and one JSON shape, `{"error": message, "details": [{"field", "message"}]}`.
//!
//! Client mistakes carry a precise message. Internal failures answer with a generic message;
//! the cause goes to the log only, so a 500 never leaks internals.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mechafil_core::InvalidParams;
use serde::Serialize;

/// One problem with one request field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, e.g. `rr` or `scenarios[3].rbp`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 422: the request is malformed or its values are invalid.
    #[error("{message}")]
    Invalid {
        /// Summary.
        message: String,
        /// One entry per problem.
        details: Vec<FieldError>,
    },
    /// 413: the body exceeds the endpoint's size limit.
    #[error("request body larger than {limit} bytes, this endpoint's limit")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 413: the body holds more JSON values than the endpoint's limit (see `http::json`).
    #[error(
        "the request body holds more than {limit} JSON values (numbers, strings, keys, lists, objects), \
         this endpoint's limit"
    )]
    TooManyValues {
        /// The limit.
        limit: usize,
    },
    /// 408: the request body did not arrive in time.
    #[error("the request body did not arrive within {secs} s")]
    RequestTimeout {
        /// The time allowed, seconds.
        secs: u64,
    },
    /// 404: no such path.
    #[error("no endpoint at {0}; see / for the list")]
    NotFound(String),
    /// 405: the path exists but not for this method.
    #[error("method not allowed; see / for the endpoints and their methods")]
    MethodNotAllowed,
    /// 401: missing or wrong credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the operation is disabled.
    #[error("{0}")]
    Forbidden(String),
    /// 409: conflicts with an operation in progress.
    #[error("{0}")]
    Conflict(String),
    /// 409: the request pins a snapshot this machine does not hold (another replica may).
    #[error("this machine does not hold the snapshot {requested}; it holds {}", held_list(held))]
    SnapshotNotHeld {
        /// The pin as given.
        requested: String,
        /// What this machine can answer from (the `held` list of the body).
        held: Vec<super::pinning::HeldSnapshot>,
    },
    /// 429: too much work is queued; retry after the given delay.
    #[error("{message}")]
    TooManyRequests {
        /// What happened.
        message: String,
        /// Seconds to wait before retrying (the `Retry-After` header).
        retry_after_secs: u64,
    },
    /// 502: an upstream service (Spacescope) failed.
    #[error("{0}")]
    BadGateway(String),
    /// 503: nothing can be served right now.
    #[error("{0}")]
    Unavailable(String),
    /// 500: our own bug. The string is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    details: &'a [FieldError],
}

impl ApiError {
    /// A 422 with one field problem.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let detail = FieldError::new(field, message);
        ApiError::Invalid {
            message: format!("invalid {}: {}", detail.field, detail.message),
            details: vec![detail],
        }
    }

    /// A 422 for a list of field problems (non-empty).
    pub fn fields(details: Vec<FieldError>) -> Self {
        let message = match details.as_slice() {
            [one] => format!("invalid {}: {}", one.field, one.message),
            many => format!("{} invalid fields: {}", many.len(), field_names(many)),
        };
        ApiError::Invalid { message, details }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge { .. } | ApiError::TooManyValues { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) | ApiError::SnapshotNotHeld { .. } => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `details` array (empty for errors that are not about fields).
    pub fn details(&self) -> &[FieldError] {
        match self {
            ApiError::Invalid { details, .. } => details,
            _ => &[],
        }
    }
}

fn held_list(held: &[super::pinning::HeldSnapshot]) -> String {
    if held.is_empty() {
        return "none".into();
    }
    held.iter().map(|h| format!("{} ({})", h.snapshot_id, h.current_date)).collect::<Vec<_>>().join(", ")
}

fn field_names(details: &[FieldError]) -> String {
    details.iter().map(|d| d.field.as_str()).collect::<Vec<_>>().join(", ")
}

impl From<InvalidParams> for ApiError {
    fn from(err: InvalidParams) -> Self {
        ApiError::fields(
            err.errors.into_iter().map(|e| FieldError::new(e.param, e.problem.to_string())).collect(),
        )
    }
}

impl ApiError {
    /// The JSON body this error answers with.
    pub fn body(&self) -> serde_json::Value {
        let message = self.to_string();
        let mut body =
            serde_json::to_value(ErrorBody { error: &message, details: self.details() }).expect("plain data");
        if let ApiError::SnapshotNotHeld { held, .. } = self {
            body["held"] = serde_json::to_value(held).expect("plain data");
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let status = self.status();
        let mut response = (status, Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::TooManyRequests { retry_after_secs, .. } = &self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response
    }
}
