//! `sensitivity`: which knob moves each summary most (`POST /analyze/sensitivity`): a ranked
//! tornado table per summary (the summary with each knob moved down and up, the swing,
//! elasticity and derivative, and where the derivative is not to be trusted) and a tornado
//! chart.

use mechafil_core::Param;
use rmcp::model::JsonObject;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Shaped;
use super::common::{
    CHART_SUMMARY, ChartOptions, Common, InOrder, describe_summary, input_summaries, knob, knob_unit,
    read_chart_options, read_scenario, read_summaries, summary_unit,
};
use crate::api_client::ApiClient;
use crate::plot::knob_label;
use crate::plot::tornado::{Bar, Tornado, render_tornado};
use crate::tools::args::{
    Fields, InvalidArgs, Problems, describe, number, unwrap_reference_shape, whole_number,
};
use crate::tools::results::{DataSource, Ordered};
use crate::tools::{MAX_RESULT_CHARS, ToolError, json_result};

/// The tool's name.
pub const TOOL: &str = "sensitivity";
const ARGUMENTS: [&str; 7] =
    ["base", "summaries", "knobs", "move_pct", "duration_step", "chart", CHART_SUMMARY];

/// A checked call.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The body of `POST /analyze/sensitivity`.
    pub body: JsonObject,
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
    if let Some(summaries) = read_summaries(&mut fields, "summaries", &mut problems) {
        body.insert("summaries".into(), serde_json::to_value(&summaries).unwrap_or_default());
    }
    match fields.take("knobs") {
        None => {}
        Some(Value::Array(items)) => {
            let mut knobs: Vec<Param> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match knob(item) {
                    Ok(param) if !knobs.contains(&param) => knobs.push(param),
                    Ok(_) => {}
                    Err(err) => problems.at(&format!("knobs[{i}]"), err),
                }
            }
            if items.is_empty() {
                problems.at("knobs", "give at least one knob, or leave it out for every knob");
            }
            body.insert("knobs".into(), json!(knobs.iter().map(|p| p.name()).collect::<Vec<_>>()));
        }
        Some(other) => {
            problems.at("knobs", format!("expected a list of knob names, got {}", describe(&other)))
        }
    }
    if let Some(pct) = fields.read("move_pct", &mut problems, |v| {
        number(v).and_then(|p| {
            if p > 0.0 && p <= 100.0 {
                Ok(p)
            } else {
                Err(format!("must be above 0 and at most 100, got {p}"))
            }
        })
    }) {
        body.insert("move_pct".into(), json!(pct));
    }
    if let Some(step) = fields.read("duration_step", &mut problems, |v| {
        whole_number(v).and_then(|d| if d >= 1 { Ok(d) } else { Err("must be at least 1 day".into()) })
    }) {
        body.insert("duration_step".into(), json!(step));
    }
    let chart = read_chart_options(&mut fields, &mut problems, false, true);
    fields.finish(&ARGUMENTS, &mut problems);
    problems.finish(TOOL, Request { body, chart })
}

/// One knob's entry of the API's results.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct KnobEffect {
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    derivative: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    step: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    #[serde(default)]
    elasticity: Option<f64>,
    #[serde(default)]
    forward: Option<f64>,
    #[serde(default)]
    backward: Option<f64>,
    #[serde(default)]
    kink: Option<bool>,
    #[serde(default)]
    down: Option<f64>,
    #[serde(default)]
    up: Option<f64>,
    #[serde(default)]
    down_value: Option<f64>,
    #[serde(default)]
    up_value: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(flatten)]
    common: Common,
    results: InOrder<InOrder<KnobEffect>>,
    #[serde(default)]
    base_values: Map<String, Value>,
    #[serde(default)]
    ranking: Map<String, Value>,
}

/// One row of a tornado table.
#[derive(Debug, Serialize)]
struct Row {
    knob: String,
    unit: &'static str,
    swing: Option<f64>,
    #[serde(flatten)]
    effect: KnobEffect,
}

#[derive(Debug, Serialize)]
struct SummaryTable {
    meaning: String,
    unit: String,
    summary: Value,
    base_value: Value,
    ranking: Vec<Row>,
}

#[derive(Debug, Serialize)]
struct SensitivityResult {
    explanation: String,
    data: DataSource,
    current_date: Option<chrono::NaiveDate>,
    move_pct: Value,
    summaries: Ordered<SummaryTable>,
}

/// Runs the analysis.
pub async fn run(api: &ApiClient, args: JsonObject) -> Result<Shaped, ToolError> {
    let request = parse(args)?;
    let answer: Answer =
        api.post("analyze/sensitivity", &Value::Object(request.body.clone())).await.map_err(
            ToolError::api_with_hint(TOOL, "Ask for fewer knobs or summaries, or a shorter forecast."),
        )?;
    shape(request, answer)
}

fn shape(request: Request, answer: Answer) -> Result<Shaped, ToolError> {
    let data = answer.common.data();
    let summaries = input_summaries(&answer.common);
    let move_pct = answer
        .common
        .input
        .get("move_pct")
        .cloned()
        .or(request.body.get("move_pct").cloned())
        .unwrap_or(json!(10));
    let mut tables = Ordered::default();
    for (label, effects) in answer.results.0 {
        let ranking: Vec<String> = answer
            .ranking
            .get(&label)
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(|k| k.as_str().map(String::from)).collect())
            .unwrap_or_else(|| effects.0.iter().map(|(k, _)| k.clone()).collect());
        let mut rows: Vec<Row> = ranking
            .iter()
            .filter_map(|name| {
                let effect = effects.get(name)?.clone();
                let unit = Param::from_name(name).map_or("", knob_unit);
                let swing = effect.up.zip(effect.down).map(|(u, d)| (u - d).abs());
                Some(Row { knob: name.clone(), unit, swing, effect })
            })
            .collect();
        // Knobs the ranking leaves out (none, by the contract) keep their place at the end.
        for (name, effect) in &effects.0 {
            if !ranking.contains(name) {
                let swing = effect.up.zip(effect.down).map(|(u, d)| (u - d).abs());
                rows.push(Row {
                    knob: name.clone(),
                    unit: Param::from_name(name).map_or("", knob_unit),
                    swing,
                    effect: effect.clone(),
                });
            }
        }
        let summary = summaries.get(&label).cloned().unwrap_or(Value::Null);
        tables.push(
            label.clone(),
            SummaryTable {
                meaning: describe_summary(&summary),
                unit: summary_unit(&summary),
                summary,
                base_value: answer.base_values.get(&label).cloned().unwrap_or(Value::Null),
                ranking: rows,
            },
        );
    }
    let current_date = answer.common.current_date;
    let lines: Vec<String> = tables
        .0
        .iter()
        .map(|(label, table)| {
            let top: Vec<&str> = table.ranking.iter().take(3).map(|r| r.knob.as_str()).collect();
            format!("{label} ({}): most moved by {}", table.meaning, top.join(", "))
        })
        .collect();
    let explanation = format!(
        "{} Each knob moved {move_pct}% down and up from the base scenario (clamped to its range) from {}; data: {}. \
         {}. Rows are ranked by swing = |up - down|; derivative is d summary / d knob, elasticity the derivative x \
         value / summary, and kink = true marks a knob where the model switches regime and the derivative is not to \
         be trusted.",
        answer.common.explanation.clone().unwrap_or_default(),
        current_date.map_or("?".into(), |d| d.to_string()),
        data.note(),
        lines.join("; "),
    );
    let chart_label = request.chart.summary.clone().or_else(|| tables.0.first().map(|(l, _)| l.clone()));
    let tornado = chart_label.as_ref().and_then(|label| tables.0.iter().find(|(l, _)| l == label)).and_then(
        |(label, table)| {
            let base = table.base_value.as_f64()?;
            let bars = table
                .ranking
                .iter()
                .map(|row| Bar {
                    knob: row.knob.clone(),
                    down_label: row
                        .effect
                        .down_value
                        .map(|v| format!("{} = {}", row.knob, knob_label(v)))
                        .unwrap_or_default(),
                    up_label: row
                        .effect
                        .up_value
                        .map(|v| format!("{} = {}", row.knob, knob_label(v)))
                        .unwrap_or_default(),
                    down: row.effect.down,
                    up: row.effect.up,
                })
                .collect();
            let unit = if table.unit.is_empty() { String::new() } else { format!(" ({})", table.unit) };
            Some((
                label.clone(),
                table.meaning.clone(),
                Tornado { value_label: format!("{}{unit}", table.meaning), base, bars },
            ))
        },
    );
    let result = SensitivityResult {
        explanation: explanation.trim().to_string(),
        data: data.clone(),
        current_date,
        move_pct: move_pct.clone(),
        summaries: tables,
    };
    let result = json_result(&result, |chars| {
        format!(
            "{TOOL}: the result would be {chars} characters, over the {MAX_RESULT_CHARS}-character limit. Ask for fewer summaries or knobs."
        )
    })?;
    let chart = match (request.chart.draw, tornado) {
        (true, Some((label, meaning, tornado))) => {
            let frame = data.frame(
                format!("What moves {label}: {meaning}"),
                &format!("each knob moved {move_pct}% down and up; base value {}", knob_label(tornado.base)),
            );
            Some(Box::new(move || render_tornado(&frame, &tornado)) as crate::tools::DrawJob)
        }
        _ => None,
    };
    Ok(Shaped { result, chart })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_json(args: Value) -> Result<Request, String> {
        parse(args.as_object().cloned().unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn no_arguments_run_the_default_analysis() {
        let request = parse_json(json!({})).unwrap();
        assert_eq!(Value::Object(request.body), json!({"base": {}}));
        let request =
            parse_json(json!({"knobs": ["rr", "rbp", "rr"], "move_pct": "20", "chart_summary": "roi"}))
                .unwrap();
        assert_eq!(request.body["knobs"], json!(["rr", "rbp"]));
        assert_eq!(request.body["move_pct"], json!(20.0));
        assert_eq!(request.chart.summary.as_deref(), Some("roi"));
    }

    #[test]
    fn problems_are_named() {
        for (args, expected) in [
            (json!({"knobs": ["rr", "nope"]}), "knobs[1]: unknown knob \"nope\""),
            (json!({"knobs": "rr"}), "knobs: expected a list of knob names"),
            (json!({"move_pct": 0}), "move_pct: must be above 0"),
            (json!({"duration_step": 0}), "duration_step: must be at least 1 day"),
            (json!({"base": {"rr": -1}}), "base.rr: -1 is out of range"),
        ] {
            let message = parse_json(args.clone()).unwrap_err();
            assert!(message.contains(expected), "{args}: missing {expected:?} in {message}");
        }
    }
}
