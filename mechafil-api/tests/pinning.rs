//! Snapshots named and pinned (issue 13): every answer names the snapshot it was computed on
//! (body, `X-Snapshot-Id`, `ETag`), a request can pin a snapshot by id or `current_date`, a
//! machine answers pinned requests from its store and refuses (409, with what it holds) those it
//! cannot, and two machines holding the same data give byte-identical answers. Real servers on
//! loopback, a real store on disk.

mod http_support;

use chrono::Utc;
use http_support::{TestServer, config};
use mechafil_api::demo::demo_network_data_later;
use mechafil_api::http::{AppState, DataSources, Served};
use mechafil_api::network_data::{NetworkData, SnapshotMeta, SnapshotSource};
use mechafil_api::store::SnapshotStore;
use serde_json::{Value, json};

/// A server whose store holds `demo_network_data_later(k)` for each `k` (the last one active and served).
async fn replica(dir: &std::path::Path, days: &[u64]) -> TestServer {
    let store = SnapshotStore::open(dir).unwrap().store;
    for &k in days {
        store
            .insert_and_activate(&demo_network_data_later(k), SnapshotSource::Spacescope, Utc::now())
            .unwrap();
    }
    let active = store.active().unwrap().unwrap();
    let served = Served::new(active.meta, active.data).unwrap();
    let data = DataSources { store: Some(store), ..DataSources::default() };
    TestServer::start(AppState::with_data(config(), Ok(served), data)).await
}

/// A server without a store serving `data`, fetched at another time than any replica's.
async fn serving(data: NetworkData) -> TestServer {
    let meta = SnapshotMeta {
        start_date: data.snapshot.start_date,
        current_date: data.snapshot.current_date,
        source: SnapshotSource::Spacescope,
        fetched_at: "2030-01-01T00:00:00Z".parse().unwrap(),
    };
    TestServer::start(AppState::new(config(), Ok(Served::new(meta, data).unwrap()))).await
}

struct Answer {
    status: u16,
    snapshot_id: Option<String>,
    etag: Option<String>,
    bytes: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap()
    }
}

async fn send(server: &TestServer, path: &str, body: Option<&Value>, if_none_match: Option<&str>) -> Answer {
    let mut request = match body {
        Some(body) => server.client.post(server.url(path)).json(body),
        None => server.client.get(server.url(path)),
    };
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let (snapshot_id, etag) = (header("x-snapshot-id"), header("etag"));
    Answer {
        status: response.status().as_u16(),
        snapshot_id,
        etag,
        bytes: response.bytes().await.unwrap().to_vec(),
    }
}

const SIMULATE: &str = r#"{"forecast_length_days": 400, "rbp": 4.5}"#;

#[tokio::test]
async fn every_answer_names_its_snapshot_in_the_body_the_header_and_health() {
    let dir = tempfile::tempdir().unwrap();
    let server = replica(dir.path(), &[0, 1]).await;
    let id = demo_network_data_later(1).snapshot_id();
    assert_eq!(id.len(), 16);
    assert_ne!(id, demo_network_data_later(0).snapshot_id(), "other data, another id");
    assert_eq!(id, demo_network_data_later(1).snapshot_id(), "the same data, the same id");

    let body: Value = serde_json::from_str(SIMULATE).unwrap();
    let simulate = send(&server, "/simulate", Some(&body), None).await;
    assert_eq!(simulate.status, 200);
    assert_eq!(simulate.snapshot_id.as_deref(), Some(id.as_str()));
    let snapshot = &simulate.json()["input"]["snapshot"];
    assert_eq!(snapshot["snapshot_id"], id);
    assert_eq!(snapshot["current_date"], "2025-09-10");
    assert!(snapshot.get("fetched_at").is_none(), "no fetch time in answers: {snapshot}");

    let historical = send(&server, "/historical-data?fields=raw_byte_power", None, None).await;
    assert_eq!(historical.status, 200);
    assert_eq!(historical.snapshot_id.as_deref(), Some(id.as_str()));
    assert_eq!(historical.json()["data"]["snapshot_id"], id);

    let analysis = json!({"baseline": {"forecast_length_days": 200}, "scenarios": {"low": {"rbp": 2.0}}});
    let compare = send(&server, "/analyze/compare", Some(&analysis), None).await;
    assert_eq!(compare.status, 200, "{}", String::from_utf8_lossy(&compare.bytes));
    assert_eq!(compare.snapshot_id.as_deref(), Some(id.as_str()));
    assert_eq!(compare.json()["snapshot"]["snapshot_id"], id);

    let (status, health) = server.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["snapshot"]["snapshot_id"], id);
    assert!(health["snapshot"]["fetched_at"].is_string(), "{health}");
    assert!(health["machine"].is_null(), "no FLY_MACHINE_ID here: {health}");
    server.stop().await;
}

#[tokio::test]
async fn a_repeated_request_with_its_etag_is_answered_304_and_another_request_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let server = replica(dir.path(), &[0]).await;
    let body: Value = serde_json::from_str(SIMULATE).unwrap();
    for (path, body) in [("/simulate", Some(&body)), ("/historical-data?fields=raw_byte_power", None)] {
        let first = send(&server, path, body, None).await;
        let etag = first.etag.clone().expect("an ETag");
        assert!(etag.starts_with(&format!("\"{}-", demo_network_data_later(0).snapshot_id())), "{etag}");
        assert_eq!(send(&server, path, body, None).await.etag, Some(etag.clone()), "deterministic");

        let again = send(&server, path, body, Some(&etag)).await;
        assert_eq!(again.status, 304, "{path}");
        assert!(again.bytes.is_empty());
        assert_eq!(again.etag.as_deref(), Some(etag.as_str()));
        assert_eq!(again.snapshot_id, first.snapshot_id);
        let listed = format!("\"other\", W/{etag}");
        assert_eq!(send(&server, path, body, Some(&listed)).await.status, 304, "a list, a weak tag");
        assert_eq!(send(&server, path, body, Some("\"other\"")).await.status, 200);
    }
    let other_body = json!({"forecast_length_days": 401, "rbp": 4.5});
    let first = send(&server, "/simulate", Some(&body), None).await;
    let other = send(&server, "/simulate", Some(&other_body), first.etag.as_deref()).await;
    assert_eq!(other.status, 200, "another request is computed");
    assert_ne!(other.etag, first.etag);
    server.stop().await;
}

#[tokio::test]
async fn pinned_requests_are_answered_from_the_store_byte_identical_to_a_replica_serving_that_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    // This machine serves day 2; its store also holds days 0 and 1.
    let server = replica(dir.path(), &[0, 1, 2]).await;
    let old = demo_network_data_later(0);
    let old_id = old.snapshot_id();
    // A replica that serves day 0 (fetched at another time, no store).
    let other = serving(old).await;

    let requests: Vec<(&str, Value)> = vec![
        ("/simulate", serde_json::from_str(SIMULATE).unwrap()),
        ("/simulate/full", json!({"forecast_length_days": 30, "rr": 0.6})),
        (
            "/simulate/batch",
            json!({"scenarios": [{"rbp": 3.0, "forecast_length_days": 90}, {"rbp": 6.0}], "output": "circ_supply"}),
        ),
        (
            "/analyze/compare",
            json!({"baseline": {"forecast_length_days": 120}, "scenarios": {"high": {"rbp": 9.0}}}),
        ),
    ];
    for pin in [old_id.clone(), "2025-09-09".to_string()] {
        for (path, body) in &requests {
            let mut pinned = body.clone();
            pinned["snapshot"] = json!(pin);
            let here = send(&server, path, Some(&pinned), None).await;
            assert_eq!(here.status, 200, "{path}: {}", String::from_utf8_lossy(&here.bytes));
            assert_eq!(here.snapshot_id.as_deref(), Some(old_id.as_str()), "{path}");
            let there = send(&other, path, Some(&pinned), None).await;
            assert_eq!(there.status, 200, "{path}");
            assert!(here.bytes == there.bytes, "{path} pinned to {pin}: the same bytes on both machines");
            assert_eq!(here.etag, there.etag, "{path}: the same ETag on both machines");
        }
        let path = format!("/historical-data/full?snapshot={pin}&fields=raw_byte_power");
        let (here, there) = (send(&server, &path, None, None).await, send(&other, &path, None, None).await);
        assert_eq!((here.status, &here.snapshot_id), (200, &Some(old_id.clone())));
        assert!(here.bytes == there.bytes, "historical pinned to {pin}");
    }
    // Pinning day 1 (a third snapshot: the prepared pinned one is replaced), then day 0 again,
    // and the served day 2, all answer from what they pin.
    for (day, pin) in [(1, "2025-09-10"), (0, "2025-09-09"), (2, "2025-09-11")] {
        let answer =
            send(&server, "/simulate", Some(&json!({"snapshot": pin, "forecast_length_days": 10})), None)
                .await;
        assert_eq!(answer.snapshot_id, Some(demo_network_data_later(day).snapshot_id()), "{pin}");
    }
    // Unpinned requests still answer from the served snapshot.
    let unpinned = send(&server, "/simulate", Some(&json!({})), None).await;
    assert_eq!(unpinned.snapshot_id, Some(demo_network_data_later(2).snapshot_id()));
    server.stop().await;
    other.stop().await;
}

#[tokio::test]
async fn a_snapshot_this_machine_does_not_hold_is_409_with_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let server = replica(dir.path(), &[0, 1]).await;
    let (held0, held1) = (demo_network_data_later(0).snapshot_id(), demo_network_data_later(1).snapshot_id());
    for (path, body) in [
        ("/simulate", Some(json!({"snapshot": "ffffffffffffffff"}))),
        ("/analyze/ensemble", Some(json!({"snapshot": "2024-01-01", "members": 10}))),
        ("/historical-data?snapshot=2024-01-01", None),
    ] {
        let answer = send(&server, path, body.as_ref(), None).await;
        assert_eq!(answer.status, 409, "{path}");
        let body = answer.json();
        let held: Vec<(String, String)> = body["held"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h["snapshot_id"].as_str().unwrap().into(), h["current_date"].as_str().unwrap().into()))
            .collect();
        assert_eq!(
            held,
            [(held1.clone(), "2025-09-10".into()), (held0.clone(), "2025-09-09".into())],
            "{body}"
        );
        assert!(body["error"].as_str().unwrap().contains(&held1), "{body}");
    }
    for (body, path) in
        [(json!({"snapshot": "latest"}), "/simulate"), (json!({"snapshot": 3}), "/simulate/batch")]
    {
        let (status, answer) = server.post(path, &body).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["details"][0]["field"], "snapshot");
    }
    let (status, answer) = server.get("/historical-data?snapshot=12").await;
    assert_eq!((status, answer["details"][0]["field"].as_str()), (422, Some("snapshot")));
    // The contract says so too.
    let (_, spec) = server.get("/openapi.json").await;
    for (path, method) in
        [("/simulate", "post"), ("/analyze/sweep", "post"), ("/historical-data/full", "get")]
    {
        let op = &spec["paths"][path][method];
        assert!(op["responses"]["409"].is_object() && op["responses"]["304"].is_object(), "{path}");
        assert!(op["responses"]["200"]["headers"]["X-Snapshot-Id"].is_object(), "{path}");
    }
    assert!(spec["components"]["schemas"]["SimulateRequest"]["properties"]["snapshot"].is_object());
    let batch =
        &spec["paths"]["/simulate/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert!(batch["properties"]["snapshot"].is_object());
    server.stop().await;
}

#[tokio::test]
async fn without_a_store_only_the_served_snapshot_is_held() {
    let server = serving(demo_network_data_later(3)).await;
    let id = demo_network_data_later(3).snapshot_id();
    let by_id = send(&server, "/simulate", Some(&json!({"snapshot": id})), None).await;
    assert_eq!(by_id.status, 200);
    let other = send(&server, "/simulate", Some(&json!({"snapshot": "2025-09-09"})), None).await;
    assert_eq!(other.status, 409);
    assert_eq!(
        other.json()["held"],
        json!([{"snapshot_id": id, "current_date": "2025-09-12", "source": "spacescope"}])
    );
    server.stop().await;
}
