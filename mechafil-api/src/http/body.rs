//! [`JsonObject`]: the body extractor of every POST endpoint, and the limits that bound what a
//! request body can cost before any work starts.
//!
//! - **Two classes of body** ([`BodyClass`]): ordinary bodies (`/simulate`, `/simulate/full`,
//!   and any other POST) up to [`BODY_LIMIT`] bytes and [`MAX_VALUES`] JSON values; large ones
//!   (`/simulate/batch`, `/analyze/*`) up to [`LARGE_BODY_LIMIT`] bytes and [`LARGE_MAX_VALUES`]
//!   values. Bytes are counted while the body arrives (a declared `Content-Length` over the
//!   limit is refused before reading), values while it is parsed ([`super::json`]), so neither
//!   the buffer nor the tree can grow past its class's bound.
//! - **Few large bodies at a time** ([`LargeRequests`]): at most [`LARGE_REQUESTS_IN_FLIGHT`]
//!   large requests are read, parsed, computed and answered at once, from the first byte read
//!   until the last byte of the answer is handed to the connection (a 1000-scenario answer is
//!   tens of MB); up to [`LARGE_REQUESTS_QUEUED`] more wait without their bodies being read,
//!   later ones get 429 with `Retry-After`.
//! - **A deadline** ([`BodyDeadline`]): the whole body must arrive within
//!   [`BODY_READ_TIMEOUT`] of the request head (408 otherwise), so a client that trickles a
//!   body cannot hold its buffer for long.
//! - Bodies over 64 KiB are parsed as a job of the CPU budget, not on an async worker.
//!
//! Every way a body can be wrong becomes our JSON error shape (`ApiError`), never axum's
//! plain-text rejections. Any `Content-Type` is accepted: `curl -d` sends a form type.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRef, FromRequest, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use serde_json::{Map, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::error::ApiError;
use super::json::{JsonError, ParseLimits, parse_object};
use super::pinning::RequestDigest;
use super::state::AppState;

/// Largest ordinary body, bytes: six series parameters of 7300 days written with 17
/// significant digits and some indentation (~1.1 MB) fit twice over.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// Most JSON values in an ordinary body: six series of 7300 days are 43,800 numbers. At 72
/// bytes a value, the tree stays under ~5 MB.
pub const MAX_VALUES: usize = 65_536;
/// Largest body of `/simulate/batch` and `/analyze/*`, bytes.
pub const LARGE_BODY_LIMIT: usize = 8 * 1024 * 1024;
/// Most JSON values in a large body: a sweep axis of 100,000 values, or 1000 scenarios of a
/// hundred values each. A parsed value costs 72 bytes (`serde_json::Value` with
/// `preserve_order`), so the tree of a large body stays under ~10 MB.
pub const LARGE_MAX_VALUES: usize = 131_072;
/// Large requests handled at once (reading, parsing, computing, answering).
pub const LARGE_REQUESTS_IN_FLIGHT: usize = 2;
/// Large requests that may wait for their turn before new ones are refused with 429.
pub const LARGE_REQUESTS_QUEUED: usize = 16;
/// Time from a request's head to the last byte of its body.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Bodies up to this size are parsed in place (well under a millisecond); larger ones as a job
/// of the CPU budget, so a multi-megabyte parse never runs on an async worker.
const INLINE_PARSE_BYTES: usize = 64 * 1024;

/// A request body parsed as a JSON object (an empty body is `{}`), and the digest of the request
/// it came with (for the answer's `ETag`, see [`super::pinning`]).
pub struct JsonObject(pub Map<String, Value>, pub RequestDigest);

/// Which limits a request's body is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyClass {
    /// [`BODY_LIMIT`] bytes, [`MAX_VALUES`] values.
    Ordinary,
    /// [`LARGE_BODY_LIMIT`] bytes, [`LARGE_MAX_VALUES`] values; admitted by [`LargeRequests`].
    Large,
}

impl BodyClass {
    /// The class of a POST to `path`.
    pub fn of_path(path: &str) -> BodyClass {
        if path == "/simulate/batch" || path.starts_with("/analyze/") {
            BodyClass::Large
        } else {
            BodyClass::Ordinary
        }
    }

    /// Most bytes.
    pub fn byte_limit(self) -> usize {
        match self {
            BodyClass::Ordinary => BODY_LIMIT,
            BodyClass::Large => LARGE_BODY_LIMIT,
        }
    }

    /// Most JSON values.
    pub fn parse_limits(self) -> ParseLimits {
        ParseLimits {
            max_values: match self {
                BodyClass::Ordinary => MAX_VALUES,
                BodyClass::Large => LARGE_MAX_VALUES,
            },
        }
    }
}

/// When the body must have arrived; a request extension set by the server loop
/// ([`super::server`]) from the moment the request head was read. Without it (a router called
/// directly) the deadline is [`BODY_READ_TIMEOUT`] from the start of extraction.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub Instant);

impl<S> FromRequest<S> for JsonObject
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let class = req.extensions().get::<BodyClass>().copied().unwrap_or(BodyClass::Ordinary);
        let deadline = req
            .extensions()
            .get::<BodyDeadline>()
            .map_or_else(|| Instant::now() + BODY_READ_TIMEOUT, |d| d.0);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let (method, uri) = (req.method().clone(), req.uri().clone());
        let bytes = read_body(req.into_body(), class.byte_limit(), declared, deadline).await?;
        let limits = class.parse_limits();
        let inline = bytes.len() <= INLINE_PARSE_BYTES;
        let parse = move || {
            let digest = RequestDigest::new(&method, &uri, &bytes);
            parse_object(&bytes, limits).map(|object| JsonObject(object, digest))
        };
        let parsed = if inline { parse() } else { AppState::from_ref(state).run_cpu(parse).await? };
        parsed.map_err(api_error)
    }
}

/// The API's answer to a body [`parse_object`] refused.
pub fn api_error(err: JsonError) -> ApiError {
    match err {
        JsonError::TooManyValues { limit } => ApiError::TooManyValues { limit },
        other => ApiError::field("body", other.to_string()),
    }
}

/// Reads the whole body, refusing it as soon as it is known to exceed `limit` bytes, and
/// failing with 408 at `deadline`.
async fn read_body(
    body: Body,
    limit: usize,
    declared: Option<u64>,
    deadline: Instant,
) -> Result<Vec<u8>, ApiError> {
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    // Sized by the declared length (within the limit) so the buffer is allocated once.
    let mut bytes = Vec::with_capacity(declared.map_or(0, |len| len as usize));
    let read = async {
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| ApiError::field("body", format!("could not read the request body: {e}")))?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > limit {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(())
    };
    match tokio::time::timeout_at(deadline, read).await {
        Ok(result) => result.map(|()| bytes),
        Err(_) => Err(ApiError::RequestTimeout { secs: BODY_READ_TIMEOUT.as_secs() }),
    }
}

/// The admission of large requests: [`LARGE_REQUESTS_IN_FLIGHT`] at a time, a bounded queue.
#[derive(Debug)]
pub struct LargeRequests {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    rejected: AtomicU64,
}

impl Default for LargeRequests {
    fn default() -> Self {
        LargeRequests::new(LARGE_REQUESTS_IN_FLIGHT)
    }
}

impl LargeRequests {
    /// `in_flight` large requests at a time.
    pub fn new(in_flight: usize) -> LargeRequests {
        LargeRequests {
            permits: Arc::new(Semaphore::new(in_flight.max(1))),
            waiting: AtomicUsize::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    /// Large requests waiting for their turn now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Large requests refused because the queue was full, since start.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    async fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= LARGE_REQUESTS_QUEUED {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::TooManyRequests {
                message: format!(
                    "the service is busy ({LARGE_REQUESTS_QUEUED} large requests are waiting); retry shortly"
                ),
                retry_after_secs: super::cpu::RETRY_AFTER_SECS,
            });
        }
        // Counted as waiting until the permit is granted or the request goes away.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _waiting = Waiting(&self.waiting);
        Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Unavailable("the service is shutting down".into()))
    }
}

/// Middleware: admits POSTs of the large class through [`LargeRequests`] and marks them
/// [`BodyClass::Large`] for [`JsonObject`]. The permit is released when the answer's body has
/// been handed over (or dropped), not when the handler returns.
pub async fn admit_large_bodies(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if request.method() != Method::POST || BodyClass::of_path(request.uri().path()) != BodyClass::Large {
        return next.run(request).await;
    }
    let permit = match state.large_requests().admit().await {
        Ok(permit) => permit,
        Err(err) => return err.into_response(),
    };
    request.extensions_mut().insert(BodyClass::Large);
    let (parts, body) = next.run(request).await.into_parts();
    let body = body.into_data_stream().map(move |chunk| {
        let _held_until_sent = &permit;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_paths_are_the_batch_and_the_analyses() {
        assert_eq!(BodyClass::of_path("/simulate/batch"), BodyClass::Large);
        assert_eq!(BodyClass::of_path("/analyze/sweep"), BodyClass::Large);
        assert_eq!(BodyClass::of_path("/simulate"), BodyClass::Ordinary);
        assert_eq!(BodyClass::of_path("/simulate/full"), BodyClass::Ordinary);
        assert_eq!(BodyClass::of_path("/analyzes"), BodyClass::Ordinary);
    }

    #[test]
    fn six_series_of_the_longest_forecast_fit_an_ordinary_body() {
        let series: Vec<String> = (0..mechafil_core::MAX_FORECAST_DAYS)
            .map(|i| format!("{:e}", -1.234_567_890_123_456_7e-7 * i as f64))
            .collect();
        let list = format!("[{}]", series.join(", "));
        let body = format!(
            "{{\"rbp\": {list}, \"rr\": {list}, \"fpr\": {list}, \"lock_target\": {list}, \
             \"fil_plus_m\": {list}, \"qa_renew_relative_multiplier\": {list}, \"output\": \"circ_supply\"}}"
        );
        assert!(body.len() < BODY_LIMIT / 2 + BODY_LIMIT / 4, "{} bytes", body.len());
        assert!(parse_object(body.as_bytes(), BodyClass::Ordinary.parse_limits()).is_ok());
    }

    #[tokio::test]
    async fn the_queue_of_large_requests_is_bounded() {
        let gate = Arc::new(LargeRequests::new(1));
        let held = gate.admit().await.unwrap();
        let mut waiters = Vec::new();
        for _ in 0..LARGE_REQUESTS_QUEUED {
            let g = Arc::clone(&gate);
            waiters.push(tokio::spawn(async move { g.admit().await.map(drop) }));
        }
        while gate.waiting() < LARGE_REQUESTS_QUEUED {
            tokio::task::yield_now().await;
        }
        let refused = gate.admit().await.unwrap_err();
        assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(gate.rejected_total(), 1);
        drop(held);
        for w in waiters {
            w.await.unwrap().unwrap();
        }
        assert_eq!(gate.waiting(), 0);
    }
}
