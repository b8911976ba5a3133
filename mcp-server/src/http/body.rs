//! Reading a request body within bounds: a size limit, a deadline, and a permit for large or
//! value-heavy bodies, so that the memory of all requests in flight is bounded before any of
//! them is parsed.
//!
//! Most MCP requests are a few hundred bytes. A body up to [`HttpLimits::small_body_bytes`]
//! with at most [`HttpLimits::small_body_values`] JSON values is read and handled freely; a
//! larger one (a `simulate` with per-day lists, raw chart data) first takes one of
//! [`HttpLimits::max_large_requests`] permits, held until its answer has been sent, so at most
//! that many large bodies and their parsed trees are in memory at once. The others wait (within
//! the body deadline) or are told to retry.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::HttpLimits;

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Longer than [`HttpLimits::max_body_bytes`].
    #[error("the request body is over {0} bytes")]
    TooLarge(usize),
    /// Not complete within [`HttpLimits::body_timeout`].
    #[error("the request body did not arrive within {0:?}")]
    Timeout(std::time::Duration),
    /// No permit for a large body came free in time.
    #[error("too many large requests at once")]
    Busy,
    /// The connection failed while the body was read.
    #[error("the request body could not be read: {0}")]
    Read(String),
}

/// Takes a permit for a large request, waiting until `deadline`.
pub async fn large_permit(
    permits: &Arc<Semaphore>,
    deadline: Instant,
) -> Result<OwnedSemaphorePermit, BodyError> {
    match tokio::time::timeout_at(deadline, permits.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(BodyError::Busy),
    }
}

/// Reads `body` (announced as `content_length` bytes, if known) by `deadline`, taking a permit
/// from `large` once it grows past the small size.
pub async fn read(
    body: Body,
    content_length: Option<u64>,
    limits: &HttpLimits,
    large: &Arc<Semaphore>,
    deadline: Instant,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), BodyError> {
    if content_length.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return Err(BodyError::TooLarge(limits.max_body_bytes));
    }
    let mut body = body;
    let mut buffer = Vec::new();
    let mut permit = None;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(frame)) => frame.map_err(|err| BodyError::Read(err.to_string()))?,
            Ok(None) => break,
            Err(_) => return Err(BodyError::Timeout(limits.body_timeout)),
        };
        let Ok(data) = frame.into_data() else { continue };
        let length = buffer.len() + data.len();
        if length > limits.max_body_bytes {
            return Err(BodyError::TooLarge(limits.max_body_bytes));
        }
        if length > limits.small_body_bytes && permit.is_none() {
            permit = Some(large_permit(large, deadline).await?);
        }
        if buffer.is_empty() {
            buffer
                .reserve_exact(content_length.map_or(data.len(), |n| n as usize).min(limits.max_body_bytes));
        }
        buffer.extend_from_slice(&data);
    }
    Ok((Bytes::from(buffer), permit))
}
