//! Failure handling of `update_cache`: each injected fault ends with an error that names the
//! endpoint and the date range (or day) that failed, the previously active snapshot stays active
//! and intact, and the failure is recorded as the last update attempt. Transient faults (429,
//! 5xx, timeouts) are retried and, when they clear, the update succeeds.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::*;
use mechafil_api::demo::demo_network_data;
use mechafil_api::network_data::SnapshotSource;
use mechafil_api::spacescope::{FetchError, FetchOptions, SpacescopeConfig};
use mechafil_api::store::{SnapshotStore, UpdateOutcome};
use mechafil_api::update::{UpdateError, update_cache};

/// The update deadline of these tests: far beyond what any of them takes.
const DEADLINE: Duration = Duration::from_secs(300);
const ONBOARDING: &str = "daily_power_onboarding_by_sector_size";

fn scenario() -> FetchOptions {
    FetchOptions { start_date: day("2022-10-10"), current_date: Some(day("2025-09-09")), window_days: 3650 }
}

/// A store whose active snapshot is the demo one.
fn seeded_store(dir: &std::path::Path) -> SnapshotStore {
    let store = SnapshotStore::open(dir).unwrap().store;
    store.insert_and_activate(&demo_network_data(), SnapshotSource::Demo, Utc::now()).unwrap();
    store
}

/// Runs `update_cache` with `fault` and returns its error; also checks the store kept the demo.
async fn failed_update(
    fault: FaultFn,
    config: impl FnOnce(&str) -> SpacescopeConfig,
) -> (UpdateError, MockSpacescope) {
    let dir = spacescope_dir().expect("checked by the caller");
    let data_dir = tempfile::tempdir().unwrap();
    let store = seeded_store(data_dir.path());
    let before = store.active().unwrap().unwrap();
    let mock = MockSpacescope::start(&dir, Mode::DataBacked, Some(fault)).await;
    let err = update_cache(&config(&mock.base_url), &store, &scenario(), DEADLINE).await.unwrap_err();
    let after = store.active().unwrap().expect("still an active snapshot");
    assert_eq!(after, before, "the active snapshot is unchanged");
    assert_eq!(store.list().unwrap().len(), 1, "nothing else was stored");
    match store.last_update_attempt().unwrap().expect("the attempt was recorded").outcome {
        UpdateOutcome::Failed { error } => assert_eq!(error, err.to_string()),
        other => panic!("recorded {other:?}"),
    }
    // Reopening shows the same: the failure did not damage the file.
    drop(store);
    let reopened = SnapshotStore::open(data_dir.path()).unwrap();
    assert!(reopened.moved_aside.is_none());
    assert_eq!(reopened.store.active().unwrap().unwrap(), before);
    (err, mock)
}

fn last_onboarding_chunk(req: &MockRequest) -> bool {
    req.is(ONBOARDING) && req.query.get("start_date").map(String::as_str) == Some("2025-07-07")
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    if spacescope_dir().is_none() {
        return;
    }
    let fault: FaultFn = Arc::new(|req| last_onboarding_chunk(req).then_some(Fault::Status(500)));
    let (err, mock) = failed_update(fault, mock_config).await;
    let message = err.to_string();
    assert!(
        message.contains("/v2/power/daily_power_onboarding_by_sector_size for 2025-07-07 ..= 2025-09-09")
            && message.contains("HTTP 500 after 4 attempt(s)"),
        "{message}"
    );
    assert_eq!(mock.count(|p, q| p.ends_with(ONBOARDING) && q["start_date"] == "2025-07-07"), 4);
}

#[tokio::test]
async fn rate_limiting_is_retried_and_recovers() {
    let Some(dir) = spacescope_dir() else { return };
    let data_dir = tempfile::tempdir().unwrap();
    let store = seeded_store(data_dir.path());
    // Every request is refused twice before it is answered.
    let fault: FaultFn = Arc::new(|req| (req.seen <= 2).then_some(Fault::Status(429)));
    let mock = MockSpacescope::start(&dir, Mode::DataBacked, Some(fault)).await;
    let meta = update_cache(&mock_config(&mock.base_url), &store, &scenario(), DEADLINE).await.unwrap();
    assert_eq!(meta.current_date, day("2025-09-09"));
    assert_eq!(meta.source, SnapshotSource::Spacescope);
    let active = store.active().unwrap().unwrap();
    assert_eq!(active.meta, meta);
    let ours = serde_json::to_value(active.data.to_export()).unwrap();
    compare_with_expected(&ours, &read_json(&dir.join("expected-snapshot.json"))).unwrap();
    assert_eq!(mock.requests().len(), 65 * 3, "each distinct request: two 429s and one answer");
    assert!(matches!(
        store.last_update_attempt().unwrap().unwrap().outcome,
        UpdateOutcome::Updated { current_date, .. } if current_date == day("2025-09-09")
    ));
}

#[tokio::test]
async fn persistent_rate_limiting_fails() {
    if spacescope_dir().is_none() {
        return;
    }
    let fault: FaultFn = Arc::new(|req| req.is("deal_size").then_some(Fault::Status(429)));
    let (err, _) = failed_update(fault, mock_config).await;
    let message = err.to_string();
    assert!(message.contains("/v2/deals/deal_size for 2025-") && message.contains("HTTP 429"), "{message}");
}

#[tokio::test]
async fn a_request_that_hangs_times_out() {
    if spacescope_dir().is_none() {
        return;
    }
    let fault: FaultFn =
        Arc::new(|req| req.is("sectors_schedule_expiration").then_some(Fault::Hang(Duration::from_secs(5))));
    let started = std::time::Instant::now();
    let (err, mock) = failed_update(fault, |url| {
        let mut config = mock_config(url);
        config.request_timeout = Duration::from_millis(300);
        config.max_retries = 1;
        config
    })
    .await;
    assert!(matches!(err, UpdateError::Fetch(FetchError::Transport { .. })), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(
            "/v2/power/sectors_schedule_expiration (whole table) failed after 2 attempt(s): timed out"
        ),
        "{message}"
    );
    assert_eq!(mock.count(|p, _| p.ends_with("sectors_schedule_expiration")), 2);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "gave up at the timeout, not when the server answered"
    );
}

#[tokio::test]
async fn a_timeout_that_clears_is_retried() {
    let Some(dir) = spacescope_dir() else { return };
    let data_dir = tempfile::tempdir().unwrap();
    let store = seeded_store(data_dir.path());
    let fault: FaultFn =
        Arc::new(|req| (req.seen == 1 && req.is("deal_size")).then_some(Fault::Hang(Duration::from_secs(3))));
    let mock = MockSpacescope::start(&dir, Mode::DataBacked, Some(fault)).await;
    let mut config = mock_config(&mock.base_url);
    config.request_timeout = Duration::from_millis(1000);
    let meta = update_cache(&config, &store, &scenario(), DEADLINE).await.unwrap();
    assert_eq!(store.active().unwrap().unwrap().meta, meta);
}

#[tokio::test]
async fn malformed_json_is_not_retried() {
    if spacescope_dir().is_none() {
        return;
    }
    let fault: FaultFn = Arc::new(|req| {
        (req.is("circulating_supply") && req.covers(day("2024-01-01")))
            .then(|| Fault::Body(r#"{"data": [{"stat_da"#.into()))
    });
    let (err, mock) = failed_update(fault, mock_config).await;
    let message = err.to_string();
    assert!(
        message.contains(
            "/v2/circulating_supply/circulating_supply for 2023-10-09 ..= 2024-01-07: malformed response"
        ),
        "{message}"
    );
    assert_eq!(mock.count(|p, q| p.ends_with("circulating_supply") && q["start_date"] == "2023-10-09"), 1);
}

#[tokio::test]
async fn a_missing_day_is_named() {
    if spacescope_dir().is_none() {
        return;
    }
    let fault: FaultFn = Arc::new(|req| {
        (req.is("network_storage_capacity") && req.covers(day("2024-02-29")))
            .then_some(Fault::EditRows(|rows| rows.retain(|(d, _)| *d != day("2024-02-29"))))
    });
    let (err, _) = failed_update(fault, mock_config).await;
    let message = err.to_string();
    assert!(
        message.contains(
            "/v2/power/network_storage_capacity for 2024-01-08 ..= 2024-04-07: no row for 2024-02-29"
        ) || message.contains(
            "/v2/power/network_storage_capacity for 2024-01-11 ..= 2024-04-10: no row for 2024-02-29"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn a_rejected_token_is_reported_without_retries() {
    if spacescope_dir().is_none() {
        return;
    }
    let fault: FaultFn = Arc::new(|_| Some(Fault::Status(401)));
    let (err, mock) = failed_update(fault, mock_config).await;
    assert!(matches!(err, UpdateError::Fetch(FetchError::Unauthorized { status: 401, .. })), "{err}");
    assert!(err.to_string().contains("SPACESCOPE_TOKEN"), "{err}");
    let asked = mock.requests();
    let distinct: std::collections::BTreeSet<_> = asked.iter().collect();
    assert_eq!(asked.len(), distinct.len(), "a 401 is never retried");
}

#[tokio::test]
async fn non_numeric_fields_and_conflicting_duplicates_are_named() {
    if spacescope_dir().is_none() {
        return;
    }
    let fault: FaultFn = Arc::new(|req| {
        (req.is(ONBOARDING) && req.covers(day("2023-05-05"))).then_some(Fault::EditRows(|rows| {
            for (d, row) in rows.iter_mut() {
                if *d == day("2023-05-05") {
                    let start = row.find("\"commit_rbp_64gib\":").unwrap() + "\"commit_rbp_64gib\":".len();
                    let end = start + row[start..].find([',', '}']).unwrap();
                    row.replace_range(start..end, "\"n/a\"");
                }
            }
        }))
    });
    let (err, _) = failed_update(fault, mock_config).await;
    let message = err.to_string();
    assert!(
        message.contains("daily_power_onboarding_by_sector_size for 2023-04-10 ..= 2023-07-09: commit_rbp_64gib on 2023-05-05 is not a finite number: \"n/a\""),
        "{message}"
    );

    let fault: FaultFn = Arc::new(|req| {
        (req.is("circulating_supply") && req.covers(day("2023-05-05"))).then_some(Fault::EditRows(|rows| {
            let (d, row) = rows.iter().find(|(d, _)| *d == day("2023-05-05")).unwrap().clone();
            rows.push((d, row.replace("\"burnt_fil\":", "\"burnt_fil\":1")));
        }))
    });
    let (err, _) = failed_update(fault, mock_config).await;
    assert!(err.to_string().contains("two different rows for 2023-05-05"), "{err}");
}

#[tokio::test]
async fn zeros_on_published_days_are_rejected() {
    if spacescope_dir().is_none() {
        return;
    }
    // The last days of onboarding read as zeros, as unfinished days sometimes do.
    let fault: FaultFn = Arc::new(|req| {
        last_onboarding_chunk(req).then_some(Fault::EditRows(|rows| {
            for (d, row) in rows.iter_mut() {
                if *d >= day("2025-09-01") {
                    for field in
                        ["commit_rbp_32gib", "commit_rbp_64gib", "commit_qap_32gib", "commit_qap_64gib"]
                    {
                        let key = format!("\"{field}\":");
                        let start = row.find(&key).unwrap() + key.len();
                        let end = start + row[start..].find([',', '}']).unwrap();
                        row.replace_range(start..end, "0");
                    }
                }
            }
        }))
    });
    let (err, _) = failed_update(fault, mock_config).await;
    let message = err.to_string();
    assert!(
        message.contains("daily_power_onboarding_by_sector_size for 2022-10-10 ..= 2025-09-09: commit_rbp_32gib + commit_rbp_64gib is zero on the latest day, 2025-09-09"),
        "{message}"
    );
}

#[test]
fn update_cache_command_fails_clearly_without_a_token() {
    let data_dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mechafil-api"))
        .args(["update-cache", "--current-date", "2025-09-09"])
        .env("MECHAFIL_DATA_DIR", data_dir.path())
        .env_remove("SPACESCOPE_TOKEN")
        .env_remove("SPACESCOPE_AUTH_FILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("set SPACESCOPE_TOKEN or SPACESCOPE_AUTH_FILE"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_cache_command_exits_non_zero_with_the_reason() {
    let Some(dir) = spacescope_dir() else { return };
    let data_dir = tempfile::tempdir().unwrap();
    seeded_store(data_dir.path());
    let fault: FaultFn = Arc::new(|req| req.is("deal_size").then_some(Fault::Status(503)));
    let mock = MockSpacescope::start(&dir, Mode::DataBacked, Some(fault)).await;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mechafil-api"));
    command
        .args([
            "update-cache",
            "--start-date",
            "2022-10-10",
            "--current-date",
            "2025-09-09",
            "--window-days",
            "3650",
        ])
        .env("MECHAFIL_DATA_DIR", data_dir.path())
        .env("SPACESCOPE_TOKEN", "fixture-token")
        .env("SPACESCOPE_BASE_URL", &mock.base_url)
        .env("SPACESCOPE_RETRY_BASE_MS", "5")
        .env("SPACESCOPE_RETRY_MAX_MS", "20")
        .env("SPACESCOPE_MAX_RETRIES", "2");
    // The mock runs on this runtime; wait for the child on the blocking pool.
    let out = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: update-cache failed")
            && stderr
                .contains("/v2/deals/deal_size for 2025-03-13 ..= 2025-06-11: HTTP 503 after 3 attempt(s)")
            || stderr
                .contains("/v2/deals/deal_size for 2025-06-12 ..= 2025-09-09: HTTP 503 after 3 attempt(s)"),
        "{stderr}"
    );
    let store = SnapshotStore::open(data_dir.path()).unwrap().store;
    assert_eq!(store.active().unwrap().unwrap().meta.source, SnapshotSource::Demo);
}
