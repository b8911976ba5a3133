//! The `simulate` tool: one scenario through the API's `POST /simulate/full` (every day of the
//! run), answered at a resolution that fits the horizon, led by the figures a person quotes.
//!
//! Why the daily endpoint: the key figures (start, end, each year mark, extremes) are read on
//! exact dates from the daily values, the series are then sampled (daily under two weeks, weekly
//! on Mondays up to two years, every four weeks beyond; `resolution` overrides), and the daily
//! rate of a cumulative series can use the days before the first sample. Weekly samples are the
//! same Mondays `/simulate` returns, so a weekly result equals the API's weekly answer.
//!
//! A 1-year series (`1y_sector_roi`, `1y_return_per_sector`) is indexed by sector start date
//! and needs the 364 days after it: a forecast of under a year holds none of its values. When
//! that happens the tool runs the scenario longer (by 364 days, per-day lists continuing with
//! their last value) for those series only, and says so.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use mechafil_core::{Axis, MAX_FORECAST_DAYS, Param, ParamDefault, SeriesName};
use rmcp::model::JsonObject;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::args::{Fields, InvalidArgs, Problems, choice, name_list, unwrap_reference_shape};
use super::dated::{Dated, KeyFigures, add_days, first_monday_on_or_after};
use super::params::{Scenario, param_names};
use super::results::{DataSource, Ordered, SeriesDates, UnitInfo, is_empty};
use crate::api_client::{ApiClient, ApiError};
use crate::series::{DEFAULT_METRICS, Kind, daily_rate_key, daily_rate_unit, series_info};

/// The tool's name.
pub const TOOL: &str = "simulate";

/// Arguments besides the scenario parameters.
pub const OTHER_ARGUMENTS: [&str; 4] = ["requested_metrics", "requested_metric", "output", "resolution"];

/// How often a series is sampled in a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Every day.
    Daily,
    /// Mondays, as the API's `/simulate`.
    Weekly,
    /// Every fourth Monday (28 days): the weekly grid thinned, so every value is also a value of
    /// the weekly answer and the `start + i * 28` rule holds.
    Monthly,
}

/// The values `resolution` takes (`auto` picks by forecast length).
pub const RESOLUTIONS: [&str; 4] = ["auto", "daily", "weekly", "monthly"];

/// Longest forecast shown daily by `auto`: under two weeks, the weekly grid would hold one or
/// two values. Longer forecasts are weekly, on the Mondays the API's `/simulate` (and the
/// reference's clients) use.
pub const AUTO_DAILY_MAX_DAYS: usize = 13;
/// Longest forecast shown weekly by `auto` (two years); longer ones are shown every 4 weeks.
pub const AUTO_WEEKLY_MAX_DAYS: usize = 730;

impl Resolution {
    /// The resolution `auto` picks for a forecast of `days` days.
    pub fn auto(days: usize) -> Resolution {
        match days {
            d if d <= AUTO_DAILY_MAX_DAYS => Resolution::Daily,
            d if d <= AUTO_WEEKLY_MAX_DAYS => Resolution::Weekly,
            _ => Resolution::Monthly,
        }
    }

    /// Reads a `resolution` argument (`None` = auto).
    pub fn parse(value: &Value) -> Result<Option<Resolution>, String> {
        Ok(match choice(value, &RESOLUTIONS)? {
            "daily" => Some(Resolution::Daily),
            "weekly" => Some(Resolution::Weekly),
            "monthly" => Some(Resolution::Monthly),
            _ => None,
        })
    }

    /// Days between two values.
    pub fn step_days(self) -> u32 {
        match self {
            Resolution::Daily => 1,
            Resolution::Weekly => 7,
            Resolution::Monthly => 28,
        }
    }

    /// Its name in arguments and results.
    pub fn name(self) -> &'static str {
        match self {
            Resolution::Daily => "daily",
            Resolution::Weekly => "weekly",
            Resolution::Monthly => "monthly",
        }
    }

    /// The first date of the grid for a window starting on `first_day`.
    pub fn grid_start(self, first_day: NaiveDate) -> Option<NaiveDate> {
        match self {
            Resolution::Daily => Some(first_day),
            Resolution::Weekly | Resolution::Monthly => first_monday_on_or_after(first_day),
        }
    }

    /// In words, for explanations.
    pub fn describe(self) -> &'static str {
        match self {
            Resolution::Daily => "daily values",
            Resolution::Weekly => "weekly values (Mondays)",
            Resolution::Monthly => "values every 4 weeks (28 days, on Mondays)",
        }
    }
}

/// A `simulate` call that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulateRequest {
    /// The scenario's parameters.
    pub scenario: Scenario,
    /// The series to return, without duplicates, in the caller's order.
    pub metrics: Vec<SeriesName>,
    /// The resolution asked for (`None` = auto).
    pub resolution: Option<Resolution>,
}

/// Reads a series name list, naming unknown names and listing the valid ones.
pub fn read_metrics(names: &[String], path: &str, problems: &mut Problems) -> Vec<SeriesName> {
    let mut metrics = Vec::new();
    let mut unknown = Vec::new();
    for name in names {
        match SeriesName::from_name(name) {
            Some(series) if !metrics.contains(&series) => metrics.push(series),
            Some(_) => {}
            None => unknown.push(format!("{name:?}")),
        }
    }
    if !unknown.is_empty() {
        problems.at(
            path,
            format!(
                "unknown series {}; valid names: {}",
                unknown.join(", "),
                SeriesName::names().collect::<Vec<_>>().join(", ")
            ),
        );
    }
    metrics
}

/// Reads `simulate`'s arguments: flat or wrapped as `{"sim": {...}}`.
pub fn parse(args: JsonObject) -> Result<SimulateRequest, InvalidArgs> {
    let args = unwrap_reference_shape(TOOL, args)?;
    let mut problems = Problems::default();
    let mut fields = Fields::new("", args);
    let scenario = Scenario::read(&mut fields, &mut problems);
    let mut names = Vec::new();
    let mut path = "requested_metrics";
    for key in ["requested_metrics", "requested_metric", "output"] {
        if let Some(list) = fields.read(key, &mut problems, name_list) {
            names.extend(list);
            path = key;
        }
    }
    let mut metrics = read_metrics(&names, path, &mut problems);
    if names.is_empty() {
        metrics = DEFAULT_METRICS.to_vec();
    }
    let resolution = fields.read("resolution", &mut problems, Resolution::parse).flatten();
    let mut allowed = param_names();
    allowed.extend(OTHER_ARGUMENTS);
    fields.finish(&allowed, &mut problems);
    problems.finish(TOOL, SimulateRequest { scenario, metrics, resolution })
}

/// The part of `/simulate/full`'s answer this server reads (`docs/API.md`).
#[derive(Debug, Deserialize)]
struct FullAnswer {
    input: FullInput,
    simulation_output: BTreeMap<String, Vec<Option<f64>>>,
}

#[derive(Debug, Deserialize)]
struct FullInput {
    current_date: NaiveDate,
    #[serde(default)]
    snapshot: DataSource,
    #[serde(default)]
    series_dates: BTreeMap<String, SeriesDates>,
    /// The echoed parameters (`rbp`, `rr`, ...) and anything else the API adds.
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// One run of the API's `/simulate/full`: daily series with their dates.
#[derive(Debug, Clone)]
pub struct Run {
    /// The snapshot's last history day: the forecast window starts here.
    pub current_date: NaiveDate,
    /// The snapshot the run used.
    pub data: DataSource,
    /// The parameters used, as the API echoed them.
    pub inputs: Map<String, Value>,
    /// The forecast length F.
    pub forecast_len: usize,
    /// Each requested series, daily (`None` when it has no value at all).
    pub series: Vec<(SeriesName, Option<Dated>)>,
}

impl Run {
    /// The last day of the forecast window, `current_date + F - 1`.
    pub fn window_end(&self) -> Option<NaiveDate> {
        add_days(self.current_date, self.forecast_len.saturating_sub(1) as u64)
    }

    /// The daily series `name` (if requested and not empty).
    pub fn daily(&self, name: SeriesName) -> Option<&Dated> {
        self.series.iter().find(|(n, _)| *n == name).and_then(|(_, s)| s.as_ref())
    }
}

/// Runs `scenario` with `/simulate/full` for `metrics`, on the snapshot `pin` names (the one an
/// earlier request of the same tool call was answered from) or, without one, the served one.
pub async fn run_full(
    api: &ApiClient,
    scenario: &Scenario,
    metrics: &[SeriesName],
    pin: Option<&str>,
) -> Result<Run, ApiError> {
    let mut body = scenario.to_body();
    body.insert("output".into(), metrics.iter().map(|m| Value::from(m.as_str())).collect());
    if let Some(snapshot_id) = pin {
        body.insert("snapshot".into(), snapshot_id.into());
    }
    let answer: FullAnswer = api.post("simulate/full", &Value::Object(body)).await?;
    let mut input = answer.input;
    let mut output = answer.simulation_output;
    let forecast_len =
        input.rest.get("forecast_length_days").and_then(Value::as_u64).ok_or_else(|| {
            ApiError::InvalidResponse("/simulate/full did not echo forecast_length_days".into())
        })? as usize;
    let mut series = Vec::with_capacity(metrics.len());
    for metric in metrics {
        let name = metric.as_str();
        let values = output.remove(name).ok_or_else(|| {
            ApiError::InvalidResponse(format!("/simulate/full did not return the series {name}"))
        })?;
        let dates = input.series_dates.remove(name);
        let dated = match dates.and_then(|d| d.start_date) {
            Some(start) if !values.is_empty() => Some(Dated { start, step_days: 1, values }),
            _ => None,
        };
        series.push((*metric, dated));
    }
    let data = input.snapshot.labelled();
    Ok(Run { current_date: input.current_date, data, inputs: input.rest, forecast_len, series })
}

/// Summarises a list parameter; echoes a scalar.
fn summarize(value: &Value) -> Value {
    let Value::Array(items) = value else { return value.clone() };
    let numbers: Vec<f64> = items.iter().filter_map(Value::as_f64).collect();
    let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
    let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    json!({
        "list_of": items.len(),
        "first": items.first(),
        "last": items.last(),
        "min": if numbers.is_empty() { Value::Null } else { min.into() },
        "max": if numbers.is_empty() { Value::Null } else { max.into() },
    })
}

fn describe_value(value: &Value, unit: &str) -> String {
    let unit = if unit.is_empty() { String::new() } else { format!(" {unit}") };
    match value {
        Value::Array(items) => {
            let first = items.first().map(Value::to_string).unwrap_or_default();
            let last = items.last().map(Value::to_string).unwrap_or_default();
            format!("a {}-day list ({first} to {last}{unit})", items.len())
        }
        other => format!("{other}{unit}"),
    }
}

/// The parameters used, summarised, and one sentence on each and where it came from.
pub fn describe_inputs(inputs: &Map<String, Value>, scenario: &Scenario) -> (Ordered<Value>, String) {
    let mut used = Ordered::default();
    let mut parts = Vec::new();
    for param in Param::ALL {
        let Some(value) = inputs.get(param.name()) else { continue };
        used.push(param.name(), summarize(value));
        let rule = param.rule();
        let origin = match (scenario.has(param), rule.default) {
            (true, _) => "given",
            (false, ParamDefault::Smoothed) => "snapshot default",
            (false, _) => "default",
        };
        parts.push(format!("{param} {} ({origin})", describe_value(value, rule.unit)));
    }
    (used, parts.join(", "))
}

/// The sampled window of a result: where its main axis starts and ends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// First day of the forecast (the snapshot's current date).
    pub start_date: NaiveDate,
    /// Last day of the forecast.
    pub end_date: Option<NaiveDate>,
    /// Forecast length in days.
    pub days: usize,
}

/// The `simulate` tool's result, in reading order: explanation and key figures first, series
/// last.
#[derive(Debug, Serialize)]
pub struct SimulateResult {
    /// The inputs used and where each came from, the data source, the sampling, and anything
    /// done to answer (a lengthened run for the 1-year series).
    pub explanation: String,
    data: DataSource,
    current_date: NaiveDate,
    forecast: Window,
    resolution: &'static str,
    sim_start_date: Option<NaiveDate>,
    sim_end_date: Option<NaiveDate>,
    timestep_days: u32,
    n_entries: usize,
    inputs_used: Ordered<Value>,
    key_figures: Ordered<KeyFigures>,
    series_dates: Ordered<SeriesDates>,
    units: Ordered<UnitInfo>,
    series: Ordered<Vec<Option<f64>>>,
    #[serde(skip_serializing_if = "is_empty")]
    daily_rates: Ordered<Vec<Option<f64>>>,
}

impl SimulateResult {
    /// How many series (including daily rates) the result holds, and their total length.
    pub fn series_sizes(&self) -> (usize, usize) {
        let all = self.series.0.iter().chain(&self.daily_rates.0);
        all.fold((0, 0), |(count, values), (_, v)| (count + 1, values + v.len()))
    }

    /// The most characters one series (or daily rate) adds to a result whose text is
    /// `total_chars` long: its largest values list, its key figures, plus an even share of
    /// everything else. Advice on how many series fit in one result is based on it, so that
    /// following the advice works for any choice of series, not just for average ones.
    pub fn max_series_cost(&self, total_chars: usize) -> usize {
        let sizes: Vec<usize> = self
            .series
            .0
            .iter()
            .chain(&self.daily_rates.0)
            .map(|(name, values)| {
                let figures =
                    self.key_figures.0.iter().find(|(n, _)| n == name).map_or(0, |(_, f)| json_len(f));
                name.len() + 3 + json_len(values) + figures
            })
            .collect();
        let shared = total_chars.saturating_sub(sizes.iter().sum()) / sizes.len().max(1);
        sizes.iter().max().copied().unwrap_or(0) + shared
    }

    /// The result's resolution.
    pub fn resolution(&self) -> &'static str {
        self.resolution
    }
}

/// The length of `value` as JSON text, for size advice.
fn json_len<T: Serialize>(value: &T) -> usize {
    serde_json::to_string(value).map_or(0, |text| text.len())
}

/// Runs the request and shapes the answer.
pub async fn simulate(api: &ApiClient, request: &SimulateRequest) -> Result<SimulateResult, ApiError> {
    let mut run = run_full(api, &request.scenario, &request.metrics, None).await?;
    let resolution = request.resolution.unwrap_or_else(|| Resolution::auto(run.forecast_len));
    let step = resolution.step_days();
    let window_end = run
        .window_end()
        .ok_or_else(|| ApiError::InvalidResponse("the forecast ends past the calendar".into()))?;
    let grid_start = resolution.grid_start(run.current_date);
    let sample = |series: &Dated| grid_start.and_then(|first| series.sample(first, step, window_end));

    // The 1-year series with no value at this resolution: run longer for them.
    let empty_one_year: Vec<SeriesName> = request
        .metrics
        .iter()
        .copied()
        .filter(|m| m.axis() == Axis::OneYear && run.daily(*m).and_then(sample).is_none())
        .collect();
    let mut lengthened_note = String::new();
    let lengthened_len = (run.forecast_len + 364).min(MAX_FORECAST_DAYS);
    if !empty_one_year.is_empty() && lengthened_len > run.forecast_len && grid_start.is_some() {
        // On the same snapshot as the first run (the API may run as several machines).
        let pin = run.data.snapshot_id.clone();
        let longer =
            run_full(api, &request.scenario.lengthened(lengthened_len), &empty_one_year, pin.as_deref())
                .await?;
        for (name, series) in longer.series {
            if let Some(slot) = run.series.iter_mut().find(|(n, _)| *n == name) {
                slot.1 = series;
            }
        }
        let names: Vec<&str> = empty_one_year.iter().map(|m| m.as_str()).collect();
        let covered = empty_one_year.iter().filter_map(|m| run.daily(*m).and_then(sample)).next();
        let span = covered
            .map(|s| {
                format!(
                    ", giving values for sector start dates {} to {}",
                    s.start,
                    s.end().unwrap_or(s.start)
                )
            })
            .unwrap_or_default();
        lengthened_note = format!(
            " {}: a 1-year value needs the 364 days after its sector start date, so a {}-day forecast \
             holds none; the scenario was run for {lengthened_len} days for {} (continuing unchanged: \
             per-day lists keep their last value){span}. Every other series covers the {} days asked for.",
            names.join(" and "),
            run.forecast_len,
            if names.len() > 1 { "them" } else { "it" },
            run.forecast_len,
        );
    }

    let (inputs_used, inputs_text) = describe_inputs(&run.inputs, &request.scenario);
    let mut key_figures = Ordered::default();
    let mut series_dates = Ordered::default();
    let mut units = Ordered::default();
    let mut series = Ordered::default();
    let mut daily_rates = Ordered::default();
    let mut rate_dates = Ordered::default();
    let mut empty_notes = Vec::new();
    for metric in &request.metrics {
        let name = metric.as_str();
        let info = series_info(*metric);
        let daily = run.daily(*metric);
        let sampled = daily.and_then(sample);
        if let Some(figures) =
            daily.and_then(|d| d.between(run.current_date, window_end)).and_then(|w| w.key_figures(info.unit))
        {
            key_figures.push(name, figures);
        }
        if sampled.is_none() && grid_start.is_some() && metric.axis() == Axis::OneYear {
            empty_notes.push(format!(
                " {name} has no values: a 1-year series ends 364 days before the forecast does; ask for \
                 a forecast of at least 371 days."
            ));
        }
        units.push(name, UnitInfo { unit: info.unit.into(), kind: info.kind, meaning: info.meaning.into() });
        if info.kind == Kind::Cumulative {
            let key = daily_rate_key(*metric);
            let rates = match (daily, &sampled) {
                (Some(daily), Some(sampled)) => Some(daily.daily_rate_on(sampled)),
                _ => None,
            };
            units.push(
                key.clone(),
                UnitInfo {
                    unit: daily_rate_unit(*metric),
                    kind: Kind::Flow,
                    meaning: format!(
                        "average increase of {name} per day over the {step} day(s) ending on each date"
                    ),
                },
            );
            rate_dates.push(key.clone(), SeriesDates::of(rates.as_ref(), step));
            daily_rates.push(key, rates.map(|r| r.values).unwrap_or_default());
        }
        series_dates.push(name, SeriesDates::of(sampled.as_ref(), step));
        series.push(name, sampled.map(|s| s.values).unwrap_or_default());
    }
    // Rates after their series in `series_dates`, as in `daily_rates`.
    series_dates.0.extend(rate_dates.0);

    // The main axis: the grid dates inside the window.
    let main = grid_start.filter(|first| *first <= window_end).map(|first| {
        let n = ((window_end - first).num_days() as usize) / step as usize + 1;
        (first, add_days(first, ((n - 1) * step as usize) as u64), n)
    });
    let window = match main {
        Some((first, last, _)) => format!(
            "{} from {first} to {}{}.",
            capitalised(resolution.describe()),
            last.map_or_else(|| "?".into(), |d| d.to_string()),
            match resolution {
                Resolution::Daily => String::new(),
                _ => "; key figures are read from the daily values".to_string(),
            }
        ),
        // Mondays only: a window of a few days may hold none.
        None => format!(
            "No {}: no Monday falls in the {}-day forecast window from {}; ask for a forecast of at least 7 days or resolution \"daily\".",
            resolution.describe(),
            run.forecast_len,
            run.current_date
        ),
    };
    let mut explanation = format!(
        "Inputs used: {inputs_text}. Data: {}. Forecast {} to {} ({} days). {window}",
        run.data.note(),
        run.current_date,
        window_end,
        run.forecast_len,
    );
    explanation.push_str(&lengthened_note);
    for note in empty_notes {
        explanation.push_str(&note);
    }
    if request.resolution.is_none() && main.is_some() {
        match resolution {
            Resolution::Monthly => {
                explanation.push_str(" Ask for resolution \"weekly\" or \"daily\" for more values.")
            }
            Resolution::Weekly => explanation.push_str(" Ask for resolution \"daily\" for every day."),
            Resolution::Daily => {}
        }
    }

    Ok(SimulateResult {
        explanation,
        data: run.data,
        current_date: run.current_date,
        forecast: Window { start_date: run.current_date, end_date: Some(window_end), days: run.forecast_len },
        resolution: resolution.name(),
        sim_start_date: main.map(|m| m.0),
        sim_end_date: main.and_then(|m| m.1),
        timestep_days: step,
        n_entries: main.map_or(0, |m| m.2),
        inputs_used,
        key_figures,
        series_dates,
        units,
        series,
        daily_rates,
    })
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The series names as one comma-separated string.
pub fn metric_list(metrics: &[SeriesName]) -> String {
    metrics.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_json(args: Value) -> Result<SimulateRequest, InvalidArgs> {
        parse(args.as_object().cloned().unwrap())
    }

    #[test]
    fn defaults_ask_for_the_default_metrics_at_auto_resolution() {
        let request = parse_json(json!({})).unwrap();
        assert_eq!(request.metrics, DEFAULT_METRICS);
        assert_eq!(request.resolution, None);
        assert!(request.scenario.to_body().is_empty());
        assert_eq!(Resolution::auto(13), Resolution::Daily);
        assert_eq!(Resolution::auto(60), Resolution::Weekly);
        assert_eq!(Resolution::auto(365), Resolution::Weekly);
        assert_eq!(Resolution::auto(730), Resolution::Weekly);
        assert_eq!(Resolution::auto(731), Resolution::Monthly);
    }

    #[test]
    fn the_reference_shapes_are_read() {
        let wrapped = parse_json(
            json!({"sim": {"forecast_length_days": "365", "rbp": "8", "requested_metric": "1y_sector_roi"}}),
        )
        .unwrap();
        assert_eq!(wrapped.metrics, [SeriesName::OneYearSectorRoi]);
        assert_eq!(wrapped.scenario.forecast_len(), 365);
        let flat = parse_json(
            json!({"forecast_length_days": 365, "rbp": 8, "requested_metrics": ["1y_sector_roi"]}),
        )
        .unwrap();
        assert_eq!(wrapped, flat);
        let request = parse_json(json!({
            "requested_metrics": "circ_supply, network_locked", "requested_metric": ["circ_supply", "days"],
            "resolution": "Weekly"
        }))
        .unwrap();
        assert_eq!(request.metrics, [SeriesName::CircSupply, SeriesName::NetworkLocked, SeriesName::Days]);
        assert_eq!(request.resolution, Some(Resolution::Weekly));
    }

    #[test]
    fn unknown_metrics_and_arguments_are_named() {
        let message = parse_json(
            json!({"requested_metrics": ["circ_supply", "supply"], "resolution": "hourly", "rbpp": 1}),
        )
        .unwrap_err()
        .to_string();
        assert!(
            message.contains(
                "requested_metrics: unknown series \"supply\"; valid names: days, rb_total_power_eib"
            ),
            "{message}"
        );
        assert!(message.contains("resolution: expected one of auto, daily, weekly, monthly"), "{message}");
        assert!(message.contains("rbpp: unknown argument; the valid ones are rbp, rr"), "{message}");
        assert!(message.contains("requested_metrics, requested_metric, output, resolution"), "{message}");
    }

    #[test]
    fn inputs_are_described_with_their_origin() {
        let request = parse_json(json!({"rr": [0.5, 0.6, 0.7]})).unwrap();
        let inputs =
            json!({"rbp": 2.5, "rr": [0.5, 0.6, 0.7], "lock_target": 0.3, "forecast_length_days": 3});
        let (used, text) = describe_inputs(inputs.as_object().unwrap(), &request.scenario);
        assert_eq!(
            serde_json::to_value(&used).unwrap()["rr"],
            json!({"list_of": 3, "first": 0.5, "last": 0.7, "min": 0.5, "max": 0.7})
        );
        for expected in [
            "rbp 2.5 PiB/day (snapshot default)",
            "rr a 3-day list (0.5 to 0.7) (given)",
            "lock_target 0.3 (default)",
            "forecast_length_days 3 days (default)",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in {text}");
        }
    }
}
