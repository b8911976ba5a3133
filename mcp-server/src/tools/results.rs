//! Shapes the API's answers into tool results: dates on every series, units and kinds, a
//! one-line explanation of the inputs used, and the daily rate of cumulative series.
//!
//! The numbers are passed through unchanged (serde_json's `float_roundtrip` reads and writes
//! every f64 exactly), so a tool result equals the API's own answer.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use mechafil_core::{Axis, SeriesName};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::api_client::ApiError;
use crate::series::{Kind, daily_rate, daily_rate_key, daily_rate_unit, series_info};
use crate::tools::args::SimulateRequest;

/// A list of `(key, value)` pairs serialised as a JSON object in this order.
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// The dates of one series: value `i` is on `start_date + i * timestep_days`.
///
/// A series with no value in the weekly window (a 1-year series of a forecast under a year,
/// any series of a forecast with no Monday) has no dates: the API sends `null` for both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesDates {
    /// Date of the first value; `None` when there is none.
    pub start_date: Option<NaiveDate>,
    /// Date of the last value; `None` when there is none.
    pub end_date: Option<NaiveDate>,
    /// Number of values.
    pub n_entries: usize,
    /// Days between two values.
    pub timestep_days: u32,
}

impl SeriesDates {
    fn spanning(start_date: Option<NaiveDate>, timestep_days: u32, n_entries: usize) -> SeriesDates {
        let start_date = start_date.filter(|_| n_entries > 0);
        let last = n_entries.saturating_sub(1) as u64 * u64::from(timestep_days);
        let end_date = start_date.map(|start| start + Days::new(last));
        SeriesDates { start_date, end_date, n_entries, timestep_days }
    }
}

/// Unit, kind and meaning of one returned key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitInfo {
    unit: String,
    kind: Kind,
    meaning: String,
}

/// Which snapshot the numbers come from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataSource {
    /// `spacescope` (live network data), `import` or `demo`.
    #[serde(default)]
    pub source: Option<String>,
    /// First history day of the snapshot.
    #[serde(default)]
    pub start_date: Option<String>,
    /// Last history day; the forecast starts here.
    #[serde(default)]
    pub current_date: Option<String>,
    /// True when the API serves demo data: answers must say so.
    #[serde(default)]
    pub is_demo: bool,
}

/// The part of the API's `/simulate` answer this server reads (`docs/API.md`).
#[derive(Debug, Deserialize)]
struct SimulateResponse {
    input: SimulateInput,
    simulation_output: BTreeMap<String, Vec<Option<f64>>>,
}

#[derive(Debug, Deserialize)]
struct SimulateInput {
    #[serde(default)]
    current_date: Option<String>,
    /// `null` when no Monday falls in the forecast window.
    sim_start_date: Option<NaiveDate>,
    sim_end_date: Option<NaiveDate>,
    timestep_days: u32,
    n_entries: usize,
    #[serde(default)]
    snapshot: DataSource,
    #[serde(default)]
    series_dates: BTreeMap<String, SeriesDates>,
    /// The echoed parameters (`rbp`, `rr`, ...) and anything else the API adds.
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// The `simulate` tool's result.
#[derive(Debug, Serialize)]
pub struct SimulateResult {
    /// One line: the inputs used and where each came from.
    pub explanation: String,
    data: DataSource,
    current_date: Option<String>,
    sim_start_date: Option<NaiveDate>,
    sim_end_date: Option<NaiveDate>,
    timestep_days: u32,
    n_entries: usize,
    inputs_used: Ordered<Value>,
    series_dates: Ordered<SeriesDates>,
    units: Ordered<UnitInfo>,
    series: Ordered<Vec<Option<f64>>>,
    #[serde(skip_serializing_if = "is_empty")]
    daily_rates: Ordered<Vec<Option<f64>>>,
}

fn is_empty<V>(map: &Ordered<V>) -> bool {
    map.0.is_empty()
}

impl SimulateResult {
    /// How many series (including daily rates) the result holds, and their total length.
    pub fn series_sizes(&self) -> (usize, usize) {
        let all = self.series.0.iter().chain(&self.daily_rates.0);
        all.fold((0, 0), |(count, values), (_, v)| (count + 1, values + v.len()))
    }

    /// The most characters one series (or daily rate) adds to a result whose text is
    /// `total_chars` long: its largest values list, plus an even share of everything else (its
    /// dates and units grow with the series count; the fixed part is shared out too, which only
    /// overestimates). Advice on how many series fit in one result is based on it, so that
    /// following the advice works for any choice of series, not just for average ones.
    pub fn max_series_cost(&self, total_chars: usize) -> usize {
        let sizes: Vec<usize> = self
            .series
            .0
            .iter()
            .chain(&self.daily_rates.0)
            .map(|(name, values)| name.len() + 3 + serde_json::to_string(values).map_or(0, |t| t.len()))
            .collect();
        let shared = total_chars.saturating_sub(sizes.iter().sum()) / sizes.len().max(1);
        sizes.iter().max().copied().unwrap_or(0) + shared
    }
}

/// The API parameters, in the order of `docs/API.md`, with how to describe each.
const PARAMETERS: [(&str, &str, DefaultFrom); 10] = [
    ("rbp", " PiB/day", DefaultFrom::Snapshot),
    ("rr", "", DefaultFrom::Snapshot),
    ("fpr", "", DefaultFrom::Snapshot),
    ("lock_target", "", DefaultFrom::Model),
    ("forecast_length_days", " days", DefaultFrom::Model),
    ("sector_duration_days", " days", DefaultFrom::Model),
    ("fil_plus_m", "", DefaultFrom::Model),
    ("qa_renew_relative_multiplier", "", DefaultFrom::Model),
    ("burn_boost", "", DefaultFrom::Model),
    ("use_available_supply", "", DefaultFrom::Model),
];

/// Where a parameter's value comes from when the caller does not give it.
#[derive(Clone, Copy)]
enum DefaultFrom {
    /// The snapshot's smoothed recent value.
    Snapshot,
    /// The model's fixed default.
    Model,
}

/// Summarises a list parameter; echoes a scalar.
fn summarize(value: &Value) -> Value {
    let Value::Array(items) = value else { return value.clone() };
    let numbers: Vec<f64> = items.iter().filter_map(Value::as_f64).collect();
    let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
    let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    serde_json::json!({
        "list_of": items.len(),
        "first": items.first(),
        "last": items.last(),
        "min": if numbers.is_empty() { Value::Null } else { min.into() },
        "max": if numbers.is_empty() { Value::Null } else { max.into() },
    })
}

fn describe_value(value: &Value, unit: &str) -> String {
    match value {
        Value::Array(items) => {
            let first = items.first().map(Value::to_string).unwrap_or_default();
            let last = items.last().map(Value::to_string).unwrap_or_default();
            format!("a {}-day list ({first} to {last}{unit})", items.len())
        }
        other => format!("{other}{unit}"),
    }
}

fn data_note(data: &DataSource) -> String {
    let source = data.source.as_deref().unwrap_or("unknown");
    let through = data.current_date.as_deref().map(|d| format!(" up to {d}")).unwrap_or_default();
    if data.is_demo {
        format!("DEMO data ({source} snapshot{through}), not the real network")
    } else {
        format!("{source} snapshot{through}")
    }
}

/// Builds the `simulate` result from the API's answer.
pub fn simulate_result(request: &SimulateRequest, answer: Value) -> Result<SimulateResult, ApiError> {
    let answer: SimulateResponse = serde_json::from_value(answer)
        .map_err(|err| ApiError::InvalidResponse(format!("/simulate answer: {err}")))?;
    let input = answer.input;
    let mut data = input.snapshot;
    data.is_demo = data.source.as_deref() == Some("demo");
    if data.current_date.is_none() {
        data.current_date.clone_from(&input.current_date);
    }

    let mut inputs_used = Vec::new();
    let mut parts = Vec::new();
    for (name, unit, default) in PARAMETERS {
        let Some(value) = input.rest.get(name) else { continue };
        inputs_used.push((name.to_string(), summarize(value)));
        let origin = match (request.given.contains(&name), default) {
            (true, _) => "given",
            (false, DefaultFrom::Snapshot) => "snapshot default",
            (false, DefaultFrom::Model) => "default",
        };
        parts.push(format!("{name} {} ({origin})", describe_value(value, unit)));
    }
    let forecast_len = input.rest.get("forecast_length_days").and_then(Value::as_u64);
    let window = match (input.sim_start_date, input.sim_end_date) {
        (Some(start), Some(end)) => format!("Weekly values (Mondays) from {start} to {end}."),
        // The API samples the window's Mondays; a window of a few days may hold none.
        _ => format!(
            "No weekly values: no Monday falls in the {}-day forecast window from {}; ask for a \
             forecast of at least 7 days.",
            forecast_len.map_or_else(|| "?".to_string(), |f| f.to_string()),
            input.current_date.as_deref().unwrap_or("the current date"),
        ),
    };
    let mut explanation = format!("Inputs used: {}. Data: {}. {window}", parts.join(", "), data_note(&data));

    let mut output = answer.simulation_output;
    let mut series = Vec::new();
    let mut series_dates = Vec::new();
    let mut units = Vec::new();
    let mut daily_rates = Vec::new();
    for metric in &request.metrics {
        let name = metric.as_str();
        let values = output.remove(name).ok_or_else(|| {
            ApiError::InvalidResponse(format!("/simulate did not return the series {name}"))
        })?;
        let dates = input.series_dates.get(name).cloned().unwrap_or_else(|| {
            SeriesDates::spanning(input.sim_start_date, input.timestep_days, values.len())
        });
        if values.is_empty() && input.n_entries > 0 && metric.axis() == Axis::OneYear {
            explanation.push_str(&format!(
                " {name} has no values: a 1-year series ends 364 days before the forecast does; \
                 ask for a forecast of at least 371 days."
            ));
        }
        let info = series_info(*metric);
        units.push((
            name.to_string(),
            UnitInfo { unit: info.unit.into(), kind: info.kind, meaning: info.meaning.into() },
        ));
        if info.kind == Kind::Cumulative {
            let key = daily_rate_key(*metric);
            daily_rates.push((key.clone(), daily_rate(&values, dates.timestep_days)));
            units.push((key.clone(), UnitInfo {
                unit: daily_rate_unit(*metric),
                kind: Kind::Flow,
                meaning: format!(
                    "average increase of {name} per day over the {} days ending on each date (entry 0 is null)",
                    dates.timestep_days
                ),
            }));
            series_dates.push((key, dates.clone()));
        }
        series_dates.push((name.to_string(), dates));
        series.push((name.to_string(), values));
    }
    // Rates after their series in `series_dates`, as in `daily_rates`.
    series_dates.sort_by_key(|(key, _)| key.ends_with("_daily_rate"));

    Ok(SimulateResult {
        explanation,
        data,
        current_date: input.current_date,
        sim_start_date: input.sim_start_date,
        sim_end_date: input.sim_end_date,
        timestep_days: input.timestep_days,
        n_entries: input.n_entries,
        inputs_used: Ordered(inputs_used),
        series_dates: Ordered(series_dates),
        units: Ordered(units),
        series: Ordered(series),
        daily_rates: Ordered(daily_rates),
    })
}

/// The `get_historical_data` result: the API's `data` object with an `end_date` added to each
/// `field_meta` entry, and a summary line.
#[derive(Debug, Serialize)]
pub struct HistoricalResult {
    /// One line: the data source, its dates, and where each field's dates are.
    pub summary: String,
    /// True when the API serves demo data.
    pub is_demo: bool,
    /// The API's `data` object.
    pub data: Map<String, Value>,
}

impl HistoricalResult {
    /// The array fields and the characters each takes, largest first.
    pub fn field_sizes(&self) -> Vec<(String, usize)> {
        let mut sizes: Vec<(String, usize)> = self
            .data
            .iter()
            .filter(|(_, value)| value.is_array())
            .map(|(key, value)| (key.clone(), value.to_string().len()))
            .collect();
        sizes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        sizes
    }
}

/// Builds the `get_historical_data` result from the API's answer.
pub fn historical_result(answer: Value) -> Result<HistoricalResult, ApiError> {
    let Value::Object(mut answer) = answer else {
        return Err(ApiError::InvalidResponse("/historical-data answer is not an object".into()));
    };
    let Some(Value::Object(mut data)) = answer.remove("data") else {
        return Err(ApiError::InvalidResponse("/historical-data answer has no `data` object".into()));
    };
    if let Some(Value::Object(field_meta)) = data.get_mut("field_meta") {
        for meta in field_meta.values_mut() {
            add_end_date(meta);
        }
    }
    let text = |key: &str| data.get(key).and_then(Value::as_str).unwrap_or("?").to_string();
    let is_demo = data.get("source").and_then(Value::as_str) == Some("demo");
    let source = DataSource {
        source: data.get("source").and_then(Value::as_str).map(String::from),
        current_date: data.get("current_date").and_then(Value::as_str).map(String::from),
        is_demo,
        ..DataSource::default()
    };
    let summary = format!(
        "Network history from the {}, {} to {}, weekly. Each field's unit and dates are in \
         field_meta[field] (start_date, end_date, n_entries, timestep_days); value i is on \
         start_date + i * timestep_days days.",
        data_note(&source),
        text("start_date"),
        text("current_date"),
    );
    Ok(HistoricalResult { summary, is_demo, data })
}

/// Adds `end_date = start_date + (n_entries - 1) * timestep_days` to one `field_meta` entry, so
/// Claude does not have to do date arithmetic to know where a field ends.
fn add_end_date(meta: &mut Value) {
    let Value::Object(meta) = meta else { return };
    if meta.contains_key("end_date") {
        return;
    }
    let start = meta.get("start_date").and_then(Value::as_str).and_then(|s| s.parse::<NaiveDate>().ok());
    let n_entries = meta.get("n_entries").and_then(Value::as_u64);
    let step = meta.get("timestep_days").and_then(Value::as_u64);
    if let (Some(start), Some(n_entries), Some(step)) = (start, n_entries, step)
        && let Ok(step) = u32::try_from(step)
        && let Some(end_date) = SeriesDates::spanning(Some(start), step, n_entries as usize).end_date
    {
        meta.insert("end_date".into(), Value::String(end_date.to_string()));
    }
}

/// The series names as one comma-separated string.
pub fn metric_list(metrics: &[SeriesName]) -> String {
    metrics.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::args::{SimulateArgs, parse_args};
    use serde_json::json;

    fn request(args: Value) -> SimulateRequest {
        let Value::Object(map) = args else { panic!() };
        parse_args::<SimulateArgs>("simulate", map).unwrap().validate().unwrap()
    }

    /// An answer of the shape `docs/API.md` documents, for checking the shaping only (the
    /// integration tests compare against the real API).
    fn api_shaped_answer() -> Value {
        json!({
            "input": {
                "rbp": 2.5, "rr": [0.5, 0.6, 0.7], "fpr": 0.8, "lock_target": 0.3,
                "forecast_length_days": 3, "sector_duration_days": 540, "fil_plus_m": 10.0,
                "qa_renew_relative_multiplier": 1.0, "burn_boost": 1.0, "use_available_supply": false,
                "output": ["cum_network_reward", "1y_sector_roi"],
                "explanation": "…",
                "snapshot": { "source": "demo", "start_date": "2022-10-10", "current_date": "2025-09-09" },
                "current_date": "2025-09-09", "sim_start_date": "2025-09-15", "sim_end_date": "2025-09-29",
                "timestep_days": 7, "n_entries": 3,
                "series_dates": {
                    "cum_network_reward": { "start_date": "2025-09-15", "end_date": "2025-09-29", "n_entries": 3, "timestep_days": 7 }
                }
            },
            "simulation_output": {
                "cum_network_reward": [700.0, 770.0, 847.0],
                "1y_sector_roi": [0.1, null]
            }
        })
    }

    #[test]
    fn simulate_result_has_dates_units_explanation_and_daily_rates() {
        let request = request(json!({
            "rr": [0.5, 0.6, 0.7], "requested_metrics": ["cum_network_reward", "1y_sector_roi"]
        }));
        let result = simulate_result(&request, api_shaped_answer()).unwrap();
        let value = serde_json::to_value(&result).unwrap();
        assert_eq!(value["series"]["cum_network_reward"], json!([700.0, 770.0, 847.0]));
        assert_eq!(value["daily_rates"]["cum_network_reward_daily_rate"], json!([null, 10.0, 11.0]));
        assert_eq!(value["units"]["cum_network_reward_daily_rate"]["unit"], "FIL/day");
        assert_eq!(value["units"]["1y_sector_roi"]["kind"], "ratio");
        // A series the API gave no dates for gets them from the top-level dates.
        assert_eq!(
            value["series_dates"]["1y_sector_roi"],
            json!({"start_date": "2025-09-15", "end_date": "2025-09-22", "n_entries": 2, "timestep_days": 7})
        );
        assert_eq!(value["data"]["is_demo"], true);
        assert_eq!(
            value["inputs_used"]["rr"],
            json!({"list_of": 3, "first": 0.5, "last": 0.7, "min": 0.5, "max": 0.7})
        );
        let explanation = &result.explanation;
        for expected in [
            "rbp 2.5 PiB/day (snapshot default)",
            "rr a 3-day list (0.5 to 0.7) (given)",
            "lock_target 0.3 (default)",
            "DEMO data (demo snapshot up to 2025-09-09)",
            "from 2025-09-15 to 2025-09-29",
        ] {
            assert!(explanation.contains(expected), "missing {expected:?} in {explanation}");
        }
        assert!(!explanation.contains('\n'));
        assert_eq!(result.series_sizes(), (3, 8));
        // The text form keeps the reading order: explanation first, series last.
        let text = serde_json::to_string(&result).unwrap();
        assert!(text.starts_with("{\"explanation\""));
        assert!(text.find("\"series\"").unwrap() > text.find("\"units\"").unwrap());
    }

    #[test]
    fn series_without_values_keep_null_dates_and_are_explained() {
        // As the API answers a 60-day forecast: the 1-year series has no value in the window.
        let mut answer = api_shaped_answer();
        answer["input"]["series_dates"]["1y_sector_roi"] =
            json!({"start_date": null, "end_date": null, "n_entries": 0, "timestep_days": 7});
        answer["simulation_output"]["1y_sector_roi"] = json!([]);
        let request = request(json!({"requested_metrics": ["cum_network_reward", "1y_sector_roi"]}));
        let result = simulate_result(&request, answer.clone()).unwrap();
        let value = serde_json::to_value(&result).unwrap();
        assert_eq!(value["series"]["1y_sector_roi"], json!([]));
        assert_eq!(value["series_dates"]["1y_sector_roi"]["start_date"], Value::Null);
        assert!(result.explanation.contains("1y_sector_roi has no values"), "{}", result.explanation);

        // A window with no Monday: no values and no dates at all.
        answer["input"]["sim_start_date"] = Value::Null;
        answer["input"]["sim_end_date"] = Value::Null;
        answer["input"]["n_entries"] = json!(0);
        answer["input"]["series_dates"]["cum_network_reward"] =
            answer["input"]["series_dates"]["1y_sector_roi"].clone();
        answer["simulation_output"]["cum_network_reward"] = json!([]);
        let result = simulate_result(&request, answer).unwrap();
        let value = serde_json::to_value(&result).unwrap();
        assert_eq!(value["sim_start_date"], Value::Null);
        assert_eq!(value["daily_rates"]["cum_network_reward_daily_rate"], json!([]));
        assert!(
            result.explanation.contains("no Monday falls in the 3-day forecast window"),
            "{}",
            result.explanation
        );
        assert!(!result.explanation.contains("1y_sector_roi has no values"), "{}", result.explanation);
    }

    #[test]
    fn a_missing_series_is_an_invalid_response() {
        let request = request(json!({"requested_metrics": ["circ_supply"]}));
        let err = simulate_result(&request, api_shaped_answer()).unwrap_err();
        assert!(err.to_string().contains("did not return the series circ_supply"), "{err}");
    }

    #[test]
    fn historical_field_meta_gets_end_dates() {
        let result = historical_result(json!({"data": {
            "source": "spacescope", "start_date": "2022-10-10", "current_date": "2025-09-09",
            "circ_supply": [1.0, 2.0], "renewal_rate": [0.5],
            "field_meta": {
                "circ_supply": {"unit": "FIL", "kind": "stock", "start_date": "2022-10-10", "n_entries": 152, "timestep_days": 7},
                "renewal_rate": {"unit": "fraction", "kind": "rate", "start_date": "2025-03-17", "n_entries": 1, "timestep_days": 7}
            }
        }}))
        .unwrap();
        assert_eq!(result.data["field_meta"]["circ_supply"]["end_date"], "2025-09-01");
        assert_eq!(result.data["field_meta"]["renewal_rate"]["end_date"], "2025-03-17");
        assert!(!result.is_demo);
        assert!(result.summary.contains("spacescope snapshot up to 2025-09-09, 2022-10-10 to 2025-09-09"));
        assert_eq!(result.field_sizes()[0].0, "circ_supply");
        assert!(historical_result(json!({"nope": 1})).is_err());
    }
}
