//! `forecast_range`: an ensemble of simulations with drawn parameters
//! (`POST /analyze/ensemble`): percentile bands per series at the dates a person quotes, the
//! distribution of each summary ("when does the lock ratio fall below 0.2?"), and a fan chart.
//!
//! Member paths and member parameters are not offered: thousands of paths do not fit a
//! conversation, and the quantiles and summaries are what answers the question.

use chrono::NaiveDate;
use mechafil_core::Param;
use rmcp::model::JsonObject;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Shaped;
use super::common::{
    ChartOptions, Common, DatesMap, InOrder, SummaryDefinition, check_answer_size, dated, describe_step,
    forecast_len_of, input_summaries, knob, read_chart_options, read_resolution, read_scenario,
    read_series_list, read_summaries, sample, series_unit, summary_definitions, text_step,
};
use crate::api_client::ApiClient;
use crate::plot::time::{Band, Line, MAX_PANELS, Panel, render_panels};
use crate::tools::args::{
    Fields, InvalidArgs, Problems, choice, describe, number, number_list, unwrap_reference_shape,
    whole_number,
};
use crate::tools::dated::Dated;
use crate::tools::results::{DataSource, Ordered, SeriesDates};
use crate::tools::{MAX_RESULT_CHARS, ToolError, json_result};

/// The tool's name.
pub const TOOL: &str = "forecast_range";
/// Most members.
pub const MAX_MEMBERS: u32 = 10_000;
/// Largest seed (2^53: every seed is exact in a JSON number).
pub const MAX_SEED: u64 = 1 << 53;
const ARGUMENTS: [&str; 10] = [
    "base",
    "members",
    "seed",
    "vary",
    "output",
    "quantiles",
    "resolution",
    "summaries",
    "chart",
    "chart_series",
];
const DISTS: [&str; 4] = ["uniform", "normal", "lognormal", "walk"];

/// A checked call: the API body and chart options.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The body of `POST /analyze/ensemble`.
    pub body: JsonObject,
    /// Chart options.
    pub chart: ChartOptions,
}

fn read_dist(param: Param, value: &Value, path: &str, problems: &mut Problems) -> Option<JsonObject> {
    let Value::Object(map) = value else {
        problems.at(
            path,
            format!(
                "expected a distribution such as {{\"dist\": \"normal\", \"sd\": 0.05}}, got {}",
                describe(value)
            ),
        );
        return None;
    };
    let before = problems.len();
    let mut fields = Fields::new(path, map.clone());
    let dist = fields.read("dist", problems, |v| choice(v, &DISTS));
    let mut out = JsonObject::new();
    for key in ["lo", "hi", "mean", "sd", "start", "vol"] {
        if let Some(x) = fields.read(key, problems, number) {
            out.insert(key.into(), json!(x));
        }
    }
    fields.finish(&["dist", "lo", "hi", "mean", "sd", "start", "vol"], problems);
    let has = |key: &str| out.contains_key(key);
    match dist {
        None if !map.contains_key("dist") => {
            problems.at(path, format!("needs `dist`: one of {}", DISTS.join(", ")))
        }
        Some("uniform") if !(has("lo") && has("hi")) => {
            problems.at(path, "a uniform distribution needs `lo` and `hi`")
        }
        Some("normal" | "lognormal") if !has("sd") => {
            problems.at(path, "a normal or lognormal distribution needs `sd`")
        }
        Some("walk") if !has("vol") => problems.at(path, "a random walk needs `vol` (daily volatility)"),
        Some("walk") if matches!(param, Param::BurnBoost | Param::SectorDurationDays) => problems
            .at(path, format!("{param} is a single number for the whole forecast: a walk cannot vary it")),
        _ => {}
    }
    for key in ["sd", "vol"] {
        if out.get(key).and_then(Value::as_f64).is_some_and(|x| x < 0.0) {
            problems.at(&format!("{path}.{key}"), "must be >= 0");
        }
    }
    if let (Some(lo), Some(hi)) =
        (out.get("lo").and_then(Value::as_f64), out.get("hi").and_then(Value::as_f64))
        && lo > hi
    {
        problems.at(path, format!("lo {lo} is above hi {hi}"));
    }
    if problems.len() > before {
        return None;
    }
    out.insert("dist".into(), json!(dist));
    Some(out)
}

/// Reads the arguments.
pub fn parse(args: JsonObject) -> Result<Request, InvalidArgs> {
    let args = unwrap_reference_shape(TOOL, args)?;
    let mut problems = Problems::default();
    let mut fields = Fields::new("", args);
    for refused in ["member_paths", "return_member_params"] {
        if fields.take(refused).is_some() {
            problems.at(
                refused,
                "not offered by this tool: member paths and parameters do not fit in a conversation. The bands \
                 (`quantiles`) and `summaries` answer the question; call simulate for one scenario's path",
            );
        }
    }
    let mut body = JsonObject::new();
    body.insert("base".into(), Value::Object(read_scenario(&mut fields, "base", &mut problems)));
    if let Some(members) = fields.read("members", &mut problems, |v| {
        whole_number(v).and_then(|m| {
            if (1..=MAX_MEMBERS).contains(&m) {
                Ok(m)
            } else {
                Err(format!("must be between 1 and {MAX_MEMBERS}, got {m}"))
            }
        })
    }) {
        body.insert("members".into(), json!(members));
    }
    if let Some(seed) = fields.read("seed", &mut problems, |v| {
        let x = number(v)?;
        if x.fract() == 0.0 && (0.0..=MAX_SEED as f64).contains(&x) {
            Ok(x as u64)
        } else {
            Err(format!("a whole number from 0 to 2^53, got {x}"))
        }
    }) {
        body.insert("seed".into(), json!(seed));
    }
    match fields.take("vary") {
        None => {}
        Some(Value::Object(map)) => {
            let mut vary = JsonObject::new();
            for (name, dist) in map {
                let path = format!("vary.{name}");
                match knob(&Value::String(name.clone())) {
                    Ok(param) => {
                        if let Some(dist) = read_dist(param, &dist, &path, &mut problems) {
                            vary.insert(name, Value::Object(dist));
                        }
                    }
                    Err(err) => problems.at(&path, err),
                }
            }
            body.insert("vary".into(), Value::Object(vary));
        }
        Some(other) => problems
            .at("vary", format!("expected {{\"<knob>\": distribution, ...}}, got {}", describe(&other))),
    }
    if let Some(output) = read_series_list(&mut fields, "output", &mut problems) {
        body.insert("output".into(), json!(output));
    }
    if let Some(quantiles) = fields.read("quantiles", &mut problems, |v| {
        let list = number_list(v, 21)?;
        match list.iter().find(|q| !(**q > 0.0 && **q < 100.0)) {
            Some(q) => Err(format!("percentiles are between 0 and 100 (exclusive), got {q}")),
            None => Ok(list),
        }
    }) {
        body.insert("quantiles".into(), json!(quantiles));
    }
    if let Some(resolution) = read_resolution(&mut fields, &mut problems) {
        body.insert("resolution".into(), json!(resolution));
    }
    if let Some(summaries) = read_summaries(&mut fields, "summaries", &mut problems) {
        body.insert("summaries".into(), serde_json::to_value(&summaries).unwrap_or_default());
    }
    let chart = read_chart_options(&mut fields, &mut problems, true, false);
    fields.finish(&ARGUMENTS, &mut problems);
    let base = body.get("base").and_then(Value::as_object).cloned().unwrap_or_default();
    let series = body.get("output").and_then(Value::as_array).map_or(3, Vec::len);
    let columns = body.get("quantiles").and_then(Value::as_array).map_or(5, Vec::len) + 1;
    let resolution = body.get("resolution").and_then(Value::as_str);
    check_answer_size(forecast_len_of(&base), resolution, series, columns, &mut problems);
    problems.finish(TOOL, Request { body, chart })
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(flatten)]
    common: Common,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    members: Option<u64>,
    #[serde(default)]
    series_dates: DatesMap,
    bands: InOrder<InOrder<Vec<Option<f64>>>>,
    #[serde(default)]
    summaries: Option<Value>,
}

#[derive(Debug, Serialize)]
struct KeyRows {
    unit: &'static str,
    dates: Vec<Option<NaiveDate>>,
    #[serde(flatten)]
    columns: Ordered<Vec<Option<f64>>>,
}

#[derive(Debug, Serialize)]
struct EnsembleResult {
    explanation: String,
    data: DataSource,
    current_date: Option<NaiveDate>,
    members: Option<u64>,
    seed: Option<u64>,
    varied: Value,
    key_figures: Ordered<KeyRows>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summaries: Option<Value>,
    #[serde(skip_serializing_if = "crate::tools::results::is_empty")]
    summary_definitions: Ordered<SummaryDefinition>,
    timestep_days: u32,
    series_dates: Ordered<SeriesDates>,
    units: Ordered<&'static str>,
    bands: Ordered<Ordered<Vec<Option<f64>>>>,
}

/// The percentile of a quantile label (`p2.5` → 2.5); `None` for `mean` and others.
fn percentile(label: &str) -> Option<f64> {
    label.strip_prefix('p').and_then(|p| p.parse().ok())
}

/// Runs the ensemble.
pub async fn run(api: &ApiClient, args: JsonObject) -> Result<Shaped, ToolError> {
    let request = parse(args)?;
    let answer: Answer = api.post("analyze/ensemble", &Value::Object(request.body.clone())).await.map_err(
        ToolError::api_with_hint(
            TOOL,
            "Ask for fewer members, fewer output series, weekly resolution or a shorter forecast.",
        ),
    )?;
    shape(request, answer)
}

fn fan_panel(series: &str, unit: &str, columns: &[(String, Dated)]) -> Panel {
    let mut by_percentile: Vec<(f64, &Dated, &str)> =
        columns.iter().filter_map(|(label, d)| percentile(label).map(|p| (p, d, label.as_str()))).collect();
    by_percentile.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut bands = Vec::new();
    let pairs = by_percentile.len() / 2;
    for i in 0..pairs {
        let (lower, upper) = (&by_percentile[i], &by_percentile[by_percentile.len() - 1 - i]);
        bands.push(Band {
            label: format!("{}–{}", lower.2, upper.2),
            lower: lower.1.clone(),
            upper: upper.1.clone(),
            color: 0,
            opacity: 0.15 + 0.2 * i as f64,
        });
    }
    let mut lines = Vec::new();
    let median = by_percentile.iter().find(|(p, _, _)| (*p - 50.0).abs() < 1e-9);
    if let Some((_, d, label)) = median {
        lines.push(Line {
            label: format!("median ({label})"),
            series: (*d).clone(),
            color: 0,
            dashed: false,
        });
    }
    if let Some((_, mean)) = columns.iter().find(|(label, _)| label == "mean") {
        lines.push(Line { label: "mean".into(), series: mean.clone(), color: 1, dashed: true });
    }
    Panel { title: super::common::series_title(series), unit: unit.to_string(), lines, bands, marker: None }
}

fn shape(request: Request, answer: Answer) -> Result<Shaped, ToolError> {
    let data = answer.common.data();
    let forecast_len = answer.common.forecast_len().unwrap_or(3650);
    let mut key_figures = Ordered::default();
    let mut series_dates = Ordered::default();
    let mut units = Ordered::default();
    let mut bands_out = Ordered::default();
    let mut panels = Vec::new();
    let mut step = 7;
    let mut quantile_labels: Vec<String> = Vec::new();
    for (series, columns) in answer.bands.0 {
        let unit = series_unit(&series);
        units.push(series.clone(), unit);
        let dates = answer.series_dates.get(&series);
        let columns: Vec<(String, Dated)> =
            columns.0.into_iter().filter_map(|(label, v)| dated(v, dates).map(|d| (label, d))).collect();
        let Some((_, first)) = columns.first() else {
            series_dates.push(series.clone(), SeriesDates::of(None, 7));
            continue;
        };
        if quantile_labels.is_empty() {
            quantile_labels = columns.iter().map(|(l, _)| l.clone()).collect();
        }
        step = text_step(first.step_days, forecast_len);
        let indices = first.key_indices();
        let mut rows = Ordered::default();
        let mut sampled = Ordered::default();
        for (label, column) in &columns {
            rows.push(
                label.clone(),
                indices.iter().map(|i| column.values.get(*i).copied().flatten()).collect(),
            );
            sampled.push(label.clone(), sample(column, step).values);
        }
        key_figures.push(
            series.clone(),
            KeyRows { unit, dates: indices.iter().map(|i| first.date_at(*i)).collect(), columns: rows },
        );
        series_dates.push(series.clone(), SeriesDates::of(Some(&sample(first, step)), step));
        bands_out.push(series.clone(), sampled);
        let drawn = request.chart.series.as_ref().map_or(panels.len() < 4, |w| w.contains(&series));
        if request.chart.draw && drawn && panels.len() < MAX_PANELS {
            panels.push(fan_panel(&series, unit, &columns));
        }
    }

    let summaries_given = input_summaries(&answer.common);
    let varied = answer
        .common
        .input
        .get("vary")
        .cloned()
        .unwrap_or_else(|| request.body.get("vary").cloned().unwrap_or(Value::Null));
    let members = answer.members.or(request.body.get("members").and_then(Value::as_u64));
    let current_date = answer.common.current_date;
    let explanation = format!(
        "{} {} members with seed {} over {} days from {}; data: {}. Quantiles {} of each series across members: \
         key_figures give them at the start, on or before each year mark and at the end (on the dates listed); bands \
         are {}. For a first_below/first_above summary the quantiles are dates over the members that cross, with \
         share_never the share that never does.",
        answer.common.explanation.clone().unwrap_or_default(),
        members.map_or("?".into(), |m| m.to_string()),
        answer.seed.map_or("?".into(), |s| s.to_string()),
        forecast_len,
        current_date.map_or("?".into(), |d| d.to_string()),
        data.note(),
        quantile_labels.join(", "),
        describe_step(step),
    );
    let result = EnsembleResult {
        explanation: explanation.trim().to_string(),
        data: data.clone(),
        current_date,
        members,
        seed: answer.seed,
        varied,
        key_figures,
        summaries: answer.summaries,
        summary_definitions: summary_definitions(&summaries_given),
        timestep_days: step,
        series_dates,
        units,
        bands: bands_out,
    };
    let result = json_result(&result, |chars| {
        format!(
            "{TOOL}: the result would be {chars} characters, over the {MAX_RESULT_CHARS}-character limit of one tool \
             result. Ask for fewer series in `output` or fewer `quantiles` (the chart shows every band either way)."
        )
    })?;
    let chart = (request.chart.draw && !panels.is_empty()).then(|| {
        let frame = data.frame(
            format!("Forecast range: {} members", members.map_or("?".into(), |m| m.to_string())),
            &format!(
                "shaded: percentile bands across members; {forecast_len}-day forecast from {}",
                current_date.map_or("?".into(), |d| d.to_string())
            ),
        );
        Box::new(move || render_panels(&frame, &panels)) as crate::tools::DrawJob
    });
    Ok(Shaped { result, chart })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_json(args: Value) -> Result<Request, String> {
        parse(args.as_object().cloned().unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn no_arguments_run_the_default_ensemble() {
        let request = parse_json(json!({})).unwrap();
        assert_eq!(Value::Object(request.body), json!({"base": {}}));
        assert!(request.chart.draw);
    }

    #[test]
    fn distributions_and_summaries_are_checked() {
        let request = parse_json(json!({
            "base": {"forecast_length_days": 1825}, "members": "500", "seed": 7,
            "vary": {"rbp": {"dist": "lognormal", "sd": "0.5"}, "rr": {"dist": "walk", "vol": 0.01}},
            "quantiles": [10, 50, 90],
            "summaries": {"lock below 0.2": {"series": "lock_ratio", "stat": "first_below", "threshold": 0.2}}
        }))
        .unwrap();
        assert_eq!(request.body["members"], 500);
        assert_eq!(request.body["vary"]["rbp"], json!({"sd": 0.5, "dist": "lognormal"}));
        for (args, expected) in [
            (json!({"members": 0}), "members: must be between 1 and 10000"),
            (json!({"seed": -1}), "seed: a whole number from 0 to 2^53"),
            (
                json!({"vary": {"rbp": {"dist": "uniform", "lo": 1}}}),
                "vary.rbp: a uniform distribution needs `lo` and `hi`",
            ),
            (json!({"vary": {"burn_boost": {"dist": "walk", "vol": 0.1}}}), "burn_boost is a single number"),
            (
                json!({"vary": {"forecast_length_days": {"dist": "normal", "sd": 1}}}),
                "vary.forecast_length_days: unknown knob",
            ),
            (json!({"vary": {"rr": {"dist": "normal", "sd": -1}}}), "vary.rr.sd: must be >= 0"),
            (json!({"quantiles": [0, 50]}), "quantiles: percentiles are between 0 and 100"),
            (json!({"member_paths": 5}), "member_paths: not offered by this tool"),
            (
                json!({"resolution": "daily", "base": {"forecast_length_days": 7300}, "output": ["lock_ratio", "circ_supply", "network_locked"], "quantiles": (1..20).map(|q| q * 5).collect::<Vec<_>>()}),
                "over the 250000 this tool reads",
            ),
        ] {
            let message = parse_json(args.clone()).unwrap_err();
            assert!(message.contains(expected), "{args}: missing {expected:?} in {message}");
        }
    }

    #[test]
    fn bands_pair_from_the_outside_in() {
        let d = Dated { start: "2025-09-15".parse().unwrap(), step_days: 7, values: vec![Some(1.0); 3] };
        let columns: Vec<(String, Dated)> =
            ["p5", "p25", "p50", "p75", "p95", "mean"].iter().map(|l| (l.to_string(), d.clone())).collect();
        let panel = fan_panel("lock_ratio", "fraction", &columns);
        let labels: Vec<&str> = panel.bands.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["p5–p95", "p25–p75"]);
        let lines: Vec<&str> = panel.lines.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(lines, ["median (p50)", "mean"]);
        assert_eq!(percentile("p2.5"), Some(2.5));
    }
}
