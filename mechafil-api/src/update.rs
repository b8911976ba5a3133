//! [`update_cache`]: one update of the store from Spacescope: fetch and validate, then insert
//! and activate in one transaction, and record the outcome either way (for `/health`).
//!
//! A failure at any step leaves the active snapshot as it was.

use chrono::Utc;

use crate::network_data::{SnapshotMeta, SnapshotSource};
use crate::spacescope::{FetchError, FetchOptions, SpacescopeConfig, fetch_network_data};
use crate::store::{SnapshotStore, StoreError, UpdateAttempt, UpdateOutcome};

/// Why an update did not activate a new snapshot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// Fetching or validating the data failed.
    #[error("fetching from Spacescope failed: {0}")]
    Fetch(#[from] FetchError),
    /// Storing the new snapshot failed.
    #[error("storing the new snapshot failed: {0}")]
    Store(#[from] StoreError),
    /// The blocking store task panicked or was cancelled.
    #[error("the store task did not finish: {0}")]
    Task(String),
}

/// Fetches from Spacescope with `opts`, stores the result as the active snapshot and records
/// the attempt (success or failure) in the store.
///
/// The redb work runs on tokio's blocking pool (`spawn_blocking`, with a clone of `store`), so
/// it never blocks the async runtime. The fetched data is validated twice over: row by row in
/// the pipeline, and as a whole by the store before it is written.
pub async fn update_cache(
    config: &SpacescopeConfig,
    store: &SnapshotStore,
    opts: &FetchOptions,
) -> Result<SnapshotMeta, UpdateError> {
    let started_at = Utc::now();
    let result = fetch_and_store(config, store, opts).await;
    let outcome = match &result {
        Ok(meta) => UpdateOutcome::Updated { start_date: meta.start_date, current_date: meta.current_date },
        Err(e) => UpdateOutcome::Failed { error: e.to_string() },
    };
    let attempt = UpdateAttempt { started_at, finished_at: Utc::now(), outcome };
    let recorder = store.clone();
    let recorded = tokio::task::spawn_blocking(move || recorder.record_update_attempt(&attempt)).await;
    // Failing to record must not hide the update's own result; it is logged instead.
    match recorded {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "could not record the update attempt"),
        Err(e) => tracing::error!(error = %e, "could not record the update attempt"),
    }
    match &result {
        Ok(meta) => {
            tracing::info!(start_date = %meta.start_date, current_date = %meta.current_date, "snapshot updated")
        }
        Err(e) => tracing::warn!(error = %e, "update failed; the active snapshot is unchanged"),
    }
    result
}

async fn fetch_and_store(
    config: &SpacescopeConfig,
    store: &SnapshotStore,
    opts: &FetchOptions,
) -> Result<SnapshotMeta, UpdateError> {
    let data = fetch_network_data(config, opts).await?;
    let store = store.clone();
    let fetched_at = Utc::now();
    tokio::task::spawn_blocking(move || {
        store.insert_and_activate(&data, SnapshotSource::Spacescope, fetched_at)
    })
    .await
    .map_err(|e| UpdateError::Task(e.to_string()))?
    .map_err(UpdateError::from)
}
