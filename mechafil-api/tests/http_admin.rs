//! `/admin/update-cache` end to end: the real router and a real store (temp dir) on loopback,
//! updating from a mock Spacescope that replays `shared/fixtures/spacescope/`.

mod common;
mod http_support;

use std::sync::Arc;
use std::time::Duration;

use common::{Fault, MockSpacescope, Mode, mock_config, spacescope_dir};
use http_support::TestServer;
use mechafil_api::config::ApiConfig;
use mechafil_api::demo::demo_snapshot;
use mechafil_api::http::{AppState, DataSources, Served};
use mechafil_api::spacescope::FetchOptions;
use mechafil_api::store::SnapshotStore;
use serde_json::{Value, json};

const TOKEN: &str = "admin-s3cret";

/// A server on the demo snapshot, with a store in `dir` and Spacescope at `spacescope_url`,
/// pinned to the recorded scenario's dates.
async fn server(
    dir: &std::path::Path,
    spacescope_url: Option<&str>,
    admin_token: Option<&str>,
) -> TestServer {
    let store = SnapshotStore::open(dir).unwrap().store;
    let demo = demo_snapshot();
    let served = Served::new(demo.meta, demo.data).unwrap();
    let config = ApiConfig { admin_token: admin_token.map(String::from), ..ApiConfig::default() };
    let data = DataSources {
        store: Some(store),
        spacescope: spacescope_url.map(mock_config),
        fetch: FetchOptions {
            start_date: "2022-10-10".parse().unwrap(),
            current_date: Some("2025-09-09".parse().unwrap()),
            window_days: 3650,
        },
        last_update: None,
    };
    TestServer::start(AppState::with_data(config, Ok(served), data)).await
}

async fn admin(server: &TestServer, auth: Option<&str>) -> (u16, Value) {
    let mut request = server.client.post(server.url("/admin/update-cache"));
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn served_source(server: &TestServer) -> (String, String) {
    let (status, body) =
        server.post("/simulate", &json!({"forecast_length_days": 30, "output": "circ_supply"})).await;
    assert_eq!(status, 200, "{body}");
    let snapshot = &body["input"]["snapshot"];
    (snapshot["source"].as_str().unwrap().to_string(), snapshot["current_date"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn without_admin_token_the_endpoint_is_forbidden() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), Some("http://127.0.0.1:9"), None).await;
    let (status, body) = admin(&server, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("ADMIN_TOKEN"));
    server.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_tokens_are_401() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), Some("http://127.0.0.1:9"), Some(TOKEN)).await;
    for auth in [None, Some("Bearer wrong"), Some(TOKEN), Some("Basic admin-s3cret")] {
        let (status, body) = admin(&server, auth).await;
        assert_eq!(status, 401, "{auth:?}: {body}");
    }
    let response = server.client.post(server.url("/admin/update-cache")).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    server.stop().await;
}

#[tokio::test]
async fn without_spacescope_token_updates_are_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), None, Some(TOKEN)).await;
    let (status, body) = admin(&server, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("SPACESCOPE_TOKEN"));
    server.stop().await;
}

#[tokio::test]
async fn a_successful_update_is_served_at_once_and_survives_a_restart() {
    let Some(fixtures) = spacescope_dir() else { return };
    let mock = MockSpacescope::start(&fixtures, Mode::Strict, None).await;
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), Some(&mock.base_url), Some(TOKEN)).await;
    assert_eq!(served_source(&server).await.0, "demo");

    let (status, body) = admin(&server, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "updated");
    assert_eq!(body["snapshot"]["current_date"], "2025-09-09");
    assert_eq!(body["snapshot"]["source"], "spacescope");
    assert_eq!(served_source(&server).await, ("spacescope".to_string(), "2025-09-09".to_string()));

    let (_, health) = server.get("/health").await;
    assert_eq!(health["snapshot"]["source"], "spacescope");
    assert_eq!(health["last_update"]["outcome"]["status"], "updated", "{health}");
    // The supply history the reference discards is served.
    let (status, history) = server.get("/historical-data?fields=circ_supply,locked_fil").await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["data"]["field_meta"]["circ_supply"]["kind"], "stock");
    server.stop().await;

    // A new process on the same store serves the updated snapshot.
    let store = SnapshotStore::open(dir.path()).unwrap().store;
    let active = store.active().unwrap().expect("an active snapshot");
    assert_eq!(active.meta.current_date.to_string(), "2025-09-09");
}

#[tokio::test]
async fn a_failed_update_is_502_and_the_old_snapshot_keeps_being_served() {
    let Some(fixtures) = spacescope_dir() else { return };
    let fault: common::FaultFn = Arc::new(|req: &common::MockRequest| {
        req.is("/network_storage_capacity").then_some(Fault::Status(500))
    });
    let mock = MockSpacescope::start(&fixtures, Mode::Strict, Some(fault)).await;
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), Some(&mock.base_url), Some(TOKEN)).await;
    let (status, body) = admin(&server, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 502, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("network_storage_capacity") && error.contains("500"), "{error}");
    assert_eq!(served_source(&server).await.0, "demo");
    let (_, health) = server.get("/health").await;
    assert_eq!(health["last_update"]["outcome"]["status"], "failed", "{health}");
    assert_eq!(health["snapshot"]["source"], "demo");
    server.stop().await;
}

#[tokio::test]
async fn a_second_update_while_one_runs_is_409() {
    let Some(fixtures) = spacescope_dir() else { return };
    // The sector table answers slowly, so the first update is still running.
    let fault: common::FaultFn = Arc::new(|req: &common::MockRequest| {
        req.is("/sectors_schedule_expiration").then_some(Fault::Hang(Duration::from_secs(2)))
    });
    let mock = MockSpacescope::start(&fixtures, Mode::Strict, Some(fault)).await;
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), Some(&mock.base_url), Some(TOKEN)).await;
    let first = {
        let client = server.client.clone();
        let url = server.url("/admin/update-cache");
        tokio::spawn(
            async move { client.post(url).bearer_auth(TOKEN).send().await.unwrap().status().as_u16() },
        )
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, health) = server.get("/health").await;
    assert_eq!(health["update_in_progress"], true, "{health}");
    let (status, body) = admin(&server, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 409, "{body}");
    // /simulate is answered while the update runs.
    assert_eq!(served_source(&server).await.0, "demo");
    assert_eq!(first.await.unwrap(), 200);
    assert_eq!(served_source(&server).await.0, "spacescope");
    server.stop().await;
}
