//! What the service holds in memory: the snapshot it serves ([`Served`], swapped atomically
//! when an update lands) and the shared handles every handler needs ([`AppState`]).

use std::sync::{Arc, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use mechafil_core::{Simulator, SnapshotError};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::config::ApiConfig;
use crate::network_data::{NetworkData, SnapshotMeta, SnapshotSource};

/// A snapshot ready to serve: its data, metadata and a prepared simulator.
#[derive(Debug)]
pub struct Served {
    /// Where it came from and when.
    pub meta: SnapshotMeta,
    /// The network data (history, recent series, supply).
    pub data: NetworkData,
    /// The model, prepared on this snapshot.
    pub simulator: Simulator,
}

impl Served {
    /// Validates and prepares `data` for serving.
    pub fn new(meta: SnapshotMeta, data: NetworkData) -> Result<Served, SnapshotError> {
        let simulator = Simulator::new(data.snapshot.clone())?;
        Ok(Served { meta, data, simulator })
    }

    /// The short description shown in responses.
    pub fn snapshot_ref(&self) -> SnapshotRef {
        SnapshotRef {
            source: self.meta.source,
            start_date: self.meta.start_date,
            current_date: self.meta.current_date,
            fetched_at: self.meta.fetched_at,
        }
    }
}

/// Which snapshot an answer was computed on.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotRef {
    /// `spacescope`, `import` or `demo`.
    pub source: SnapshotSource,
    /// First history day.
    pub start_date: NaiveDate,
    /// Last history day.
    pub current_date: NaiveDate,
    /// When the data was fetched, imported or generated.
    pub fetched_at: DateTime<Utc>,
}

/// Shared state of the HTTP service; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    served: RwLock<Result<Arc<Served>, String>>,
    config: ApiConfig,
    cpu: Semaphore,
    started_at: DateTime<Utc>,
}

impl AppState {
    /// State serving `served`, or answering 503 with `unavailable` as the reason.
    pub fn new(config: ApiConfig, served: Result<Served, String>) -> AppState {
        let permits = std::thread::available_parallelism().map_or(2, |n| n.get());
        AppState {
            inner: Arc::new(Inner {
                served: RwLock::new(served.map(Arc::new)),
                config,
                cpu: Semaphore::new(permits),
                started_at: Utc::now(),
            }),
        }
    }

    /// The snapshot being served, or why there is none.
    pub fn served(&self) -> Result<Arc<Served>, String> {
        self.inner.served.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Starts serving `served` (atomically: a request sees the old or the new one).
    pub fn replace_served(&self, served: Served) {
        *self.inner.served.write().unwrap_or_else(|e| e.into_inner()) = Ok(Arc::new(served));
    }

    /// The configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    /// When this process started serving.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.inner.started_at
    }

    /// Runs CPU-bound `work` on the blocking pool, at most one job per core at a time, so
    /// simulations never stall the async runtime (and `/health` stays fast under load).
    pub async fn run_cpu<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, super::error::ApiError> {
        let _permit = self
            .inner
            .cpu
            .acquire()
            .await
            .map_err(|_| super::error::ApiError::Unavailable("the service is shutting down".into()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| super::error::ApiError::Internal(format!("CPU task failed: {e}")))
    }
}
