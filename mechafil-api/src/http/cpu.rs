//! [`CpuBudget`]: how CPU work (simulations, analyses, serialisation) runs without starving the
//! async runtime or escaping its budget.
//!
//! - A job holds a permit for as long as it *runs*: the permit is moved into the blocking task,
//!   so a client that disconnects cannot release it while its work goes on. There is one permit
//!   per core but one (the spare core keeps `/health` and HTTP I/O fast), so at most that many
//!   CPU threads are busy, whatever the load.
//! - Long work is cut into chunks ([`CpuBudget::run_chunks`]), each a job of its own that queues
//!   for a permit again, so other requests' jobs interleave with it (the semaphore is FIFO).
//!   The chunks are driven from the request's future: when the client disconnects, hyper drops
//!   that future, no further chunk starts, and the running ones end within one chunk.
//! - A request that would queue behind [`MAX_QUEUED_JOBS`] waiting jobs is refused at once
//!   (429 with `Retry-After`) instead of queueing without bound.
//! - Chunked work has a deadline: past it no chunk starts and the request fails with 503.
//! - What analyses keep between chunks (an ensemble's member x date matrices: up to 128 MB for
//!   one 10,000-member request) is reserved up front from a shared pool of
//!   [`MAX_VALUES_IN_FLIGHT`] values ([`CpuBudget::reserve_values`]), so two large requests
//!   take turns instead of doubling the peak memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;

/// Most jobs that may wait for a permit before new requests are refused with 429.
pub const MAX_QUEUED_JOBS: usize = 64;
/// How long a chunked analysis may run before it is stopped (503).
pub const ANALYSIS_TIME_LIMIT: Duration = Duration::from_secs(30);
/// The `Retry-After` a refused request is given, seconds.
pub const RETRY_AFTER_SECS: u64 = 1;
/// Values (f64) all analyses in flight may hold at once: 128 MB, one maximal ensemble.
pub const MAX_VALUES_IN_FLIGHT: usize = mechafil_core::analysis::ensemble::MAX_BAND_VALUES;

/// The CPU permits and the counters `/metrics` reports.
#[derive(Debug)]
pub struct CpuBudget {
    permits: Arc<Semaphore>,
    values: Arc<Semaphore>,
    total_permits: usize,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    waiting: AtomicUsize,
    running: AtomicUsize,
    rejected: AtomicU64,
    timed_out: AtomicU64,
    jobs: AtomicU64,
}

/// A snapshot of the budget's state, for `/metrics` and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuStats {
    /// Permits in all (jobs that can run at once).
    pub permits: usize,
    /// Jobs waiting for a permit now.
    pub waiting: usize,
    /// Jobs running now.
    pub running: usize,
    /// Requests refused because the queue was full, since start.
    pub rejected_total: u64,
    /// Chunked requests stopped at their deadline, since start.
    pub timed_out_total: u64,
    /// Jobs run to completion, since start.
    pub jobs_total: u64,
}

/// Decrements a counter when dropped (a waiting job whose request went away, or a job that ended).
struct CountGuard<'a>(&'a AtomicUsize);

impl Drop for CountGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl CpuBudget {
    /// A budget of one permit per core but one (at least one).
    pub fn for_this_machine() -> CpuBudget {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        CpuBudget::new(cores.saturating_sub(1).max(1))
    }

    /// A budget of `permits` concurrent jobs.
    pub fn new(permits: usize) -> CpuBudget {
        CpuBudget {
            permits: Arc::new(Semaphore::new(permits)),
            values: Arc::new(Semaphore::new(MAX_VALUES_IN_FLIGHT)),
            total_permits: permits,
            counters: Arc::new(Counters::default()),
        }
    }

    /// How many jobs can run at once.
    pub fn permits(&self) -> usize {
        self.total_permits
    }

    /// The current counters.
    pub fn stats(&self) -> CpuStats {
        let c = &self.counters;
        CpuStats {
            permits: self.total_permits,
            waiting: c.waiting.load(Ordering::Relaxed),
            running: c.running.load(Ordering::Relaxed),
            rejected_total: c.rejected.load(Ordering::Relaxed),
            timed_out_total: c.timed_out.load(Ordering::Relaxed),
            jobs_total: c.jobs.load(Ordering::Relaxed),
        }
    }

    /// Refuses a new request when the queue is full.
    fn admit(&self) -> Result<(), ApiError> {
        if self.counters.waiting.load(Ordering::Relaxed) >= MAX_QUEUED_JOBS {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::TooManyRequests {
                message: format!(
                    "the service is busy ({MAX_QUEUED_JOBS} jobs are waiting for a CPU); retry shortly"
                ),
                retry_after_secs: RETRY_AFTER_SECS,
            });
        }
        Ok(())
    }

    /// Runs `work` as one job on the blocking pool once a permit is free (429 when the queue
    /// is full). The permit is held until `work` returns, even if the caller goes away.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        self.admit()?;
        self.job(work).await
    }

    /// Reserves room for `values` numbers kept between chunks, waiting while other analyses
    /// hold the pool; the reservation lasts until the returned permit is dropped (with the
    /// request, also when its client disconnects). More than the whole pool is clamped to it.
    pub async fn reserve_values(&self, values: usize) -> Result<OwnedSemaphorePermit, ApiError> {
        let n = u32::try_from(values.min(MAX_VALUES_IN_FLIGHT)).expect("the pool fits u32");
        Arc::clone(&self.values)
            .acquire_many_owned(n)
            .await
            .map_err(|_| ApiError::Unavailable("the service is shutting down".into()))
    }

    /// Runs a further job of a request already admitted (by [`CpuBudget::run`] or
    /// [`CpuBudget::run_chunks`]): never refused, so a request is not turned away halfway.
    pub async fn run_admitted<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        self.job(work).await
    }

    /// Runs `work` on every chunk, at most `parallel` chunks at a time (capped at the permits),
    /// each as its own job; returns the results in chunk order. 429 when the queue is full at
    /// the start; 503 when `deadline` passes before the last chunk has started. Dropping the
    /// returned future starts no further chunk.
    pub async fn run_chunks<C, T, F>(
        &self,
        chunks: Vec<C>,
        parallel: usize,
        deadline: Instant,
        work: F,
    ) -> Result<Vec<T>, ApiError>
    where
        C: Send + 'static,
        T: Send + 'static,
        F: Fn(C) -> T + Send + Sync + 'static,
    {
        self.admit()?;
        let parallel = parallel.clamp(1, self.total_permits);
        let work = Arc::new(work);
        let mut results: Vec<Option<T>> = std::iter::repeat_with(|| None).take(chunks.len()).collect();
        let mut next = chunks.into_iter().enumerate();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < parallel {
                let Some((index, chunk)) = next.next() else { break };
                if Instant::now() >= deadline {
                    self.counters.timed_out.fetch_add(1, Ordering::Relaxed);
                    return Err(ApiError::Unavailable(format!(
                        "the analysis was stopped at its time limit of {} s; ask for less work \
                         (fewer members, cells or days) or retry when the service is less busy",
                        ANALYSIS_TIME_LIMIT.as_secs()
                    )));
                }
                let work = Arc::clone(&work);
                let job = self.job(move || work(chunk));
                running.push(async move { (index, job.await) });
            }
            match running.next().await {
                Some((index, result)) => results[index] = Some(result?),
                None => break,
            }
        }
        Ok(results.into_iter().map(|r| r.expect("every chunk ran")).collect())
    }

    /// Waits for a permit, then runs `work` on the blocking pool with the permit moved in.
    async fn job<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let permit = {
            self.counters.waiting.fetch_add(1, Ordering::Relaxed);
            let _waiting = CountGuard(&self.counters.waiting);
            Arc::clone(&self.permits)
                .acquire_owned()
                .await
                .map_err(|_| ApiError::Unavailable("the service is shutting down".into()))?
        };
        let counters = Arc::clone(&self.counters);
        counters.running.fetch_add(1, Ordering::Relaxed);
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _running = CountGuard(&counters.running);
            let result = work();
            counters.jobs.fetch_add(1, Ordering::Relaxed);
            result
        });
        task.await.map_err(|e| ApiError::Internal(format!("CPU task failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn chunks_come_back_in_order_and_never_exceed_the_permits() {
        let budget = CpuBudget::new(2);
        let busy = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (b, m) = (Arc::clone(&busy), Arc::clone(&most));
        let out = budget
            .run_chunks((0..20).collect(), 8, Instant::now() + Duration::from_secs(60), move |i: u32| {
                let now = b.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
                b.fetch_sub(1, Ordering::SeqCst);
                i * 10
            })
            .await
            .unwrap();
        assert_eq!(out, (0..20).map(|i| i * 10).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= 2, "{} jobs ran at once", most.load(Ordering::SeqCst));
        assert_eq!(budget.stats().jobs_total, 20);
    }

    #[tokio::test]
    async fn a_dropped_request_starts_no_further_chunk_and_keeps_its_permit_while_running() {
        let budget = Arc::new(CpuBudget::new(1));
        let started = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&started);
        let b = Arc::clone(&budget);
        let request = tokio::spawn(async move {
            b.run_chunks((0..100).collect(), 1, Instant::now() + Duration::from_secs(60), move |i: u32| {
                s.lock().unwrap().push(i);
                std::thread::sleep(Duration::from_millis(20));
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        request.abort(); // the client went away
        let _ = request.await;
        // The chunk that was handed to the blocking pool before the drop still runs (and holds
        // the permit) until it ends; it may not even have started yet on a busy machine, so
        // count only once nothing runs any more.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while budget.stats().running > 0 {
            assert!(std::time::Instant::now() < deadline, "the running chunk never ended");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let at_abort = started.lock().unwrap().len();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(started.lock().unwrap().len(), at_abort, "a chunk started after the request was dropped");
        assert!(at_abort < 10, "{at_abort} chunks started");
        let stats = budget.stats();
        assert_eq!((stats.running, stats.waiting), (0, 0));
        // The permit is free again.
        assert_eq!(budget.run(|| 7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_with_429_and_counts_it() {
        let budget = Arc::new(CpuBudget::new(1));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        let b = Arc::clone(&budget);
        let blocker = tokio::spawn(async move {
            b.run(move || {
                let _ = hold.lock().unwrap().recv();
            })
            .await
        });
        while budget.stats().running == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut waiters = Vec::new();
        for _ in 0..MAX_QUEUED_JOBS {
            let b = Arc::clone(&budget);
            waiters.push(tokio::spawn(async move { b.run(|| ()).await }));
        }
        while budget.stats().waiting < MAX_QUEUED_JOBS {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let refused = budget.run(|| ()).await.unwrap_err();
        assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(budget.stats().rejected_total, 1);
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        for w in waiters {
            w.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn value_reservations_take_turns() {
        let budget = Arc::new(CpuBudget::new(1));
        let first = budget.reserve_values(MAX_VALUES_IN_FLIGHT - 10).await.unwrap();
        let b = Arc::clone(&budget);
        let second = tokio::spawn(async move { b.reserve_values(20).await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!second.is_finished(), "the second reservation must wait for room");
        drop(first);
        second.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn the_deadline_stops_chunked_work_with_503() {
        let budget = CpuBudget::new(1);
        let err = budget
            .run_chunks((0..10).collect(), 1, Instant::now() + Duration::from_millis(30), |_: u32| {
                std::thread::sleep(Duration::from_millis(20));
            })
            .await
            .unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(budget.stats().timed_out_total, 1);
    }
}
