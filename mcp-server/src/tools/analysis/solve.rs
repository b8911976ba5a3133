//! `solve_for`: goal seeking (`POST /analyze/solve`), "what renewal rate keeps the 1-year ROI at
//! 10 % in 2027?". The answer is checked by a fresh simulation, and drawn with the curve it
//! lies on: one `/analyze/sweep` over the bracket that includes the answer, so the chart shows
//! how the summary moves with the knob, and the cell at the answer re-computes the summary on
//! an independent path. With no solution, the answer gives the range the summary reaches.

use mechafil_core::{Param, ParamKind};
use rmcp::model::JsonObject;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Shaped;
use super::common::{
    ChartOptions, Common, SummaryDefinition, describe_summary, knob, knob_unit, read_chart_options,
    read_scenario, read_summary, summary_unit,
};
use crate::api_client::ApiClient;
use crate::plot::knob_label;
use crate::plot::xy::{Curve, XyChart, render_xy};
use crate::tools::args::{Fields, InvalidArgs, Problems, number, number_list, unwrap_reference_shape};
use crate::tools::results::DataSource;
use crate::tools::{MAX_RESULT_CHARS, ToolError, json_result};

/// The tool's name.
pub const TOOL: &str = "solve_for";
/// Points of the curve drawn across the bracket.
pub const CURVE_POINTS: usize = 21;
const ARGUMENTS: [&str; 7] = ["base", "knob", "summary", "target", "bracket", "tolerance", "chart"];

/// A checked call.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The body of `POST /analyze/solve`.
    pub body: JsonObject,
    /// The knob solved for.
    pub knob: Param,
    /// The bracket searched (the knob's whole range by default).
    pub bracket: [f64; 2],
    /// Chart options.
    pub chart: ChartOptions,
}

/// Reads the arguments.
pub fn parse(args: JsonObject) -> Result<Request, InvalidArgs> {
    let args = unwrap_reference_shape(TOOL, args)?;
    let mut problems = Problems::default();
    let mut fields = Fields::new("", args);
    let mut body = JsonObject::new();
    body.insert("base".into(), Value::Object(read_scenario(&mut fields, "base", &mut problems)));
    if !fields.has("knob") {
        problems.at("knob", "required: the knob to solve for, e.g. \"rr\"");
    }
    let param = fields.read("knob", &mut problems, knob);
    if let Some(param) = param {
        body.insert("knob".into(), json!(param.name()));
    }
    match fields.take("summary") {
        Some(value) => {
            if let Some(summary) = read_summary(&value, "summary", &mut problems) {
                if matches!(summary.get("stat").and_then(Value::as_str), Some("first_below" | "first_above")) {
                    problems.at("summary", "a date (first_below / first_above) cannot be solved for; use value_at on a date");
                }
                body.insert("summary".into(), Value::Object(summary));
            }
        }
        None => problems.at(
            "summary",
            "required: what to hold at the target, e.g. {\"series\": \"1y_sector_roi\", \"stat\": \"value_at\", \"date\": \"2027-01-04\"}",
        ),
    }
    if !fields.has("target") {
        problems.at("target", "required: the value the summary should take");
    }
    if let Some(target) = fields.read("target", &mut problems, number) {
        body.insert("target".into(), json!(target));
    }
    let bracket = fields.read("bracket", &mut problems, |v| {
        let list = number_list(v, 2)?;
        match list.as_slice() {
            [lo, hi] if lo < hi => Ok([*lo, *hi]),
            _ => Err("expected [lo, hi] with lo < hi".into()),
        }
    });
    if let (Some([lo, hi]), Some(param)) = (bracket, param) {
        let bounds = param.bounds().expect("knobs are numbers");
        for x in [lo, hi] {
            if !bounds.contains(x) {
                problems
                    .at("bracket", format!("{x} is out of {param}'s range; allowed: {}", bounds.describe()));
            }
        }
        body.insert("bracket".into(), json!([lo, hi]));
    }
    if let Some(tolerance) = fields.read("tolerance", &mut problems, |v| {
        number(v).and_then(|t| if t > 0.0 { Ok(t) } else { Err(format!("must be > 0, got {t}")) })
    }) {
        body.insert("tolerance".into(), json!(tolerance));
    }
    let chart = read_chart_options(&mut fields, &mut problems, false, false);
    fields.finish(&ARGUMENTS, &mut problems);
    let knob = param.unwrap_or(Param::Rr);
    let default_bracket = knob.bounds().map(|b| [b.min, b.max]).unwrap_or([0.0, 1.0]);
    problems.finish(TOOL, Request { body, knob, bracket: bracket.unwrap_or(default_bracket), chart })
}

/// The knob values the curve is drawn at: evenly across the bracket (whole days for
/// `sector_duration_days`), plus `extra` (the answer).
pub fn curve_values(param: Param, [lo, hi]: [f64; 2], extra: Option<f64>) -> Vec<f64> {
    let mut values: Vec<f64> =
        (0..CURVE_POINTS).map(|i| lo + (hi - lo) * i as f64 / (CURVE_POINTS - 1) as f64).collect();
    values.extend(extra);
    if param.rule().kind == ParamKind::Days {
        for v in &mut values {
            *v = v.round();
        }
    }
    values.sort_by(f64::total_cmp);
    values.dedup();
    values
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(flatten)]
    common: Common,
    solved: bool,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    achieved: Option<f64>,
    #[serde(default)]
    residual: Option<f64>,
    #[serde(default)]
    iterations: Option<u64>,
    #[serde(default)]
    bracket: Option<Vec<f64>>,
    #[serde(default)]
    tolerance: Option<f64>,
    #[serde(default)]
    reachable: Option<Vec<f64>>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SweepAnswer {
    #[serde(default)]
    results: Map<String, Value>,
}

#[derive(Debug, Serialize)]
struct Check {
    knob_value: f64,
    summary_value: Option<f64>,
    difference: Option<f64>,
    agrees: bool,
}

#[derive(Debug, Serialize)]
struct SolveResult {
    explanation: String,
    data: DataSource,
    current_date: Option<chrono::NaiveDate>,
    knob: &'static str,
    unit: &'static str,
    summary: SummaryDefinition,
    target: f64,
    solved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    achieved: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    residual: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reachable: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    iterations: Option<u64>,
    bracket: Option<Vec<f64>>,
    tolerance: Option<f64>,
    curve: Value,
}

/// Solves, checks and draws.
pub async fn run(api: &ApiClient, args: JsonObject) -> Result<Shaped, ToolError> {
    let request = parse(args)?;
    let answer: Answer = api
        .post("analyze/solve", &Value::Object(request.body.clone()))
        .await
        .map_err(ToolError::api_with_hint(TOOL, "Give a narrower bracket or a shorter forecast."))?;
    let bracket = match answer.bracket.as_deref() {
        Some([lo, hi]) => [*lo, *hi],
        _ => request.bracket,
    };
    let solution = answer.value.filter(|_| answer.solved);
    let values = curve_values(request.knob, bracket, solution);
    let sweep = json!({
        "base": request.body["base"],
        "axes": [{"knob": request.knob.name(), "values": values}],
        "summaries": {"goal": request.body["summary"]},
    });
    let curve: SweepAnswer = api
        .post("analyze/sweep", &sweep)
        .await
        .map_err(ToolError::api_with_hint(TOOL, "Give a shorter forecast."))?;
    let outcomes: Vec<Option<f64>> = curve
        .results
        .get("goal")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(Value::as_f64).collect())
        .unwrap_or_default();
    shape(request, answer, bracket, values, outcomes)
}

fn shape(
    request: Request,
    answer: Answer,
    bracket: [f64; 2],
    values: Vec<f64>,
    outcomes: Vec<Option<f64>>,
) -> Result<Shaped, ToolError> {
    let data = answer.common.data();
    let summary = request.body["summary"].clone();
    let target = request.body["target"].as_f64().unwrap_or_default();
    let unit = summary_unit(&summary);
    let meaning = describe_summary(&summary);
    let param = request.knob;
    let tolerance = answer.tolerance.unwrap_or(1e-9 * target.abs()).max(1e-12);
    let check = answer.value.filter(|_| answer.solved).map(|value| {
        let summary_value =
            values.iter().position(|v| *v == value).and_then(|i| outcomes.get(i).copied().flatten());
        let difference = summary_value.zip(answer.achieved).map(|(a, b)| (a - b).abs());
        Check {
            knob_value: value,
            summary_value,
            difference,
            agrees: difference.is_some_and(|d| d <= tolerance),
        }
    });
    let knob_unit = knob_unit(param);
    let explanation = match (&answer.value, answer.solved) {
        (Some(value), true) => format!(
            "{param} = {value} {knob_unit} makes {meaning} equal {target} (achieved {}, {} simulations). A fresh \
             simulation with {param} = {value} gives {}{}. Data: {}.",
            answer.achieved.map_or("?".into(), |a| a.to_string()),
            answer.iterations.map_or("?".into(), |i| i.to_string()),
            check.as_ref().and_then(|c| c.summary_value).map_or("no value".into(), |v| v.to_string()),
            if check.as_ref().is_some_and(|c| c.agrees) {
                ", which agrees"
            } else {
                ", which does NOT agree: treat the answer with care"
            },
            data.note(),
        ),
        _ => format!(
            "No {param} in [{}, {}] makes {meaning} equal {target}: over that range it reaches {} ({}). Data: {}.",
            bracket[0],
            bracket[1],
            answer.reachable.as_ref().map_or("?".into(), |r| format!("{r:?}")),
            answer.reason.clone().unwrap_or_default(),
            data.note(),
        ),
    };
    let curve_json = json!({ param.name(): values, "summary": outcomes });
    let result = SolveResult {
        explanation,
        data: data.clone(),
        current_date: answer.common.current_date,
        knob: param.name(),
        unit: knob_unit,
        summary: SummaryDefinition { summary: summary.clone(), meaning: meaning.clone(), unit: unit.clone() },
        target,
        solved: answer.solved,
        value: answer.value,
        achieved: answer.achieved,
        residual: answer.residual,
        check,
        reachable: answer.reachable.clone(),
        reason: answer.reason.clone(),
        iterations: answer.iterations,
        bracket: answer.bracket.clone(),
        tolerance: answer.tolerance,
        curve: curve_json,
    };
    let result = json_result(&result, |chars| {
        format!("{TOOL}: the result would be {chars} characters (limit {MAX_RESULT_CHARS}).")
    })?;
    let chart = request.chart.draw.then(|| {
        let points = values.iter().copied().zip(outcomes.iter().copied()).collect();
        let mark = answer
            .value
            .filter(|_| answer.solved)
            .zip(answer.achieved)
            .map(|(x, y)| (x, y, format!("{param} = {}", knob_label(x))));
        let xy = XyChart {
            x_label: format!("{param} ({knob_unit})"),
            y_label: format!("{meaning} ({unit})"),
            curves: vec![Curve { label: meaning.clone(), points }],
            target: Some((target, format!("target {}", knob_label(target)))),
            mark,
        };
        let frame = data.frame(
            match answer.value.filter(|_| answer.solved) {
                Some(x) => format!("{param} = {} gives {meaning} = {}", knob_label(x), knob_label(target)),
                None => format!("No {param} gives {meaning} = {}", knob_label(target)),
            },
            &format!(
                "{meaning} as {param} moves across [{}, {}]",
                knob_label(bracket[0]),
                knob_label(bracket[1])
            ),
        );
        Box::new(move || render_xy(&frame, &xy)) as crate::tools::DrawJob
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
    fn a_goal_is_read_with_its_bracket() {
        let request = parse_json(json!({
            "knob": "rr", "target": "0.1", "bracket": [0.5, 1],
            "summary": {"series": "1y_sector_roi", "stat": "value_at", "date": "2027-01-04"}
        }))
        .unwrap();
        assert_eq!(request.knob, Param::Rr);
        assert_eq!(request.bracket, [0.5, 1.0]);
        assert_eq!(request.body["target"], json!(0.1));
        let default = parse_json(
            json!({"knob": "rbp", "target": 1, "summary": {"series": "lock_ratio", "stat": "end"}}),
        )
        .unwrap();
        assert_eq!(default.bracket, [0.0, 10_000.0]);
    }

    #[test]
    fn missing_and_wrong_arguments_are_named() {
        let message = parse_json(json!({})).unwrap_err();
        for expected in ["knob: required", "summary: required", "target: required"] {
            assert!(message.contains(expected), "missing {expected:?} in {message}");
        }
        for (args, expected) in [
            (
                json!({"knob": "rr", "target": 0.1, "summary": {"series": "lock_ratio", "stat": "first_below", "threshold": 0.2}}),
                "cannot be solved for",
            ),
            (
                json!({"knob": "rr", "target": 0.1, "summary": {"series": "lock_ratio", "stat": "end"}, "bracket": [0.5, 2]}),
                "bracket: 2 is out of rr's range",
            ),
            (
                json!({"knob": "rr", "target": 0.1, "summary": {"series": "lock_ratio", "stat": "end"}, "bracket": [0.9, 0.5]}),
                "expected [lo, hi] with lo < hi",
            ),
            (
                json!({"knob": "rr", "target": 0.1, "summary": {"series": "lock_ratio", "stat": "end"}, "tolerance": 0}),
                "tolerance: must be > 0",
            ),
        ] {
            let message = parse_json(args.clone()).unwrap_err();
            assert!(message.contains(expected), "{args}: missing {expected:?} in {message}");
        }
    }

    #[test]
    fn the_curve_includes_the_answer() {
        let values = curve_values(Param::Rr, [0.0, 1.0], Some(0.8123));
        assert_eq!(values.len(), CURVE_POINTS + 1);
        assert!(values.contains(&0.8123) && values.windows(2).all(|w| w[0] < w[1]));
        let days = curve_values(Param::SectorDurationDays, [1.0, 3650.0], Some(540.0));
        assert!(days.iter().all(|d| d.fract() == 0.0) && days.contains(&540.0));
    }
}
