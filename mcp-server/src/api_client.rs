//! The HTTP client of the MechaFil API (`docs/API.md`): one shared `reqwest::Client`, a total
//! time budget per call, and retries with exponential backoff and jitter while the API wakes up.
//!
//! Why retries: the API runs on machines that scale to zero, so the first request after a quiet
//! spell may be refused (connection errors) or answered 502/503/504 by the proxy while the
//! machine starts. Those are retried until the budget (25 s by default, well under Claude's tool
//! timeout) runs out; every other answer is final. A 4xx keeps the API's own `error`/`details`
//! message, because that message is what tells Claude how to fix its arguments.
//!
//! The client itself is built on first use, not at startup: building it loads TLS roots, and
//! the stdio server must answer `initialize` within milliseconds of its start.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Largest API answer read: the analyses' answers are bounded by the tools (see
/// `tools::analysis::common::MAX_ANSWER_VALUES`); anything larger is a mistake, not a reason
/// to hold tens of megabytes.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Attempts of a request pinned to a snapshot that the answering machine does not hold (409):
/// with several replicas behind a balancer, another attempt may reach one that holds it.
const NOT_HELD_ATTEMPTS: u32 = 4;

/// Time kept for the last attempt at the end of the budget.
const LAST_ATTEMPT_MARGIN: Duration = Duration::from_millis(100);

/// How long one API call may take in all, and how retries are spaced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Total time for one call, attempts and waits included.
    pub budget: Duration,
    /// Longest wait for a TCP connection in one attempt.
    pub connect_timeout: Duration,
    /// Wait before the second attempt; doubles after each further attempt.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            budget: Duration::from_secs(25),
            connect_timeout: Duration::from_secs(3),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based), given a uniform random number
    /// `unit_random` in `[0, 1)`.
    ///
    /// "Equal jitter": half of the exponential step is fixed and half random, so waits still
    /// grow while clients that failed together do not retry together.
    pub fn backoff(&self, attempt: u32, unit_random: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let step = self.initial_backoff.saturating_mul(1 << exponent).min(self.max_backoff);
        step / 2 + step.mul_f64(unit_random.clamp(0.0, 1.0) / 2.0)
    }
}

/// One problem the API reported about a field of the request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FieldProblem {
    /// The request field, e.g. `"rbp"`.
    #[serde(default)]
    pub field: String,
    /// What is wrong with it.
    #[serde(default)]
    pub message: String,
}

/// Why an API call failed. `Display` is the message shown to Claude as the tool error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No connection could be made during the whole budget.
    #[error(
        "could not reach the MechaFil API at {url} ({cause}) after {attempts} attempt(s) in {secs:.1} s; \
         it may be starting up or down: try again in a minute"
    )]
    Unreachable {
        /// The API's base URL.
        url: String,
        /// The last connection error.
        cause: String,
        /// How many attempts were made.
        attempts: u32,
        /// Seconds spent.
        secs: f64,
    },
    /// The API (or its proxy) answered 502, 503 or 504 on every attempt of the budget.
    #[error(
        "the MechaFil API at {url} is unavailable ({status}: {message}) after {attempts} attempt(s) in \
         {secs:.1} s; try again in a minute"
    )]
    Unavailable {
        /// The API's base URL.
        url: String,
        /// The last status.
        status: StatusCode,
        /// The last error message.
        message: String,
        /// How many attempts were made.
        attempts: u32,
        /// Seconds spent.
        secs: f64,
    },
    /// The API answered with an error status that retrying will not change (4xx, 500).
    #[error("{}", rejection_message(*.status, .message, .details))]
    Rejected {
        /// The HTTP status.
        status: StatusCode,
        /// The API's `error` message.
        message: String,
        /// The API's per-field `details`.
        details: Vec<FieldProblem>,
    },
    /// A request pinned to a snapshot (the one an earlier request of the same tool call was
    /// answered from) reached machines that do not hold it, on every attempt: the API's
    /// replicas hold different snapshots while one refreshes.
    #[error(
        "the MechaFil API's machines do not all hold the same data snapshot right now ({message}) after \
         {attempts} attempt(s): one is probably refreshing its data; try again in a minute"
    )]
    SnapshotNotHeld {
        /// The API's `error` message (what it holds).
        message: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The budget ran out while waiting for an answer.
    #[error("the MechaFil API at {url} did not answer within {secs:.1} s")]
    Timeout {
        /// The API's base URL.
        url: String,
        /// Seconds spent.
        secs: f64,
    },
    /// The API answered 2xx with a body that is not the JSON this server expects.
    #[error("the MechaFil API sent an unexpected response: {0}")]
    InvalidResponse(String),
    /// The request could not be sent for another reason (e.g. the HTTP client failed to start).
    #[error("could not call the MechaFil API: {0}")]
    Transport(String),
}

fn rejection_message(status: StatusCode, message: &str, details: &[FieldProblem]) -> String {
    let who = if status.is_client_error() { "rejected the request" } else { "failed" };
    let mut text = format!("the MechaFil API {who} ({status}): {message}");
    for (i, problem) in details.iter().enumerate() {
        text.push_str(if i == 0 { " — " } else { "; " });
        if problem.field.is_empty() {
            text.push_str(&problem.message);
        } else {
            text.push_str(&format!("{}: {}", problem.field, problem.message));
        }
    }
    text
}

/// `MECHAFIL_SERVER_URL` is not an http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MechaFil API URL {url:?}: {reason}")]
pub struct InvalidApiUrl {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The error body every API error carries (`docs/API.md`, "Errors").
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    details: Vec<FieldProblem>,
    /// Present in a 409 to a pinned request: the snapshots the answering machine holds.
    #[serde(default)]
    held: Option<serde_json::Value>,
}

/// The MechaFil API, as seen from this server. Cheap to clone; clones share one connection pool.
#[derive(Debug, Clone)]
pub struct ApiClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    base_url: Url,
    policy: RetryPolicy,
    http: OnceLock<reqwest::Client>,
}

/// What went wrong in one attempt, and whether another attempt may help.
enum Attempt {
    Done(Result<Bytes, ApiError>),
    Retry(RetryCause),
}

enum RetryCause {
    Connect(String),
    Status(StatusCode, String),
    /// 409 to a pinned request: this machine does not hold the snapshot (another may).
    NotHeld(String),
}

impl ApiClient {
    /// A client of the API at `base_url` (e.g. `http://localhost:8000`).
    pub fn new(base_url: &str, policy: RetryPolicy) -> Result<Self, InvalidApiUrl> {
        let invalid = |reason: String| InvalidApiUrl { url: base_url.to_string(), reason };
        let mut base_url = Url::parse(base_url).map_err(|err| invalid(err.to_string()))?;
        if !matches!(base_url.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https".into()));
        }
        // Url::join drops the last path segment unless the base ends with '/', which would lose
        // a path prefix such as `https://host/mechafil`.
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        Ok(ApiClient { inner: Arc::new(Inner { base_url, policy, http: OnceLock::new() }) })
    }

    /// The API's base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The retry policy in force.
    pub fn policy(&self) -> RetryPolicy {
        self.inner.policy
    }

    fn http(&self) -> Result<&reqwest::Client, ApiError> {
        if let Some(client) = self.inner.http.get() {
            return Ok(client);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(self.inner.policy.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("mechafil-mcp/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| ApiError::Transport(format!("{err:#}")))?;
        // Two first calls may race to build a client; either one is fine.
        Ok(self.inner.http.get_or_init(|| client))
    }

    fn url(&self, path: &str) -> Result<Url, ApiError> {
        self.inner
            .base_url
            .join(path.trim_start_matches('/'))
            .map_err(|err| ApiError::Transport(format!("bad API path {path:?}: {err}")))
    }

    /// `GET path?query` and the JSON answer read as `T`, with retries.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let mut url = self.url(path)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(key, value)| (*key, value.as_str())));
        }
        let http = self.http()?;
        let body = self.call(|| http.get(url.clone())).await?;
        parse_answer(path, &body)
    }

    /// `POST path` with a JSON body and the JSON answer read as `T`, with retries. Only for
    /// requests that may safely run twice (every MechaFil API call but the admin update).
    ///
    /// The answer is read straight into `T` (typed series, not a `serde_json::Value` tree),
    /// which keeps a large answer's memory close to its numbers' size.
    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, ApiError> {
        let url = self.url(path)?;
        let http = self.http()?;
        let body = serde_json::to_vec(body)
            .map_err(|err| ApiError::Transport(format!("cannot encode the request: {err}")))?;
        let body = Bytes::from(body);
        let answer = self
            .call(|| {
                http.post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        parse_answer(path, &answer)
    }

    /// Sends one `GET /health` without waiting for it, so a sleeping API starts waking while
    /// Claude reads the context document. Its answer does not matter.
    pub fn warm_up(&self) {
        let client = self.clone();
        tokio::spawn(async move {
            let result = client.call_once_for_warm_up().await;
            tracing::debug!(ok = result.is_ok(), "API warm-up request finished");
        });
    }

    async fn call_once_for_warm_up(&self) -> Result<(), ApiError> {
        let url = self.url("health")?;
        let http = self.http()?;
        http.get(url)
            .timeout(self.inner.policy.budget)
            .send()
            .await
            .map_err(|err| ApiError::Transport(err.to_string()))?;
        Ok(())
    }

    async fn call(&self, request: impl Fn() -> reqwest::RequestBuilder) -> Result<Bytes, ApiError> {
        let policy = self.inner.policy;
        let started = Instant::now();
        let deadline = started + policy.budget;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let cause = match self.attempt(request().timeout(remaining), started).await {
                Attempt::Done(result) => return result,
                Attempt::Retry(RetryCause::NotHeld(message)) if attempts >= NOT_HELD_ATTEMPTS => {
                    return Err(ApiError::SnapshotNotHeld { message, attempts });
                }
                Attempt::Retry(cause) => cause,
            };
            // The last wait is shortened so one more attempt fits just before the deadline: a
            // waking API gets the whole budget. Below that margin there is no time left to try.
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining <= LAST_ATTEMPT_MARGIN {
                return Err(self.gave_up(cause, attempts, started.elapsed()));
            }
            let wait = policy.backoff(attempts, fastrand::f64()).min(remaining - LAST_ATTEMPT_MARGIN);
            match &cause {
                RetryCause::Connect(err) => {
                    tracing::info!(attempts, ?wait, "API unreachable ({err}); retrying")
                }
                RetryCause::Status(status, _) => {
                    tracing::info!(attempts, ?wait, %status, "API unavailable; retrying")
                }
                RetryCause::NotHeld(message) => {
                    tracing::info!(
                        attempts,
                        ?wait,
                        "the answering machine lacks the pinned snapshot ({message}); retrying"
                    )
                }
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(&self, request: reqwest::RequestBuilder, started: Instant) -> Attempt {
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(err) if err.is_timeout() => return self.timed_out(started),
            // Refused, reset or closed before an answer: the machine is starting or restarting.
            Err(err) if err.is_connect() || err.is_request() => {
                tracing::debug!("API request failed: {err:?}");
                return Attempt::Retry(RetryCause::Connect(root_cause(&err)));
            }
            Err(err) => return Attempt::Done(Err(ApiError::Transport(root_cause(&err)))),
        };
        let status = response.status();
        if response.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
            return Attempt::Done(Err(ApiError::InvalidResponse(format!(
                "an answer over {MAX_ANSWER_BYTES} bytes"
            ))));
        }
        // Read in chunks so an oversized answer is dropped at the limit, not after it arrived.
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() > MAX_ANSWER_BYTES => {
                    return Attempt::Done(Err(ApiError::InvalidResponse(format!(
                        "an answer over {MAX_ANSWER_BYTES} bytes"
                    ))));
                }
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(err) if err.is_timeout() => return self.timed_out(started),
                Err(err) => return Attempt::Retry(RetryCause::Connect(root_cause(&err))),
            }
        }
        let body = Bytes::from(body);
        if status.is_success() {
            return Attempt::Done(Ok(body));
        }
        let error_body: ErrorBody = serde_json::from_slice(&body).unwrap_or_default();
        let message = error_body.error.unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&body);
            let text = text.trim();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                clip(text, 300)
            }
        });
        // 502/503/504: the API (or its proxy) is waking up; 429: its queue of CPU work is full
        // for now (`docs/API.md`, "Budget"). Both pass with time.
        if matches!(
            status,
            StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
                | StatusCode::TOO_MANY_REQUESTS
        ) {
            return Attempt::Retry(RetryCause::Status(status, message));
        }
        // A pinned snapshot this machine lacks: another replica may hold it (docs/API.md).
        if status == StatusCode::CONFLICT && error_body.held.is_some() {
            return Attempt::Retry(RetryCause::NotHeld(message));
        }
        Attempt::Done(Err(ApiError::Rejected { status, message, details: error_body.details }))
    }

    /// The budget ran out during an attempt: the API is up but slow, so retrying cannot help.
    fn timed_out(&self, started: Instant) -> Attempt {
        Attempt::Done(Err(ApiError::Timeout {
            url: self.inner.base_url.to_string(),
            secs: started.elapsed().as_secs_f64(),
        }))
    }

    fn gave_up(&self, cause: RetryCause, attempts: u32, elapsed: Duration) -> ApiError {
        let url = self.inner.base_url.to_string();
        let secs = elapsed.as_secs_f64();
        match cause {
            RetryCause::Connect(cause) => ApiError::Unreachable { url, cause, attempts, secs },
            RetryCause::Status(status, message) => {
                ApiError::Unavailable { url, status, message, attempts, secs }
            }
            RetryCause::NotHeld(message) => ApiError::SnapshotNotHeld { message, attempts },
        }
    }
}

/// A successful answer of `path` read as `T`.
fn parse_answer<T: DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|err| {
        ApiError::InvalidResponse(format!(
            "/{} answered with a body this server cannot read ({err})",
            path.trim_start_matches('/')
        ))
    })
}

/// The innermost cause of an error ("Connection refused (os error 111)"): reqwest's own message
/// is "error sending request for url (...)", and the useful part is at the end of the chain.
fn root_cause(err: &dyn std::error::Error) -> String {
    let mut cause = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let policy = RetryPolicy::default();
        let low: Vec<_> = (1..=7).map(|n| policy.backoff(n, 0.0).as_millis()).collect();
        let high: Vec<_> = (1..=7).map(|n| policy.backoff(n, 0.999_999).as_millis()).collect();
        assert_eq!(low, [125, 250, 500, 1000, 2000, 2000, 2000]);
        assert_eq!(high, [249, 499, 999, 1999, 3999, 3999, 3999]);
        // Huge attempt numbers must not overflow.
        assert_eq!(policy.backoff(u32::MAX, 0.0), Duration::from_secs(2));
    }

    #[test]
    fn base_url_keeps_its_path_prefix() {
        let client = ApiClient::new("https://example.org/mechafil", RetryPolicy::default()).unwrap();
        assert_eq!(client.url("/simulate").unwrap().as_str(), "https://example.org/mechafil/simulate");
        let client = ApiClient::new("http://localhost:8000", RetryPolicy::default()).unwrap();
        assert_eq!(client.url("historical-data").unwrap().as_str(), "http://localhost:8000/historical-data");
        assert!(ApiClient::new("not a url", RetryPolicy::default()).is_err());
        assert!(ApiClient::new("ftp://example.org", RetryPolicy::default()).is_err());
    }

    #[test]
    fn rejections_carry_the_api_message_and_details() {
        let err = ApiError::Rejected {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "invalid input".into(),
            details: vec![
                FieldProblem { field: "rbp".into(), message: "must be >= 0".into() },
                FieldProblem { field: String::new(), message: "also this".into() },
            ],
        };
        assert_eq!(
            err.to_string(),
            "the MechaFil API rejected the request (422 Unprocessable Entity): invalid input — rbp: must be >= 0; also this"
        );
    }

    #[tokio::test]
    async fn a_closed_port_gives_unreachable_within_the_budget() {
        // Bind then drop a listener so the port is (almost certainly) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let policy = RetryPolicy {
            budget: Duration::from_millis(600),
            initial_backoff: Duration::from_millis(50),
            ..RetryPolicy::default()
        };
        let client = ApiClient::new(&format!("http://127.0.0.1:{port}"), policy).unwrap();
        let started = Instant::now();
        let err = client.get::<serde_json::Value>("health", &[]).await.unwrap_err();
        // The whole budget is used (the last attempt comes just before its end), and no more.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(2), "{elapsed:?}");
        match &err {
            ApiError::Unreachable { attempts, .. } => assert!(*attempts >= 2, "{err}"),
            other => panic!("expected Unreachable, got {other:?}"),
        }
        assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
    }
}
