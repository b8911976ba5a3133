//! The HTTP API end to end: the real router on a loopback port, a real HTTP client.
//! Uses the fixtures' reference snapshot (served as an import).

mod http_support;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use http_support::{TestServer, config, reference_served};
use mechafil_api::http::AppState;
use mechafil_core::{SeriesName, SimParams};
use serde_json::{Value, json};

async fn reference_server() -> Option<TestServer> {
    let served = reference_served(None)?;
    Some(TestServer::start(AppState::new(config(), Ok(served))).await)
}

fn date(v: &Value) -> NaiveDate {
    v.as_str().expect("a date string").parse().expect("YYYY-MM-DD")
}

fn numbers(v: &Value) -> Vec<Option<f64>> {
    v.as_array().expect("a list").iter().map(Value::as_f64).collect()
}

#[tokio::test]
async fn health_reports_the_served_snapshot() {
    let Some(server) = reference_server().await else { return };
    let (status, body) = server.get("/health").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["snapshot"]["source"], "import");
    assert_eq!(body["snapshot"]["current_date"], "2025-09-09");
    assert!(body["version"].is_string());
    server.stop().await;
}

#[tokio::test]
async fn default_simulation_samples_real_mondays_of_the_forecast_window() {
    let Some(server) = reference_server().await else { return };
    let (status, body) = server.post("/simulate", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let input = &body["input"];
    let current = date(&input["current_date"]);
    let start = date(&input["sim_start_date"]);
    assert_eq!(current, "2025-09-09".parse::<NaiveDate>().unwrap());
    assert_eq!(start.weekday(), Weekday::Mon);
    assert!(start >= current && (start - current).num_days() < 7);
    assert_eq!(input["timestep_days"], 7);
    let n = input["n_entries"].as_u64().unwrap() as usize;
    let end = date(&input["sim_end_date"]);
    assert_eq!(end, start + Days::new(7 * (n as u64 - 1)));
    assert!(end <= current + Days::new(3649) && end + Days::new(7) > current + Days::new(3649));
    // Every series is present, dated, and equals the model's value on those Mondays.
    let output = body["simulation_output"].as_object().unwrap();
    assert_eq!(output.len(), 44);
    let served = server.state.served().unwrap();
    let direct = served.simulator.simulate(&SimParams::default()).unwrap();
    for name in SeriesName::ALL {
        let values = numbers(&output[name.as_str()]);
        let dates = &input["series_dates"][name.as_str()];
        assert_eq!(values.len() as u64, dates["n_entries"].as_u64().unwrap(), "{name}");
        if values.is_empty() {
            continue;
        }
        let first = date(&dates["start_date"]);
        assert_eq!(first.weekday(), Weekday::Mon, "{name}");
        let series = direct.series(name);
        let offset = (first - direct.first_date(name)).num_days() as usize;
        for (k, v) in values.iter().enumerate() {
            let expected = series[offset + 7 * k];
            assert_eq!(v.unwrap().to_bits(), expected.to_bits(), "{name}[{k}]");
        }
    }
    // The 1-year series end 364 days before the others.
    let roi_dates = &input["series_dates"]["1y_sector_roi"];
    let roi_end = date(&roi_dates["end_date"]);
    assert!(roi_end <= current + Days::new(3649 - 364));
    // The echo holds the values actually used: the snapshot's medians, not nulls.
    let smoothed = served.data.snapshot.smoothed;
    assert_eq!(input["rbp"].as_f64(), Some(smoothed.raw_byte_power));
    assert_eq!(input["rr"].as_f64(), Some(smoothed.renewal_rate));
    assert_eq!(input["forecast_length_days"], 3650);
    assert!(input["explanation"].as_str().unwrap().contains("30-day medians"));
    server.stop().await;
}

#[tokio::test]
async fn full_simulation_matches_every_oracle_case() {
    let Some(fixtures) = mechafil_core::test_support::fixtures_dir() else { return };
    for case in mechafil_core::test_support::oracle_cases(&fixtures) {
        let served = reference_served(case.locked_reward_zero).unwrap();
        let server = TestServer::start(AppState::new(config(), Ok(served))).await;
        let text =
            std::fs::read_to_string(fixtures.join("oracle").join(format!("{}.json", case.case))).unwrap();
        let raw: Value = serde_json::from_str(&text).unwrap();
        let (status, body) = server.post("/simulate/full", &raw["params"]).await;
        assert_eq!(status, 200, "{}: {body}", case.case);
        let input = &body["input"];
        assert_eq!(date(&input["sim_start_date"]), case.start_date, "{}", case.case);
        assert_eq!(input["timestep_days"], 1);
        for (name, expected) in &case.expected {
            let values: Vec<f64> = numbers(&body["simulation_output"][name])
                .into_iter()
                .map(|v| v.unwrap_or(f64::NAN))
                .collect();
            mechafil_core::tolerance::compare_series(
                &values,
                expected,
                mechafil_core::tolerance::MODEL_SCALED_TOL,
            )
            .unwrap_or_else(|m| panic!("{} / {name}: {m}", case.case));
            let dates = &input["series_dates"][name];
            assert_eq!(
                dates["n_entries"].as_u64().unwrap() as usize,
                expected.len(),
                "{} / {name}",
                case.case
            );
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn invalid_input_is_a_422_naming_each_field() {
    let Some(server) = reference_server().await else { return };
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"rr": 1.5}), "rr", "0 <= x <= 1"),
        (json!({"rbp": -1}), "rbp", "0 <= x <= 10000"),
        (json!({"rbp": 1e308}), "rbp", "0 <= x <= 10000"),
        (json!({"sector_duration_days": 3651}), "sector_duration_days", "1 <= days <= 3650"),
        (
            json!({"rr": 0.9, "qa_renew_relative_multiplier": 1.5}),
            "qa_renew_relative_multiplier",
            "QA renewal rate above 1",
        ),
        (json!({"rr": "high"}), "rr", "expected a number"),
        (json!({"forecast_length_days": 0}), "forecast_length_days", "1 <= days <= 7300"),
        (json!({"forecast_length_days": 7301}), "forecast_length_days", "7300"),
        (json!({"forecast_length_days": 36.5}), "forecast_length_days", "whole number"),
        (json!({"forecast_length_days": -3}), "forecast_length_days", "whole number"),
        (json!({"sector_duration_days": 0}), "sector_duration_days", "1 <= days <= 3650"),
        (json!({"forecast_length_days": 10, "rr": [0.5, 0.5]}), "rr", "must have 10"),
        (json!({"rr": [0.5, null]}), "rr", "only numbers"),
        (json!({"use_available_supply": "yes"}), "use_available_supply", "true or false"),
        (json!({"output": "nope"}), "output", "valid names: days"),
        (json!({"output": []}), "output", "at least one"),
        (json!({"bogus": 1}), "bogus", "unknown field"),
        (json!({"lock_target": [0.1, 2.0]}), "lock_target", "value [1]"),
    ];
    for (body, field, needle) in cases {
        let (status, answer) = server.post("/simulate", &body).await;
        assert_eq!(status, 422, "{body} -> {answer}");
        let details = answer["details"].as_array().unwrap();
        let detail =
            details.iter().find(|d| d["field"] == field).unwrap_or_else(|| panic!("{body}: {answer}"));
        assert!(detail["message"].as_str().unwrap().contains(needle), "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(field), "{answer}");
    }
    // Several problems at once are all reported.
    let (status, answer) = server.post("/simulate", &json!({"rr": 2, "fpr": -1, "x": 0})).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> =
        answer["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["x", "rr", "fpr"], "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn malformed_bodies_are_422_and_oversized_413() {
    let Some(server) = reference_server().await else { return };
    for raw in ["{", "[1,2]", "\"text\"", "nul", "{\"rr\": 0.5,}"] {
        let response = server.client.post(server.url("/simulate")).body(raw).send().await.unwrap();
        assert_eq!(response.status(), 422, "{raw}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["details"][0]["field"], "body", "{raw}: {body}");
    }
    let huge = format!("{{\"rr\": [{}]}}", vec!["0.5"; 1_500_000].join(","));
    let response = server.client.post(server.url("/simulate")).body(huge).send().await.unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("larger than"), "{body}");
    // No body at all means defaults.
    let response = server.client.post(server.url("/simulate")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let Some(server) = reference_server().await else { return };
    let (status, body) = server.get("/nope").await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("/nope"));
    let (status, body) = server.get("/simulate").await;
    assert_eq!(status, 405, "{body}");
    assert!(body["error"].is_string());
    server.stop().await;
}

#[tokio::test]
async fn no_snapshot_means_503_with_a_reason() {
    let server = TestServer::start(AppState::new(config(), Err("the store is empty".into()))).await;
    let (status, body) = server.post("/simulate", &json!({})).await;
    assert_eq!(status, 503);
    assert!(body["error"].as_str().unwrap().contains("the store is empty"), "{body}");
    let (status, body) = server.get("/health").await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "unavailable");
    server.stop().await;
}

#[tokio::test]
async fn series_parameters_set_the_forecast_length_and_are_echoed() {
    let Some(server) = reference_server().await else { return };
    let rr: Vec<f64> = (0..100).map(|i| 0.5 + i as f64 / 1000.0).collect();
    let (status, body) = server
        .post("/simulate", &json!({"rr": rr, "output": ["circ_supply", "1y_sector_roi"], "lock_target": 0.2}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["input"]["forecast_length_days"], 100);
    assert_eq!(body["input"]["rr"].as_array().unwrap().len(), 100);
    assert_eq!(body["input"]["lock_target"], 0.2);
    assert_eq!(body["input"]["output"], json!(["circ_supply", "1y_sector_roi"]));
    assert_eq!(body["simulation_output"].as_object().unwrap().len(), 2);
    // A 100-day forecast has no complete 1-year window after current_date.
    assert_eq!(body["input"]["series_dates"]["1y_sector_roi"]["n_entries"], 0);
    assert!(body["input"]["explanation"].as_str().unwrap().contains("given: rr a 100-day series"));
    server.stop().await;
}

#[tokio::test]
async fn batch_runs_each_scenario_and_reports_invalid_ones_in_place() {
    let Some(server) = reference_server().await else { return };
    let body = json!({
        "scenarios": [{"rr": 0.5, "forecast_length_days": 365}, {"rr": 7}, {"forecast_length_days": 730}],
        "output": "circ_supply",
    });
    let (status, answer) = server.post("/simulate/batch", &body).await;
    assert_eq!(status, 200, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["input"]["rr"], 0.5);
    assert_eq!(results[1]["details"][0]["field"], "scenarios[1].rr", "{answer}");
    // Each valid scenario equals the single-scenario answer.
    let (_, single) =
        server.post("/simulate", &json!({"forecast_length_days": 730, "output": "circ_supply"})).await;
    assert_eq!(results[2]["simulation_output"], single["simulation_output"]);
    for bad in [
        json!({"scenarios": []}),
        json!({"scenarios": [{}], "output": []}),
        json!({"scenarios": vec![json!({}); 1001], "output": "circ_supply"}),
        json!({"scenarios": {}, "output": "days"}),
        json!({"scenarios": [{}], "output": "days", "extra": 1}),
    ] {
        let (status, answer) = server.post("/simulate/batch", &bad).await;
        assert_eq!(status, 422, "{bad} -> {answer}");
    }
    // A scenario that gives its own output is an error of that scenario only.
    let (status, answer) = server
        .post("/simulate/batch", &json!({"scenarios": [{"output": "days"}, {}], "output": "days"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["results"][0]["details"][0]["field"], "scenarios[0].output", "{answer}");
    assert!(answer["results"][1]["simulation_output"]["days"].is_array());
    server.stop().await;
}

#[tokio::test]
async fn historical_data_is_dated_and_filterable() {
    let Some(server) = reference_server().await else { return };
    let (status, body) = server.get("/historical-data").await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(date(&data["data_start_date"]).weekday(), Weekday::Mon);
    assert_eq!(data["timestep_days"], 7);
    let n = data["n_entries"].as_u64().unwrap() as usize;
    assert_eq!(data["historical_raw_power_eib"].as_array().unwrap().len(), n);
    assert_eq!(data["network_raw_power_eib"], data["historical_raw_power_eib"]);
    assert_eq!(data["raw_byte_power_onboarded_pib_per_day"], data["raw_byte_power"]);
    assert_eq!(data["hist_window_days"], 181);
    let meta = &data["field_meta"]["historical_qa_power_eib"];
    assert_eq!(meta["unit"], "EiB");
    assert_eq!(meta["kind"], "stock");
    assert_eq!(data["field_meta"]["renewal_rate"]["kind"], "rate");
    assert_eq!(data["field_meta"]["rb_power_zero"]["kind"], "scalar");
    // Imported reference data has no supply history, and says which fields exist.
    let (status, body) = server.get("/historical-data?fields=circ_supply").await;
    assert_eq!(status, 422);
    assert!(body["error"].as_str().unwrap().contains("no supply history"), "{body}");
    let (status, body) = server.get("/historical-data?fields=renewal_rate,rb_power_zero").await;
    assert_eq!(status, 200);
    let mut keys: Vec<&String> = body["data"]["field_meta"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["rb_power_zero", "renewal_rate"]);
    assert!(body["data"]["historical_raw_power_eib"].is_null());
    server.stop().await;
}

#[tokio::test]
async fn full_history_is_daily_and_round_trips_the_reference_layout() {
    let Some(server) = reference_server().await else { return };
    let (status, body) = server.get("/historical-data/full").await;
    assert_eq!(status, 200);
    let reference: mechafil_core::ReferenceSnapshot = serde_json::from_value(body.clone()).unwrap();
    let again = reference.to_snapshot(None).unwrap();
    assert_eq!(&again, server.state.served().unwrap().simulator.snapshot());
    let data = &body["data"];
    assert_eq!(data["timestep_days"], 1);
    assert_eq!(data["n_entries"], 1066);
    assert_eq!(data["data_start_date"], "2022-10-10");
    assert_eq!(data["hist_window_n_entries"], 181);
    server.stop().await;
}

#[tokio::test]
async fn cors_compression_and_request_ids() {
    let Some(server) = reference_server().await else { return };
    let response = server
        .client
        .get(server.url("/historical-data"))
        .header("origin", "https://claude.ai")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["content-encoding"], "gzip");
    assert!(!headers["x-request-id"].is_empty());
    let preflight = server
        .client
        .request(reqwest::Method::OPTIONS, server.url("/simulate"))
        .header("origin", "https://claude.ai")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert!(preflight.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    server.stop().await;
}

#[tokio::test]
async fn index_openapi_and_docs() {
    let Some(server) = reference_server().await else { return };
    let (status, index) = server.get("/").await;
    assert_eq!(status, 200);
    assert!(index["endpoints"].as_array().unwrap().iter().any(|e| e["path"] == "/simulate"));
    let (status, spec) = server.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(spec["components"]["schemas"]["SeriesName"]["enum"].as_array().unwrap().len(), 44);
    let docs = server.client.get(server.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("/simulate/batch"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_all_succeed_and_health_stays_responsive() {
    let Some(server) = reference_server().await else { return };
    let mut tasks = Vec::new();
    for i in 0..32 {
        let client = server.client.clone();
        let url = server.url("/simulate");
        tasks.push(tokio::spawn(async move {
            let body = json!({"forecast_length_days": 365 + 10 * i, "output": ["circ_supply"]});
            client.post(url).json(&body).send().await.unwrap().status().as_u16()
        }));
    }
    let health_started = std::time::Instant::now();
    let (status, _) = server.get("/health").await;
    let health_took = health_started.elapsed();
    assert_eq!(status, 200);
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    // Not a timing assertion on speed, only that health was not queued behind 32 simulations
    // (which would take several seconds in a debug build).
    assert!(health_took < std::time::Duration::from_secs(5), "{health_took:?}");
    server.stop().await;
}
