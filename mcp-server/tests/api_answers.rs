//! The tools against the real API's answers, whatever the transport (the server is called in
//! this process, `MechafilServer::call`; `stdio.rs`, `http.rs` and `old_client.rs` drive the same
//! tools through the transports): API rejections as tool errors with the API's message, the
//! server's own argument checks agreeing with the API's at every rule's bounds, numeric strings
//! and wrapped arguments, the 1-year series of short forecasts, short windows, answer sizes, a
//! result over the size limit with advice that works, and the history catalogue.

mod common;

use std::time::Duration;

use common::agree::{
    CUMULATIVE, DEFAULT_METRICS, api_body, assert_same_json, assert_simulate_agrees, error_text,
    lengthened_to, success_json,
};
use common::api::Api;
use mcp_server::catalogue::HISTORY_FIELDS;
use mcp_server::{ApiClient, MechafilServer, RetryPolicy};
use mechafil_core::{Param, SeriesName};
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
/// any call), from the rules of `mechafil_core::rules`. Those checks must be the API's: at each
/// rule's bounds, each input one rejects the other rejects too, for the same field, and each
/// edge the API accepts, the server accepts and answers as the API does. The cases come from the
/// rules table itself, so a rule changed in the core is tested here without editing this test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_argument_checks_agree_with_the_apis_at_every_rule() {
    let api = Api::start().await;
    let server = server(&api);
    let mut rejected = vec![
        (json!({"fpr": [0.5, -0.1], "forecast_length_days": 2}), "fpr"),
        (json!({"rbp": [1, 2, 3], "forecast_length_days": 2}), "rbp"),
        (json!({"rbp": [1, 2, 3], "rr": [0.5, 0.5]}), "rr"),
        (json!({"rbp": "fast"}), "rbp"),
        (json!({"use_available_supply": "yes"}), "use_available_supply"),
        (json!({"rr": 0.9, "qa_renew_relative_multiplier": 1.2}), "qa_renew_relative_multiplier"),
    ];
    let mut accepted =
        vec![json!({"rr": 0.1, "qa_renew_relative_multiplier": 10, "forecast_length_days": 30})];
    for param in Param::ALL {
        let Some(bounds) = param.bounds() else { continue };
        let name = param.name();
        let step = if param.is_integer() { 1.0 } else { 1e-6 * bounds.max.abs().max(1.0) };
        // A short forecast keeps the accepted edge cases fast, except for the forecast length itself.
        let with = |value: f64| {
            let value = if param.is_integer() { json!(value as i64) } else { json!(value) };
            if param == Param::ForecastLengthDays {
                json!({ name: value })
            } else {
                json!({ name: value, "forecast_length_days": 30 })
            }
        };
        if !(param.is_integer() && bounds.min - step < 0.0) {
            rejected.push((with(bounds.min - if bounds.min_exclusive { 0.0 } else { step }), name));
        }
        rejected.push((with(bounds.max + step), name));
        let low = if bounds.min_exclusive { bounds.min + step } else { bounds.min };
        // The QA multiplier's upper edge needs a low renewal rate (their product stays <= 1).
        if param != Param::QaRenewRelativeMultiplier {
            accepted.push(with(bounds.max));
        }
        accepted.push(with(low));
    }
    for (arguments, field) in rejected {
        let message = error_text("simulate", &call(&server, "simulate", arguments.clone()).await);
        assert!(message.starts_with("invalid arguments for simulate: "), "{arguments}: {message}");
        assert!(
            message.contains(&format!("{field}: ")),
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
    accepted.extend([
        json!({"rbp": every_day(1.5, 30), "rr": every_day(0.7, 30), "fil_plus_m": every_day(5.0, 30)}),
        json!({"forecast_length_days": 7300, "requested_metric": "days"}),
        json!({"sector_duration_days": 1, "use_available_supply": true, "forecast_length_days": 30}),
    ]);
    for arguments in accepted {
        let result = success_json("simulate", &call(&server, "simulate", arguments.clone()).await);
        assert_simulate_agrees(&api, &arguments, &result).await;
    }
    api.stop().await;
}

/// Numbers sent as numeric strings (as some clients and models send them, and as the
/// reference's pydantic models accept) and the reference's wrapped shape give the same answer
/// as plain numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_strings_and_wrapped_arguments_mean_the_same() {
    let api = Api::start().await;
    let server = server(&api);
    let plain = success_json(
        "simulate",
        &call(
            &server,
            "simulate",
            json!({"forecast_length_days": 365, "rr": 0.7, "requested_metric": "circ_supply"}),
        )
        .await,
    );
    for variant in [
        json!({"forecast_length_days": "365", "rr": "0.7", "requested_metric": "circ_supply"}),
        json!({"sim": {"forecast_length_days": "365", "rr": 0.7, "requested_metric": ["circ_supply"]}}),
        json!({"forecast_length_days": 365.0, "rr": "0.70", "requested_metrics": "circ_supply", "rbp": null}),
    ] {
        let result = success_json("simulate", &call(&server, "simulate", variant.clone()).await);
        assert_same_json(&format!("{variant}"), &result["series"], &plain["series"]);
        assert_same_json(&format!("{variant}"), &result["inputs_used"], &plain["inputs_used"]);
    }
    assert_simulate_agrees(
        &api,
        &json!({"forecast_length_days": 365, "rr": 0.7, "requested_metric": "circ_supply"}),
        &plain,
    )
    .await;
    api.stop().await;
}

/// "What is the 1-year sector ROI if onboarding is 8 PiB/day?" asked with a 365-day forecast:
/// the API's own weekly answer holds no 1-year value (they need 364 more days than the window),
/// so the tool runs the scenario longer for them, says so, and returns ROI values equal to the
/// API's for the lengthened run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_365_day_roi_question_returns_roi_values() {
    let api = Api::start().await;
    let server = server(&api);
    let arguments = json!({"forecast_length_days": 365, "rbp": 8, "requested_metric": "1y_sector_roi"});
    let weekly = api.simulate(&api_body(&arguments, &["1y_sector_roi"])).await;
    assert_eq!(
        weekly["simulation_output"]["1y_sector_roi"],
        json!([]),
        "the case is real: {}",
        weekly["input"]
    );

    let result = success_json("simulate", &call(&server, "simulate", arguments.clone()).await);
    let roi = result["series"]["1y_sector_roi"].as_array().unwrap();
    assert!(
        roi.len() >= 50 && roi.iter().all(Value::is_f64),
        "weekly ROI values for a year of sector start dates: {roi:?}"
    );
    assert_eq!(lengthened_to(&result), Some(365 + 364), "{}", result["explanation"]);
    let explanation = result["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("continuing unchanged") && explanation.contains("sector start dates"),
        "{explanation}"
    );
    assert!(result["key_figures"]["1y_sector_roi"]["start"]["value"].is_f64());
    assert_simulate_agrees(&api, &arguments, &result).await;

    // A per-day list is continued with its last value; the other series keep the window asked for.
    let rbp: Vec<f64> = (0..200).map(|i| 4.0 + f64::from(i) / 100.0).collect();
    let arguments = json!({"rbp": rbp, "requested_metrics": ["1y_sector_roi", "circ_supply"]});
    let result = success_json("simulate", &call(&server, "simulate", arguments.clone()).await);
    assert_eq!(lengthened_to(&result), Some(564));
    assert_eq!(result["forecast"]["days"], 200);
    assert_simulate_agrees(&api, &arguments, &result).await;
    api.stop().await;
}

/// A window too short for any Monday at weekly resolution is explained; at the automatic
/// resolution (daily for short forecasts) the same request has values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_forecasts_are_answered_and_explained() {
    let api = Api::start().await;
    let server = server(&api);
    // The demo's current date is a Tuesday: a 6-day window holds no Monday at all.
    let arguments = json!({"forecast_length_days": 6, "requested_metrics": ["circ_supply", "network_gas_burn"], "resolution": "weekly"});
    let result = success_json("simulate", &call(&server, "simulate", arguments.clone()).await);
    assert_eq!(result["n_entries"], 0);
    assert_eq!(result["series"]["circ_supply"], json!([]));
    let explanation = result["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("no Monday") && explanation.contains("resolution \"daily\""),
        "{explanation}"
    );
    assert_simulate_agrees(&api, &arguments, &result).await;

    let arguments =
        json!({"forecast_length_days": 6, "requested_metrics": ["circ_supply", "network_gas_burn"]});
    let result = success_json("simulate", &call(&server, "simulate", arguments.clone()).await);
    assert_eq!((result["resolution"].as_str(), result["n_entries"].as_u64()), (Some("daily"), Some(6)));
    assert_simulate_agrees(&api, &arguments, &result).await;
    api.stop().await;
}

/// The default `simulate` answer is sized for a conversation: the same forecast the reference
/// returned as ~49,000 characters is led by key figures and sampled every 4 weeks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_answer_is_sized_for_a_conversation() {
    let api = Api::start().await;
    let server = server(&api);
    let result = call(&server, "simulate", json!({})).await;
    let size = common::text(&result).len();
    let weekly = api.simulate(&json!({"output": DEFAULT_METRICS})).await;
    let weekly_size = weekly["simulation_output"].to_string().len();
    assert!(size * 2 < weekly_size, "{size} characters against the API's weekly {weekly_size}");
    assert!(size < 30_000, "{size}");
    let text = common::text(&result);
    assert!(
        text.find("\"key_figures\"").unwrap() < text.find("\"series\"").unwrap(),
        "key figures come first"
    );
    api.stop().await;
}

/// All 44 series of a 10-year forecast are over one result's limit even every 4 weeks: the tool
/// error says how large the result would be and how many series to ask for per call, and calls
/// that follow that advice all succeed and agree with the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_result_is_a_clear_tool_error_whose_advice_works() {
    let api = Api::start().await;
    let server = server(&api);
    let all: Vec<&str> = SeriesName::ALL.iter().map(|name| name.as_str()).collect();

    let result = call(&server, "simulate", json!({"requested_metrics": all})).await;
    let message = error_text("simulate", &result);
    let would_be: usize = number_after(&message, "simulate: the result would be ");
    assert!(would_be > 100_000, "{message}");
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
        let arguments = json!({"requested_metrics": group});
        let result = success_json("simulate", &call(&server, "simulate", arguments.clone()).await);
        assert_simulate_agrees(&api, &arguments, &result).await;
    }
    api.stop().await;
}

/// The server's catalogue of history fields (names, units, kinds, dates) is the API's: every
/// field the API describes in `field_meta` is in the catalogue with the same unit and kind, and
/// the other way round (the supply fields are present in the demo snapshot).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_catalogue_is_the_apis() {
    let api = Api::start().await;
    let (status, answer) = api.get("/historical-data").await;
    assert_eq!(status, 200, "{answer}");
    let meta = answer["data"]["field_meta"].as_object().unwrap();
    for field in HISTORY_FIELDS {
        let api_meta = meta.get(field.name).unwrap_or_else(|| panic!("the API has no field {}", field.name));
        assert_eq!(api_meta["unit"], field.unit, "unit of {}", field.name);
        assert_eq!(api_meta["kind"], field.kind, "kind of {}", field.name);
        assert_eq!(
            field.span.is_none(),
            api_meta.get("n_entries").is_none(),
            "{} is a scalar in one and not the other",
            field.name
        );
    }
    let names: Vec<&str> = HISTORY_FIELDS.iter().map(|f| f.name).collect();
    for field in meta.keys() {
        assert!(names.contains(&field.as_str()), "the catalogue lacks the API's field {field}");
    }
    api.stop().await;
}

/// The whole number right after `prefix` in `message`.
fn number_after(message: &str, prefix: &str) -> usize {
    let at = message.find(prefix).unwrap_or_else(|| panic!("no {prefix:?} in {message}")) + prefix.len();
    let digits: String = message[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after {prefix:?} in {message}"))
}

/// Several API machines may hold different snapshots while one refreshes: every result names
/// the snapshot its numbers come from, and a request pinned to a snapshot the answering machine
/// lacks (409 with `held`) is retried a few times (a balancer may route it to a replica that
/// holds it), then reported plainly instead of as the API rejecting the arguments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_name_their_snapshot_and_a_pin_no_machine_holds_is_retried_then_said() {
    let api = Api::start().await;
    let (_, health) = api.get("/health").await;
    let snapshot_id = health["snapshot"]["snapshot_id"].as_str().unwrap().to_string();
    let server = server(&api);
    let result =
        success_json("simulate", &call(&server, "simulate", json!({"forecast_length_days": 400})).await);
    assert_eq!(result["data"]["snapshot_id"], snapshot_id, "{}", result["data"]);

    let policy = RetryPolicy {
        budget: Duration::from_secs(20),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        ..RetryPolicy::default()
    };
    let client = ApiClient::new(&api.base, policy).unwrap();
    let err = client.post::<Value>("simulate", &json!({"snapshot": "ffffffffffffffff"})).await.unwrap_err();
    assert!(matches!(err, mcp_server::ApiError::SnapshotNotHeld { attempts: 4, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&snapshot_id) && text.contains("try again in a minute"), "{text}");
    // The pin of the snapshot the machine serves is answered.
    let answer: Value = client.post("simulate", &json!({"snapshot": snapshot_id})).await.unwrap();
    assert_eq!(answer["input"]["snapshot"]["snapshot_id"], snapshot_id);
    api.stop().await;
}
