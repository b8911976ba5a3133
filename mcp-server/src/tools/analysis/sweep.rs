//! `sweep`: summaries over a grid of up to three knobs (`POST /analyze/sweep`): a table, the
//! best and worst cell of each summary, and a heatmap (a curve for one knob; one heatmap per
//! value of the first knob for three).

use mechafil_core::{Param, ParamKind};
use rmcp::model::JsonObject;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Shaped;
use super::common::{
    CHART_SUMMARY, ChartOptions, Common, SummaryDefinition, input_summaries, knob, knob_unit,
    read_chart_options, read_scenario, read_summaries, summary_definitions,
};
use crate::api_client::ApiClient;
use crate::plot::heatmap::{Grid, Heatmap, render_heatmap};
use crate::plot::knob_label;
use crate::plot::xy::{Curve, XyChart, render_xy};
use crate::tools::args::{
    Fields, InvalidArgs, Problems, describe, number_list, text, unwrap_reference_shape,
};
use crate::tools::results::{DataSource, Ordered};
use crate::tools::{DrawJob, MAX_RESULT_CHARS, ToolError, json_result};

/// The tool's name.
pub const TOOL: &str = "sweep";
/// Most knobs in one sweep (a table a person can read; the API allows four).
pub const MAX_AXES: usize = 3;
/// Most values of one knob.
pub const MAX_AXIS_VALUES: usize = 50;
/// Most cells: beyond it the table cannot fit in a conversation.
pub const MAX_CELLS: usize = 2_500;
const ARGUMENTS: [&str; 5] = ["base", "axes", "summaries", "chart", CHART_SUMMARY];

/// One knob of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The knob.
    pub knob: Param,
    /// Its values, in the caller's order.
    pub values: Vec<f64>,
}

/// A checked call.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The body of `POST /analyze/sweep`.
    pub body: JsonObject,
    /// The axes.
    pub axes: Vec<Axis>,
    /// Chart options.
    pub chart: ChartOptions,
}

fn read_axis(param: Param, values: &Value, path: &str, problems: &mut Problems) -> Option<Axis> {
    let values = match number_list(values, MAX_AXIS_VALUES) {
        Ok(values) => values,
        Err(err) => {
            problems.at(path, err);
            return None;
        }
    };
    let rule = param.rule();
    let bounds = rule.bounds.expect("knobs are numbers");
    for (i, x) in values.iter().enumerate() {
        if !bounds.contains(*x) {
            problems
                .at(&format!("{path}[{i}]"), format!("{x} is out of range; allowed: {}", bounds.describe()));
        } else if rule.kind == ParamKind::Days && x.fract() != 0.0 {
            problems.at(&format!("{path}[{i}]"), format!("expected a whole number of days, got {x}"));
        }
    }
    Some(Axis { knob: param, values })
}

/// Reads the arguments.
pub fn parse(args: JsonObject) -> Result<Request, InvalidArgs> {
    let args = unwrap_reference_shape(TOOL, args)?;
    let mut problems = Problems::default();
    let mut fields = Fields::new("", args);
    let mut body = JsonObject::new();
    body.insert("base".into(), Value::Object(read_scenario(&mut fields, "base", &mut problems)));
    let mut axes = Vec::new();
    let mut add = |name: &Value, values: &Value, path: String, problems: &mut Problems| match knob(name) {
        Ok(param) => axes.extend(read_axis(param, values, &path, problems)),
        Err(err) => problems.at(&path, err),
    };
    match fields.take("axes") {
        None => problems.at(
            "axes",
            "required: the knobs and their values, e.g. {\"rbp\": [2, 4, 6], \"rr\": [0.6, 0.7, 0.8]}",
        ),
        Some(Value::Object(map)) => {
            for (name, values) in &map {
                add(&Value::String(name.clone()), values, format!("axes.{name}"), &mut problems);
            }
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("axes[{i}]");
                match item {
                    Value::Object(axis) => {
                        let mut axis_fields = Fields::new(path.clone(), axis.clone());
                        let name = axis_fields.take("knob").unwrap_or(Value::Null);
                        let values = axis_fields.take("values").unwrap_or(Value::Null);
                        axis_fields.finish(&["knob", "values"], &mut problems);
                        add(&name, &values, path, &mut problems);
                    }
                    other => problems
                        .at(&path, format!("expected {{\"knob\", \"values\"}}, got {}", describe(other))),
                }
            }
        }
        Some(other) => {
            problems.at("axes", format!("expected {{\"<knob>\": [values], ...}}, got {}", describe(&other)))
        }
    }
    if axes.len() > MAX_AXES {
        problems.at("axes", format!("at most {MAX_AXES} knobs, got {}", axes.len()));
    }
    let mut seen = Vec::new();
    for axis in &axes {
        if seen.contains(&axis.knob) {
            problems.at("axes", format!("{} appears twice", axis.knob));
        }
        seen.push(axis.knob);
    }
    let cells: usize = axes.iter().map(|a| a.values.len()).product();
    if cells > MAX_CELLS {
        problems.at(
            "axes",
            format!("{cells} cells; at most {MAX_CELLS} fit in one answer: use fewer values per knob"),
        );
    }
    body.insert(
        "axes".into(),
        Value::Array(axes.iter().map(|a| json!({"knob": a.knob.name(), "values": a.values})).collect()),
    );
    if let Some(summaries) = read_summaries(&mut fields, "summaries", &mut problems) {
        body.insert("summaries".into(), serde_json::to_value(&summaries).unwrap_or_default());
    }
    let chart = read_chart_options(&mut fields, &mut problems, false, true);
    fields.finish(&ARGUMENTS, &mut problems);
    problems.finish(TOOL, Request { body, axes, chart })
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(flatten)]
    common: Common,
    #[serde(default)]
    results: Map<String, Value>,
    #[serde(default)]
    invalid_cells: Option<Value>,
}

#[derive(Debug, Serialize)]
struct AxisOut {
    knob: &'static str,
    unit: &'static str,
    values: Vec<f64>,
}

#[derive(Debug, Serialize)]
struct Extreme {
    value: Value,
    at: Map<String, Value>,
}

#[derive(Debug, Serialize)]
struct SweepResult {
    explanation: String,
    data: DataSource,
    current_date: Option<chrono::NaiveDate>,
    axes: Vec<AxisOut>,
    summary_definitions: Ordered<SummaryDefinition>,
    best_and_worst: Ordered<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    table: Option<Value>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    results: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invalid_cells: Option<Value>,
}

/// Runs the sweep.
pub async fn run(api: &ApiClient, args: JsonObject) -> Result<Shaped, ToolError> {
    let request = parse(args)?;
    let answer: Answer = api
        .post("analyze/sweep", &Value::Object(request.body.clone()))
        .await
        .map_err(ToolError::api_with_hint(TOOL, "Sweep fewer values or a shorter forecast."))?;
    shape(request, answer)
}

/// Every cell of a nested result with its index path, first axis outermost.
fn cells(nested: &Value, depth: usize) -> Vec<(Vec<usize>, Value)> {
    fn walk(value: &Value, depth: usize, path: &mut Vec<usize>, out: &mut Vec<(Vec<usize>, Value)>) {
        match value {
            Value::Array(items) if depth > 0 => {
                for (i, item) in items.iter().enumerate() {
                    path.push(i);
                    walk(item, depth - 1, path, out);
                    path.pop();
                }
            }
            leaf => out.push((path.clone(), leaf.clone())),
        }
    }
    let mut out = Vec::new();
    walk(nested, depth, &mut Vec::new(), &mut out);
    out
}

/// Orders two summary values: numbers as numbers, dates as text.
fn below(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() < y.as_f64(),
        (Value::String(x), Value::String(y)) => x < y,
        _ => false,
    }
}

fn shape(request: Request, answer: Answer) -> Result<Shaped, ToolError> {
    let data = answer.common.data();
    let depth = request.axes.len();
    let at = |index: &[usize]| -> Map<String, Value> {
        request
            .axes
            .iter()
            .zip(index)
            .map(|(axis, i)| (axis.knob.name().to_string(), json!(axis.values.get(*i))))
            .collect()
    };
    let mut best_and_worst = Ordered::default();
    for (label, nested) in &answer.results {
        let all = cells(nested, depth);
        let valid: Vec<&(Vec<usize>, Value)> = all.iter().filter(|(_, v)| !v.is_null()).collect();
        let min = valid.iter().copied().reduce(|a, b| if below(&b.1, &a.1) { b } else { a });
        let max = valid.iter().copied().reduce(|a, b| if below(&a.1, &b.1) { b } else { a });
        let mut entry = Map::new();
        for (key, found) in [("min", min), ("max", max)] {
            if let Some((index, value)) = found {
                entry.insert(
                    key.into(),
                    serde_json::to_value(Extreme { value: value.clone(), at: at(index) }).unwrap_or_default(),
                );
            }
        }
        best_and_worst.push(label.clone(), entry);
    }
    // One knob: one table with a row per value and a column per summary.
    let (table, results) = if depth == 1 {
        let axis = &request.axes[0];
        let mut columns = vec![json!(axis.knob.name())];
        columns.extend(answer.results.keys().map(|k| json!(k)));
        let rows: Vec<Value> = axis
            .values
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let mut row = vec![json!(x)];
                row.extend(answer.results.values().map(|v| v.get(i).cloned().unwrap_or(Value::Null)));
                Value::Array(row)
            })
            .collect();
        (Some(json!({"columns": columns, "rows": rows})), Map::new())
    } else {
        (None, answer.results.clone())
    };

    let summaries = input_summaries(&answer.common);
    let definitions = summary_definitions(&summaries);
    let axes_text: Vec<String> = request
        .axes
        .iter()
        .map(|a| format!("{} ({} values, {})", a.knob, a.values.len(), knob_unit(a.knob)))
        .collect();
    let current_date = answer.common.current_date;
    let layout = match depth {
        1 => "`table` has a row per knob value and a column per summary".to_string(),
        _ => format!(
            "`results[label]` is nested lists, first knob outermost ({})",
            request.axes.iter().map(|a| a.knob.name()).collect::<Vec<_>>().join(" > ")
        ),
    };
    let explanation = format!(
        "{} Sweep over {} from {}; data: {}. {layout}; null marks a cell whose combination breaks a rule. \
         best_and_worst give each summary's smallest and largest value with its knobs.",
        answer.common.explanation.clone().unwrap_or_default(),
        axes_text.join(" x "),
        current_date.map_or("?".into(), |d| d.to_string()),
        data.note(),
    );
    let result = SweepResult {
        explanation: explanation.trim().to_string(),
        data: data.clone(),
        current_date,
        axes: request
            .axes
            .iter()
            .map(|a| AxisOut { knob: a.knob.name(), unit: knob_unit(a.knob), values: a.values.clone() })
            .collect(),
        summary_definitions: definitions,
        best_and_worst,
        table,
        results,
        invalid_cells: answer.invalid_cells,
    };
    let result = json_result(&result, |chars| {
        format!(
            "{TOOL}: the result would be {chars} characters, over the {MAX_RESULT_CHARS}-character limit of one tool \
             result. Sweep fewer values per knob or fewer summaries."
        )
    })?;

    // The chart: the summary asked for, else the first with numbers.
    let numeric = |label: &String| {
        answer
            .results
            .get(label)
            .is_some_and(|nested| cells(nested, depth).iter().any(|(_, v)| v.is_number()))
    };
    let label = match &request.chart.summary {
        Some(label) => Some(label.clone()).filter(|l| answer.results.contains_key(l)),
        None => answer.results.keys().find(|l| numeric(l)).cloned(),
    };
    let chart = match (request.chart.draw, label) {
        (true, Some(label)) => Some(chart_job(&request, &answer.results[&label], &label, &summaries, &data)),
        _ => None,
    };
    Ok(Shaped { result, chart })
}

fn chart_job(
    request: &Request,
    nested: &Value,
    label: &str,
    summaries: &Map<String, Value>,
    data: &DataSource,
) -> DrawJob {
    let meaning =
        summaries.get(label).map(super::common::describe_summary).unwrap_or_else(|| label.to_string());
    let unit = summaries.get(label).map(super::common::summary_unit).unwrap_or_default();
    let value_label = if unit.is_empty() { meaning.clone() } else { format!("{meaning} ({unit})") };
    let axis_label = |axis: &Axis| format!("{} ({})", axis.knob, knob_unit(axis.knob));
    let frame = data.frame(
        format!("{label}: {meaning}"),
        &format!("sweep over {}", request.axes.iter().map(|a| a.knob.name()).collect::<Vec<_>>().join(", ")),
    );
    let number = |v: &Value| v.as_f64();
    match request.axes.as_slice() {
        [axis] => {
            let points =
                axis.values.iter().enumerate().map(|(i, x)| (*x, nested.get(i).and_then(number))).collect();
            let chart = XyChart {
                x_label: axis_label(axis),
                y_label: value_label,
                curves: vec![Curve { label: label.to_string(), points }],
                ..XyChart::default()
            };
            Box::new(move || render_xy(&frame, &chart))
        }
        [first, rest @ ..] => {
            let grid_of = |value: &Value| -> Vec<Vec<Option<f64>>> {
                value.as_array().map_or_else(Vec::new, |rows| {
                    rows.iter()
                        .map(|row| row.as_array().map_or_else(Vec::new, |r| r.iter().map(number).collect()))
                        .collect()
                })
            };
            let (y_axis, x_axis, grids) = match rest {
                [second] => (first, second, vec![Grid { title: label.to_string(), cells: grid_of(nested) }]),
                [second, third, ..] => {
                    let panels = first
                        .values
                        .iter()
                        .enumerate()
                        .take(6)
                        .map(|(i, v)| Grid {
                            title: format!("{} = {}", first.knob, knob_label(*v)),
                            cells: nested.get(i).map(grid_of).unwrap_or_default(),
                        })
                        .collect();
                    (second, third, panels)
                }
                [] => unreachable!("two or more axes"),
            };
            let heatmap = Heatmap {
                x_label: axis_label(x_axis),
                x_values: x_axis.values.clone(),
                y_label: axis_label(y_axis),
                y_values: y_axis.values.clone(),
                value_label: text(&json!(value_label), 200).unwrap_or_default(),
                grids,
            };
            Box::new(move || render_heatmap(&frame, &heatmap))
        }
        [] => Box::new(move || render_xy(&frame, &XyChart::default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_json(args: Value) -> Result<Request, String> {
        parse(args.as_object().cloned().unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn axes_in_either_form_become_the_list_form() {
        let by_map = parse_json(json!({"axes": {"rbp": [2, "4"], "rr": [0.6, 0.8]}})).unwrap();
        let by_list = parse_json(
            json!({"axes": [{"knob": "rbp", "values": [2, 4]}, {"knob": "rr", "values": [0.6, 0.8]}]}),
        )
        .unwrap();
        assert_eq!(by_map, by_list);
        assert_eq!(
            by_map.body["axes"],
            json!([{"knob": "rbp", "values": [2.0, 4.0]}, {"knob": "rr", "values": [0.6, 0.8]}])
        );
    }

    #[test]
    fn grids_are_checked_against_the_rules() {
        for (args, expected) in [
            (json!({}), "axes: required"),
            (json!({"axes": {"rr": [0.5, 1.5]}}), "axes.rr[1]: 1.5 is out of range; allowed: 0 <= x <= 1"),
            (json!({"axes": {"sector_duration_days": [360.5]}}), "expected a whole number of days"),
            (json!({"axes": {"nope": [1]}}), "axes.nope: unknown knob"),
            (
                json!({"axes": {"rbp": [1], "rr": [0.5], "fpr": [0.5], "lock_target": [0.3]}}),
                "at most 3 knobs",
            ),
            (
                json!({"axes": {"rbp": (0..50).collect::<Vec<_>>(), "rr": (0..=50).map(|i| f64::from(i) / 50.0).collect::<Vec<_>>()}}),
                "a list of 1 to 50 numbers",
            ),
            (
                json!({"axes": [{"knob": "rbp", "values": [1]}, {"knob": "rbp", "values": [2]}]}),
                "rbp appears twice",
            ),
        ] {
            let message = parse_json(args.clone()).unwrap_err();
            assert!(message.contains(expected), "{args}: missing {expected:?} in {message}");
        }
    }

    #[test]
    fn cells_carry_their_index_paths() {
        let nested = json!([[1.0, null], [3.0, 4.0]]);
        let all = cells(&nested, 2);
        assert_eq!(all.len(), 4);
        assert_eq!(all[1], (vec![0, 1], Value::Null));
        assert!(below(&json!(1.0), &json!(2.0)) && below(&json!("2027-01-01"), &json!("2028-01-01")));
    }
}
