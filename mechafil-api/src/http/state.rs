//! What the service holds in memory: the snapshot it serves ([`Served`], swapped atomically
//! when an update lands) and the shared handles every handler needs ([`AppState`]).

use std::sync::{Arc, Mutex, OnceLock, RwLock};

use super::body::LargeRequests;
use super::cpu::CpuBudget;
use super::error::ApiError;
use super::metrics::{Metrics, UpdateMetric};
use super::pinning::PinnedSnapshots;
use crate::config::ApiConfig;
use crate::network_data::{NetworkData, SnapshotMeta, SnapshotSource};
use crate::spacescope::{FetchOptions, SpacescopeConfig};
use crate::store::{SnapshotStore, UpdateAttempt};
use crate::update::{UpdateError, update_cache_with};
use chrono::{DateTime, NaiveDate, Utc};
use mechafil_core::{SimOutput, Simulator, SnapshotError};
use serde::Serialize;

/// A snapshot ready to serve: its data, metadata and a prepared simulator.
#[derive(Debug)]
pub struct Served {
    /// Where it came from and when.
    pub meta: SnapshotMeta,
    /// The network data (history, recent series, supply).
    pub data: NetworkData,
    /// The model, prepared on this snapshot.
    pub simulator: Simulator,
    /// [`NetworkData::snapshot_id`]: names the snapshot in answers, headers and pins.
    pub snapshot_id: String,
    /// Output buffers sized for the longest forecast, reused by every simulation on this
    /// snapshot: at most one per concurrent simulation (one per core), so memory stays flat
    /// whatever forecast lengths requests ask for.
    outputs: Mutex<Vec<SimOutput>>,
    /// The explorer page on this snapshot (`GET /explore`), made (and gzipped) at its first
    /// request: it depends on nothing else, and making it runs two simulations.
    pub explore_page: OnceLock<super::precompressed::Precompressed>,
}

impl Served {
    /// Validates and prepares `data` for serving.
    pub fn new(meta: SnapshotMeta, data: NetworkData) -> Result<Served, SnapshotError> {
        let simulator = Simulator::new(data.snapshot.clone())?;
        let snapshot_id = data.snapshot_id();
        Ok(Served {
            meta,
            data,
            simulator,
            snapshot_id,
            outputs: Mutex::new(Vec::new()),
            explore_page: OnceLock::new(),
        })
    }

    /// Runs `work` with an output buffer from the pool (a new preallocated one when all are in
    /// use) and returns the buffer to the pool afterwards.
    pub fn with_output<T>(&self, work: impl FnOnce(&mut SimOutput) -> T) -> T {
        let pooled = self.outputs.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut out = pooled.unwrap_or_else(|| self.simulator.preallocated_output());
        let result = work(&mut out);
        self.outputs.lock().unwrap_or_else(|e| e.into_inner()).push(out);
        result
    }

    /// The short description shown in responses.
    pub fn snapshot_ref(&self) -> SnapshotRef {
        SnapshotRef {
            source: self.meta.source,
            start_date: self.meta.start_date,
            current_date: self.meta.current_date,
            snapshot_id: self.snapshot_id.clone(),
        }
    }
}

/// Which snapshot an answer was computed on. No fetch time: two replicas holding the same data
/// (fetched at different times) give byte-identical answers; `/health` has the fetch time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotRef {
    /// `spacescope`, `import` or `demo`.
    pub source: SnapshotSource,
    /// First history day.
    pub start_date: NaiveDate,
    /// Last history day.
    pub current_date: NaiveDate,
    /// [`NetworkData::snapshot_id`].
    pub snapshot_id: String,
}

/// Shared state of the HTTP service; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    served: RwLock<Result<Arc<Served>, String>>,
    config: ApiConfig,
    cpu: CpuBudget,
    large_requests: LargeRequests,
    metrics: Metrics,
    pinned: PinnedSnapshots,
    started_at: DateTime<Utc>,
    data: DataSources,
    /// Held while an update runs (by its task, not by the request that started it): a second
    /// one gets 409 instead of queueing.
    update_lock: Arc<tokio::sync::Mutex<()>>,
    /// The last update attempt, kept in memory so `/health` never reads redb.
    last_update: RwLock<Option<UpdateAttempt>>,
    /// What is wrong with the store, found at start (for `/health`).
    store_problems: RwLock<Vec<StoreProblem>>,
}

/// Something wrong with the snapshot store, reported by `/health` (status `degraded`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreProblem {
    /// What kind of problem.
    pub kind: StoreProblemKind,
    /// What happened and what is served instead, for the operator.
    pub message: String,
}

/// The kinds of [`StoreProblem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreProblemKind {
    /// A damaged database file was moved aside (now or by an earlier start) and is kept there.
    MovedAside,
    /// A stored snapshot fails its checksum or consistency check and is never served.
    DamagedSnapshot,
    /// Something else than the store's active snapshot is served (an older one, or the demo).
    Fallback,
    /// The store cannot be opened: the demo is served and updates are disabled.
    Unavailable,
    /// The store can be read but not written: updates will fail until it is repaired.
    NotWritable,
}

/// Where fresh data comes from and goes to. Both are optional: without a store the service
/// serves what it was given (tests, a store that could not be opened); without a Spacescope
/// token it cannot update.
#[derive(Clone, Default)]
pub struct DataSources {
    /// The snapshot store.
    pub store: Option<SnapshotStore>,
    /// Spacescope settings, when a token is configured.
    pub spacescope: Option<SpacescopeConfig>,
    /// What an update fetches (dates and window).
    pub fetch: FetchOptions,
    /// The last update attempt recorded in the store, when it was opened.
    pub last_update: Option<UpdateAttempt>,
}

impl AppState {
    /// State serving `served`, or answering 503 with `unavailable` as the reason; no store and
    /// no Spacescope (see [`AppState::with_data`]).
    pub fn new(config: ApiConfig, served: Result<Served, String>) -> AppState {
        AppState::with_data(config, served, DataSources::default())
    }

    /// State serving `served` that can update from `data.spacescope` into `data.store`.
    pub fn with_data(config: ApiConfig, served: Result<Served, String>, data: DataSources) -> AppState {
        let last_update = data.last_update.clone();
        let cpu = config.cpu_permits.map_or_else(CpuBudget::for_this_machine, CpuBudget::new);
        AppState {
            inner: Arc::new(Inner {
                served: RwLock::new(served.map(Arc::new)),
                config,
                // By default one core is left to the async runtime (HTTP I/O, /health): with
                // every core simulating, /health waited for OS time slices.
                cpu,
                large_requests: LargeRequests::default(),
                metrics: Metrics::default(),
                pinned: PinnedSnapshots::default(),
                started_at: Utc::now(),
                data,
                update_lock: Arc::new(tokio::sync::Mutex::new(())),
                last_update: RwLock::new(last_update),
                store_problems: RwLock::new(Vec::new()),
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

    /// The data sources.
    pub fn data(&self) -> &DataSources {
        &self.inner.data
    }

    /// When this process started serving.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.inner.started_at
    }

    /// The last update attempt (from the store at start, then from this process).
    pub fn last_update(&self) -> Option<UpdateAttempt> {
        self.inner.last_update.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What is wrong with the store (empty when nothing is).
    pub fn store_problems(&self) -> Vec<StoreProblem> {
        self.inner.store_problems.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records what was found wrong with the store at start.
    pub fn set_store_problems(&self, problems: Vec<StoreProblem>) {
        *self.inner.store_problems.write().unwrap_or_else(|e| e.into_inner()) = problems;
    }

    /// Whether an update is running now.
    pub fn update_in_progress(&self) -> bool {
        self.inner.update_lock.try_lock().is_err()
    }

    /// Fetches fresh data from Spacescope into the store and serves it.
    ///
    /// One update at a time: while one runs, another call returns [`ApiError::Conflict`]
    /// at once. The update runs on a task of its own, which holds the lock: the caller waits for
    /// its outcome, but a caller that goes away (a client that disconnects, a shutdown) cancels
    /// nothing, and the update still ends by itself: stored and served together, or failed and
    /// recorded, at the latest at the update deadline (`MECHAFIL_UPDATE_DEADLINE_SECS`). A failed
    /// update keeps the current snapshot served and the store unchanged.
    pub async fn update(&self) -> Result<SnapshotMeta, ApiError> {
        let guard = Arc::clone(&self.inner.update_lock)
            .try_lock_owned()
            .map_err(|_| ApiError::Conflict("an update is already running; try again when it ends".into()))?;
        let data = &self.inner.data;
        let (Some(spacescope), Some(store)) = (&data.spacescope, &data.store) else {
            return Err(ApiError::Unavailable(match data.store {
                None => "updates are disabled: the snapshot store could not be opened".into(),
                Some(_) => {
                    "updates are disabled: no Spacescope token (SPACESCOPE_TOKEN or SPACESCOPE_AUTH_FILE)"
                        .into()
                }
            }));
        };
        let (spacescope, store) = (spacescope.clone(), store.clone());
        let state = self.clone();
        let task = tokio::spawn(async move {
            let _held_until_the_update_ends = guard;
            state.run_update(&spacescope, &store).await
        });
        task.await.map_err(|e| ApiError::Internal(format!("the update task failed: {e}")))?
    }

    async fn run_update(
        &self,
        spacescope: &SpacescopeConfig,
        store: &SnapshotStore,
    ) -> Result<SnapshotMeta, ApiError> {
        let installer = self.clone();
        let (attempt, result) = update_cache_with(
            spacescope,
            store,
            &self.inner.data.fetch,
            self.inner.config.update_deadline,
            // Prepared before the commit: a snapshot that cannot be served is never activated.
            |meta, data| Served::new(meta.clone(), data.clone()).map_err(|e| e.to_string()),
            // Swapped in the commit's own blocking task: the served snapshot is the store's
            // active one from then on, whatever happens to the caller.
            move |served| installer.replace_served(served),
        )
        .await;
        *self.inner.last_update.write().unwrap_or_else(|e| e.into_inner()) = Some(attempt);
        self.inner.metrics.record_update(match &result {
            Ok(_) => UpdateMetric::Updated,
            Err(UpdateError::Deadline { .. }) => UpdateMetric::DeadlineExceeded,
            Err(_) => UpdateMetric::Failed,
        });
        if result.is_ok() {
            // The store's active snapshot is served again; damaged records and files kept aside
            // are still there and still reported.
            self.inner
                .store_problems
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|p| p.kind != StoreProblemKind::Fallback && p.kind != StoreProblemKind::Unavailable);
        }
        result.map_err(|err| match err {
            UpdateError::Fetch(_) | UpdateError::Deadline { .. } => ApiError::BadGateway(format!(
                "Spacescope update failed; still serving the previous snapshot: {err}"
            )),
            other => ApiError::Internal(other.to_string()),
        })
    }

    /// The CPU budget every simulation, analysis and serialisation runs within.
    pub fn cpu(&self) -> &CpuBudget {
        &self.inner.cpu
    }

    /// The counters of `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The snapshots pinned requests asked for ([`super::pinning`]).
    pub fn pinned(&self) -> &PinnedSnapshots {
        &self.inner.pinned
    }

    /// The admission of large bodies (`/simulate/batch`, `/analyze/*`).
    pub fn large_requests(&self) -> &LargeRequests {
        &self.inner.large_requests
    }

    /// Runs CPU-bound `work` as one job of the CPU budget ([`CpuBudget::run`]), so simulations
    /// never stall the async runtime (and `/health` stays fast under load).
    pub async fn run_cpu<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        self.inner.cpu.run(work).await
    }
}
