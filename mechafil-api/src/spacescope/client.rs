//! [`SpacescopeClient`]: one shared `reqwest::Client` with explicit timeouts, a semaphore that
//! bounds the requests in flight, retries with exponential backoff and jitter (timeouts,
//! connection failures, 429, 5xx), and a per-fetch cache so no (path, query) is asked twice.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::try_join_all;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use tokio::sync::Semaphore;

use super::config::SpacescopeConfig;
use super::dates::{DateRange, chunks};
use super::error::{Endpoint, FetchError, RequestTarget};

/// A response body, shared between the cache and its users.
pub type Body = Arc<[u8]>;

/// A Spacescope client for one fetch: owns the HTTP connection pool and the response cache.
pub struct SpacescopeClient {
    http: reqwest::Client,
    config: SpacescopeConfig,
    authorization: HeaderValue,
    permits: Semaphore,
    /// Bodies of successful requests by `path?query`. A fetch asks for ~65 distinct requests;
    /// the cache makes the step-back and any overlap between query sets free.
    cache: Mutex<HashMap<String, Body>>,
}

/// The outcome of one attempt, before deciding whether to retry.
enum Attempt {
    Done(Body),
    Retry { error: FetchError, retry_after: Option<Duration> },
    Fail(FetchError),
}

impl SpacescopeClient {
    /// Builds the HTTP client (TLS roots, timeouts) for `config`.
    pub fn new(config: &SpacescopeConfig) -> Result<SpacescopeClient, FetchError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("mechafil-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(FetchError::Client)?;
        let mut authorization = HeaderValue::from_str(config.authorization()).map_err(|_| {
            FetchError::Options("the Spacescope token contains characters not allowed in a header".into())
        })?;
        // Keeps the value out of reqwest's own Debug output.
        authorization.set_sensitive(true);
        Ok(SpacescopeClient {
            http,
            config: config.clone(),
            authorization,
            permits: Semaphore::new(config.concurrency.max(1)),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Fetches every query chunk of `range` (DATA.md chunking), concurrently within the
    /// client's bound, and returns the bodies paired with their chunk, in chunk order.
    pub async fn get_chunks(
        &self,
        endpoint: Endpoint,
        range: DateRange,
    ) -> Result<Vec<(DateRange, Body)>, FetchError> {
        try_join_all(chunks(range).into_iter().map(|chunk| async move {
            let body = self.get(RequestTarget { endpoint, range: Some(chunk) }).await?;
            Ok::<_, FetchError>((chunk, body))
        }))
        .await
    }

    /// One GET, from the cache when it was already answered, else with retries.
    pub async fn get(&self, target: RequestTarget) -> Result<Body, FetchError> {
        let key = match target.range {
            Some(range) => format!("{}?{}", target.endpoint.path(), range.query_string()),
            None => target.endpoint.path().to_string(),
        };
        if let Some(body) = self.cache.lock().expect("cache lock").get(&key) {
            return Ok(body.clone());
        }
        let url = format!("{}{}", self.config.base_url, key);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = {
                // Hold a permit only while the request is in flight, not while backing off.
                let _permit = self.permits.acquire().await.expect("semaphore never closed");
                self.attempt(&url, target, attempt).await
            };
            match outcome {
                Attempt::Done(body) => {
                    self.cache.lock().expect("cache lock").insert(key, body.clone());
                    return Ok(body);
                }
                Attempt::Retry { error, retry_after } if attempt <= self.config.max_retries => {
                    let pause = self.backoff(attempt, retry_after);
                    tracing::warn!(%target, attempt, pause_ms = pause.as_millis() as u64, %error, "retrying");
                    tokio::time::sleep(pause).await;
                }
                Attempt::Retry { error, .. } | Attempt::Fail(error) => return Err(error),
            }
        }
    }

    async fn attempt(&self, url: &str, target: RequestTarget, attempt: u32) -> Attempt {
        let transport = |source: reqwest::Error| {
            let kind = if source.is_timeout() {
                "timed out"
            } else if source.is_connect() {
                "connection failed"
            } else {
                "transport error"
            };
            // Transport failures are transient by nature: always worth another attempt.
            Attempt::Retry {
                error: FetchError::Transport { target, attempts: attempt, kind, source },
                retry_after: None,
            }
        };
        let response = match self.http.get(url).header(AUTHORIZATION, self.authorization.clone()).send().await
        {
            Ok(response) => response,
            Err(e) => return transport(e),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => return transport(e),
        };
        if status.is_success() {
            return Attempt::Done(Arc::from(&body[..]));
        }
        let message = error_message(&body);
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Attempt::Fail(FetchError::Unauthorized { target, status: status.as_u16(), message });
        }
        let error = FetchError::Status { target, status: status.as_u16(), attempts: attempt, message };
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Attempt::Retry { error, retry_after }
        } else {
            Attempt::Fail(error)
        }
    }

    /// `retry_base * 2^(attempt-1)`, scaled by a random factor in [0.5, 1) so that parallel
    /// requests that failed together do not retry together; at least the server's
    /// `Retry-After`; never more than `max_backoff`.
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.config.retry_base.saturating_mul(1u32 << (attempt - 1).min(16));
        let jittered = exp.mul_f64(0.5 + 0.5 * unit_random());
        jittered.max(retry_after.unwrap_or_default()).min(self.config.max_backoff)
    }
}

/// A number in [0, 1) from the standard library's randomly seeded hasher: enough for jitter,
/// without a dependency on an RNG crate.
fn unit_random() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The envelope's `message`, else the start of the body, for error reports.
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorEnvelope {
        message: Option<String>,
    }
    if let Ok(ErrorEnvelope { message: Some(m) }) = serde_json::from_slice::<ErrorEnvelope>(body) {
        return m;
    }
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(200);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if text.is_empty() { "(empty body)".to_string() } else { text[..end].to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let mut config = SpacescopeConfig::new("http://127.0.0.1:1", "t").unwrap();
        config.retry_base = Duration::from_millis(100);
        config.max_backoff = Duration::from_millis(1000);
        let client = SpacescopeClient::new(&config).unwrap();
        for attempt in 1..=3u32 {
            let nominal = 100.0 * f64::from(1u32 << (attempt - 1));
            let pause = client.backoff(attempt, None).as_secs_f64() * 1000.0;
            assert!(pause >= nominal * 0.5 && pause < nominal, "attempt {attempt}: {pause}");
        }
        assert_eq!(client.backoff(10, None), Duration::from_millis(1000));
        assert_eq!(client.backoff(1, Some(Duration::from_millis(700))), Duration::from_millis(700));
    }

    #[test]
    fn error_message_prefers_the_envelope() {
        assert_eq!(error_message(br#"{"code":500,"message":"boom","data":null}"#), "boom");
        assert_eq!(error_message(b"<html>bad gateway</html>"), "<html>bad gateway</html>");
        assert_eq!(error_message(b""), "(empty body)");
    }
}
