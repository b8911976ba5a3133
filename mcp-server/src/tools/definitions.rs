//! The tool definitions `tools/list` returns: names, titles, descriptions, annotations, and the
//! input and output JSON Schemas (draft 2020-12).
//!
//! The schemas are written to be read by every client: no `$ref` to resolve, no non-standard
//! `format` (ajv's default mode throws on `double` or `uint32`), and no `["number", "null"]` type
//! arrays for optional arguments (the MCP Inspector flags them). Scenario parameters come from
//! [`super::params`], which derives them from `mechafil_core::rules`; series names from the
//! core's `SeriesName`. Output schemas describe the `structuredContent` of a successful result
//! (the same JSON as its text); the tests validate every result against them.

use mechafil_core::{Param, SeriesName};
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Map, Value, json};

use super::analysis::common::{RESOLUTIONS as ANALYSIS_RESOLUTIONS, STATS, series_names};
use super::analysis::{compare, ensemble, sensitivity, solve, sweep};
use super::args::{Fields, InvalidArgs, Problems, name_list, unwrap_reference_shape};
use super::params::{scenario_properties, scenario_schema};
use super::simulate::RESOLUTIONS;
use crate::catalogue::plottable_names;

/// The tools, in the order `tools/list` gives them.
pub const TOOL_NAMES: [&str; 9] = [
    "fetch_context",
    "simulate",
    "get_historical_data",
    "provide_plot",
    compare::TOOL,
    ensemble::TOOL,
    sweep::TOOL,
    solve::TOOL,
    sensitivity::TOOL,
];

/// Most fields one `get_historical_data` call may name.
pub const MAX_FIELDS: usize = 100;

/// Reads `get_historical_data`'s arguments: the field names to ask for (`None` = all), checked
/// for shape; the API knows which exist.
pub fn parse_historical(args: JsonObject) -> Result<Option<Vec<String>>, InvalidArgs> {
    let args = unwrap_reference_shape("get_historical_data", args)?;
    let mut problems = Problems::default();
    let mut fields = Fields::new("", args);
    let names = fields.read("fields", &mut problems, name_list);
    fields.finish(&["fields"], &mut problems);
    if let Some(names) = &names {
        if names.is_empty() {
            problems.at("fields", "give at least one field name, or leave fields out for all fields");
        }
        if names.len() > MAX_FIELDS {
            problems.at("fields", format!("at most {MAX_FIELDS} names, got {}", names.len()));
        }
        for field in names {
            if field.len() > 64 || !field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                problems.at("fields", format!("{field:?} is not a field name (letters, digits and _ only)"));
            }
        }
    }
    problems.finish("get_historical_data", names)
}

const DATE_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";

fn object_schema(properties: Vec<(String, Value)>, required: &[&str]) -> Value {
    let mut schema =
        json!({ "type": "object", "properties": Value::Object(properties.into_iter().collect()) });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

fn names_schema(names: &[&str], description: &str) -> Value {
    json!({
        "description": description,
        "anyOf": [
            { "type": "array", "items": { "type": "string", "enum": names }, "minItems": 1 },
            { "type": "string", "enum": names }
        ]
    })
}

fn date_schema(description: &str) -> Value {
    json!({ "type": "string", "pattern": DATE_PATTERN, "description": description })
}

fn chart_flag() -> (String, Value) {
    (
        "chart".into(),
        json!({ "type": "boolean", "description": "Draw the chart (a PNG image block). Default true." }),
    )
}

fn summary_schema() -> Value {
    let series = series_names();
    json!({
        "type": "object",
        "description": "Turns one run into one number (or date), on the daily values of the forecast window.",
        "properties": {
            "series": { "type": "string", "enum": series, "description": "The series (lock_ratio = network_locked / circ_supply)." },
            "over": { "type": "string", "enum": series, "description": "Optional: divide series by this one (same dates)." },
            "stat": { "type": "string", "enum": STATS, "description": "end, value_at (needs date), mean, min, max, first_below / first_above (need threshold; give a date)." },
            "date": date_schema("For value_at: the date (YYYY-MM-DD)."),
            "from": date_schema("Start of the range (inclusive); default the forecast's start."),
            "to": date_schema("End of the range (inclusive); default the series' end."),
            "threshold": { "type": "number", "description": "For first_below / first_above." }
        },
        "required": ["series", "stat"]
    })
}

fn summaries_schema(description: &str) -> Value {
    json!({
        "type": "object",
        "description": description,
        "additionalProperties": summary_schema(),
        "minProperties": 1
    })
}

fn knob_names() -> Vec<&'static str> {
    Param::SCALAR_KNOBS.iter().map(|p| p.name()).collect()
}

fn dist_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "dist": { "type": "string", "enum": ["uniform", "normal", "lognormal", "walk"] },
            "lo": { "type": "number" }, "hi": { "type": "number" },
            "mean": { "type": "number", "description": "Default: the base value." },
            "sd": { "type": "number", "minimum": 0 },
            "start": { "type": "number", "description": "Walk start; default the base value." },
            "vol": { "type": "number", "minimum": 0, "description": "Daily volatility of a walk." }
        },
        "required": ["dist"]
    })
}

fn simulate_input() -> Value {
    let mut properties = scenario_properties();
    let names: Vec<&str> = SeriesName::names().collect();
    properties.push((
        "requested_metrics".into(),
        names_schema(
            &names,
            "Which output series to return (one name or a list). Default: circ_supply, network_locked, \
             network_QAP_EIB, day_network_reward, 1y_sector_roi. The catalogue resource lists them with units.",
        ),
    ));
    properties.push((
        "requested_metric".into(),
        names_schema(&names, "Alias of requested_metrics (the reference's name)."),
    ));
    properties.push((
        "resolution".into(),
        json!({
            "type": "string", "enum": RESOLUTIONS,
            "description": "How often values are returned: auto (default: daily under 2 weeks, weekly (Mondays) up to 2 \
                            years, every 4 weeks beyond), daily, weekly or monthly (every 4 weeks). Key figures are \
                            always read from the daily values."
        }),
    ));
    object_schema(properties, &[])
}

fn series_descriptor_schema() -> Value {
    let names = plottable_names();
    json!({
        "anyOf": [
            { "type": "string", "enum": names },
            {
                "type": "object",
                "properties": {
                    "name": { "type": "string", "enum": names },
                    "label": { "type": "string", "maxLength": 100 },
                    "unit": { "type": "string", "maxLength": 40 }
                },
                "required": ["name"]
            }
        ]
    })
}

fn provide_plot_input() -> Value {
    let mut properties = vec![
        (
            "series".to_string(),
            json!({
                "description": "What to draw: a series name (a history field such as historical_raw_power_eib, or a \
                                simulated series such as network_QAP_EIB; circ_supply is both and is drawn as history \
                                followed by the forecast), {name, label, unit}, or a list of up to 10 of either. The \
                                data is fetched from the API (daily). Raw numbers are still accepted: a list of \
                                numbers, or {\"legend\": [numbers], ...}.",
                "anyOf": [
                    series_descriptor_schema(),
                    { "type": "array", "items": series_descriptor_schema(), "minItems": 1, "maxItems": 10 },
                    { "type": "array", "items": { "anyOf": [{ "type": "number" }, { "type": "null" }] }, "minItems": 1, "maxItems": 20000 },
                    { "type": "object", "additionalProperties": { "type": "array", "items": { "anyOf": [{ "type": "number" }, { "type": "null" }] } } }
                ]
            }),
        ),
        ("title".into(), json!({ "type": "string", "maxLength": 200, "description": "Chart title." })),
        (
            "description".into(),
            json!({ "type": "string", "maxLength": 1000, "description": "A sentence for web front-ends (echoed in the chart spec)." }),
        ),
        (
            "start_date_key".into(),
            json!({ "type": "string", "maxLength": 100, "description": "Echoed in the chart spec (the reference's key: data_start_date for history, sim_start_date for forecasts). Named series come with their own dates." }),
        ),
        (
            "unit".into(),
            json!({ "type": "string", "maxLength": 40, "description": "Raw numbers only: their unit." }),
        ),
        ("start_date".into(), date_schema("Raw numbers only: the date of the first value.")),
        (
            "timestep_days".into(),
            json!({ "type": "integer", "minimum": 1, "maximum": 366, "description": "Raw numbers only: days between values (default 7)." }),
        ),
    ];
    for (name, mut schema) in scenario_properties() {
        let description = schema["description"].as_str().unwrap_or_default().to_string();
        schema["description"] = json!(format!("For simulated series: {description}"));
        properties.push((name, schema));
    }
    object_schema(properties, &["series"])
}

fn compare_input() -> Value {
    let series = series_names();
    object_schema(
        vec![
            (
                "baseline".into(),
                scenario_schema("The baseline scenario (simulate's parameters; {} = the default forecast)."),
            ),
            (
                "scenarios".into(),
                json!({
                    "type": "object",
                    "description": "1 to 10 scenarios by name (not baseline, diff or rel_diff), each the fields it changes from the baseline, e.g. {\"high onboarding\": {\"rbp\": 6}}. All use the baseline's forecast length.",
                    "additionalProperties": scenario_schema("A scenario's changes to the baseline."),
                    "minProperties": 1, "maxProperties": 10
                }),
            ),
            (
                "output".into(),
                names_schema(
                    &series,
                    "Series to compare. Default: lock_ratio, circ_supply, network_locked, network_QAP_EIB, day_network_reward, 1y_sector_roi.",
                ),
            ),
            (
                "resolution".into(),
                json!({ "type": "string", "enum": ANALYSIS_RESOLUTIONS, "description": "weekly (default, Mondays) or daily arrays from the API." }),
            ),
            (
                "summaries".into(),
                summaries_schema(
                    "Optional numbers per scenario, e.g. {\"roi_2027\": {\"series\": \"1y_sector_roi\", \"stat\": \"value_at\", \"date\": \"2027-01-04\"}}.",
                ),
            ),
            chart_flag(),
            (
                "chart_series".into(),
                names_schema(&series, "Which series get a chart panel (default: the first 4 of output)."),
            ),
        ],
        &["scenarios"],
    )
}

fn ensemble_input() -> Value {
    let series = series_names();
    let knobs: Map<String, Value> =
        knob_names().into_iter().map(|k| (k.to_string(), dist_schema())).collect();
    object_schema(
        vec![
            ("base".into(), scenario_schema("The base scenario the draws vary.")),
            (
                "members".into(),
                json!({ "type": "integer", "minimum": 1, "maximum": 10000, "description": "Number of simulations. Default 1000." }),
            ),
            (
                "seed".into(),
                json!({ "type": "integer", "minimum": 0, "maximum": 9007199254740992_u64, "description": "Random seed; the same request gives the same answer. Default 0." }),
            ),
            (
                "vary".into(),
                json!({
                    "type": "object",
                    "description": "Which knobs vary and how: uniform {lo, hi}, normal / lognormal {mean?, sd} (of the value itself; truncated to the knob's range), walk {start?, vol} (a daily random walk; not for burn_boost and sector_duration_days). Default: rbp lognormal (sd 25% of base), rr and fpr normal (sd 0.05); {} varies nothing.",
                    "properties": Value::Object(knobs)
                }),
            ),
            (
                "output".into(),
                names_schema(&series, "Series to band. Default: network_locked, circ_supply, lock_ratio."),
            ),
            (
                "quantiles".into(),
                json!({ "type": "array", "items": { "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100 }, "minItems": 1, "maxItems": 21, "description": "Percentiles. Default [5, 25, 50, 75, 95]." }),
            ),
            (
                "resolution".into(),
                json!({ "type": "string", "enum": ANALYSIS_RESOLUTIONS, "description": "weekly (default) or daily arrays from the API." }),
            ),
            (
                "summaries".into(),
                summaries_schema(
                    "Distributions of one number per member, e.g. {\"lock_below_0_2\": {\"series\": \"lock_ratio\", \"stat\": \"first_below\", \"threshold\": 0.2}} (when does the lock ratio fall below 0.2?).",
                ),
            ),
            chart_flag(),
            (
                "chart_series".into(),
                names_schema(&series, "Which series get a fan-chart panel (default: the first 4 of output)."),
            ),
        ],
        &[],
    )
}

fn sweep_input() -> Value {
    let knobs = knob_names();
    let values = json!({ "type": "array", "items": { "type": "number" }, "minItems": 1, "maxItems": sweep::MAX_AXIS_VALUES });
    let by_knob: Map<String, Value> = knobs.iter().map(|k| (k.to_string(), values.clone())).collect();
    object_schema(
        vec![
            ("base".into(), scenario_schema("The base scenario; the swept knobs replace its values.")),
            (
                "axes".into(),
                json!({
                    "description": "1 to 3 knobs and their values, e.g. {\"rbp\": [2, 4, 6, 8], \"rr\": [0.6, 0.7, 0.8]} (at most 2,500 cells; whole days for sector_duration_days). Also accepted: [{\"knob\", \"values\"}, ...].",
                    "anyOf": [
                        { "type": "object", "properties": Value::Object(by_knob), "minProperties": 1, "maxProperties": sweep::MAX_AXES },
                        { "type": "array", "items": { "type": "object", "properties": { "knob": { "type": "string", "enum": knobs }, "values": values }, "required": ["knob", "values"] }, "minItems": 1, "maxItems": sweep::MAX_AXES }
                    ]
                }),
            ),
            (
                "summaries".into(),
                summaries_schema(
                    "What each cell reports. Default: the lock ratio at the end of the forecast.",
                ),
            ),
            chart_flag(),
            (
                "chart_summary".into(),
                json!({ "type": "string", "maxLength": 64, "description": "Which summary label the heatmap shows (default: the first numeric one)." }),
            ),
        ],
        &["axes"],
    )
}

fn solve_input() -> Value {
    object_schema(
        vec![
            ("base".into(), scenario_schema("The base scenario; the knob's value is what is solved for.")),
            (
                "knob".into(),
                json!({ "type": "string", "enum": knob_names(), "description": "The knob to solve for." }),
            ),
            ("summary".into(), summary_schema()),
            (
                "target".into(),
                json!({ "type": "number", "description": "The value the summary should take (in its unit; ROI 0.1 = 10%)." }),
            ),
            (
                "bracket".into(),
                json!({ "type": "array", "items": { "type": "number" }, "minItems": 2, "maxItems": 2, "description": "[lo, hi] to search; default the knob's whole range." }),
            ),
            (
                "tolerance".into(),
                json!({ "type": "number", "exclusiveMinimum": 0, "description": "Largest |achieved - target|; default 1e-9 x |target|." }),
            ),
            chart_flag(),
        ],
        &["knob", "summary", "target"],
    )
}

fn sensitivity_input() -> Value {
    object_schema(
        vec![
            ("base".into(), scenario_schema("The base scenario.")),
            (
                "summaries".into(),
                summaries_schema(
                    "What to measure. Default: lock ratio, circulating supply, locked FIL, daily network reward and (for forecasts of a year or more) the 1-year sector ROI at the end.",
                ),
            ),
            (
                "knobs".into(),
                json!({ "type": "array", "items": { "type": "string", "enum": knob_names() }, "minItems": 1, "description": "Which knobs to move (default: every single-number knob of the base)." }),
            ),
            (
                "move_pct".into(),
                json!({ "type": "number", "exclusiveMinimum": 0, "maximum": 100, "description": "How far each knob moves down and up, in percent. Default 10." }),
            ),
            (
                "duration_step".into(),
                json!({ "type": "integer", "minimum": 1, "description": "Step of sector_duration_days for its derivative, days. Default 1." }),
            ),
            chart_flag(),
            (
                "chart_summary".into(),
                json!({ "type": "string", "maxLength": 64, "description": "Which summary label the tornado chart shows (default: the first)." }),
            ),
        ],
        &[],
    )
}

/// The output schema of every result's `data`: where the numbers come from.
fn data_schema() -> Value {
    json!({
        "type": "object",
        "description": "The snapshot the numbers come from; is_demo true means synthetic demo data, not the real network.",
        "properties": {
            "source": { "description": "spacescope, import or demo (null when unknown)" },
            "start_date": { "description": "first history day" },
            "current_date": { "description": "last history day; the forecast starts here" },
            "is_demo": { "type": "boolean" }
        },
        "required": ["is_demo"]
    })
}

fn output_schema(properties: Vec<(&str, Value)>, required: &[&str]) -> Value {
    let properties: Map<String, Value> = properties.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    json!({ "type": "object", "properties": properties, "required": required })
}

fn text(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

fn obj(description: &str) -> Value {
    json!({ "type": "object", "description": description })
}

fn outputs(tool: &str) -> Value {
    let explanation =
        text("What was run, what was assumed, where the data comes from, and how to read the rest.");
    match tool {
        "fetch_context" => output_schema(
            vec![
                ("format", json!({"const": "markdown"})),
                ("server_version", text("")),
                ("context", text("The context document.")),
            ],
            &["format", "server_version", "context"],
        ),
        "simulate" => output_schema(
            vec![
                ("explanation", explanation),
                ("data", data_schema()),
                ("current_date", text("The snapshot's last day: the forecast starts here.")),
                ("forecast", obj("start_date, end_date, days of the forecast window.")),
                ("resolution", json!({ "type": "string", "enum": ["daily", "weekly", "monthly"] })),
                (
                    "sim_start_date",
                    json!({ "description": "First date of the sampled window (null if none)." }),
                ),
                ("sim_end_date", json!({ "description": "Last date of the sampled window (null if none)." })),
                ("timestep_days", json!({ "type": "integer" })),
                ("n_entries", json!({ "type": "integer" })),
                ("inputs_used", obj("The parameters used (lists summarised).")),
                (
                    "key_figures",
                    obj(
                        "Per series: unit, start, end, each_year, min, max (each {date, value}), change, change_relative; from the daily values.",
                    ),
                ),
                ("series_dates", obj("Per series: start_date, end_date, n_entries, timestep_days.")),
                ("units", obj("Per series: unit, kind, meaning.")),
                ("series", obj("Per series: the sampled values.")),
                ("daily_rates", obj("Per cumulative series: <name>_daily_rate.")),
            ],
            &[
                "explanation",
                "data",
                "current_date",
                "resolution",
                "key_figures",
                "series_dates",
                "units",
                "series",
            ],
        ),
        "get_historical_data" => output_schema(
            vec![
                ("summary", text("Data source and how to date each field.")),
                ("data_source", data_schema()),
                ("is_demo", json!({"type": "boolean"})),
                ("data", obj("The API's data object, with field_meta.")),
            ],
            &["summary", "data_source", "is_demo", "data"],
        ),
        "provide_plot" => output_schema(
            vec![
                ("explanation", explanation),
                ("data", data_schema()),
                (
                    "chart",
                    json!({ "type": "object", "properties": { "chart": obj("series, start_date_key, title, description, start_date, end_date.") }, "required": ["chart"] }),
                ),
                ("key_figures", obj("Per line: the figures of its daily values.")),
            ],
            &["explanation", "data", "chart"],
        ),
        compare::TOOL => output_schema(
            vec![
                ("explanation", explanation),
                ("data", data_schema()),
                ("current_date", json!({})),
                ("scenarios", obj("Each scenario's inputs as understood.")),
                (
                    "key_figures",
                    obj(
                        "Per series: unit, dates, baseline, each scenario, diff (by scenario) at those dates.",
                    ),
                ),
                ("summaries", json!({})),
                ("summary_definitions", obj("")),
                ("timestep_days", json!({ "type": "integer" })),
                ("series_dates", obj("")),
                ("units", obj("")),
                ("series", obj("Per series: baseline, each scenario and diff, sampled.")),
            ],
            &["explanation", "data", "key_figures", "series"],
        ),
        ensemble::TOOL => output_schema(
            vec![
                ("explanation", explanation),
                ("data", data_schema()),
                ("current_date", json!({})),
                ("members", json!({})),
                ("seed", json!({})),
                ("varied", json!({})),
                (
                    "key_figures",
                    obj("Per series: unit, dates, and each quantile (p5, ..., mean) at those dates."),
                ),
                ("summaries", json!({})),
                ("summary_definitions", obj("")),
                ("timestep_days", json!({ "type": "integer" })),
                ("series_dates", obj("")),
                ("units", obj("")),
                ("bands", obj("Per series: each quantile's values, sampled.")),
            ],
            &["explanation", "data", "key_figures", "bands"],
        ),
        sweep::TOOL => output_schema(
            vec![
                ("explanation", explanation),
                ("data", data_schema()),
                ("current_date", json!({})),
                ("axes", json!({ "type": "array" })),
                ("summary_definitions", obj("")),
                ("best_and_worst", obj("Per summary: min and max with their knob values.")),
                ("table", obj("One knob: columns and rows.")),
                ("results", obj("Two or three knobs: nested lists, first knob outermost.")),
                ("invalid_cells", json!({})),
            ],
            &["explanation", "data", "axes", "best_and_worst"],
        ),
        solve::TOOL => output_schema(
            vec![
                ("explanation", explanation),
                ("data", data_schema()),
                ("knob", text("")),
                ("unit", text("")),
                ("summary", obj("")),
                ("target", json!({ "type": "number" })),
                ("solved", json!({ "type": "boolean" })),
                ("value", json!({ "type": "number" })),
                ("achieved", json!({ "type": "number" })),
                (
                    "check",
                    obj("A fresh simulation at the answer: knob_value, summary_value, difference, agrees."),
                ),
                ("reachable", json!({ "type": "array" })),
                ("curve", obj("The summary across the bracket.")),
            ],
            &["explanation", "data", "knob", "target", "solved", "curve"],
        ),
        sensitivity::TOOL => output_schema(
            vec![
                ("explanation", explanation),
                ("data", data_schema()),
                ("current_date", json!({})),
                ("move_pct", json!({})),
                ("summaries", obj("Per summary: meaning, unit, base_value and the ranked rows.")),
            ],
            &["explanation", "data", "summaries"],
        ),
        _ => json!({ "type": "object" }),
    }
}

fn as_object(value: Value) -> std::sync::Arc<JsonObject> {
    match value {
        Value::Object(map) => std::sync::Arc::new(map),
        _ => std::sync::Arc::new(JsonObject::new()),
    }
}

fn tool(name: &'static str, title: &str, description: &'static str, input: Value) -> Tool {
    Tool::new(name, description, as_object(input))
        .with_title(title)
        .with_raw_output_schema(as_object(outputs(name)))
        .with_annotations(
            ToolAnnotations::with_title(title)
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        )
}

/// Every tool, in [`TOOL_NAMES`] order.
pub fn tool_definitions() -> Vec<Tool> {
    vec![
        tool(
            "fetch_context",
            "MechaFil context",
            "Returns MechaFil's context document (also the resource mechafil://context): what the model computes, \
             every tool argument with its unit and range, every output series with unit, kind and dates, caveats \
             (1-year series, sampling, demo data), and how to answer common questions. Call it first. It also wakes \
             the MechaFil API.",
            json!({ "type": "object", "properties": {} }),
        ),
        tool(
            "simulate",
            "Simulate a scenario",
            "Forecasts Filecoin's economy for one scenario: power (EiB), onboarding and renewals (PiB/day), minting, \
             vesting, locking and supply (FIL), pledge and 1-year ROI per 32 GiB sector. Every argument is optional \
             (defaults: the snapshot's recent values); rbp is in PiB/day, rates are fractions 0-1. Returns key \
             figures first (each series at the start, each year mark and the end, its min and max, with dates), then \
             the series at a resolution that fits the horizon (weekly on Mondays up to 2 years, every 4 weeks \
             beyond, daily under 2 weeks; `resolution` overrides): series[name][i] is on series_dates[name].start_date + i * timestep_days. \
             A 1-year series needs 364 days after each sector start date: for short forecasts the tool runs the \
             scenario longer for it and says so. Also accepts {\"sim\": {...}}.",
            simulate_input(),
        ),
        tool(
            "get_historical_data",
            "Network history",
            "Returns Filecoin network history from the MechaFil API's snapshot, weekly: power (EiB), onboarding \
             (PiB/day), renewal and FIL+ rates (fractions), supply, locked, burnt, mined and vested FIL, the smoothed \
             defaults simulate uses, and each field's unit and dates in field_meta (start_date, end_date, n_entries, \
             timestep_days). Use `fields` to pick fields (the catalogue resource lists them).",
            object_schema(
                vec![(
                    "fields".into(),
                    json!({
                        "description": "Which fields (a list, or a comma-separated string), e.g. [\"raw_byte_power\", \"network_qa_power_eib\", \"circ_supply\"]. Default: every field.",
                        "anyOf": [
                            { "type": "array", "items": { "type": "string", "pattern": "^[A-Za-z0-9_]+$" }, "maxItems": MAX_FIELDS },
                            { "type": "string" }
                        ]
                    }),
                )],
                &[],
            ),
        ),
        tool(
            "provide_plot",
            "Plot series",
            "Draws named series as a PNG chart from data this tool fetches itself (no numbers to copy): history \
             fields (e.g. historical_raw_power_eib, daily) and simulated series (with the scenario's parameters given \
             beside them, e.g. {\"series\": [\"network_QAP_EIB\"], \"rbp\": 8}); a name that is both (circ_supply) is \
             drawn as history followed by the forecast, with a marker at the current date. Series of one unit share \
             a panel. Returns the image, the chart spec {\"chart\": {series, start_date_key, title, description}} \
             for web front-ends, and the key figures of each line. series may be a name, {name, label, unit}, or a \
             list; raw numbers are still accepted.",
            provide_plot_input(),
        ),
        tool(
            compare::TOOL,
            "Compare scenarios",
            "Compares a baseline with up to 10 named scenarios in one call (each scenario lists only what it \
             changes, e.g. {\"scenarios\": {\"high onboarding\": {\"rbp\": 6}}}): each series' values and \
             differences (scenario - baseline) at the start, each year mark and the end, with dates and units, the \
             sampled series, optional summaries per scenario, and a line chart per series.",
            compare_input(),
        ),
        tool(
            ensemble::TOOL,
            "Forecast range (uncertainty)",
            "Runs an ensemble of simulations with drawn parameters (default: onboarding, renewal and FIL+ rates \
             around their recent values) and returns percentile bands per series at the key dates, the distribution \
             of each summary (e.g. when the lock ratio falls below 0.2), and a fan chart. No arguments runs the \
             default 1000-member ensemble of a 10-year forecast.",
            ensemble_input(),
        ),
        tool(
            sweep::TOOL,
            "Sweep a grid of knobs",
            "Evaluates summaries over a grid of 1 to 3 knobs (e.g. onboarding x renewal rate) in one call: a table \
             of every cell, the best and worst cell of each summary with its knob values, and a heatmap (a curve for \
             one knob). Default summary: the lock ratio at the end of the forecast.",
            sweep_input(),
        ),
        tool(
            solve::TOOL,
            "Solve for a knob (goal seek)",
            "Finds the knob value that makes a summary hit a target, e.g. \"what renewal rate keeps the 1-year ROI \
             at 10% on 2027-01-04?\" ({\"knob\": \"rr\", \"target\": 0.1, \"summary\": {\"series\": \"1y_sector_roi\", \
             \"stat\": \"value_at\", \"date\": \"2027-01-04\"}}). The answer is re-checked by a fresh simulation; with \
             no solution, the range the summary can reach is given. The chart shows the summary across the bracket, \
             the target and the answer.",
            solve_input(),
        ),
        tool(
            sensitivity::TOOL,
            "Sensitivity (what matters most)",
            "Ranks the knobs by how much each summary moves when the knob moves down and up (default 10%): a tornado \
             table per summary with the values, swings, derivatives and elasticities, and a tornado chart. No \
             arguments analyses the default forecast's lock ratio, supply, locked FIL, rewards and ROI.",
            sensitivity_input(),
        ),
    ]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::tools::params::param_schema;

    /// Standard formats every validator knows; anything else (`double`, `uint32`) makes some
    /// clients (ajv in its default mode) throw.
    const PORTABLE_FORMATS: [&str; 0] = [];

    /// Problems that make a schema unportable: non-standard formats, `null` in type arrays,
    /// `$ref`s.
    pub(crate) fn portability_problems(path: &str, schema: &Value, problems: &mut Vec<String>) {
        match schema {
            Value::Object(map) => {
                if let Some(format) = map.get("format").and_then(Value::as_str)
                    && !PORTABLE_FORMATS.contains(&format)
                {
                    problems.push(format!("{path}: format {format:?}"));
                }
                if let Some(Value::Array(types)) = map.get("type") {
                    problems.push(format!("{path}: type array {types:?}"));
                }
                if map.contains_key("$ref") {
                    problems.push(format!("{path}: $ref"));
                }
                for (key, value) in map {
                    portability_problems(&format!("{path}.{key}"), value, problems);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    portability_problems(&format!("{path}[{i}]"), item, problems);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_schema_is_valid_and_portable() {
        let tools = tool_definitions();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, TOOL_NAMES);
        for tool in &tools {
            for (kind, schema) in
                [("input", Some(&tool.input_schema)), ("output", tool.output_schema.as_ref())]
            {
                let schema = Value::Object(
                    (**schema.unwrap_or_else(|| panic!("{}: no {kind} schema", tool.name))).clone(),
                );
                assert_eq!(schema["type"], "object", "{} {kind}", tool.name);
                if let Err(err) = jsonschema::draft202012::meta::validate(&schema) {
                    panic!("{} {kind} schema is invalid: {err}", tool.name);
                }
                let mut problems = Vec::new();
                portability_problems(&format!("{}.{kind}", tool.name), &schema, &mut problems);
                assert!(problems.is_empty(), "{problems:#?}");
            }
            let annotations = tool.annotations.as_ref().unwrap();
            assert_eq!(
                (annotations.read_only_hint, annotations.destructive_hint),
                (Some(true), Some(false)),
                "{}",
                tool.name
            );
            assert!(tool.title.is_some(), "{}", tool.name);
            assert!(tool.description.as_ref().is_some_and(|d| d.len() > 150), "{}", tool.name);
        }
    }

    #[test]
    fn scenario_parameters_come_from_the_rules() {
        let tools = tool_definitions();
        let simulate = Value::Object((*tools[1].input_schema).clone());
        for param in Param::ALL {
            assert_eq!(simulate["properties"][param.name()], param_schema(param), "{param}");
        }
        let compare = Value::Object((*tools[4].input_schema).clone());
        assert_eq!(compare["properties"]["baseline"]["properties"]["rr"], param_schema(Param::Rr));
        assert_eq!(
            simulate["properties"]["requested_metrics"]["anyOf"][0]["items"]["enum"]
                .as_array()
                .unwrap()
                .len(),
            44
        );
    }

    #[test]
    fn schemas_accept_what_the_tools_accept() {
        let tools = tool_definitions();
        let schema_of = |name: &str| {
            let tool = tools.iter().find(|t| t.name == name).unwrap();
            jsonschema::validator_for(&Value::Object((*tool.input_schema).clone())).unwrap()
        };
        let simulate = schema_of("simulate");
        for valid in [
            json!({}),
            json!({"rbp": 3, "rr": [0.5, 0.6], "forecast_length_days": 2, "requested_metric": "circ_supply"}),
            json!({"requested_metrics": ["1y_sector_roi", "days"], "use_available_supply": true, "resolution": "weekly"}),
        ] {
            assert!(simulate.is_valid(&valid), "{valid}");
            assert!(super::super::simulate::parse(valid.as_object().cloned().unwrap()).is_ok(), "{valid}");
        }
        for invalid in [
            json!({"rbp": "x"}),
            json!({"rr": 2}),
            json!({"forecast_length_days": 0}),
            json!({"requested_metrics": ["nope"]}),
        ] {
            assert!(!simulate.is_valid(&invalid), "{invalid}");
        }
        let plot = schema_of("provide_plot");
        for valid in [
            json!({"series": "historical_raw_power_eib", "title": "t", "start_date_key": "data_start_date"}),
            json!({"series": [{"name": "circ_supply", "label": "Supply"}, "network_locked"], "rbp": 8}),
            json!({"series": [1, null, 3], "start_date": "2025-09-15"}),
        ] {
            assert!(plot.is_valid(&valid), "{valid}");
            assert!(super::super::plot_tool::parse(valid.as_object().cloned().unwrap()).is_ok(), "{valid}");
        }
        assert!(schema_of("get_historical_data").is_valid(&json!({"fields": ["circ_supply"]})));
        assert!(schema_of("compare_scenarios").is_valid(&json!({"scenarios": {"a": {"rbp": 6}}})));
        assert!(!schema_of("compare_scenarios").is_valid(&json!({})));
        assert!(schema_of("sweep").is_valid(&json!({"axes": {"rbp": [2, 4], "rr": [0.6, 0.8]}})));
        assert!(schema_of("solve_for").is_valid(
            &json!({"knob": "rr", "target": 0.1, "summary": {"series": "1y_sector_roi", "stat": "end"}})
        ));
        assert!(schema_of("forecast_range").is_valid(&json!({})));
        assert!(schema_of("sensitivity").is_valid(&json!({})));
    }

    #[test]
    fn historical_fields_are_checked_for_shape() {
        let parse = |args: Value| parse_historical(args.as_object().cloned().unwrap());
        assert_eq!(parse(json!({})).unwrap(), None);
        assert_eq!(parse(json!({"fields": "a,b"})).unwrap(), Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(
            parse(json!({"req": {"fields": ["raw_byte_power"]}})).unwrap(),
            Some(vec!["raw_byte_power".to_string()])
        );
        assert!(parse(json!({"fields": ["ok", "not ok"]})).unwrap_err().to_string().contains("\"not ok\""));
        assert!(parse(json!({"fields": []})).is_err());
        assert!(parse(json!({"fields": 3})).is_err());
    }
}
