//! `POST /admin/update-cache`: the daily cron's way to refresh the data.
//!
//! Guarded by `Authorization: Bearer $ADMIN_TOKEN` (compared in constant time). With no
//! `ADMIN_TOKEN` configured the endpoint is disabled (403), so it can never be triggered by
//! anyone. One update at a time (409); a failed update answers 502 and the previous snapshot
//! keeps being served. With several replicas, it updates the one machine that receives it (each
//! machine also refreshes itself); its answer names that machine and the snapshot it now serves.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::state::AppState;

/// The handler.
pub async fn update_cache(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(state.config().admin_token.as_deref(), &headers)?;
    let meta = state.update().await?;
    let mut snapshot = serde_json::to_value(&meta).expect("plain data");
    // The update activated and served this snapshot (one update at a time), so its id is the
    // served one's unless the dates differ (never, short of a bug).
    if let Ok(served) = state.served().map(|s| s.snapshot_ref())
        && served.current_date == meta.current_date
    {
        snapshot["snapshot_id"] = json!(served.snapshot_id);
    }
    // With several replicas this updated only the machine that received it (docs/DEPLOY.md).
    Ok(Json(json!({"status": "updated", "machine": state.config().machine, "snapshot": snapshot})))
}

/// Checks the bearer token against the configured one.
fn authorize(expected: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = expected else {
        return Err(ApiError::Forbidden(
            "the admin endpoint is disabled: no ADMIN_TOKEN is configured".into(),
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match given {
        None => Err(ApiError::Unauthorized("missing header Authorization: Bearer <ADMIN_TOKEN>".into())),
        Some(token) if bool::from(token.as_bytes().ct_eq(expected.as_bytes())) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized("wrong admin token".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        assert!(authorize(Some("s3cret"), &headers("Bearer s3cret")).is_ok());
        assert!(authorize(Some("s3cret"), &headers("bearer s3cret")).is_ok());
        assert!(matches!(
            authorize(Some("s3cret"), &headers("Bearer s3cre")),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(
            authorize(Some("s3cret"), &headers("Basic s3cret")),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(authorize(Some("s3cret"), &HeaderMap::new()), Err(ApiError::Unauthorized(_))));
        assert!(matches!(authorize(None, &headers("Bearer anything")), Err(ApiError::Forbidden(_))));
    }
}
