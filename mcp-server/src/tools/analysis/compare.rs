//! `compare_scenarios`: a baseline and up to ten named scenarios side by side
//! (`POST /analyze/compare`): per-series values and differences at the dates a person quotes,
//! the sampled series, and a line chart with one panel per series.

use chrono::NaiveDate;
use rmcp::model::JsonObject;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Shaped;
use super::common::{
    ChartOptions, Common, DatesMap, InOrder, SummaryDefinition, check_answer_size, dated, describe_step,
    forecast_len_of, input_summaries, read_chart_options, read_resolution, read_scenario, read_series_list,
    read_summaries, sample, scenario_body, series_title, series_unit, summary_definitions, text_step,
};
use crate::api_client::ApiClient;
use crate::plot::time::{Line, MAX_PANELS, Panel, render_panels};
use crate::tools::args::{Fields, Problems, describe, unwrap_reference_shape};
use crate::tools::dated::Dated;
use crate::tools::results::{DataSource, Ordered, SeriesDates};
use crate::tools::{MAX_RESULT_CHARS, ToolError, json_result};

/// The tool's name.
pub const TOOL: &str = "compare_scenarios";
/// Most scenarios besides the baseline.
pub const MAX_SCENARIOS: usize = 10;
const RESERVED: [&str; 3] = ["baseline", "diff", "rel_diff"];
const ARGUMENTS: [&str; 7] =
    ["baseline", "scenarios", "output", "resolution", "summaries", "chart", "chart_series"];

/// A checked `compare_scenarios` call: the API body and the chart options.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The body of `POST /analyze/compare`.
    pub body: JsonObject,
    /// The scenario names, in order.
    pub names: Vec<String>,
    /// Chart options.
    pub chart: ChartOptions,
}

/// Reads the arguments.
pub fn parse(args: JsonObject) -> Result<Request, crate::tools::args::InvalidArgs> {
    let args = unwrap_reference_shape(TOOL, args)?;
    let mut problems = Problems::default();
    let mut fields = Fields::new("", args);
    let mut body = JsonObject::new();
    body.insert("baseline".into(), Value::Object(read_scenario(&mut fields, "baseline", &mut problems)));
    let mut names = Vec::new();
    match fields.take("scenarios") {
        None => problems.at(
            "scenarios",
            "required: the scenarios to compare with the baseline, by name, each with the fields it changes, \
             e.g. {\"high onboarding\": {\"rbp\": 6}, \"low renewals\": {\"rr\": 0.6}}",
        ),
        Some(Value::Object(map)) => {
            if map.is_empty() || map.len() > MAX_SCENARIOS {
                problems.at("scenarios", format!("give 1 to {MAX_SCENARIOS} scenarios, got {}", map.len()));
            }
            let mut scenarios = JsonObject::new();
            for (name, scenario) in map {
                let path = format!("scenarios.{name}");
                if name.trim().is_empty() || name.chars().count() > 64 || RESERVED.contains(&name.as_str()) {
                    problems.at(
                        &path,
                        "scenario names are 1 to 64 characters and not baseline, diff or rel_diff",
                    );
                }
                match scenario {
                    Value::Object(scenario) => {
                        scenarios.insert(
                            name.clone(),
                            Value::Object(scenario_body(&path, scenario, &mut problems)),
                        );
                    }
                    other => problems.at(
                        &path,
                        format!(
                            "expected a scenario object such as {{\"rbp\": 6}}, got {}",
                            describe(&other)
                        ),
                    ),
                }
                names.push(name);
            }
            body.insert("scenarios".into(), Value::Object(scenarios));
        }
        Some(other) => problems
            .at("scenarios", format!("expected {{\"<name>\": scenario, ...}}, got {}", describe(&other))),
    }
    if let Some(output) = read_series_list(&mut fields, "output", &mut problems) {
        body.insert("output".into(), json!(output));
    }
    if let Some(resolution) = read_resolution(&mut fields, &mut problems) {
        body.insert("resolution".into(), json!(resolution));
    }
    if let Some(summaries) = read_summaries(&mut fields, "summaries", &mut problems) {
        body.insert("summaries".into(), serde_json::to_value(&summaries).unwrap_or_default());
    }
    let chart = read_chart_options(&mut fields, &mut problems, true, false);
    fields.finish(&ARGUMENTS, &mut problems);
    let baseline = body.get("baseline").and_then(Value::as_object).cloned().unwrap_or_default();
    let series = body.get("output").and_then(Value::as_array).map_or(6, Vec::len);
    // The baseline, each scenario, and its diff and rel_diff.
    let columns = 1 + 3 * names.len();
    let resolution = body.get("resolution").and_then(Value::as_str);
    check_answer_size(forecast_len_of(&baseline), resolution, series, columns, &mut problems);
    problems.finish(TOOL, Request { body, names, chart })
}

/// One series of the answer: `baseline`, each scenario, `diff` and `rel_diff` by scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Column {
    Values(Vec<Option<f64>>),
    ByScenario(InOrder<Vec<Option<f64>>>),
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(flatten)]
    common: Common,
    #[serde(default)]
    scenarios: Map<String, Value>,
    #[serde(default)]
    series_dates: DatesMap,
    series: InOrder<InOrder<Column>>,
    #[serde(default)]
    summaries: Option<Value>,
}

/// Values of one series at the key dates.
#[derive(Debug, Serialize)]
struct KeyRows {
    unit: &'static str,
    dates: Vec<Option<NaiveDate>>,
    #[serde(flatten)]
    columns: Ordered<Value>,
}

#[derive(Debug, Serialize)]
struct CompareResult {
    explanation: String,
    data: DataSource,
    current_date: Option<NaiveDate>,
    scenarios: Map<String, Value>,
    key_figures: Ordered<KeyRows>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summaries: Option<Value>,
    #[serde(skip_serializing_if = "crate::tools::results::is_empty")]
    summary_definitions: Ordered<SummaryDefinition>,
    timestep_days: u32,
    series_dates: Ordered<SeriesDates>,
    units: Ordered<&'static str>,
    series: Ordered<Ordered<Value>>,
}

/// Runs the comparison.
pub async fn run(api: &ApiClient, args: JsonObject) -> Result<Shaped, ToolError> {
    let request = parse(args)?;
    let answer: Answer = api
        .post("analyze/compare", &Value::Object(request.body.clone()))
        .await
        .map_err(ToolError::api_with_hint(TOOL, "Compare fewer scenarios or a shorter forecast."))?;
    shape(request, answer)
}

fn shape(request: Request, answer: Answer) -> Result<Shaped, ToolError> {
    let data = answer.common.data();
    // The baseline's echo says how long every scenario ran.
    let forecast_len = answer
        .scenarios
        .get("baseline")
        .and_then(|b| b.get("forecast_length_days"))
        .and_then(Value::as_u64)
        .map(|f| f as usize)
        .or(answer.common.forecast_len())
        .unwrap_or(3650);
    let mut names = vec!["baseline".to_string()];
    names.extend(request.names.iter().cloned());

    let mut key_figures = Ordered::default();
    let mut series_dates = Ordered::default();
    let mut units = Ordered::default();
    let mut series_out = Ordered::default();
    let mut panels = Vec::new();
    let mut step = 7;
    let wanted: Option<&Vec<String>> = request.chart.series.as_ref();
    for (series, columns) in answer.series.0 {
        let unit = series_unit(&series);
        let dates = answer.series_dates.get(&series);
        let mut lines: Vec<(String, Dated)> = Vec::new();
        let mut diffs: Vec<(String, Dated)> = Vec::new();
        for (column, values) in columns.0 {
            match (column.as_str(), values) {
                ("diff", Column::ByScenario(by)) => {
                    diffs.extend(by.0.into_iter().filter_map(|(n, v)| dated(v, dates).map(|d| (n, d))));
                }
                ("rel_diff", _) => {}
                (name, Column::Values(values)) => {
                    if let Some(d) = dated(values, dates) {
                        lines.push((name.to_string(), d));
                    }
                }
                _ => {}
            }
        }
        let Some((_, first)) = lines.first() else {
            units.push(series.clone(), unit);
            series_dates.push(series.clone(), SeriesDates::of(None, 7));
            continue;
        };
        step = text_step(first.step_days, forecast_len);
        let indices = first.key_indices();
        let key_dates: Vec<Option<NaiveDate>> = indices.iter().map(|i| first.date_at(*i)).collect();
        let at = |d: &Dated| -> Value {
            json!(indices.iter().map(|i| d.values.get(*i).copied().flatten()).collect::<Vec<_>>())
        };
        let mut columns = Ordered::default();
        for (name, line) in &lines {
            columns.push(name.clone(), at(line));
        }
        let diff_map: Map<String, Value> = diffs.iter().map(|(n, d)| (n.clone(), at(d))).collect();
        columns.push("diff", Value::Object(diff_map));
        key_figures.push(series.clone(), KeyRows { unit, dates: key_dates, columns });

        let sampled_first = sample(first, step);
        series_dates.push(series.clone(), SeriesDates::of(Some(&sampled_first), step));
        let mut sampled = Ordered::default();
        for (name, line) in &lines {
            sampled.push(name.clone(), json!(sample(line, step).values));
        }
        let diff_sampled: Map<String, Value> =
            diffs.iter().map(|(n, d)| (n.clone(), json!(sample(d, step).values))).collect();
        sampled.push("diff", Value::Object(diff_sampled));
        series_out.push(series.clone(), sampled);
        units.push(series.clone(), unit);

        let drawn = wanted.map_or(panels.len() < 4, |w| w.contains(&series));
        if request.chart.draw && drawn && panels.len() < MAX_PANELS {
            let chart_lines = lines
                .into_iter()
                .map(|(name, series)| {
                    let color = names.iter().position(|n| *n == name).unwrap_or(0);
                    // The baseline in black, scenarios in the palette's colours.
                    let color = if color == 0 { 9 } else { color - 1 };
                    Line { label: name, series, color, dashed: false }
                })
                .collect();
            panels.push(Panel {
                title: series_title(&series),
                unit: unit.to_string(),
                lines: chart_lines,
                bands: vec![],
                marker: None,
            });
        }
    }

    let summaries_given = input_summaries(&answer.common);
    let current_date = answer.common.current_date;
    let explanation = format!(
        "{} Baseline and {} scenario(s) ({}) over {} days from {}; data: {}. key_figures give each series at the start, \
         on or before each year mark and at the end (on the dates listed), with diff = scenario - baseline; series are {}.",
        answer.common.explanation.clone().unwrap_or_default(),
        request.names.len(),
        request.names.join(", "),
        forecast_len,
        current_date.map_or("?".into(), |d| d.to_string()),
        data.note(),
        describe_step(step),
    );
    let result = CompareResult {
        explanation: explanation.trim().to_string(),
        data: data.clone(),
        current_date,
        scenarios: answer.scenarios,
        key_figures,
        summaries: answer.summaries,
        summary_definitions: summary_definitions(&summaries_given),
        timestep_days: step,
        series_dates,
        units,
        series: series_out,
    };
    let result = json_result(&result, |chars| {
        format!(
            "{TOOL}: the result would be {chars} characters, over the {MAX_RESULT_CHARS}-character limit of one tool \
             result. Ask for fewer series in `output`, fewer scenarios, or a shorter forecast; the chart shows the \
             full series either way."
        )
    })?;
    let chart = (request.chart.draw && !panels.is_empty()).then(|| {
        let frame = data.frame(
            format!("Scenarios compared with the baseline: {}", request.names.join(", ")),
            &format!(
                "{forecast_len}-day forecast from {}",
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
    fn the_body_is_the_endpoints_with_scenarios_checked() {
        let request = parse_json(json!({
            "baseline": {"forecast_length_days": "730"},
            "scenarios": {"high onboarding": {"rbp": "6"}, "low renewals": {"rr": 0.6}},
            "output": "lock_ratio, circ_supply", "chart_series": ["lock_ratio"]
        }))
        .unwrap();
        assert_eq!(
            Value::Object(request.body),
            json!({
                "baseline": {"forecast_length_days": 730},
                "scenarios": {"high onboarding": {"rbp": 6.0}, "low renewals": {"rr": 0.6}},
                "output": ["lock_ratio", "circ_supply"]
            })
        );
        assert_eq!(request.names, ["high onboarding", "low renewals"]);
        assert_eq!(request.chart.series, Some(vec!["lock_ratio".to_string()]));
    }

    #[test]
    fn problems_are_named_by_path() {
        for (args, expected) in [
            (json!({}), "scenarios: required"),
            (json!({"scenarios": {"a": {"rr": 2}}}), "scenarios.a.rr: 2 is out of range"),
            (json!({"scenarios": {"diff": {}}}), "scenarios.diff: scenario names are"),
            (json!({"scenarios": {"a": 3}}), "scenarios.a: expected a scenario object"),
            (json!({"scenarios": {"a": {}}, "baseline": {"rbpp": 1}}), "baseline.rbpp: unknown argument"),
            (json!({"scenarios": {"a": {}}, "output": ["nope"]}), "output: unknown series \"nope\""),
            (
                json!({"scenarios": {"a": {}}, "resolution": "monthly"}),
                "resolution: expected one of weekly, daily",
            ),
        ] {
            let message = parse_json(args.clone()).unwrap_err();
            assert!(message.contains(expected), "{args}: missing {expected:?} in {message}");
        }
    }
}
