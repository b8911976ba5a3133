//! When the service refreshes its data by itself: once after start when the served snapshot
//! is stale ([`needs_refresh`]), and daily at `RELOAD_TRIGGER` for always-on deployments
//! ([`run_daily`]). Scale-to-zero deployments rely on the first (the GitHub cron may be
//! delayed or dropped; a request that wakes the machine then triggers the refresh).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveTime, Utc};

use crate::network_data::{SnapshotMeta, SnapshotSource};

/// Whether a snapshot should be refreshed: the demo always (it is not real data), others
/// when fetched longer than `max_age` ago.
pub fn needs_refresh(meta: &SnapshotMeta, now: DateTime<Utc>, max_age: Duration) -> bool {
    meta.source == SnapshotSource::Demo || (now - meta.fetched_at).to_std().is_ok_and(|age| age > max_age)
}

/// The first time at `at` (UTC) strictly after `now`.
pub fn next_trigger(now: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
    let today = now.date_naive().and_time(at).and_utc();
    if today > now { today } else { (now.date_naive() + Days::new(1)).and_time(at).and_utc() }
}

/// Calls `action` every day at `at` (UTC), forever. `now` reads the clock (the wall clock in
/// production; a clock tied to tokio's paused time in tests).
pub async fn run_daily<F, Fut>(at: NaiveTime, now: impl Fn() -> DateTime<Utc>, mut action: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        let current = now();
        let wait = (next_trigger(current, at) - current).to_std().unwrap_or(Duration::ZERO);
        tokio::time::sleep(wait).await;
        action().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn next_trigger_is_today_or_tomorrow() {
        let t = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        assert_eq!(next_trigger(at("2025-09-10T01:00:00Z"), t), at("2025-09-10T02:30:00Z"));
        assert_eq!(next_trigger(at("2025-09-10T02:30:00Z"), t), at("2025-09-11T02:30:00Z"));
        assert_eq!(next_trigger(at("2025-09-10T23:59:00Z"), t), at("2025-09-11T02:30:00Z"));
    }

    #[test]
    fn demo_and_old_snapshots_need_refreshing() {
        let meta = |source, fetched: &str| SnapshotMeta {
            start_date: "2022-10-10".parse().unwrap(),
            current_date: "2025-09-09".parse().unwrap(),
            source,
            fetched_at: at(fetched),
        };
        let day = Duration::from_secs(86_400);
        let now = at("2025-09-11T12:00:00Z");
        assert!(needs_refresh(&meta(SnapshotSource::Demo, "2025-09-11T11:00:00Z"), now, day));
        assert!(!needs_refresh(&meta(SnapshotSource::Spacescope, "2025-09-11T00:00:00Z"), now, day));
        assert!(needs_refresh(&meta(SnapshotSource::Spacescope, "2025-09-10T11:59:00Z"), now, day));
        assert!(!needs_refresh(&meta(SnapshotSource::Import, "2025-09-12T00:00:00Z"), now, day));
    }

    #[tokio::test(start_paused = true)]
    async fn runs_once_a_day_at_the_trigger_time() {
        // A clock that starts at 20:00 UTC and moves with tokio's paused time.
        let base = at("2025-09-10T20:00:00Z");
        let started = tokio::time::Instant::now();
        let now = move || base + chrono::Duration::from_std(started.elapsed()).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let task = tokio::spawn(run_daily(NaiveTime::from_hms_opt(2, 0, 0).unwrap(), now, move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }));
        tokio::time::sleep(Duration::from_secs(5 * 3600 + 59 * 60)).await; // 01:59
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        tokio::time::sleep(Duration::from_secs(2 * 60)).await; // 02:01
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_secs(24 * 3600)).await; // next day 02:01
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        task.abort();
    }
}
