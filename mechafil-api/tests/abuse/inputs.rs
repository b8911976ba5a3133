//! Item 7 (and the API side of 8 and 9): duplicate JSON keys were accepted (the last won),
//! `rbp` = 1e308 answered 200 with every value `null`, `sector_duration_days` up to 2^64-1 was
//! accepted; a lowercase `bearer` passed but was untested. Now duplicates are a 422, ranges come
//! from the core's rule table, an overflowing forecast is a 422, and the scheme is tested in any
//! case. Also: any Content-Type is accepted (documented; `curl -d` sends a form type).

use mechafil_api::config::ApiConfig;
use mechafil_api::http::AppState;
use mechafil_api::network_data::SnapshotMeta;
use serde_json::{Value, json};

use super::http_support::{TestServer, config, demo_served};

async fn demo_server() -> TestServer {
    TestServer::start(AppState::new(config(), Ok(demo_served()))).await
}

async fn post_raw(server: &TestServer, path: &str, body: &str) -> (u16, Value) {
    let response = server.client.post(server.url(path)).body(body.to_string()).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn duplicate_keys_are_422_at_any_depth() {
    let server = demo_server().await;
    for (path, body) in [
        ("/simulate", r#"{"rr": 0.5, "rr": 2}"#),
        ("/simulate/full", r#"{"output": "circ_supply", "forecast_length_days": 30, "output": "days"}"#),
        ("/simulate/batch", r#"{"scenarios": [{"rbp": 1}, {"rbp": 1, "rbp": 2}], "output": "circ_supply"}"#),
    ] {
        let (status, answer) = post_raw(&server, path, body).await;
        assert_eq!(status, 422, "{path} {body}: {answer}");
        assert_eq!(answer["details"][0]["field"], "body");
        assert!(answer["error"].as_str().unwrap().contains("duplicate key"), "{answer}");
    }
    server.stop().await;
}

#[tokio::test]
async fn values_past_the_rules_are_422_naming_the_field() {
    let server = demo_server().await;
    for (body, field) in [
        (json!({"rbp": 1e308}), "rbp"),
        (json!({"rbp": [1.0, 1e5]}), "rbp"),
        (json!({"sector_duration_days": 18_446_744_073_709_551_615u64}), "sector_duration_days"),
        (json!({"sector_duration_days": 3651}), "sector_duration_days"),
        (json!({"fil_plus_m": 0}), "fil_plus_m"),
        (json!({"burn_boost": 1001}), "burn_boost"),
        (json!({"rr": 0.9, "qa_renew_relative_multiplier": 1.5}), "qa_renew_relative_multiplier"),
    ] {
        let (status, answer) = server.post("/simulate", &body).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["details"][0]["field"], field, "{body}: {answer}");
    }
    // The largest values the rules allow give finite answers.
    let (status, answer) = server
        .post(
            "/simulate",
            &json!({"rbp": 10000, "sector_duration_days": 3650, "fil_plus_m": 1000, "burn_boost": 1000,
                    "forecast_length_days": 7300, "output": ["circ_supply", "network_QAP_EIB"]}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    for series in answer["simulation_output"].as_object().unwrap().values() {
        assert!(series.as_array().unwrap().iter().all(Value::is_number), "a null in {series}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_forecast_that_overflows_is_422_not_nulls() {
    // A snapshot with an absurd daily gas burn: within the parameter rules, the forecast
    // leaves the finite numbers.
    let mut data = mechafil_api::demo::demo_network_data();
    data.snapshot.daily_burnt_fil = 1e306;
    let meta = SnapshotMeta {
        start_date: data.snapshot.start_date,
        current_date: data.snapshot.current_date,
        source: mechafil_api::network_data::SnapshotSource::Import,
        fetched_at: chrono::Utc::now(),
    };
    let served = mechafil_api::http::Served::new(meta, data).unwrap();
    let server = TestServer::start(AppState::new(config(), Ok(served))).await;
    let (status, answer) =
        server.post("/simulate", &json!({"burn_boost": 1000, "output": "circ_supply"})).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("overflows"), "{answer}");
    // In a batch, the scenario gets its own error entry.
    let (status, answer) = server
        .post("/simulate/batch", &json!({"scenarios": [{"burn_boost": 1000}], "output": "circ_supply"}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["results"][0]["error"].as_str().unwrap().contains("overflows"), "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let config = ApiConfig { admin_token: Some("s3cret".into()), ..ApiConfig::default() };
    let server = TestServer::start(AppState::new(config, Ok(demo_served()))).await;
    for (auth, status) in
        [("bearer s3cret", 503), ("BEARER s3cret", 503), ("Bearer s3cret", 503), ("bearer wrong", 401)]
    {
        // 503: past the token check, updates are disabled here (no store, no Spacescope).
        let response = server
            .client
            .post(server.url("/admin/update-cache"))
            .header("authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{auth}");
    }
    server.stop().await;
}

#[tokio::test]
async fn any_content_type_is_accepted() {
    let server = demo_server().await;
    for content_type in ["application/x-www-form-urlencoded", "text/plain", "application/json"] {
        let response = server
            .client
            .post(server.url("/simulate"))
            .header("content-type", content_type)
            .body(r#"{"forecast_length_days": 30, "output": "circ_supply"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{content_type}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_reference_clients_keys_are_there_as_aliases() {
    let server = demo_server().await;
    let (status, answer) =
        server.post("/simulate", &json!({"rr": [0.5, 0.6, 0.7], "output": "circ_supply"})).await;
    assert_eq!(status, 200);
    let input = &answer["input"];
    assert_eq!(input["raw_byte_power"], input["rbp"]);
    assert_eq!(input["renewal_rate"], json!([0.5, 0.6, 0.7]));
    assert_eq!(input["filplus_rate"], input["fpr"]);
    assert!(input["raw_byte_power"].is_number());
    for path in ["/historical-data", "/historical-data/full"] {
        let (status, history) = server.get(&format!("{path}?fields=renewal_rate")).await;
        assert_eq!(status, 200);
        let data = &history["data"];
        for (alias, key) in [
            ("raw_byte_power_averaged_over_previous_30days", "raw_byte_power"),
            ("renewal_rate_averaged_over_previous_30days", "renewal_rate"),
            ("filplus_rate_averaged_over_previous_30days", "filplus_rate"),
        ] {
            assert_eq!(data[alias], data["smoothed_metrics"][key], "{path} {alias}");
            assert!(data[alias].is_number());
        }
    }
    server.stop().await;
}
