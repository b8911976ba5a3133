//! The binary over stdio, driven by rmcp's client (`TokioChildProcess`), as Claude Desktop
//! runs it: what must work with the API down, every tool against the real API (in-process on
//! loopback, `common::api`), and a call that fails while the API is down and succeeds on the
//! same server once it is up.

mod common;

use std::time::{Duration, Instant};

use common::agree::{
    assert_analyses_agree_with_the_api, assert_every_tool_agrees_with_the_api, assert_simulate_agrees,
    error_text, success_json,
};
use common::api::{Api, ReservedPort};
use common::{assert_valid_tools, call, closed_port_url, stdio_client, text};
use serde_json::json;

#[tokio::test]
async fn tools_list_shows_every_tool_with_valid_schemas() {
    let client = stdio_client(&closed_port_url(), 1.0).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(info.server_info.as_ref().map(|i| i.name.as_str()), Some("mechafil-mcp"));
    assert!(info.instructions.as_deref().is_some_and(|i| i.contains("PiB/day")));
    assert_valid_tools(&client.list_all_tools().await.unwrap());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn fetch_context_works_with_the_api_down() {
    let client = stdio_client(&closed_port_url(), 1.0).await;
    let result = call(&client, "fetch_context", json!({})).await;
    assert_eq!(result.is_error, Some(false));
    assert_eq!(text(&result), mcp_server::context::CONTEXT_MD);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn invalid_arguments_are_tool_errors() {
    let client = stdio_client(&closed_port_url(), 1.0).await;
    for (tool, arguments, expected) in [
        (
            "simulate",
            json!({"forecast_length_days": 0}),
            "forecast_length_days: 0 is out of range; allowed: 1 <= days <= 7300",
        ),
        ("simulate", json!({"rr": "high"}), "rr: expected a number or a list of numbers"),
        ("simulate", json!({"requested_metrics": ["circ"]}), "unknown series \"circ\"; valid names:"),
        ("simulate", json!({"sim": {"rbp": 1}, "rr": 0.5}), "sim: `sim` wraps the whole argument object"),
        ("get_historical_data", json!({"fields": ["a b"]}), "is not a field name"),
        ("provide_plot", json!({"chart": {"label": "no data"}}), "chart.series: required"),
        ("compare_scenarios", json!({}), "scenarios: required"),
        ("sweep", json!({"axes": {"rr": [1.5]}}), "axes.rr[0]: 1.5 is out of range"),
        ("solve_for", json!({"knob": "rr"}), "summary: required"),
        ("forecast_range", json!({"members": 0}), "members: must be between 1 and 10000"),
        ("sensitivity", json!({"knobs": ["nope"]}), "knobs[0]: unknown knob"),
    ] {
        let result = call(&client, tool, arguments).await;
        assert_eq!(result.is_error, Some(true), "{tool}");
        assert!(text(&result).contains(expected), "missing {expected:?} in {}", text(&result));
    }
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_agrees_with_the_api_over_stdio() {
    let api = Api::start().await;
    let client = stdio_client(&api.base, 30.0).await;
    assert_every_tool_agrees_with_the_api(&client, &api).await;
    assert_analyses_agree_with_the_api(&client, &api, "stdio").await;
    client.cancel().await.unwrap();
    api.stop().await;
}

/// Claude Desktop starts the server whether or not the API runs: a call while the API is down
/// is a clear tool error after the budget, and the same call on the same server succeeds once
/// the API is up (no restart, no new handshake).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_down_is_a_clear_tool_error_and_the_same_server_recovers_when_it_is_up() {
    let port = ReservedPort::new();
    let api_url = port.url();
    let client = stdio_client(&api_url, 2.0).await;
    let arguments = json!({"forecast_length_days": 60, "requested_metric": "available_supply"});

    let started = Instant::now();
    let result = call(&client, "simulate", arguments.clone()).await;
    let elapsed = started.elapsed();
    let message = error_text("simulate", &result);
    assert!(
        message.starts_with(&format!("simulate: could not reach the MechaFil API at {api_url}/")),
        "{message}"
    );
    assert!(message.contains("try again"), "{message}");
    // A 2 s budget: retried for those 2 s (the last attempt just before the end), no longer.
    assert!(elapsed >= Duration::from_millis(1600) && elapsed < Duration::from_secs(5), "{elapsed:?}");

    let api = Api::start_on(port).await;
    let result = success_json("simulate", &call(&client, "simulate", arguments.clone()).await);
    assert_simulate_agrees(&api, &arguments, &result).await;
    client.cancel().await.unwrap();
    api.stop().await;
}

#[tokio::test]
async fn provide_plot_returns_an_image_block() {
    let client = stdio_client(&closed_port_url(), 1.0).await;
    let result = call(
        &client,
        "provide_plot",
        json!({"chart": {"series": {"a": [1, 2, 3], "b": [3, 2, null]}, "label": "Two lines", "unit": "FIL",
                         "start_date_key": "sim_start_date", "start_date": "2025-09-15"}}),
    )
    .await;
    assert_eq!(result.is_error, Some(false));
    let image = result.content.iter().find_map(|block| match block {
        rmcp::model::ContentBlock::Image(image) => Some(image),
        _ => None,
    });
    assert_eq!(image.map(|i| i.mime_type.as_str()), Some("image/png"));
    let spec = result.structured_content.expect("structured chart spec");
    assert_eq!(spec["chart"]["chart"]["end_date"], "2025-09-29");
    client.cancel().await.unwrap();
}
