//! Checks that a tool result carries the API's own answer: the same numbers on the same dates,
//! nothing recomputed, nothing lost. Every expected value here comes from the API's answer to the
//! same request (`common::api`), never from this crate's code, so a shaping bug in the server
//! cannot hide in its own expectations.
//!
//! `simulate` answers are checked against the API's daily answer (`/simulate/full`): each value a
//! result holds must be the API's value on that value's date, and each key figure too. A weekly
//! result is also checked against the API's weekly answer (`/simulate`): the same Mondays, the
//! same arrays. Numbers are compared exactly where the server only passes them through (both
//! write f64 with serde_json's `float_roundtrip`, so any difference is a bug); the daily rates,
//! which the server computes, with a relative tolerance.

use base64::Engine;
use chrono::{Days, NaiveDate};
use mechafil_api::http::request::SIMULATE_FIELDS;
use rmcp::model::{CallToolResult, ContentBlock, Tool};
use serde_json::{Map, Value, json};

use super::api::Api;
use super::{Client, assert_valid_tools, call, text};

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

/// The 1-year series, indexed by sector start date.
pub const ONE_YEAR: [&str; 2] = ["1y_return_per_sector", "1y_sector_roi"];

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
    assert!(text(result).chars().count() <= 100_000, "{tool}: over the size limit");
    structured
}

/// Checks `structured` against the output schema `tools/list` gave for `tool`.
pub fn assert_matches_output_schema(tools: &[Tool], tool: &str, structured: &Value) {
    let definition = tools.iter().find(|t| t.name == tool).unwrap_or_else(|| panic!("no tool {tool}"));
    let schema = Value::Object((**definition.output_schema.as_ref().expect("an output schema")).clone());
    let validator = jsonschema::validator_for(&schema).expect("a valid output schema");
    if let Err(err) = validator.validate(structured) {
        panic!("{tool}: structured content does not match its output schema: {err}");
    }
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
/// `requested_metrics` as `output`, the wrapper and `resolution` dropped.
pub fn api_body(arguments: &Value, metrics: &[&str]) -> Value {
    let arguments = arguments.get("sim").unwrap_or(arguments);
    let mut body: Map<String, Value> = arguments.as_object().cloned().unwrap_or_default();
    for key in ["requested_metrics", "requested_metric", "output", "resolution"] {
        body.remove(key);
    }
    body.insert("output".into(), json!(metrics));
    Value::Object(body)
}

fn date(value: &Value) -> NaiveDate {
    value.as_str().unwrap_or_else(|| panic!("not a date: {value}")).parse().unwrap()
}

/// The value of series `name` on `date` in the API's daily answer `full` (`None` if the series
/// has no value on that date).
pub fn daily_at<'a>(full: &'a Value, name: &str, on: NaiveDate) -> Option<&'a Value> {
    let dates = &full["input"]["series_dates"][name];
    let start = dates["start_date"].as_str()?.parse::<NaiveDate>().ok()?;
    let index = usize::try_from((on - start).num_days()).ok()?;
    full["simulation_output"][name].as_array()?.get(index)
}

/// The daily values of `name` from `from` to `to` in `full`.
fn daily_between(full: &Value, name: &str, from: NaiveDate, to: NaiveDate) -> Vec<Value> {
    from.iter_days().take_while(|d| *d <= to).filter_map(|d| daily_at(full, name, d).cloned()).collect()
}

/// The number of days the explanation says the scenario was run for to give the 1-year series
/// values (`None` when it was not lengthened).
pub fn lengthened_to(result: &Value) -> Option<u64> {
    let explanation = result["explanation"].as_str()?;
    let at = explanation.find("the scenario was run for ")? + "the scenario was run for ".len();
    explanation[at..].split(' ').next()?.parse().ok()
}

/// `body` run for `days` days: `forecast_length_days` set and per-day lists continued with
/// their last value (what `simulate` does for 1-year series of short forecasts).
pub fn lengthened_body(body: &Value, days: u64) -> Value {
    let mut body = body.as_object().cloned().unwrap();
    for value in body.values_mut() {
        if let Value::Array(items) = value
            && items.iter().all(Value::is_number)
            && !items.is_empty()
        {
            let last = items.last().cloned().unwrap();
            items.resize(days as usize, last);
        }
    }
    body.insert("forecast_length_days".into(), json!(days));
    Value::Object(body)
}

/// Checks a `simulate` result (for tool `arguments`) against the API's answers to the same
/// request: every value and key figure on its date, the daily rates, the inputs used, the data
/// source; and, for a weekly result, the API's weekly arrays themselves.
pub async fn assert_simulate_agrees(api: &Api, arguments: &Value, result: &Value) {
    let metrics: Vec<String> = result["series"].as_object().expect("series").keys().cloned().collect();
    let metrics: Vec<&str> = metrics.iter().map(String::as_str).collect();
    let body = api_body(arguments, &metrics);
    let (status, full) = api.post("/simulate/full", &body).await;
    assert_eq!(status, 200, "POST /simulate/full {body}: {full}");
    let input = &full["input"];
    assert_same_json("simulate.current_date", &result["current_date"], &input["current_date"]);
    assert_same_json("simulate.data.source", &result["data"]["source"], &input["snapshot"]["source"]);
    assert_same_json(
        "simulate.data.current_date",
        &result["data"]["current_date"],
        &input["snapshot"]["current_date"],
    );
    assert_eq!(result["data"]["is_demo"], input["snapshot"]["source"] == "demo", "simulate.data.is_demo");
    let current = date(&input["current_date"]);
    let forecast_len = input["forecast_length_days"].as_u64().expect("forecast_length_days");
    let window_end = current + Days::new(forecast_len - 1);
    assert_eq!(
        result["forecast"],
        json!({"start_date": current, "end_date": window_end, "days": forecast_len})
    );

    let lengthened = match lengthened_to(result) {
        Some(days) => {
            let one_year: Vec<&str> = metrics.iter().copied().filter(|m| ONE_YEAR.contains(m)).collect();
            let body = lengthened_body(&api_body(arguments, &one_year), days);
            let (status, answer) = api.post("/simulate/full", &body).await;
            assert_eq!(status, 200, "POST /simulate/full {body}: {answer}");
            Some(answer)
        }
        None => None,
    };
    let step = result["timestep_days"].as_u64().expect("timestep_days");
    for name in &metrics {
        let source = match (&lengthened, ONE_YEAR.contains(name)) {
            (Some(longer), true) => longer,
            _ => &full,
        };
        let values = result["series"][name].as_array().expect("values");
        let dates = &result["series_dates"][name];
        assert_eq!(dates["n_entries"].as_u64(), Some(values.len() as u64), "series_dates.{name}");
        if !values.is_empty() {
            let start = date(&dates["start_date"]);
            assert_eq!(dates["timestep_days"].as_u64(), Some(step), "series_dates.{name}");
            assert!(start >= current, "{name} starts before the forecast window: {start}");
            for (i, value) in values.iter().enumerate() {
                let on = start + Days::new(i as u64 * step);
                assert!(on <= window_end, "{name}[{i}] on {on} is past the window");
                let want =
                    daily_at(source, name, on).unwrap_or_else(|| panic!("the API has no {name} on {on}"));
                assert_eq!(value, want, "{name}[{i}] on {on}: got {value}, the API has {want}");
            }
            assert_eq!(
                dates["end_date"],
                json!(start + Days::new((values.len() as u64 - 1) * step)),
                "{name}"
            );
        }
        let unit = result["units"][name]["unit"].as_str().unwrap_or_default();
        assert!(!unit.is_empty(), "simulate.units.{name} has no unit: {}", result["units"]);
        assert_key_figures(name, &result["key_figures"][name], source, current, window_end);

        if CUMULATIVE.contains(name) {
            let key = format!("{name}_daily_rate");
            let rates = result["daily_rates"][&key].as_array().unwrap_or_else(|| panic!("no {key}"));
            assert_eq!(rates.len(), values.len(), "{key}: one rate per value");
            assert_same_json(&format!("series_dates.{key}"), &result["series_dates"][&key], dates);
            for (i, rate) in rates.iter().enumerate() {
                let on = date(&dates["start_date"]) + Days::new(i as u64 * step);
                let before = on - Days::new(step);
                let expected = match (daily_at(source, name, on), daily_at(source, name, before)) {
                    (Some(Value::Number(after)), Some(Value::Number(earlier))) => {
                        Some((after.as_f64().unwrap() - earlier.as_f64().unwrap()) / step as f64)
                    }
                    _ => None,
                };
                match (rate.as_f64(), expected) {
                    (None, None) => {}
                    (Some(got), Some(want)) => {
                        let error = (got - want).abs() / want.abs().max(f64::MIN_POSITIVE);
                        assert!(
                            error <= RATE_TOLERANCE || got == want,
                            "{key}[{i}]: got {got}, expected {want} from the API's {name} (relative error {error:e})"
                        );
                    }
                    (got, want) => panic!("{key}[{i}]: got {got:?}, expected {want:?} from the API's {name}"),
                }
            }
        }
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

    // A weekly result is the API's own weekly answer.
    if result["resolution"] == "weekly" && lengthened.is_none() {
        let weekly = api.simulate(&body).await;
        for key in ["sim_start_date", "sim_end_date", "n_entries"] {
            assert_same_json(&format!("simulate.{key} (weekly)"), &result[key], &weekly["input"][key]);
        }
        for name in &metrics {
            assert_same_json(
                &format!("simulate.series.{name} (weekly)"),
                &result["series"][name],
                &weekly["simulation_output"][name],
            );
        }
    }
}

/// Checks one series' key figures against the API's daily values of the window.
fn assert_key_figures(
    name: &str,
    figures: &Value,
    source: &Value,
    current: NaiveDate,
    window_end: NaiveDate,
) {
    let window = daily_between(source, name, current, window_end);
    if window.is_empty() {
        assert!(figures.is_null(), "{name}: key figures for a series with no value in the window: {figures}");
        return;
    }
    let mut checked = 0;
    let mut check = |label: String, entry: &Value| {
        let on = date(&entry["date"]);
        assert!(
            on >= current && on <= window_end,
            "key_figures.{name}.{label} on {on} is outside the window"
        );
        let want = daily_at(source, name, on).unwrap_or_else(|| panic!("the API has no {name} on {on}"));
        assert_eq!(&entry["value"], want, "key_figures.{name}.{label} on {on}");
        checked += 1;
    };
    check("start".into(), &figures["start"]);
    check("end".into(), &figures["end"]);
    for (i, mark) in figures["each_year"].as_array().expect("each_year").iter().enumerate() {
        check(format!("each_year[{i}]"), mark);
    }
    check("min".into(), &figures["min"]);
    check("max".into(), &figures["max"]);
    assert!(checked >= 4);
    assert_eq!(
        date(&figures["start"]["date"]),
        current,
        "key_figures.{name}.start is the window's first day"
    );
    let numbers: Vec<f64> = window.iter().filter_map(Value::as_f64).collect();
    let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
    let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(
        figures["min"]["value"].as_f64(),
        Some(min),
        "key_figures.{name}.min is not the window's minimum"
    );
    assert_eq!(
        figures["max"]["value"].as_f64(),
        Some(max),
        "key_figures.{name}.max is not the window's maximum"
    );
}

/// A simulation parameter of the API (the request fields but `output`), echoed in `input`.
fn is_parameter(key: &str) -> bool {
    key != "output" && SIMULATE_FIELDS.contains(&key)
}

/// Checks the demo labels: the result says the data is the demo's.
pub fn assert_labelled_demo(result: &Value) {
    assert_eq!(result["data"]["is_demo"], true, "data: {}", result["data"]);
    assert_eq!(result["data"]["source"], "demo", "data: {}", result["data"]);
    let explanation = result["explanation"].as_str().expect("an explanation");
    assert!(explanation.contains("DEMO data"), "the explanation must say DEMO: {explanation}");
}

/// Checks a `get_historical_data` result against the API's answer to the same query.
pub fn assert_historical_agrees(result: &Value, api: &Value) {
    assert_same_json("get_historical_data.data", &result["data"], &api["data"]);
    let is_demo = api["data"]["source"] == "demo";
    assert_eq!(result["is_demo"], is_demo, "get_historical_data.is_demo");
    assert_eq!(result["data_source"]["is_demo"], is_demo, "get_historical_data.data_source");
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

/// Checks a `provide_plot` result of named series: every line's dates and key figures are the
/// API's (history from `/historical-data/full`, forecast from `/simulate/full` with `scenario`).
pub async fn assert_plot_agrees(api: &Api, result: &Value, scenario: &Value) {
    let series = result["chart"]["chart"]["series"].as_array().expect("chart.series");
    assert!(!series.is_empty());
    for line in series {
        let name = line["name"].as_str().unwrap();
        let source = line["source"].as_str().unwrap();
        let figures = &result["key_figures"][format!("{name} ({source})")];
        assert!(figures.is_object(), "no key figures for {name} ({source}): {}", result["key_figures"]);
        match source {
            "history" => {
                let (status, history) = api.get(&format!("/historical-data/full?fields={name}")).await;
                assert_eq!(status, 200, "{history}");
                let meta = &history["data"]["field_meta"][name];
                assert_eq!(line["start_date"], meta["start_date"], "{name}: history start");
                assert_eq!(line["end_date"], meta["end_date"], "{name}: history end");
                let start = date(&meta["start_date"]);
                for key in ["start", "end", "min", "max"] {
                    let on = date(&figures[key]["date"]);
                    let index = (on - start).num_days() as usize;
                    assert_eq!(
                        figures[key]["value"], history["data"][name][index],
                        "{name} (history) {key} on {on}"
                    );
                }
            }
            "forecast" => {
                let mut body = scenario.as_object().cloned().unwrap_or_default();
                body.insert("output".into(), json!([name]));
                let (status, full) = api.post("/simulate/full", &Value::Object(body)).await;
                assert_eq!(status, 200, "{full}");
                assert_eq!(
                    line["start_date"], full["input"]["current_date"],
                    "{name}: the forecast starts at the current date"
                );
                for key in ["start", "end", "min", "max"] {
                    let on = date(&figures[key]["date"]);
                    assert_eq!(
                        Some(&figures[key]["value"]),
                        daily_at(&full, name, on),
                        "{name} (forecast) {key} on {on}"
                    );
                }
            }
            other => panic!("unknown source {other}"),
        }
    }
}

/// Drives the tools through `client` and checks each answer against `api`'s own: the checks
/// shared by the stdio and HTTP tests.
pub async fn assert_every_tool_agrees_with_the_api(client: &Client, api: &Api) {
    let tools = client.list_all_tools().await.expect("tools/list");
    assert_valid_tools(&tools);
    let context = call(client, "fetch_context", json!({})).await;
    assert_eq!(text(&context), mcp_server::context::CONTEXT_MD);

    // A scenario with a given scalar, a per-day list, and series of every shape: daily stocks,
    // cumulative ones (with daily rates), a forecast-only one and a 1-year one.
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
    assert_matches_output_schema(&tools, "simulate", &result);
    assert_eq!(result["resolution"], "weekly");
    assert_simulate_agrees(api, &arguments, &result).await;
    assert_labelled_demo(&result);
    assert!(
        result["series"]["1y_sector_roi"].as_array().is_some_and(|v| !v.is_empty()),
        "a 400-day forecast has 1-year values"
    );
    let explanation = result["explanation"].as_str().unwrap();
    for expected in ["rbp 3.5 PiB/day (given)", "rr a 400-day list", "fpr ", "(snapshot default)"] {
        assert!(explanation.contains(expected), "missing {expected:?} in {explanation}");
    }

    // No arguments at all: the default series of a 10-year forecast, every 4 weeks.
    let defaults = success_json("simulate", &call(client, "simulate", json!({})).await);
    assert_matches_output_schema(&tools, "simulate", &defaults);
    assert_eq!(defaults["resolution"], "monthly");
    assert_eq!(defaults["timestep_days"], 28);
    assert_simulate_agrees(api, &json!({}), &defaults).await;
    assert_eq!(defaults["inputs_used"]["forecast_length_days"], 3650);

    // The reference's wrapped shape, with numbers as strings.
    let wrapped =
        json!({"sim": {"forecast_length_days": "120", "rbp": "5", "requested_metric": "available_supply"}});
    let result = success_json("simulate", &call(client, "simulate", wrapped.clone()).await);
    assert_simulate_agrees(
        api,
        &json!({"forecast_length_days": 120, "rbp": 5, "requested_metric": "available_supply"}),
        &result,
    )
    .await;

    // History: a few fields, then all of them (they fit in one result on the demo).
    let fields = ["circ_supply", "raw_byte_power", "network_qa_power_eib", "burnt_fil", "qa_power_zero"];
    let history = success_json(
        "get_historical_data",
        &call(client, "get_historical_data", json!({"fields": fields})).await,
    );
    assert_matches_output_schema(&tools, "get_historical_data", &history);
    let (status, answer) = api.get(&format!("/historical-data?fields={}", fields.join(","))).await;
    assert_eq!(status, 200, "{answer}");
    assert_historical_agrees(&history, &answer);
    let everything =
        success_json("get_historical_data", &call(client, "get_historical_data", json!({"req": {}})).await);
    let (status, answer) = api.get("/historical-data").await;
    assert_eq!(status, 200, "{answer}");
    assert_historical_agrees(&everything, &answer);

    // A chart by names: history followed by the forecast of a scenario, and a second unit.
    let scenario = json!({"rbp": 8, "forecast_length_days": 730});
    let mut arguments = scenario.as_object().cloned().unwrap();
    arguments.insert(
        "series".into(),
        json!([{"name": "circ_supply", "label": "Circulating supply"}, {"name": "network_QAP_EIB", "unit": "PiB"}]),
    );
    arguments.insert("title".into(), json!("Supply and power"));
    let plot = call(client, "provide_plot", Value::Object(arguments)).await;
    let spec = success_json("provide_plot", &plot);
    assert_matches_output_schema(&tools, "provide_plot", &spec);
    assert_eq!(spec["chart"]["chart"]["title"], "Supply and power");
    let explanation = spec["explanation"].as_str().unwrap();
    assert!(
        explanation
            .contains("network_QAP_EIB: the unit given, PiB, is not the series' unit; it is drawn in EiB"),
        "{explanation}"
    );
    assert_eq!(spec["chart"]["chart"]["start_date_key"], "data_start_date");
    let sources: Vec<&str> = spec["chart"]["chart"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["history", "forecast", "forecast"]);
    assert_plot_agrees(api, &spec, &scenario).await;
    assert_png(&plot, "provide_plot_history_and_forecast");

    // The reference client's own call (`req` wrapper, series by name).
    let reference = json!({"req": {"series": "historical_raw_power_eib", "start_date_key": "data_start_date", "title": "Network Power", "description": "Test plot"}});
    let plot = call(client, "provide_plot", reference).await;
    let spec = success_json("provide_plot", &plot);
    assert_eq!(spec["chart"]["chart"]["description"], "Test plot");
    assert_plot_agrees(api, &spec, &json!({})).await;
    assert_png(&plot, "provide_plot_reference_shape");
}

/// Checks that `result` holds one PNG image block that decodes and is not blank; returns its
/// width and height. With `MCP_PLOT_SAMPLE_DIR` set, the image is written there as
/// `<name>.png`, for a person to look at (`MCP_PLOT_SAMPLE_DIR=$PWD/target/charts cargo test -p
/// mcp-server`).
pub fn assert_png(result: &CallToolResult, name: &str) -> (u32, u32) {
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
    if let Ok(dir) = std::env::var("MCP_PLOT_SAMPLE_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), &bytes).unwrap();
    }
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a PNG size")];
    let frame = reader.next_frame(&mut pixels).expect("PNG pixels");
    let pixels = &pixels[..frame.buffer_size()];
    let distinct: std::collections::HashSet<&[u8]> = pixels.chunks(frame.color_type.samples()).collect();
    assert!(distinct.len() > 3, "the chart is blank ({} colours)", distinct.len());
    (frame.width, frame.height)
}

/// The value of an API answer's array `values` (dated by `dates`) on `on`.
fn api_value_on<'a>(values: &'a Value, dates: &Value, on: NaiveDate) -> &'a Value {
    let start = date(&dates["start_date"]);
    let step = dates["timestep_days"].as_u64().unwrap();
    let days = (on - start).num_days();
    assert!(
        days >= 0 && (days as u64).is_multiple_of(step),
        "{on} is not a date of the API's array ({dates})"
    );
    values
        .get((days as u64 / step) as usize)
        .unwrap_or_else(|| panic!("the API's array has no value on {on}"))
}

/// Checks sampled arrays (`sampled`, dated by `series_dates` and `step`) against the API's
/// arrays `api` (dated by `api_dates`): every value on its date.
fn assert_sampled(context: &str, sampled: &Value, dates: &Value, api: &Value, api_dates: &Value) {
    let values = sampled.as_array().unwrap_or_else(|| panic!("{context}: not a list"));
    let start = date(&dates["start_date"]);
    let step = dates["timestep_days"].as_u64().unwrap();
    assert_eq!(dates["n_entries"].as_u64(), Some(values.len() as u64), "{context}");
    for (i, value) in values.iter().enumerate() {
        let on = start + Days::new(i as u64 * step);
        assert_eq!(value, api_value_on(api, api_dates, on), "{context}[{i}] on {on}");
    }
}

/// Checks key-figure rows (`{"dates": [...], "<column>": [...]}`) against the API's arrays.
fn assert_key_rows(context: &str, rows: &Value, columns: &[(&str, &Value)], api_dates: &Value) {
    let dates: Vec<NaiveDate> = rows["dates"].as_array().expect("dates").iter().map(date).collect();
    assert!(dates.len() >= 2, "{context}: key dates {dates:?}");
    for (column, api) in columns {
        let values =
            rows[*column].as_array().unwrap_or_else(|| panic!("{context}: no column {column}: {rows}"));
        for (value, on) in values.iter().zip(&dates) {
            assert_eq!(value, api_value_on(api, api_dates, *on), "{context}.{column} on {on}");
        }
    }
}

async fn api_analysis(api: &Api, kind: &str, body: &Value) -> Value {
    let (status, answer) = api.post(&format!("/analyze/{kind}"), body).await;
    assert_eq!(status, 200, "POST /analyze/{kind} {body}: {answer}");
    answer
}

/// Drives the five analysis tools through `client` and checks each answer against the API's
/// `/analyze/*` answer to the same body: every sampled value and key figure on its date, the
/// summaries, tables, goal seek and rankings as the API computed them; each result against its
/// output schema, and its chart as a PNG.
pub async fn assert_analyses_agree_with_the_api(client: &Client, api: &Api, tag: &str) {
    let tools = client.list_all_tools().await.expect("tools/list");

    // compare_scenarios
    let arguments = json!({
        "baseline": {"forecast_length_days": 1095},
        "scenarios": {"high onboarding": {"rbp": 6}, "low renewals": {"rr": 0.6}},
        "output": ["lock_ratio", "circ_supply", "1y_sector_roi"],
        "summaries": {"roi_mid_2026": {"series": "1y_sector_roi", "stat": "value_at", "date": "2026-06-01"}}
    });
    let call_result = call(client, "compare_scenarios", arguments.clone()).await;
    let result = success_json("compare_scenarios", &call_result);
    assert_matches_output_schema(&tools, "compare_scenarios", &result);
    assert_png(&call_result, &format!("{tag}_compare_scenarios"));
    let answer = api_analysis(api, "compare", &arguments).await;
    assert_same_json("compare_scenarios.summaries", &result["summaries"], &answer["summaries"]);
    assert_eq!(result["data"]["is_demo"], true);
    for series in ["lock_ratio", "circ_supply", "1y_sector_roi"] {
        let api_dates = &answer["series_dates"][series];
        let api_series = &answer["series"][series];
        for column in ["baseline", "high onboarding", "low renewals"] {
            assert_sampled(
                &format!("compare.{series}.{column}"),
                &result["series"][series][column],
                &result["series_dates"][series],
                &api_series[column],
                api_dates,
            );
        }
        assert_sampled(
            &format!("compare.{series}.diff"),
            &result["series"][series]["diff"]["low renewals"],
            &result["series_dates"][series],
            &api_series["diff"]["low renewals"],
            api_dates,
        );
        let rows = &result["key_figures"][series];
        assert_key_rows(
            &format!("compare.key_figures.{series}"),
            rows,
            &[("baseline", &api_series["baseline"]), ("high onboarding", &api_series["high onboarding"])],
            api_dates,
        );
        assert_key_rows(
            &format!("compare.key_figures.{series}.diff"),
            &json!({"dates": rows["dates"], "d": rows["diff"]["high onboarding"]}),
            &[("d", &api_series["diff"]["high onboarding"])],
            api_dates,
        );
    }
    assert_eq!(result["timestep_days"], 28, "a 3-year comparison is sampled every 4 weeks");

    // forecast_range
    let arguments = json!({
        "base": {"forecast_length_days": 1095}, "members": 200, "seed": 3,
        "output": ["lock_ratio", "network_locked"],
        "summaries": {"below": {"series": "lock_ratio", "stat": "first_below", "threshold": 0.58}}
    });
    let call_result = call(client, "forecast_range", arguments.clone()).await;
    let result = success_json("forecast_range", &call_result);
    assert_matches_output_schema(&tools, "forecast_range", &result);
    assert_png(&call_result, &format!("{tag}_forecast_range"));
    let answer = api_analysis(api, "ensemble", &arguments).await;
    assert_same_json("forecast_range.summaries", &result["summaries"], &answer["summaries"]);
    assert_eq!(result["members"], 200);
    for series in ["lock_ratio", "network_locked"] {
        let api_dates = &answer["series_dates"][series];
        let bands = answer["bands"][series].as_object().unwrap();
        let mut columns = Vec::new();
        for (label, values) in bands {
            assert_sampled(
                &format!("forecast_range.{series}.{label}"),
                &result["bands"][series][label],
                &result["series_dates"][series],
                values,
                api_dates,
            );
            columns.push((label.as_str(), values));
        }
        assert_key_rows(
            &format!("forecast_range.key_figures.{series}"),
            &result["key_figures"][series],
            &columns,
            api_dates,
        );
    }

    // sweep over two knobs, then one
    let arguments = json!({
        "base": {"forecast_length_days": 730},
        "axes": {"rbp": [2, 5, 8], "rr": [0.6, 0.75, 0.9]},
        "summaries": {
            "lock_end": {"series": "network_locked", "over": "circ_supply", "stat": "end"},
            "roi": {"series": "1y_sector_roi", "stat": "mean"}
        }
    });
    let call_result = call(client, "sweep", arguments.clone()).await;
    let result = success_json("sweep", &call_result);
    assert_matches_output_schema(&tools, "sweep", &result);
    assert_png(&call_result, &format!("{tag}_sweep_heatmap"));
    let answer = api_analysis(api, "sweep", &arguments).await;
    assert_same_json("sweep.results", &result["results"], &answer["results"]);
    for label in ["lock_end", "roi"] {
        let cells: Vec<(usize, usize, f64)> = answer["results"][label]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .flat_map(|(i, row)| {
                row.as_array().unwrap().iter().enumerate().map(move |(j, v)| (i, j, v.as_f64().unwrap()))
            })
            .collect();
        let (i, j, min) =
            cells.iter().copied().fold((0, 0, f64::INFINITY), |a, c| if c.2 < a.2 { c } else { a });
        let found = &result["best_and_worst"][label]["min"];
        assert_eq!(found["value"].as_f64(), Some(min), "sweep.best_and_worst.{label}.min");
        assert_eq!(
            found["at"],
            json!({"rbp": answer["axes"][0]["values"][i], "rr": answer["axes"][1]["values"][j]})
        );
    }
    let arguments = json!({"base": {"forecast_length_days": 365}, "axes": {"rr": [0.6, 0.7, 0.8]}});
    let call_result = call(client, "sweep", arguments.clone()).await;
    let result = success_json("sweep", &call_result);
    assert_png(&call_result, &format!("{tag}_sweep_curve"));
    let answer = api_analysis(api, "sweep", &arguments).await;
    let rows = result["table"]["rows"].as_array().unwrap();
    let api_cells = answer["results"]["lock_ratio_end"].as_array().unwrap();
    assert_eq!(result["table"]["columns"], json!(["rr", "lock_ratio_end"]));
    for (row, cell) in rows.iter().zip(api_cells) {
        assert_eq!(&row[1], cell, "sweep table row {row}");
    }

    // solve_for: a target the API reaches at rr = 0.75, then one it cannot reach.
    let summary = json!({"series": "1y_sector_roi", "stat": "value_at", "date": "2026-06-01"});
    let base = json!({"forecast_length_days": 1095});
    let probe = api_analysis(
        api,
        "sweep",
        &json!({"base": base, "axes": {"rr": [0.75]}, "summaries": {"goal": summary}}),
    )
    .await;
    let target = probe["results"]["goal"][0].as_f64().expect("a reachable target");
    let arguments = json!({"base": base, "knob": "rr", "target": target, "summary": summary});
    let call_result = call(client, "solve_for", arguments.clone()).await;
    let result = success_json("solve_for", &call_result);
    assert_matches_output_schema(&tools, "solve_for", &result);
    assert_png(&call_result, &format!("{tag}_solve_for"));
    let answer = api_analysis(api, "solve", &arguments).await;
    assert_eq!(answer["solved"], true, "{answer}");
    for key in ["solved", "value", "achieved", "residual", "iterations", "bracket", "tolerance"] {
        assert_same_json(&format!("solve_for.{key}"), &result[key], &answer[key]);
    }
    let value = answer["value"].as_f64().unwrap();
    let recheck = api_analysis(
        api,
        "sweep",
        &json!({"base": base, "axes": {"rr": [value]}, "summaries": {"goal": summary}}),
    )
    .await;
    assert_eq!(result["check"]["knob_value"].as_f64(), Some(value));
    assert_eq!(
        result["check"]["summary_value"], recheck["results"]["goal"][0],
        "the re-check is a fresh simulation"
    );
    assert_eq!(result["check"]["agrees"], true, "{}", result["check"]);
    let arguments = json!({"base": base, "knob": "rr", "target": 5.0, "summary": summary});
    let result = success_json("solve_for", &call(client, "solve_for", arguments.clone()).await);
    let answer = api_analysis(api, "solve", &arguments).await;
    assert_eq!(result["solved"], false);
    assert_same_json("solve_for.reachable", &result["reachable"], &answer["reachable"]);
    assert!(result["explanation"].as_str().unwrap().contains("reaches"), "{}", result["explanation"]);

    // sensitivity
    let arguments = json!({"base": {"forecast_length_days": 730}, "knobs": ["rbp", "rr", "fpr"]});
    let call_result = call(client, "sensitivity", arguments.clone()).await;
    let result = success_json("sensitivity", &call_result);
    assert_matches_output_schema(&tools, "sensitivity", &result);
    assert_png(&call_result, &format!("{tag}_sensitivity"));
    let answer = api_analysis(api, "sensitivity", &arguments).await;
    for (label, effects) in answer["results"].as_object().unwrap() {
        let table = &result["summaries"][label];
        assert_same_json(
            &format!("sensitivity.{label}.base_value"),
            &table["base_value"],
            &answer["base_values"][label],
        );
        let knobs: Vec<&Value> =
            table["ranking"].as_array().unwrap().iter().map(|row| &row["knob"]).collect();
        assert_eq!(json!(knobs), answer["ranking"][label], "sensitivity.{label}: the API's ranking");
        for row in table["ranking"].as_array().unwrap() {
            let effect = &effects[row["knob"].as_str().unwrap()];
            for key in ["value", "derivative", "elasticity", "down", "up", "down_value", "up_value", "kink"] {
                assert_eq!(row[key], effect[key], "sensitivity.{label}.{}.{key}", row["knob"]);
            }
        }
    }
}
