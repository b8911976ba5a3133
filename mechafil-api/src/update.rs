//! [`update_cache`]: one update of the store from Spacescope: fetch and validate within a
//! deadline, then prepare, insert and activate, and record the outcome either way (for
//! `/health`).
//!
//! A failure at any step leaves the active snapshot as it was. The HTTP service runs this on a
//! task of its own (`AppState::update`), so a caller that disconnects cancels nothing.

use std::time::Duration;

use chrono::Utc;

use crate::network_data::{NetworkData, SnapshotMeta, SnapshotSource};
use crate::spacescope::{FetchError, FetchOptions, SpacescopeConfig, fetch_network_data};
use crate::store::{SnapshotStore, StoreError, UpdateAttempt, UpdateOutcome};

/// Why an update did not activate a new snapshot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// Fetching or validating the data failed.
    #[error("fetching from Spacescope failed: {0}")]
    Fetch(#[from] FetchError),
    /// The fetch did not finish within the update deadline.
    #[error(
        "the update did not finish within its deadline of {secs} s (MECHAFIL_UPDATE_DEADLINE_SECS): \
         Spacescope is slow or not answering"
    )]
    Deadline {
        /// The deadline, seconds.
        secs: u64,
    },
    /// The new snapshot could not be prepared for serving (nothing was stored).
    #[error("the new snapshot cannot be served: {0}")]
    Prepare(String),
    /// Storing the new snapshot failed.
    #[error("storing the new snapshot failed: {0}")]
    Store(#[from] StoreError),
    /// The blocking store task panicked or was cancelled.
    #[error("the store task did not finish: {0}")]
    Task(String),
}

/// Fetches from Spacescope with `opts` (giving up at `deadline`), stores the result as the active
/// snapshot and records the attempt (success or failure) in the store. What `update-cache` (the
/// CLI) runs; the service runs [`update_cache_with`] to swap its served snapshot in step.
pub async fn update_cache(
    config: &SpacescopeConfig,
    store: &SnapshotStore,
    opts: &FetchOptions,
    deadline: Duration,
) -> Result<SnapshotMeta, UpdateError> {
    update_cache_with(config, store, opts, deadline, |_, _| Ok(()), |()| {}).await.1
}

/// [`update_cache`] with two hooks around the commit, both run on the blocking pool:
/// `prepare` gets the new snapshot before anything is written (an `Err` aborts the update with
/// the store unchanged), and `install` gets what `prepare` made right after the commit, in the
/// same blocking task, so nothing can come between the store's new active snapshot and its
/// installation (the HTTP service swaps its served snapshot there).
///
/// The deadline applies to the fetch (the network part: about 65 requests, each with retries);
/// storing is one local write transaction. Returns the attempt recorded and the outcome.
pub async fn update_cache_with<T, P, I>(
    config: &SpacescopeConfig,
    store: &SnapshotStore,
    opts: &FetchOptions,
    deadline: Duration,
    prepare: P,
    install: I,
) -> (UpdateAttempt, Result<SnapshotMeta, UpdateError>)
where
    T: Send + 'static,
    P: FnOnce(&SnapshotMeta, &NetworkData) -> Result<T, String> + Send + 'static,
    I: FnOnce(T) + Send + 'static,
{
    let started_at = Utc::now();
    let result = match tokio::time::timeout(deadline, fetch_network_data(config, opts)).await {
        Err(_) => Err(UpdateError::Deadline { secs: deadline.as_secs() }),
        Ok(Err(e)) => Err(UpdateError::Fetch(e)),
        Ok(Ok(data)) => store_and_install(store, data, prepare, install).await,
    };
    let outcome = match &result {
        Ok(meta) => UpdateOutcome::Updated { start_date: meta.start_date, current_date: meta.current_date },
        Err(e) => UpdateOutcome::Failed { error: e.to_string() },
    };
    let attempt = UpdateAttempt { started_at, finished_at: Utc::now(), outcome };
    let recorder = store.clone();
    let record = attempt.clone();
    let recorded = tokio::task::spawn_blocking(move || recorder.record_update_attempt(&record)).await;
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
    (attempt, result)
}

async fn store_and_install<T, P, I>(
    store: &SnapshotStore,
    data: NetworkData,
    prepare: P,
    install: I,
) -> Result<SnapshotMeta, UpdateError>
where
    T: Send + 'static,
    P: FnOnce(&SnapshotMeta, &NetworkData) -> Result<T, String> + Send + 'static,
    I: FnOnce(T) + Send + 'static,
{
    let store = store.clone();
    let fetched_at = Utc::now();
    tokio::task::spawn_blocking(move || {
        let meta = SnapshotMeta {
            start_date: data.snapshot.start_date,
            current_date: data.snapshot.current_date,
            source: SnapshotSource::Spacescope,
            fetched_at,
        };
        let prepared = prepare(&meta, &data).map_err(UpdateError::Prepare)?;
        let stored = store.insert_and_activate(&data, SnapshotSource::Spacescope, fetched_at)?;
        install(prepared);
        Ok(stored)
    })
    .await
    .map_err(|e| UpdateError::Task(e.to_string()))?
}
