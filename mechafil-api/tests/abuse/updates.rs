//! Item 4: updates. Against a Spacescope that accepts connections and never answers, an update
//! held the update lock for over 590 s (40-50 min extrapolated) because each request's retries
//! queued again; and it ran inside the HTTP request, so a caller that disconnected cancelled it
//! without recording anything, and a cancellation at the commit left the store's new snapshot
//! active while the process served the old one. Now an update runs on its own task with an
//! overall deadline (`MECHAFIL_UPDATE_DEADLINE_SECS`), at boot too.

use std::sync::Arc;
use std::time::Duration;

use mechafil_api::config::ApiConfig;
use mechafil_api::http::{AppState, DataSources};
use mechafil_api::spacescope::{FetchOptions, SpacescopeConfig};
use mechafil_api::store::SnapshotStore;
use serde_json::Value;

use super::common::{Fault, MockSpacescope, Mode, mock_config, spacescope_dir};
use super::http_support::{TestServer, demo_served};
use super::{Binary, SilentServer};

const TOKEN: &str = "admin-s3cret";
const PATIENCE: Duration = Duration::from_secs(20);

fn scenario() -> FetchOptions {
    FetchOptions {
        start_date: "2022-10-10".parse().unwrap(),
        current_date: Some("2025-09-09".parse().unwrap()),
        window_days: 3650,
    }
}

/// A server on the demo snapshot with a store in `dir`, updating from `spacescope` with an
/// update deadline of `deadline`.
async fn server(dir: &std::path::Path, spacescope: SpacescopeConfig, deadline: Duration) -> TestServer {
    let store = SnapshotStore::open(dir).unwrap().store;
    let config =
        ApiConfig { admin_token: Some(TOKEN.into()), update_deadline: deadline, ..ApiConfig::default() };
    let data = DataSources {
        store: Some(store),
        spacescope: Some(spacescope),
        fetch: scenario(),
        last_update: None,
    };
    TestServer::start(AppState::with_data(config, Ok(demo_served()), data)).await
}

/// Spacescope's production patience (60 s per request, 4 retries) against a silent server.
fn patient_config(url: &str) -> SpacescopeConfig {
    SpacescopeConfig::new(url, "token").unwrap()
}

async fn health(server: &TestServer) -> Value {
    server.get("/health").await.1
}

/// Polls `/health` until `done` holds for it.
async fn wait_for_health(server: &TestServer, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let body = health(server).await;
        if done(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "/health never got there: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_update_against_a_silent_spacescope_fails_at_its_deadline_and_releases_the_lock() {
    let silent = SilentServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), patient_config(&silent.url), Duration::from_secs(2)).await;
    for attempt in 0..2 {
        let response = tokio::time::timeout(
            PATIENCE,
            server.client.post(server.url("/admin/update-cache")).bearer_auth(TOKEN).send(),
        )
        .await
        .expect("the update request never ended")
        .unwrap();
        // The second attempt runs too: the first one released the lock (no 409).
        assert_eq!(response.status(), 502, "attempt {attempt}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("deadline of 2 s"), "{body}");
    }
    let health = health(&server).await;
    assert_eq!(health["update_in_progress"], false);
    assert_eq!(health["last_update"]["outcome"]["status"], "failed", "{health}");
    assert!(health["last_update"]["outcome"]["error"].as_str().unwrap().contains("deadline"));
    assert_eq!(health["snapshot"]["source"], "demo");
    // Recorded in the store as well, for the next process.
    let store = server.state.data().store.clone().unwrap();
    let recorded = tokio::task::spawn_blocking(move || store.last_update_attempt()).await.unwrap().unwrap();
    assert!(format!("{recorded:?}").contains("deadline"));
    server.stop().await;
}

#[tokio::test]
async fn a_caller_that_disconnects_does_not_cancel_the_update() {
    let silent = SilentServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), patient_config(&silent.url), Duration::from_secs(2)).await;
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let gone = impatient.post(server.url("/admin/update-cache")).bearer_auth(TOKEN).send().await;
    assert!(gone.is_err(), "the client gave up before the update ended");
    assert_eq!(health(&server).await["update_in_progress"], true);
    // The update goes on without its caller and ends, recorded, at its deadline.
    let health = wait_for_health(&server, |h| h["update_in_progress"] == false).await;
    assert_eq!(health["last_update"]["outcome"]["status"], "failed", "{health}");
    server.stop().await;
}

#[tokio::test]
async fn an_update_whose_caller_left_is_stored_and_served_together() {
    let Some(fixtures) = spacescope_dir() else { return };
    // The sector table answers after 1 s; the caller gives up after 300 ms.
    let fault: super::common::FaultFn = Arc::new(|req: &super::common::MockRequest| {
        req.is("/sectors_schedule_expiration").then_some(Fault::Hang(Duration::from_secs(1)))
    });
    let mock = MockSpacescope::start(&fixtures, Mode::Strict, Some(fault)).await;
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), mock_config(&mock.base_url), Duration::from_secs(60)).await;
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    assert!(impatient.post(server.url("/admin/update-cache")).bearer_auth(TOKEN).send().await.is_err());
    let health = wait_for_health(&server, |h| h["update_in_progress"] == false).await;
    assert_eq!(health["last_update"]["outcome"]["status"], "updated", "{health}");
    // What is served is what the store has active.
    assert_eq!(health["snapshot"]["source"], "spacescope");
    let served = server.state.served().unwrap();
    let store = server.state.data().store.clone().unwrap();
    let active = tokio::task::spawn_blocking(move || store.active()).await.unwrap().unwrap().unwrap();
    assert_eq!(active.meta, served.meta);
    assert_eq!(active.data, served.data);
    server.stop().await;
}

#[tokio::test]
async fn the_refresh_at_boot_has_the_deadline_too() {
    let silent = SilentServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Binary::start(
        dir.path(),
        &[
            ("SPACESCOPE_TOKEN", "token"),
            ("SPACESCOPE_BASE_URL", silent.url.as_str()),
            ("MECHAFIL_UPDATE_DEADLINE_SECS", "2"),
        ],
    );
    // The demo is stale by definition: the boot refresh starts at once.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let health = loop {
        let (_, health) = server.get("/health").await;
        if health["last_update"]["outcome"]["status"] == "failed" {
            break health;
        }
        assert!(tokio::time::Instant::now() < deadline, "the boot refresh never ended: {health}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        health["last_update"]["outcome"]["error"].as_str().unwrap().contains("deadline of 2 s"),
        "{health}"
    );
    assert_eq!(health["update_in_progress"], false);
    assert!(server.terminate().success());
}
