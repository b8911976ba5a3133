//! [`JsonObject`]: the body extractor of every POST endpoint. It enforces the size limit and
//! turns every way a body can be wrong (too large, unreadable, malformed, not an object) into
//! our JSON error shape instead of axum's plain-text rejections.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::request::parse_json_object;

/// Largest request body accepted: 4 MiB, room for every series parameter at the maximum
/// forecast length several times over.
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// A request body parsed as a JSON object (an empty body is `{}`).
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > BODY_LIMIT as u64) {
            return Err(ApiError::PayloadTooLarge { limit: BODY_LIMIT });
        }
        let bytes = axum::body::to_bytes(Body::new(req.into_body()), BODY_LIMIT).await.map_err(|err| {
            // `to_bytes` fails with a length-limit error in its source chain when the body
            // (e.g. chunked, without Content-Length) grows past the limit.
            if std::error::Error::source(&err).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || err.to_string().contains("length limit")
            {
                ApiError::PayloadTooLarge { limit: BODY_LIMIT }
            } else {
                ApiError::field("body", format!("could not read the request body: {err}"))
            }
        })?;
        parse_json_object(&bytes).map(JsonObject)
    }
}
