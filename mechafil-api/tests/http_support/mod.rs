//! Shared helpers of the HTTP tests: serving a snapshot on a loopback port and building
//! snapshots from the fixtures.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::time::Duration;

use chrono::{Days, Utc};
use mechafil_api::config::ApiConfig;
use mechafil_api::http::server::ServerLimits;
use mechafil_api::http::{self, AppState, Served};
use mechafil_api::network_data::{DatedSeries, NetworkData, RecentHistory, SnapshotMeta, SnapshotSource};
use mechafil_core::Snapshot;
use mechafil_core::reference::ReferenceSnapshot;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A running server on 127.0.0.1 and a client for it.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Serves `state` on a fresh loopback port.
    pub async fn start(state: AppState) -> TestServer {
        TestServer::start_with_limits(state, ServerLimits::default()).await
    }

    /// Serves `state` on a fresh loopback port with the given connection limits and timeouts.
    pub async fn start_with_limits(state: AppState, limits: ServerLimits) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let app = http::router(state.clone());
        let task = tokio::spawn(http::server::serve(
            listener,
            app,
            async move {
                let _ = stopped.await;
            },
            Duration::from_secs(5),
            limits,
        ));
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        TestServer { base, client, state, stop: Some(stop), task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs `body` (JSON) to `path`; returns status and parsed body.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let response = self.client.post(self.url(path)).json(body).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.client.get(self.url(path)).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// Stops the server (graceful shutdown) and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("server task").expect("server ran");
    }
}

/// The reference snapshot of the fixtures (2022-10-10 .. 2025-09-09), served as an import,
/// with its recent series dated as the reference dates them. From the full fixtures or, where
/// they are absent, the committed excerpt's copy, so this is always `Some`.
pub fn reference_served(locked_reward_zero: Option<f64>) -> Option<Served> {
    let text = std::fs::read_to_string(mechafil_core::test_support::reference_snapshot_file()).unwrap();
    let reference: ReferenceSnapshot = serde_json::from_str(&text).unwrap();
    let mut snapshot = reference.to_snapshot(Some("2022-10-10".parse().unwrap())).unwrap();
    if locked_reward_zero.is_some() {
        snapshot.locked_reward_zero = locked_reward_zero;
    }
    let arrays = reference.historical_arrays.clone().unwrap();
    let recent_start = snapshot.current_date - Days::new(180);
    let recent = RecentHistory {
        raw_byte_power: DatedSeries { start_date: recent_start, values: arrays.raw_byte_power },
        renewal_rate: DatedSeries { start_date: recent_start, values: arrays.renewal_rate },
        filplus_rate: DatedSeries { start_date: recent_start, values: arrays.filplus_rate },
    };
    Some(served_from(snapshot, recent, SnapshotSource::Import))
}

/// Serves `snapshot` with the given recent series and source.
pub fn served_from(snapshot: Snapshot, recent: RecentHistory, source: SnapshotSource) -> Served {
    let meta = SnapshotMeta {
        start_date: snapshot.start_date,
        current_date: snapshot.current_date,
        source,
        fetched_at: Utc::now(),
    };
    Served::new(meta, NetworkData { snapshot, recent, supply: None, end_date: None }).expect("valid snapshot")
}

/// The synthetic demo snapshot, ready to serve (no fixtures needed).
pub fn demo_served() -> Served {
    let demo = mechafil_api::demo::demo_snapshot();
    Served::new(demo.meta, demo.data).expect("the demo snapshot is valid")
}

/// Default configuration.
pub fn config() -> ApiConfig {
    ApiConfig::default()
}
