//! Checks that a tool result carries the API's own answer: the same numbers at the same dates,
//! nothing recomputed, nothing lost. Every expected value here comes from the API's answer to the
//! same request (`common::api`), never from this crate's code, so a shaping bug in the server
//! cannot hide in its own expectations.
//!
//! Numbers are compared exactly where the server only passes them through (the API and the
//! server both write f64 with serde_json's `float_roundtrip`, so any difference is a bug); the
//! daily rates, which the server computes, are compared with a relative tolerance.

use base64::Engine;
use chrono::{Days, NaiveDate};
use mechafil_api::http::request::SIMULATE_FIELDS;
use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Map, Value, json};

use super::api::Api;
use super::{Client, assert_four_valid_tools, call, text};

/// The six cumulative series (`README.md`, "Daily rates"): `simulate` adds a daily rate for each.
pub const CUMULATIVE: [&str; 6] = [
    "total_vest",
    "cum_simple_reward",
    "cum_capped_power_EIB",
    "cum_baseline_reward",
    "cum_network_reward",
    "network_gas_burn",
];

/// The series `simulate` returns when none is named (`README.md`, "Tools").
pub const DEFAULT_METRICS: [&str; 5] =
    ["circ_supply", "network_locked", "network_QAP_EIB", "day_network_reward", "1y_sector_roi"];

/// Relative tolerance of the daily rates: the same subtraction and division in another order of
/// evaluation could differ in the last bits, nothing more.
const RATE_TOLERANCE: f64 = 1e-12;

/// The JSON of a successful result, after checking that its text and structured content hold
/// the same JSON.
pub fn success_json(tool: &str, result: &CallToolResult) -> Value {
    assert_eq!(result.is_error, Some(false), "{tool} failed: {}", text(result));
    let structured =
        result.structured_content.clone().unwrap_or_else(|| panic!("{tool}: no structured content"));
    let from_text: Value =
        serde_json::from_str(text(result)).unwrap_or_else(|err| panic!("{tool}: text is not JSON: {err}"));
    assert_same_json(&format!("{tool} (text vs structured content)"), &from_text, &structured);
    structured
}

/// The message of a tool error, after checking it is one.
pub fn error_text(tool: &str, result: &CallToolResult) -> String {
    assert_eq!(result.is_error, Some(true), "{tool} should have failed, got {}", text(result));
    text(result).to_string()
}

/// Asserts `got == want`, naming the first path where they differ and both values there.
pub fn assert_same_json(context: &str, got: &Value, want: &Value) {
    if let Some(difference) = first_difference("", got, want) {
        panic!("{context}: {difference}");
    }
}

fn first_difference(path: &str, got: &Value, want: &Value) -> Option<String> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            let missing: Vec<&String> = w.keys().filter(|k| !g.contains_key(*k)).collect();
            let extra: Vec<&String> = g.keys().filter(|k| !w.contains_key(*k)).collect();
            if !missing.is_empty() || !extra.is_empty() {
                return Some(format!("at {path:?}: keys missing {missing:?}, unexpected {extra:?}"));
            }
            w.iter().find_map(|(key, w)| first_difference(&format!("{path}.{key}"), &g[key], w))
        }
        (Value::Array(g), Value::Array(w)) => {
            if g.len() != w.len() {
                return Some(format!("at {path}: {} entries, expected {}", g.len(), w.len()));
            }
            g.iter()
                .zip(w)
                .enumerate()
                .find_map(|(i, (g, w))| first_difference(&format!("{path}[{i}]"), g, w))
        }
        (g, w) if g == w => None,
        (g, w) => Some(format!("at {path}: got {g}, expected {w}")),
    }
}

/// The tool arguments of a `simulate` call as the API body it stands for: the same parameters,
/// `requested_metrics` as `output`.
pub fn api_body(arguments: &Value, metrics: &[&str]) -> Value {
    let mut body: Map<String, Value> = arguments.as_object().cloned().unwrap_or_default();
    body.remove("requested_metrics");
    body.remove("requested_metric");
    body.insert("output".into(), json!(metrics));
    Value::Object(body)
}

/// Checks a `simulate` result against the API's answer to the same request for `metrics`.
pub fn assert_simulate_agrees(result: &Value, api: &Value, metrics: &[&str]) {
    let input = &api["input"];
    for key in ["current_date", "sim_start_date", "sim_end_date", "timestep_days", "n_entries"] {
        assert_same_json(&format!("simulate.{key}"), &result[key], &input[key]);
    }
    assert_same_json("simulate.data.source", &result["data"]["source"], &input["snapshot"]["source"]);
    assert_same_json(
        "simulate.data.current_date",
        &result["data"]["current_date"],
        &input["snapshot"]["current_date"],
    );

    let cumulative: Vec<&str> = metrics.iter().copied().filter(|m| CUMULATIVE.contains(m)).collect();
    let names = |object: &Value| -> Vec<String> {
        let mut keys: Vec<String> =
            object.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        keys.sort();
        keys
    };
    let mut want: Vec<String> = metrics.iter().map(|m| m.to_string()).collect();
    want.sort();
    assert_eq!(names(&result["series"]), want, "simulate.series holds other series than requested");
    let mut want_rates: Vec<String> = cumulative.iter().map(|m| format!("{m}_daily_rate")).collect();
    want_rates.sort();
    assert_eq!(names(&result["daily_rates"]), want_rates, "simulate.daily_rates: one per cumulative series");

    for name in metrics {
        let context = format!("simulate.series.{name}");
        assert_same_json(&context, &result["series"][name], &api["simulation_output"][name]);
        let dates = &input["series_dates"][name];
        assert_same_json(&format!("simulate.series_dates.{name}"), &result["series_dates"][name], dates);
        let unit = result["units"][name]["unit"].as_str().unwrap_or_default();
        assert!(!unit.is_empty(), "simulate.units.{name} has no unit: {}", result["units"]);
    }
    for name in cumulative {
        let key = format!("{name}_daily_rate");
        let step = input["series_dates"][name]["timestep_days"].as_f64().expect("timestep_days");
        let values = api["simulation_output"][name].as_array().expect("the API's series");
        let rates = result["daily_rates"][&key].as_array().unwrap_or_else(|| panic!("no {key}"));
        assert_eq!(rates.len(), values.len(), "{key}: one rate per value");
        for (i, rate) in rates.iter().enumerate() {
            let expected = match (i.checked_sub(1).map(|j| &values[j]), &values[i]) {
                (Some(Value::Number(before)), Value::Number(after)) => {
                    Some((after.as_f64().unwrap() - before.as_f64().unwrap()) / step)
                }
                _ => None,
            };
            match (rate.as_f64(), expected) {
                (None, None) => {}
                (Some(got), Some(want)) => {
                    let error = (got - want).abs() / want.abs().max(f64::MIN_POSITIVE);
                    assert!(
                        error <= RATE_TOLERANCE || got == want,
                        "{key}[{i}]: got {got}, expected {want} from the API's {name} (relative error {error:e} > {RATE_TOLERANCE:e})"
                    );
                }
                (got, want) => panic!("{key}[{i}]: got {got:?}, expected {want:?} from the API's {name}"),
            }
        }
        assert_same_json(
            &format!("simulate.series_dates.{key}"),
            &result["series_dates"][&key],
            &input["series_dates"][name],
        );
    }

    for (param, echoed) in input.as_object().expect("input").iter().filter(|(k, _)| is_parameter(k)) {
        let want = match echoed {
            Value::Array(items) => {
                let numbers: Vec<f64> = items.iter().map(|v| v.as_f64().unwrap()).collect();
                json!({
                    "list_of": items.len(), "first": items.first(), "last": items.last(),
                    "min": numbers.iter().copied().fold(f64::INFINITY, f64::min),
                    "max": numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                })
            }
            scalar => scalar.clone(),
        };
        assert_same_json(&format!("simulate.inputs_used.{param}"), &result["inputs_used"][param], &want);
    }
}

/// A simulation parameter of the API (the request fields but `output`), echoed in `input`.
fn is_parameter(key: &str) -> bool {
    key != "output" && SIMULATE_FIELDS.contains(&key)
}

/// Checks the demo labels: the result says the data is the demo's, and so does the API.
pub fn assert_labelled_demo(result: &Value, api: &Value) {
    assert_eq!(api["input"]["snapshot"]["source"], "demo", "the API should serve its demo snapshot");
    assert!(api["input"]["explanation"].as_str().unwrap_or_default().contains("DEMO"), "{}", api["input"]);
    assert_eq!(result["data"]["is_demo"], true, "simulate.data: {}", result["data"]);
    let explanation = result["explanation"].as_str().expect("an explanation");
    assert!(explanation.contains("DEMO data"), "the explanation must say DEMO: {explanation}");
}

/// Checks a `get_historical_data` result against the API's answer to the same query.
pub fn assert_historical_agrees(result: &Value, api: &Value) {
    assert_same_json("get_historical_data.data", &result["data"], &api["data"]);
    let is_demo = api["data"]["source"] == "demo";
    assert_eq!(result["is_demo"], is_demo, "get_historical_data.is_demo");
    let summary = result["summary"].as_str().expect("a summary");
    assert_eq!(summary.contains("DEMO data"), is_demo, "{summary}");
    // Every array field's dates: the meta says where it ends, and its length agrees.
    let meta = api["data"]["field_meta"].as_object().expect("field_meta");
    for (field, meta) in meta.iter().filter(|(_, m)| m.get("start_date").is_some_and(|d| !d.is_null())) {
        let start: NaiveDate = meta["start_date"].as_str().unwrap().parse().unwrap();
        let n = meta["n_entries"].as_u64().unwrap();
        let step = meta["timestep_days"].as_u64().unwrap();
        let end = start + Days::new((n - 1) * step);
        assert_eq!(result["data"]["field_meta"][field]["end_date"], end.to_string(), "field_meta.{field}");
        assert_eq!(result["data"][field].as_array().map(Vec::len), Some(n as usize), "{field}");
    }
}

/// Drives every tool through `client` and checks each answer against `api`'s own: the checks
/// shared by the stdio and HTTP tests.
pub async fn assert_every_tool_agrees_with_the_api(client: &Client, api: &Api) {
    assert_four_valid_tools(&client.list_all_tools().await.expect("tools/list"));
    let context = call(client, "fetch_context", json!({})).await;
    assert_eq!(text(&context), mcp_server::context::CONTEXT_MD);

    // A scenario with a given scalar, a per-day list, and series of every shape: daily stocks,
    // cumulative ones (with daily rates), a forecast-only one and a 1-year one (shorter).
    let forecast_len = 400;
    let rr: Vec<f64> =
        (0..forecast_len).map(|i| 0.6 + 0.25 * f64::from(i) / f64::from(forecast_len)).collect();
    let metrics = [
        "circ_supply",
        "cum_network_reward",
        "network_gas_burn",
        "1y_sector_roi",
        "rb_sched_expire_power_pib",
        "days",
    ];
    let arguments =
        json!({"rbp": 3.5, "rr": rr, "forecast_length_days": forecast_len, "requested_metrics": metrics});
    let result = success_json("simulate", &call(client, "simulate", arguments.clone()).await);
    let answer = api.simulate(&api_body(&arguments, &metrics)).await;
    assert_simulate_agrees(&result, &answer, &metrics);
    assert_labelled_demo(&result, &answer);
    assert!(
        result["series"]["1y_sector_roi"].as_array().is_some_and(|v| !v.is_empty()),
        "a 400-day forecast has 1-year values"
    );
    let explanation = result["explanation"].as_str().unwrap();
    for expected in ["rbp 3.5 PiB/day (given)", "rr a 400-day list", "fpr ", "(snapshot default)"] {
        assert!(explanation.contains(expected), "missing {expected:?} in {explanation}");
    }

    // No arguments at all: the default series of a 10-year forecast.
    let defaults = success_json("simulate", &call(client, "simulate", json!({})).await);
    let answer = api.simulate(&json!({"output": DEFAULT_METRICS})).await;
    assert_simulate_agrees(&defaults, &answer, &DEFAULT_METRICS);
    assert_eq!(defaults["inputs_used"]["forecast_length_days"], 3650);

    // History: a few fields, then all of them (they fit in one result on the demo).
    let fields = ["circ_supply", "raw_byte_power", "network_qa_power_eib", "burnt_fil", "qa_power_zero"];
    let history = success_json(
        "get_historical_data",
        &call(client, "get_historical_data", json!({"fields": fields})).await,
    );
    let (status, answer) = api.get(&format!("/historical-data?fields={}", fields.join(","))).await;
    assert_eq!(status, 200, "{answer}");
    assert_historical_agrees(&history, &answer);
    let everything =
        success_json("get_historical_data", &call(client, "get_historical_data", json!({})).await);
    let (status, answer) = api.get("/historical-data").await;
    assert_eq!(status, 200, "{answer}");
    assert_historical_agrees(&everything, &answer);

    // A chart of two series of the simulation, dated as the result says.
    let chart = json!({"chart": {
        "series": {"circ_supply": result["series"]["circ_supply"], "network_gas_burn": result["series"]["network_gas_burn"]},
        "label": "Circulating supply and gas burnt", "unit": "FIL",
        "start_date_key": "sim_start_date", "start_date": result["sim_start_date"], "timestep_days": 7,
    }});
    let plot = call(client, "provide_plot", chart.clone()).await;
    let spec = success_json("provide_plot", &plot);
    assert_same_json("provide_plot.chart.series", &spec["chart"]["series"], &chart["chart"]["series"]);
    assert_eq!(spec["chart"]["start_date"], result["sim_start_date"]);
    assert_eq!(spec["chart"]["end_date"], result["sim_end_date"], "the chart ends where the series does");
    assert_png_chart(&plot);
}

/// Checks that `result` holds a PNG chart: an image block that decodes, 960×540, not blank.
pub fn assert_png_chart(result: &CallToolResult) {
    let images: Vec<_> = result
        .content
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Image(image) => Some(image),
            _ => None,
        })
        .collect();
    assert_eq!(images.len(), 1, "one image block expected");
    assert_eq!(images[0].mime_type, "image/png");
    let bytes = base64::engine::general_purpose::STANDARD.decode(&images[0].data).expect("base64 image data");
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a PNG size")];
    let frame = reader.next_frame(&mut pixels).expect("PNG pixels");
    assert_eq!((frame.width, frame.height), (960, 540));
    let pixels = &pixels[..frame.buffer_size()];
    let distinct: std::collections::HashSet<&[u8]> = pixels.chunks(frame.color_type.samples()).collect();
    assert!(distinct.len() > 3, "the chart is blank ({} colours)", distinct.len());
}
