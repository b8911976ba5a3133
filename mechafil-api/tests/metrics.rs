//! `GET /metrics` end to end: the exposition parses as the Prometheus text format and counts what
//! happened (requests by route and status, CPU jobs, a failed update with its outcome).

mod http_support;

use std::collections::BTreeMap;

use http_support::{TestServer, config, demo_served};
use mechafil_api::config::ApiConfig;
use mechafil_api::http::{AppState, DataSources};
use mechafil_api::spacescope::SpacescopeConfig;
use mechafil_api::store::SnapshotStore;
use serde_json::json;

/// Parses the exposition: every sample line is `name{labels} value` with a declared family.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut families = Vec::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            families.push(parts.next().unwrap().to_string());
            assert!(["counter", "gauge", "histogram"].contains(&parts.next().unwrap()), "{line}");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let name = series.split('{').next().unwrap();
        let family = name.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count");
        assert!(families.iter().any(|f| f == name || f == family), "{name} has no # TYPE");
        let labels = &series[name.len()..];
        assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')), "{line}");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line:?}"));
        assert!(samples.insert(series.to_string(), value).is_none(), "duplicate sample {series}");
    }
    samples
}

#[tokio::test]
async fn metrics_count_requests_cpu_work_and_updates() {
    // An update against a closed port fails at once (connection refused, no retries).
    let dir = tempfile::tempdir().unwrap();
    let mut spacescope = SpacescopeConfig::new("http://127.0.0.1:9", "token").unwrap();
    spacescope.max_retries = 0;
    let data = DataSources {
        store: Some(SnapshotStore::open(dir.path()).unwrap().store),
        spacescope: Some(spacescope),
        fetch: Default::default(),
        last_update: None,
    };
    let config = ApiConfig { admin_token: Some("t".into()), ..config() };
    let server = TestServer::start(AppState::with_data(config, Ok(demo_served()), data)).await;
    assert_eq!(server.post("/simulate", &json!({"forecast_length_days": 30, "output": "days"})).await.0, 200);
    assert_eq!(server.post("/simulate", &json!({"rr": 7})).await.0, 422);
    assert_eq!(server.get("/nope").await.0, 404);
    let response =
        server.client.post(server.url("/admin/update-cache")).bearer_auth("t").send().await.unwrap();
    assert_eq!(response.status(), 502);

    let response = server.client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let samples = parse(&response.text().await.unwrap());
    let get = |key: &str| samples.get(key).copied().unwrap_or_else(|| panic!("no sample {key}"));
    assert_eq!(get(r#"mechafil_http_requests_total{route="/simulate",status="200"}"#), 1.0);
    assert_eq!(get(r#"mechafil_http_requests_total{route="/simulate",status="422"}"#), 1.0);
    assert_eq!(get(r#"mechafil_http_requests_total{route="unmatched",status="404"}"#), 1.0);
    assert_eq!(get(r#"mechafil_http_request_duration_seconds_count{route="/simulate"}"#), 2.0);
    assert_eq!(get(r#"mechafil_http_request_duration_seconds_bucket{route="/simulate",le="+Inf"}"#), 2.0);
    assert!(get("mechafil_cpu_jobs_total") >= 2.0);
    assert!(get("mechafil_cpu_permits") >= 1.0);
    assert_eq!(get("mechafil_cpu_jobs_waiting"), 0.0);
    assert_eq!(get(r#"mechafil_update_attempts_total{outcome="failed"}"#), 1.0);
    assert_eq!(get(r#"mechafil_update_attempts_total{outcome="updated"}"#), 0.0);
    assert_eq!(get("mechafil_last_update_success"), 0.0);
    assert_eq!(get("mechafil_update_in_progress"), 0.0);
    assert!(get("mechafil_snapshot_age_seconds") >= 0.0);
    assert!(samples.keys().any(|k| k.starts_with("mechafil_snapshot_info{source=\"demo\"")));
    assert!(get("mechafil_connections_accepted_total") >= 1.0);
    assert_eq!(get("mechafil_store_problems"), 0.0);
    server.stop().await;
}
