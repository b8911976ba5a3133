//! The `provide_plot` tool: a chart of series named by the caller, drawn from data this server
//! fetches from the API itself, so a model never copies hundreds of numbers into a tool call.
//!
//! Names are history fields (`get_historical_data`'s, fetched daily from
//! `/historical-data/full`) or simulated series (fetched daily from `/simulate/full` with the
//! scenario parameters given beside them); a name that is both (`circ_supply`) is drawn as the
//! history followed by the forecast, on one time axis with a marker at the current date. Series
//! that share a unit share a panel. The result is the chart as a PNG image, the reference's
//! chart spec (`{"chart": {"series", "start_date_key", "title", "description"}}`) for web
//! front-ends, and the key figures of every line.
//!
//! The reference's shapes are accepted as they are: `series` as a name, a descriptor
//! `{name, label, unit}` or a list of either, wrapped as `{"req": {...}}` or not. Raw numbers
//! (the previous form, `{"chart": {"series": [...], "label", ...}}` or `series` given as numbers)
//! still draw, within bounds: at most 10 series of 20,000 values, dates between 1900 and 2200.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use mechafil_core::SeriesName;
use rmcp::model::JsonObject;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::args::{
    DATE_YEARS, Fields, InvalidArgs, Problems, date, describe, number, text, unwrap_reference_shape,
    whole_number,
};
use super::dated::{Dated, KeyFigures, add_days};
use super::params::{Scenario, param_names};
use super::results::{DataSource, Ordered};
use super::simulate::run_full;
use crate::api_client::{ApiClient, ApiError};
use crate::catalogue::{HistoryField, history_field, plottable_names};
use crate::plot::Frame;
use crate::plot::time::{Line, MAX_PANELS, Panel};
use crate::plot::xy::{Curve, XyChart};
use crate::series::series_info;

/// The tool's name.
pub const TOOL: &str = "provide_plot";
/// Most series in one chart.
pub const MAX_SERIES: usize = 10;
/// Most values in one raw series (20 years daily plus the history).
pub const MAX_POINTS: usize = 20_000;
/// Most raw values in one call, all series together.
pub const MAX_TOTAL_POINTS: usize = 50_000;

/// Arguments besides the scenario parameters.
pub const OTHER_ARGUMENTS: [&str; 9] = [
    "series",
    "title",
    "description",
    "start_date_key",
    "label",
    "unit",
    "start_date",
    "timestep_days",
    "chart",
];

/// One series asked for by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    /// The name.
    pub name: String,
    /// The legend label (default: the name).
    pub label: Option<String>,
    /// The unit the caller gave (checked against the catalogue's).
    pub unit: Option<String>,
    /// The history field of that name.
    pub history: Option<&'static HistoryField>,
    /// The simulated series of that name.
    pub simulated: Option<SeriesName>,
}

/// Raw numbers to draw as they are.
#[derive(Debug, Clone, PartialEq)]
pub struct RawChart {
    /// The series by legend name.
    pub series: Vec<(String, Vec<Option<f64>>)>,
    /// Whether the caller gave one unnamed list (echoed as a list).
    pub single: bool,
    /// Unit of the values.
    pub unit: Option<String>,
    /// First date and step, when given.
    pub dates: Option<(NaiveDate, u32)>,
}

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub enum PlotData {
    /// Series named by the caller, fetched from the API.
    Named {
        /// The series.
        series: Vec<Named>,
        /// The scenario of the simulated ones.
        scenario: Scenario,
    },
    /// Numbers given by the caller.
    Raw(RawChart),
}

/// A `provide_plot` call that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotRequest {
    /// The data.
    pub data: PlotData,
    /// The title.
    pub title: Option<String>,
    /// A description for front-ends.
    pub description: Option<String>,
    /// The caller's `start_date_key`.
    pub start_date_key: Option<String>,
}

fn read_descriptor(
    value: &Value,
    path: &str,
    problems: &mut Problems,
) -> Option<(String, Option<String>, Option<String>)> {
    match value {
        Value::String(name) => Some((name.trim().to_string(), None, None)),
        Value::Object(map) => {
            let mut fields = Fields::new(path, map.clone());
            let name = fields.read("name", problems, |v| text(v, 100));
            let label = fields.read("label", problems, |v| text(v, 100));
            let unit = fields.read("unit", problems, |v| text(v, 40));
            fields.finish(&["name", "label", "unit"], problems);
            match name {
                Some(name) if !name.is_empty() => Some((name, label, unit)),
                Some(_) | None => {
                    problems.at(path, "a series descriptor needs a `name`");
                    None
                }
            }
        }
        other => {
            problems.at(
                path,
                format!("expected a series name or {{name, label, unit}}, got {}", describe(other)),
            );
            None
        }
    }
}

/// Whether `value` is raw numbers: a list of numbers (or nulls, or numeric strings), or an
/// object of such lists.
fn is_raw(value: &Value) -> bool {
    let numeric = |v: &Value| v.is_null() || number(v).is_ok();
    let numbers = |items: &[Value]| !items.is_empty() && items.iter().all(numeric);
    match value {
        Value::Array(items) => numbers(items),
        Value::Object(map) => {
            !map.contains_key("name")
                && map.values().all(|v| v.as_array().is_some_and(|a| numbers(a) || a.is_empty()))
        }
        _ => false,
    }
}

fn read_raw_values(value: &Value, path: &str, problems: &mut Problems) -> Option<Vec<Option<f64>>> {
    let Value::Array(items) = value else {
        problems.at(path, format!("expected a list of numbers, got {}", describe(value)));
        return None;
    };
    if items.is_empty() || items.len() > MAX_POINTS {
        problems.at(path, format!("must have 1 to {MAX_POINTS} values, got {}", items.len()));
        return None;
    }
    let mut values = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::Null => values.push(None),
            other => match number(other) {
                Ok(x) => values.push(Some(x)),
                Err(err) => {
                    problems.at(&format!("{path}[{i}]"), err);
                    return None;
                }
            },
        }
    }
    Some(values)
}

/// Reads `provide_plot`'s arguments in any of the accepted shapes.
pub fn parse(args: JsonObject) -> Result<PlotRequest, InvalidArgs> {
    let mut args = unwrap_reference_shape(TOOL, args)?;
    let mut problems = Problems::default();
    // The previous form: everything inside `chart`, with `label` for the title.
    let mut prefix = "";
    match args.remove("chart") {
        Some(Value::Object(chart)) => {
            if !args.is_empty() {
                let others: Vec<&str> = args.keys().map(String::as_str).collect();
                problems.at(
                    "chart",
                    format!("`chart` holds the whole chart; move {} inside it", others.join(", ")),
                );
            }
            args = chart;
            prefix = "chart";
        }
        Some(Value::Null) | None => {}
        Some(other) => problems.at(
            "chart",
            format!("expected an object {{series, label, unit, ...}}, got {}", describe(&other)),
        ),
    }
    let mut fields = Fields::new(prefix, args);
    let title = fields.read("title", &mut problems, |v| text(v, 200));
    let label = fields.read("label", &mut problems, |v| text(v, 200));
    let description = fields.read("description", &mut problems, |v| text(v, 1000));
    let start_date_key = fields.read("start_date_key", &mut problems, |v| text(v, 100));
    let unit = fields.read("unit", &mut problems, |v| text(v, 40)).filter(|u| !u.is_empty());
    let start_date = fields.read("start_date", &mut problems, date);
    let timestep = fields.read("timestep_days", &mut problems, |v| {
        whole_number(v).and_then(|d| {
            if (1..=366).contains(&d) { Ok(d) } else { Err(format!("must be between 1 and 366, got {d}")) }
        })
    });
    let series_path = fields.path("series");
    let series = fields.take("series");
    let scenario = Scenario::read(&mut fields, &mut problems);
    let mut allowed = OTHER_ARGUMENTS.to_vec();
    allowed.extend(param_names());
    fields.finish(&allowed, &mut problems);
    let title = title.or(label).filter(|t| !t.is_empty());

    let data = match series {
        None => {
            problems.at(
                &series_path,
                "required: a series name (e.g. \"historical_raw_power_eib\" or \"circ_supply\"), \
                 {name, label, unit}, or a list of them",
            );
            None
        }
        Some(value) if is_raw(&value) => {
            let raw = read_raw(&value, &series_path, title.as_deref(), &mut problems);
            if !scenario.to_body().is_empty() {
                problems.at("", "scenario parameters (rbp, rr, ...) apply to simulated series named in `series`, not to raw numbers");
            }
            // The last of the values must still be a date the chart can show.
            if let (Some(raw), Some(start)) = (&raw, start_date) {
                let longest = raw.series.iter().map(|(_, v)| v.len()).max().unwrap_or(1);
                let last = add_days(start, (longest as u64 - 1) * u64::from(timestep.unwrap_or(7)));
                if last.is_none_or(|d| chrono::Datelike::year(&d) > *DATE_YEARS.end()) {
                    problems.at(
                        &fields_path(prefix, "start_date"),
                        format!("the last of {longest} values would fall after {}", DATE_YEARS.end()),
                    );
                }
            }
            let dates = match (start_date, start_date_key.as_deref().and_then(|k| date(&json!(k)).ok())) {
                (Some(given), Some(key)) if given != key => {
                    problems.at(
                        &fields_path(prefix, "start_date_key"),
                        format!("is the date {key} but start_date is {given}"),
                    );
                    None
                }
                (given, key) => given.or(key).map(|d| (d, timestep.unwrap_or(7))),
            };
            raw.map(|raw| PlotData::Raw(RawChart { dates, unit, ..raw }))
        }
        Some(value) => {
            let items: Vec<Value> = match value {
                Value::Array(items) => items,
                Value::String(s) => {
                    s.split(',').map(|n| Value::String(n.trim().to_string())).filter(|v| v != "").collect()
                }
                other => vec![other],
            };
            if items.is_empty() || items.len() > MAX_SERIES {
                problems.at(&series_path, format!("name 1 to {MAX_SERIES} series, got {}", items.len()));
            }
            let mut named = Vec::new();
            let mut unknown = Vec::new();
            for (i, item) in items.iter().enumerate().take(MAX_SERIES) {
                let path = if items.len() > 1 { format!("{series_path}[{i}]") } else { series_path.clone() };
                let Some((name, label, unit)) = read_descriptor(item, &path, &mut problems) else { continue };
                let history = history_field(&name);
                let simulated = SeriesName::from_name(&name);
                if history.is_some_and(|h| h.span.is_none()) && simulated.is_none() {
                    problems.at(
                        &path,
                        format!("{name} is a single number, not a series; get_historical_data returns it"),
                    );
                    continue;
                }
                if history.is_none() && simulated.is_none() {
                    unknown.push(format!("{name:?}"));
                    continue;
                }
                named.push(Named { name, label, unit, history, simulated });
            }
            if !unknown.is_empty() {
                problems.at(
                    &series_path,
                    format!(
                        "unknown series {}; valid names: {}",
                        unknown.join(", "),
                        plottable_names().join(", ")
                    ),
                );
            }
            if named.iter().all(|n| n.simulated.is_none()) && !scenario.to_body().is_empty() {
                problems.at(
                    "",
                    "scenario parameters (rbp, rr, ...) apply to simulated series; none is named in `series`",
                );
            }
            for (key, given) in [("start_date", start_date.is_some()), ("timestep_days", timestep.is_some())]
            {
                if given {
                    problems.at(
                        &fields_path(prefix, key),
                        "applies to raw numbers only: named series come with their own dates",
                    );
                }
            }
            Some(PlotData::Named { series: named, scenario })
        }
    };
    problems.finish(
        TOOL,
        PlotRequest {
            data: data.unwrap_or(PlotData::Raw(RawChart {
                series: vec![],
                single: true,
                unit: None,
                dates: None,
            })),
            title,
            description,
            start_date_key,
        },
    )
}

fn fields_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

fn read_raw(value: &Value, path: &str, title: Option<&str>, problems: &mut Problems) -> Option<RawChart> {
    let (series, single) = match value {
        Value::Array(_) => {
            (vec![(title.unwrap_or("series").to_string(), read_raw_values(value, path, problems)?)], true)
        }
        Value::Object(map) => {
            if map.is_empty() || map.len() > MAX_SERIES {
                problems.at(path, format!("must hold 1 to {MAX_SERIES} series, got {}", map.len()));
                return None;
            }
            let mut series = Vec::new();
            for (name, values) in map {
                if name.trim().is_empty() || name.chars().count() > 100 {
                    problems.at(path, format!("series names must be 1 to 100 characters, got {name:?}"));
                }
                series.push((name.clone(), read_raw_values(values, &format!("{path}.{name}"), problems)?));
            }
            (series, false)
        }
        _ => return None,
    };
    let total: usize = series.iter().map(|(_, v)| v.len()).sum();
    if total > MAX_TOTAL_POINTS {
        problems.at(path, format!("at most {MAX_TOTAL_POINTS} values in all, got {total}; name the series instead and this tool fetches them"));
    }
    if !series.iter().flat_map(|(_, v)| v).any(|v| v.is_some_and(f64::is_finite)) {
        problems.at(path, "has no numeric value to draw");
    }
    Some(RawChart { series, single, unit: None, dates: None })
}

/// The part of `/historical-data/full`'s answer this server reads.
#[derive(Debug, Deserialize)]
struct HistoryAnswer {
    data: HistoryData,
}

#[derive(Debug, Deserialize)]
struct HistoryData {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    start_date: Option<String>,
    current_date: NaiveDate,
    #[serde(default)]
    snapshot_id: Option<String>,
    #[serde(default)]
    field_meta: BTreeMap<String, FieldMeta>,
    #[serde(flatten)]
    fields: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
struct FieldMeta {
    #[serde(default)]
    start_date: Option<NaiveDate>,
}

/// One line of the chart with where it came from, for the spec and the key figures.
#[derive(Debug, Clone, Serialize)]
pub struct SpecSeries {
    name: String,
    label: String,
    unit: String,
    source: &'static str,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
}

/// The `provide_plot` result (the image is a separate content block).
#[derive(Debug, Serialize)]
pub struct PlotResult {
    /// What is drawn, from which data.
    pub explanation: String,
    data: DataSource,
    /// The reference's chart spec, with the resolved dates.
    pub chart: Value,
    #[serde(skip_serializing_if = "super::results::is_empty")]
    key_figures: Ordered<KeyFigures>,
}

/// A chart ready to draw: panels of dated lines, or a curve over sample indices.
#[derive(Debug, Clone)]
pub enum Drawing {
    /// Dated panels.
    Time(Frame, Vec<Panel>),
    /// Values over their index (raw numbers without a date).
    Index(Frame, XyChart),
}

/// Fetches what `request` names and builds the result and the drawing.
pub async fn prepare(api: &ApiClient, request: PlotRequest) -> Result<(PlotResult, Drawing), ApiError> {
    match request.data {
        PlotData::Raw(raw) => {
            Ok(prepare_raw(raw, request.title, request.description, request.start_date_key))
        }
        PlotData::Named { series, scenario } => {
            prepare_named(api, series, scenario, request.title, request.description, request.start_date_key)
                .await
        }
    }
}

fn prepare_raw(
    raw: RawChart,
    title: Option<String>,
    description: Option<String>,
    key: Option<String>,
) -> (PlotResult, Drawing) {
    let title = title.unwrap_or_else(|| "Chart".to_string());
    let unit = raw.unit.clone().unwrap_or_default();
    let frame =
        Frame { title: title.clone(), subtitle: Some("values given to provide_plot".into()), demo: false };
    let series_json = if raw.single {
        json!(raw.series[0].1)
    } else {
        Value::Object(raw.series.iter().map(|(name, values)| (name.clone(), json!(values))).collect())
    };
    let mut chart = json!({
        "series": series_json, "label": title, "title": title, "unit": raw.unit,
        "start_date_key": key, "description": description,
    });
    let drawing = match raw.dates {
        Some((start, step)) => {
            let lines: Vec<Line> = raw
                .series
                .iter()
                .enumerate()
                .map(|(i, (name, values))| Line {
                    label: name.clone(),
                    series: Dated { start, step_days: step, values: values.clone() },
                    color: i,
                    dashed: false,
                })
                .collect();
            let longest = lines.iter().filter_map(|l| l.series.end()).max();
            chart["start_date"] = json!(start);
            chart["timestep_days"] = json!(step);
            chart["end_date"] = json!(longest);
            Drawing::Time(
                frame,
                vec![Panel { title: title.clone(), unit: unit.clone(), lines, bands: vec![], marker: None }],
            )
        }
        None => {
            let curves = raw
                .series
                .iter()
                .map(|(name, values)| Curve {
                    label: name.clone(),
                    points: values.iter().enumerate().map(|(i, v)| (i as f64, *v)).collect(),
                })
                .collect();
            Drawing::Index(
                frame,
                XyChart {
                    x_label: "sample index (no start date given)".into(),
                    y_label: unit,
                    curves,
                    ..XyChart::default()
                },
            )
        }
    };
    let result = PlotResult {
        explanation: format!("A chart of the {} series given as numbers.", raw.series.len()),
        data: DataSource::default(),
        chart: json!({ "chart": chart }),
        key_figures: Ordered::default(),
    };
    (result, drawing)
}

async fn prepare_named(
    api: &ApiClient,
    series: Vec<Named>,
    scenario: Scenario,
    title: Option<String>,
    description: Option<String>,
    start_date_key: Option<String>,
) -> Result<(PlotResult, Drawing), ApiError> {
    let history_names: Vec<&str> =
        series.iter().filter(|s| s.history.is_some()).map(|s| s.name.as_str()).collect();
    let mut simulated: Vec<SeriesName> = series.iter().filter_map(|s| s.simulated).collect();
    simulated.dedup();
    // The forecast first, then the history pinned to the snapshot it was computed on: the API
    // may run as several machines, and one chart must not join two snapshots.
    let run =
        if simulated.is_empty() { None } else { Some(run_full(api, &scenario, &simulated, None).await?) };
    let history = if history_names.is_empty() {
        None
    } else {
        let mut query = vec![("fields", history_names.join(","))];
        if let Some(snapshot_id) = run.as_ref().and_then(|r| r.data.snapshot_id.clone()) {
            query.push(("snapshot", snapshot_id));
        }
        Some(api.get::<HistoryAnswer>("historical-data/full", &query).await?)
    };

    let data = match (&history, &run) {
        (_, Some(run)) => run.data.clone(),
        (Some(history), None) => DataSource {
            source: history.data.source.clone(),
            start_date: history.data.start_date.clone(),
            current_date: Some(history.data.current_date.to_string()),
            snapshot_id: history.data.snapshot_id.clone(),
            is_demo: false,
        }
        .labelled(),
        (None, None) => DataSource::default(),
    };
    let current_date = run.as_ref().map(|r| r.current_date).or(history.as_ref().map(|h| h.data.current_date));
    let mut history_data = history.map(|h| h.data);

    let mut panels: Vec<Panel> = Vec::new();
    let mut spec_series = Vec::new();
    let mut key_figures = Ordered::default();
    let mut unit_notes = Vec::new();
    for (color, named) in series.iter().enumerate() {
        let unit = named
            .simulated
            .map(|s| series_info(s).unit)
            .or(named.history.map(|h| h.unit))
            .unwrap_or_default()
            .to_string();
        let label = named.label.clone().unwrap_or_else(|| named.name.clone());
        // The data knows its unit; a different one given by the caller is a misunderstanding
        // worth saying, not a unit to print on the axis.
        if let Some(given) = named.unit.as_deref().filter(|u| !u.eq_ignore_ascii_case(&unit)) {
            unit_notes.push(format!(
                " {}: the unit given, {given}, is not the series' unit; it is drawn in {unit}.",
                named.name
            ));
        }
        let mut lines = Vec::new();
        let mut sources = Vec::new();
        if let (Some(field), Some(history)) = (named.history, history_data.as_mut()) {
            let values = history.fields.remove(field.name);
            let start = history.field_meta.get(field.name).and_then(|m| m.start_date);
            let values: Option<Vec<Option<f64>>> = values.and_then(|v| serde_json::from_value(v).ok());
            match (values, start) {
                (Some(values), Some(start)) if !values.is_empty() => {
                    let dated = Dated { start, step_days: 1, values };
                    if let Some(figures) = dated.key_figures(&unit) {
                        key_figures.push(format!("{} (history)", named.name), figures);
                    }
                    spec_series.push(SpecSeries {
                        name: named.name.clone(),
                        label: label.clone(),
                        unit: unit.clone(),
                        source: "history",
                        start_date: Some(dated.start),
                        end_date: dated.end(),
                    });
                    lines.push(Line {
                        label: format!("{label} (history)"),
                        series: dated,
                        color,
                        dashed: false,
                    });
                    sources.push("history");
                }
                _ => {
                    return Err(ApiError::InvalidResponse(format!(
                        "/historical-data/full returned no dated values for {}: the snapshot may lack it (supply \
                         fields are absent for imported snapshots)",
                        field.name
                    )));
                }
            }
        }
        if let (Some(metric), Some(run)) = (named.simulated, run.as_ref()) {
            let window = run
                .daily(metric)
                .zip(run.window_end())
                .and_then(|(daily, end)| daily.between(run.current_date, end));
            if let Some(window) = window {
                if let Some(figures) = window.key_figures(&unit) {
                    key_figures.push(format!("{} (forecast)", named.name), figures);
                }
                spec_series.push(SpecSeries {
                    name: named.name.clone(),
                    label: label.clone(),
                    unit: unit.clone(),
                    source: "forecast",
                    start_date: Some(window.start),
                    end_date: window.end(),
                });
                let dashed = !lines.is_empty();
                lines.push(Line { label: format!("{label} (forecast)"), series: window, color, dashed });
                sources.push("forecast");
            }
        }
        // Series of one unit share a panel (up to the panel limit; the rest join the last one).
        let full = panels.len() >= MAX_PANELS;
        match panels.iter_mut().find(|p| p.unit == unit) {
            Some(panel) => {
                panel.title = format!("{}, {}", panel.title, named.name);
                panel.lines.extend(lines);
            }
            None if !full => {
                let meaning = named
                    .simulated
                    .map(|s| series_info(s).meaning)
                    .or(named.history.map(|h| h.meaning))
                    .unwrap_or_default();
                panels.push(Panel {
                    title: format!("{}: {meaning}", named.name),
                    unit,
                    lines,
                    bands: vec![],
                    marker: None,
                });
            }
            None => panels.last_mut().expect("at least one panel").lines.extend(lines),
        }
    }
    // Where history and forecast meet, mark the current date.
    for panel in &mut panels {
        let has_history = panel.lines.iter().any(|l| l.label.ends_with("(history)"));
        let has_forecast = panel.lines.iter().any(|l| l.label.ends_with("(forecast)"));
        if let (true, true, Some(date)) = (has_history, has_forecast, current_date) {
            panel.marker = Some((date, format!("current date {date}")));
        }
    }

    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    let title = title.unwrap_or_else(|| names.join(", "));
    let scenario_text = run.as_ref().map(|run| {
        let (_, inputs) = super::simulate::describe_inputs(&run.inputs, &scenario);
        format!(
            " Forecast {} to {}: {inputs}.",
            run.current_date,
            run.window_end().map_or("?".into(), |d| d.to_string())
        )
    });
    let subtitle = match (&history_data, &run) {
        (Some(_), Some(run)) => {
            format!("history to {} then forecast ({} days, dashed)", run.current_date, run.forecast_len)
        }
        (None, Some(run)) => format!("forecast from {} ({} days)", run.current_date, run.forecast_len),
        _ => format!("history to {}", current_date.map_or("?".into(), |d| d.to_string())),
    };
    let frame = Frame {
        title: title.clone(),
        subtitle: Some(format!("{subtitle}; daily values; {}", data.source.as_deref().unwrap_or("?"))),
        demo: data.is_demo,
    };
    let start_date_key = start_date_key.unwrap_or_else(|| {
        if history_data.is_some() { "data_start_date".into() } else { "sim_start_date".into() }
    });
    let first = spec_series.iter().filter_map(|s| s.start_date).min();
    let last = spec_series.iter().filter_map(|s| s.end_date).max();
    let chart = json!({ "chart": {
        "series": spec_series,
        "start_date_key": start_date_key,
        "title": title,
        "description": description,
        "start_date": first,
        "end_date": last,
        "current_date": current_date,
        "timestep_days": 1,
    }});
    let mut explanation = format!(
        "A chart of {} drawn from the API's daily data ({}), {} to {}.{}{} Key figures are read from the daily values.",
        names.join(", "),
        data.note(),
        first.map_or("?".into(), |d| d.to_string()),
        last.map_or("?".into(), |d| d.to_string()),
        scenario_text.unwrap_or_default(),
        if panels.len() > 1 {
            format!(" Series of different units are in {} panels.", panels.len())
        } else {
            String::new()
        },
    );
    explanation.extend(unit_notes);
    Ok((PlotResult { explanation, data, chart, key_figures }, Drawing::Time(frame, panels)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_json(args: Value) -> Result<PlotRequest, InvalidArgs> {
        parse(args.as_object().cloned().unwrap())
    }

    fn names(request: &PlotRequest) -> Vec<(String, bool, bool)> {
        match &request.data {
            PlotData::Named { series, .. } => {
                series.iter().map(|s| (s.name.clone(), s.history.is_some(), s.simulated.is_some())).collect()
            }
            PlotData::Raw(_) => panic!("raw"),
        }
    }

    #[test]
    fn the_reference_shapes_are_read() {
        let request = parse_json(json!({"req": {"series": "historical_raw_power_eib", "start_date_key": "data_start_date", "title": "Network Power", "description": "Test plot"}})).unwrap();
        assert_eq!(names(&request), [("historical_raw_power_eib".to_string(), true, false)]);
        assert_eq!(request.title.as_deref(), Some("Network Power"));
        assert_eq!(request.description.as_deref(), Some("Test plot"));
        let request = parse_json(json!({"series": [{"name": "circ_supply", "label": "Supply", "unit": "FIL"}, "network_locked"], "rbp": "8"})).unwrap();
        assert_eq!(
            names(&request),
            [("circ_supply".to_string(), true, true), ("network_locked".to_string(), false, true)]
        );
        let PlotData::Named { scenario, .. } = &request.data else { unreachable!() };
        assert_eq!(Value::Object(scenario.to_body()), json!({"rbp": 8.0}));
        let request = parse_json(json!({"series": {"name": "renewal_rate"}})).unwrap();
        assert_eq!(names(&request), [("renewal_rate".to_string(), true, false)]);
    }

    #[test]
    fn raw_numbers_still_draw() {
        let request = parse_json(json!({"chart": {"series": {"b": [1, null], "a": [2]}, "label": "x", "start_date": "2025-09-15"}})).unwrap();
        let PlotData::Raw(raw) = &request.data else { panic!() };
        assert_eq!(raw.series, vec![("b".into(), vec![Some(1.0), None]), ("a".into(), vec![Some(2.0)])]);
        assert_eq!(raw.dates, Some(("2025-09-15".parse().unwrap(), 7)));
        let request = parse_json(json!({"series": [1, 2.5, "3"], "title": "t", "unit": "FIL"})).unwrap();
        let PlotData::Raw(raw) = &request.data else { panic!() };
        assert_eq!(raw.series[0].1, vec![Some(1.0), Some(2.5), Some(3.0)]);
        assert_eq!(raw.unit.as_deref(), Some("FIL"));
    }

    #[test]
    fn every_problem_names_its_argument() {
        for (args, expected) in [
            (json!({}), "series: required"),
            (json!({"series": "supply"}), "series: unknown series \"supply\"; valid names: days"),
            (json!({"series": "qa_power_zero"}), "qa_power_zero is a single number"),
            (json!({"series": [{"label": "x"}]}), "series: a series descriptor needs a `name`"),
            (
                json!({"series": ["circ_supply", 3]}),
                "series[1]: expected a series name or {name, label, unit}, got a number",
            ),
            (
                json!({"series": "historical_raw_power_eib", "rbp": 3}),
                "apply to simulated series; none is named",
            ),
            (
                json!({"series": "circ_supply", "start_date": "2025-01-01"}),
                "start_date: applies to raw numbers only",
            ),
            (json!({"series": [1e308, -1e308], "start_date": "+243000-01-01"}), "start_date: "),
            (
                json!({"series": vec![1.0; 20_000], "start_date": "2199-01-01"}),
                "start_date: the last of 20000 values would fall after 2200",
            ),
            (json!({"chart": {"series": [], "label": "x"}}), "chart.series: name 1 to 10 series, got 0"),
            (json!({"chart": "circ_supply"}), "chart: expected an object"),
            (json!({"series": [1], "timestep_days": 0}), "timestep_days: must be between 1 and 366"),
            (
                json!({"chart": {"series": [1], "label": "x", "start_date_key": "2025-01-06", "start_date": "2025-01-13"}}),
                "chart.start_date_key: is the date 2025-01-06 but start_date is 2025-01-13",
            ),
            (json!({"series": [null, null]}), "has no numeric value to draw"),
            (json!({"series": "circ_supply", "colour": "red"}), "colour: unknown argument"),
        ] {
            let message = parse_json(args.clone()).unwrap_err().to_string();
            assert!(message.contains(expected), "{args}: missing {expected:?} in {message}");
        }
        let eleven: serde_json::Map<String, Value> = (0..11).map(|i| (format!("s{i}"), json!([1]))).collect();
        assert!(parse_json(json!({"series": eleven})).unwrap_err().to_string().contains("1 to 10 series"));
    }
}
