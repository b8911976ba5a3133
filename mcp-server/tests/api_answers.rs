//! The tools against the real API's answers, whatever the transport (the server is called in
//! this process, `MechafilServer::call`; `stdio.rs`, `http.rs` and `old_client.rs` drive the same
//! tools through the transports): API rejections as tool errors with the API's message, the
//! server's own argument checks agreeing with the API's, short forecasts whose series are empty,
//! and a result over the size limit with advice that works.

mod common;

use std::time::Duration;

use common::agree::{
    CUMULATIVE, DEFAULT_METRICS, api_body, assert_simulate_agrees, error_text, success_json,
};
use common::api::Api;
use mcp_server::{ApiClient, MechafilServer, RetryPolicy};
use mechafil_core::SeriesName;
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

/// The server, calling `api`.
fn server(api: &Api) -> MechafilServer {
    let policy = RetryPolicy { budget: Duration::from_secs(30), ..RetryPolicy::default() };
    MechafilServer::new(ApiClient::new(&api.base, policy).unwrap())
}

async fn call(server: &MechafilServer, tool: &str, arguments: Value) -> CallToolResult {
    server
        .call(tool, common::args(arguments))
        .await
        .unwrap_or_else(|err| panic!("{tool}: protocol error {err:?}"))
}

/// An API 4xx is a tool error carrying the API's own message and every detail of it. Which
/// history fields exist is the API's knowledge (the server checks only their shape), so an
/// unknown field reaches the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_rejections_are_tool_errors_with_the_apis_message() {
    let api = Api::start().await;
    let server = server(&api);
    let result =
        call(&server, "get_historical_data", json!({"fields": ["circ_supply", "circulating"]})).await;
    let message = error_text("get_historical_data", &result);
    let (status, rejection) = api.get("/historical-data?fields=circ_supply,circulating").await;
    assert_eq!(status, 422, "{rejection}");
    let prefix = "get_historical_data: the MechaFil API rejected the request (422 Unprocessable Entity): ";
    assert!(message.starts_with(prefix), "{message}");
    assert!(message.contains(rejection["error"].as_str().unwrap()), "the API's error is missing: {message}");
    for detail in rejection["details"].as_array().unwrap() {
        let line = format!("{}: {}", detail["field"].as_str().unwrap(), detail["message"].as_str().unwrap());
        assert!(message.contains(&line), "the API's detail {line:?} is missing: {message}");
    }
    // The API's message lists the valid fields, so Claude can correct itself.
    assert!(message.contains("\"circulating\"") && message.contains("network_qa_power_eib"), "{message}");
    api.stop().await;
}

/// The server checks `simulate` arguments itself (so Claude gets every problem at once, before
/// any call). Those checks must be the API's: each input one rejects, the other rejects too,
/// for the same field; each edge the API accepts, the server accepts and answers as the API does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_argument_checks_agree_with_the_apis() {
    let api = Api::start().await;
    let server = server(&api);
    for (arguments, field) in [
        (json!({"rbp": -1}), "rbp"),
        (json!({"rr": 1.5}), "rr"),
        (json!({"fpr": [0.5, -0.1], "forecast_length_days": 2}), "fpr"),
        (json!({"lock_target": 2}), "lock_target"),
        (json!({"forecast_length_days": 0}), "forecast_length_days"),
        (json!({"forecast_length_days": 7301}), "forecast_length_days"),
        (json!({"sector_duration_days": 0}), "sector_duration_days"),
        (json!({"fil_plus_m": 0}), "fil_plus_m"),
        (json!({"qa_renew_relative_multiplier": -0.5}), "qa_renew_relative_multiplier"),
        (json!({"burn_boost": -1}), "burn_boost"),
        (json!({"rbp": [1, 2, 3], "forecast_length_days": 2}), "rbp"),
        (json!({"rbp": [1, 2, 3], "rr": [0.5, 0.5]}), "rr"),
        (json!({"rbp": "fast"}), "rbp"),
        (json!({"use_available_supply": "yes"}), "use_available_supply"),
    ] {
        let message = error_text("simulate", &call(&server, "simulate", arguments.clone()).await);
        assert!(message.starts_with("invalid arguments for simulate: "), "{arguments}: {message}");
        assert!(
            message.contains(field),
            "{arguments}: the server's message does not name {field}: {message}"
        );
        let body = api_body(&arguments, &DEFAULT_METRICS);
        let (status, rejection) = api.post("/simulate", &body).await;
        assert_eq!(status, 422, "the API accepts {body} that the server rejects ({message})");
        let fields: Vec<&str> =
            rejection["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, [field], "{body}: {rejection}");
    }
    let message =
        error_text("simulate", &call(&server, "simulate", json!({"requested_metrics": ["supply"]})).await);
    assert!(message.contains("unknown series \"supply\""), "{message}");
    let (status, rejection) = api.post("/simulate", &json!({"output": ["supply"]})).await;
    assert_eq!((status, &rejection["details"][0]["field"]), (422, &json!("output")), "{rejection}");

    let every_day = |value: f64, days: usize| vec![value; days];
    for arguments in [
        json!({"rbp": 0}),
        json!({"rr": 1, "fpr": 0, "lock_target": 1}),
        json!({"rr": 0, "fpr": 1, "lock_target": 0}),
        json!({"fil_plus_m": 1e-9, "qa_renew_relative_multiplier": 0, "burn_boost": 0}),
        json!({"sector_duration_days": 1, "use_available_supply": true}),
        json!({"forecast_length_days": 7300, "requested_metric": "days"}),
        json!({"rbp": every_day(1.5, 30), "rr": every_day(0.7, 30), "fil_plus_m": every_day(5.0, 30)}),
        json!({"forecast_length_days": 1}),
    ] {
        let metrics: Vec<&str> = match arguments.get("requested_metric") {
            Some(one) => vec![one.as_str().unwrap()],
            None => DEFAULT_METRICS.to_vec(),
        };
        let result = success_json("simulate", &call(&server, "simulate", arguments.clone()).await);
        let answer = api.simulate(&api_body(&arguments, &metrics)).await;
        assert_simulate_agrees(&result, &answer, &metrics);
    }
    api.stop().await;
}

/// Regression: the API dates a series with no value in the weekly window with `null`s (a
/// 1-year series of a forecast under a year; every series of a forecast with no Monday). The
/// server read those dates as required and failed the whole call with "unexpected response",
/// so `simulate` with the default series and any forecast under a year did not work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_forecasts_with_empty_series_are_answered_and_explained() {
    let api = Api::start().await;
    let server = server(&api);

    let arguments = json!({"forecast_length_days": 60});
    let result = success_json("simulate", &call(&server, "simulate", arguments.clone()).await);
    let answer = api.simulate(&api_body(&arguments, &DEFAULT_METRICS)).await;
    assert_simulate_agrees(&result, &answer, &DEFAULT_METRICS);
    assert_eq!(answer["input"]["series_dates"]["1y_sector_roi"]["start_date"], Value::Null, "{answer}");
    assert_eq!(result["series"]["1y_sector_roi"], json!([]));
    assert!(result["series"]["circ_supply"].as_array().is_some_and(|v| !v.is_empty()));
    let explanation = result["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("1y_sector_roi has no values") && explanation.contains("at least 371 days"),
        "the explanation must say why 1y_sector_roi is empty and what to ask: {explanation}"
    );

    // The demo's current date is a Tuesday: a 6-day window holds no Monday at all.
    let arguments =
        json!({"forecast_length_days": 6, "requested_metrics": ["circ_supply", "network_gas_burn"]});
    let metrics = ["circ_supply", "network_gas_burn"];
    let result = success_json("simulate", &call(&server, "simulate", arguments.clone()).await);
    let answer = api.simulate(&api_body(&arguments, &metrics)).await;
    assert_eq!(answer["input"]["n_entries"], 0, "{answer}");
    assert_simulate_agrees(&result, &answer, &metrics);
    let explanation = result["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("no Monday") && explanation.contains("at least 7 days"),
        "the explanation must say why there are no values and what to ask: {explanation}"
    );
    api.stop().await;
}

/// All 44 series of a 10-year forecast are far over one result's limit: the tool error says how
/// large the result would be and how many series to ask for per call, and calls that follow that
/// advice all succeed and together return every series as the API does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_result_is_a_clear_tool_error_whose_advice_works() {
    let api = Api::start().await;
    let server = server(&api);
    let all: Vec<&str> = SeriesName::ALL.iter().map(|name| name.as_str()).collect();
    let answer = api.simulate(&json!({"output": all})).await;
    let api_chars = answer["simulation_output"].to_string().len();
    assert!(
        api_chars > 100_000,
        "the API's own series take {api_chars} characters: not a real oversized case"
    );

    let result = call(&server, "simulate", json!({"requested_metrics": all})).await;
    let message = error_text("simulate", &result);
    let would_be: usize = number_after(&message, "simulate: the result would be ");
    assert!(would_be > api_chars, "{message}");
    assert!(message.contains("over the 100000-character limit of one tool result"), "{message}");
    let per_call: usize = number_after(&message, "Ask for at most ");
    assert!(per_call >= 2, "{message}");
    assert!(message.contains("a cumulative series counting twice"), "{message}");

    // Follow the advice: groups of at most `per_call`, a cumulative series counting twice.
    let mut groups: Vec<Vec<&str>> = vec![Vec::new()];
    let mut weight = 0;
    for name in &all {
        let cost = if CUMULATIVE.contains(name) { 2 } else { 1 };
        if weight + cost > per_call {
            groups.push(Vec::new());
            weight = 0;
        }
        groups.last_mut().unwrap().push(name);
        weight += cost;
    }
    for group in &groups {
        let result = call(&server, "simulate", json!({"requested_metrics": group})).await;
        let result = success_json("simulate", &result);
        assert_simulate_agrees(&result, &answer, group);
    }
    api.stop().await;
}

/// The whole number right after `prefix` in `message`.
fn number_after(message: &str, prefix: &str) -> usize {
    let at = message.find(prefix).unwrap_or_else(|| panic!("no {prefix:?} in {message}")) + prefix.len();
    let digits: String = message[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after {prefix:?} in {message}"))
}
