//! `GET /openapi.json` (OpenAPI 3.1, built from the same constants the handlers use) and
//! `GET /docs`, a self-contained HTML page rendered from it (no external assets, so it works
//! offline and on locked-down networks).

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{Html, IntoResponse};
use mechafil_core::analysis::compare::{MAX_SCENARIOS, RESERVED_NAMES};
use mechafil_core::analysis::ensemble::{MAX_MEMBER_PATHS, MAX_MEMBERS, MAX_QUANTILES, MAX_WALK_VOL};
use mechafil_core::analysis::sensitivity::DEFAULT_MOVE_PCT;
use mechafil_core::analysis::summary::Stat;
use mechafil_core::analysis::sweep::{MAX_AXES, MAX_CELLS};
use mechafil_core::analysis::{
    AnalysisSeries, MAX_NAME_CHARS, MAX_OUTPUT_SERIES, MAX_SUMMARIES, MAX_WORK_DAYS,
};
use mechafil_core::{MAX_FORECAST_DAYS, Param, ParamDefault, ParamKind, SeriesName};
use serde_json::{Value, json};

use super::analyze::parse::MAX_SEED;
use super::body::{BODY_LIMIT, LARGE_BODY_LIMIT};
use super::request::MAX_BATCH_SCENARIOS;

/// One endpoint, for the index, the docs page and the OpenAPI document.
pub struct Endpoint {
    /// HTTP method.
    pub method: &'static str,
    /// Path.
    pub path: &'static str,
    /// One-line summary.
    pub summary: &'static str,
}

/// Every endpoint of the API.
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint { method: "GET", path: "/", summary: "This list of endpoints (the explorer page for browsers)" },
    Endpoint {
        method: "GET",
        path: "/explore",
        summary: "The scenario explorer: a page that redraws the forecast while a slider moves",
    },
    Endpoint {
        method: "GET",
        path: "/health",
        summary: "Status, version, served snapshot and its age, last data update",
    },
    Endpoint {
        method: "POST",
        path: "/simulate",
        summary: "Forecast, sampled weekly on Mondays of the forecast window",
    },
    Endpoint {
        method: "POST",
        path: "/simulate/full",
        summary: "Forecast, every day of the whole simulation, full precision",
    },
    Endpoint {
        method: "POST",
        path: "/simulate/batch",
        summary: "Up to 1000 forecasts in one request, run on all cores (weekly)",
    },
    Endpoint {
        method: "POST",
        path: "/analyze/ensemble",
        summary: "Monte Carlo ensemble: percentile bands and summary distributions",
    },
    Endpoint { method: "POST", path: "/analyze/sweep", summary: "Grid sweep over up to 4 knobs (heatmaps)" },
    Endpoint {
        method: "POST",
        path: "/analyze/solve",
        summary: "Goal seek: the knob value that makes a summary reach a target",
    },
    Endpoint {
        method: "POST",
        path: "/analyze/sensitivity",
        summary: "Derivatives, elasticities and a ranked tornado table",
    },
    Endpoint {
        method: "POST",
        path: "/analyze/compare",
        summary: "A baseline and named scenarios side by side, with differences",
    },
    Endpoint {
        method: "GET",
        path: "/historical-data",
        summary: "Network history, sampled weekly on Mondays",
    },
    Endpoint {
        method: "GET",
        path: "/historical-data/full",
        summary: "Network history, daily, plus the reference service's layout",
    },
    Endpoint {
        method: "POST",
        path: "/admin/update-cache",
        summary: "Fetch fresh data from Spacescope (Bearer ADMIN_TOKEN)",
    },
    Endpoint {
        method: "GET",
        path: "/metrics",
        summary: "Counters for operators, Prometheus text format (requests, latencies, queues, updates)",
    },
    Endpoint { method: "GET", path: "/openapi.json", summary: "This API as OpenAPI 3.1" },
    Endpoint { method: "GET", path: "/docs", summary: "Human-readable API documentation" },
];

/// The JSON schema of one simulation parameter, derived from its rule in
/// [`mechafil_core::rules`] (the only place ranges are written).
fn param_schema(param: Param) -> Value {
    let rule = param.rule();
    let description = match rule.unit {
        "" => rule.description.to_string(),
        unit => format!("{} Unit: {unit}.", rule.description),
    };
    let integer = rule.kind == ParamKind::Days;
    let mut number = json!({"type": if integer { "integer" } else { "number" }});
    if let Some(bounds) = rule.bounds {
        let bound = |x: f64| if integer { json!(x as u64) } else { json!(x) };
        if bounds.min_exclusive {
            number["exclusiveMinimum"] = bound(bounds.min);
        } else {
            number["minimum"] = bound(bounds.min);
        }
        number["maximum"] = bound(bounds.max);
    }
    match rule.kind {
        ParamKind::Knob => json!({
            "description": description,
            "oneOf": [number.clone(),
                      {"type": "array", "items": number, "minItems": 1, "maxItems": MAX_FORECAST_DAYS},
                      {"type": "null"}],
        }),
        ParamKind::Number | ParamKind::Days => {
            number["type"] = json!([number["type"].clone(), "null"]);
            number["description"] = json!(description);
            number
        }
        ParamKind::Bool => json!({"description": description, "type": ["boolean", "null"]}),
    }
}

fn simulate_properties() -> Value {
    Value::Object(Param::ALL.into_iter().map(|p| (p.name().to_string(), param_schema(p))).collect())
}

/// The rows of docs/API.md's parameter table, derived from the rules (a test keeps the
/// document equal to them).
pub fn parameter_table_rows() -> Vec<String> {
    let number = |x: f64| format!("{x}");
    Param::ALL
        .into_iter()
        .map(|param| {
            let rule = param.rule();
            let range = rule.bounds.map(|b| {
                let open = if b.min_exclusive { "(" } else { "[" };
                format!("{open}{}, {}]", number(b.min), number(b.max))
            });
            let values = match (rule.kind, range) {
                (ParamKind::Knob, Some(r)) => format!("number in {r} or list of F numbers"),
                (ParamKind::Number, Some(r)) => format!("number in {r}"),
                (ParamKind::Days, Some(r)) => format!("integer in {r}"),
                _ => "bool".to_string(),
            };
            let default = match rule.default {
                ParamDefault::Smoothed => "the snapshot's 30-day median".to_string(),
                ParamDefault::Value(v) => number(v),
                ParamDefault::Flag(b) => b.to_string(),
                ParamDefault::ForecastLength(n) => format!("length of a list parameter, else {n}"),
            };
            let unit = if rule.unit.is_empty() { String::new() } else { format!(", {}", rule.unit) };
            // The description without its "Default: ..." sentence, which has its own column.
            let meaning =
                rule.description.split(" Default").next().unwrap_or(rule.description).trim_end_matches('.');
            format!("| `{}` | {values} | {default} | {meaning}{unit} |", param.name())
        })
        .collect()
}

static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let mut document = document_without_pinning();
    add_pinning(&mut document);
    document
});

/// The endpoints whose answers come from a snapshot (pinnable, with `X-Snapshot-Id` and `ETag`).
const SNAPSHOT_PATHS: [(&str, &str); 10] = [
    ("/simulate", "post"),
    ("/simulate/full", "post"),
    ("/simulate/batch", "post"),
    ("/analyze/ensemble", "post"),
    ("/analyze/sweep", "post"),
    ("/analyze/solve", "post"),
    ("/analyze/sensitivity", "post"),
    ("/analyze/compare", "post"),
    ("/historical-data", "get"),
    ("/historical-data/full", "get"),
];

/// Adds what [`super::pinning`] does to every endpoint that answers from a snapshot: the
/// `snapshot` body field or query parameter, the headers naming the answer, 304 and 409.
fn add_pinning(document: &mut Value) {
    document["components"]["schemas"]["SnapshotPin"] = json!({
        "type": "string", "pattern": "^([0-9a-fA-F]{16}|[0-9]{4}-[0-9]{2}-[0-9]{2})$",
        "description": "The snapshot to answer from: a snapshot_id (as in answers, X-Snapshot-Id and /health) or a current_date (YYYY-MM-DD). 409 when this machine does not hold it.",
    });
    document["components"]["schemas"]["NotHeld"] = json!({
        "type": "object", "required": ["error", "details", "held"], "properties": {
            "error": {"type": "string"}, "details": {"type": "array"},
            "held": {"type": "array", "items": {"type": "object", "properties": {
                "snapshot_id": {"type": "string"}, "current_date": {"type": "string", "format": "date"},
                "source": {"type": "string"}}}},
        },
    });
    let pin = json!({"$ref": "#/components/schemas/SnapshotPin"});
    for name in [
        "SimulateRequest",
        "EnsembleRequest",
        "SweepRequest",
        "SolveRequest",
        "SensitivityRequest",
        "CompareRequest",
    ] {
        document["components"]["schemas"][name]["properties"]["snapshot"] = pin.clone();
    }
    let headers = json!({
        "X-Snapshot-Id": {"description": "The snapshot_id of the snapshot the answer was computed on", "schema": {"type": "string"}},
        "ETag": {"description": "The snapshot_id and a digest of the request: If-None-Match with it answers 304", "schema": {"type": "string"}},
    });
    for (path, method) in SNAPSHOT_PATHS {
        let op = &mut document["paths"][path][method];
        if method == "get" {
            op["parameters"].as_array_mut().expect("a list").push(json!({
                "name": "snapshot", "in": "query", "required": false, "schema": pin.clone(),
            }));
        } else if let Some(properties) =
            op["requestBody"]["content"]["application/json"]["schema"].get_mut("properties")
        {
            properties["snapshot"] = pin.clone(); // the batch's inline schema
        }
        let responses = &mut op["responses"];
        responses["200"]["headers"] = headers.clone();
        responses["304"] = json!({"description": "Not modified: If-None-Match holds this answer's ETag", "headers": headers.clone()});
        responses["409"] = json!({"description": "This machine does not hold the pinned snapshot; held lists what it holds",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NotHeld"}}}});
    }
}

fn document_without_pinning() -> Value {
    let names: Vec<&str> = SeriesName::names().collect();
    let mut simulate_request = json!({
        "type": "object", "additionalProperties": false, "properties": simulate_properties(),
    });
    simulate_request["properties"]["output"] = json!({
        "description": "Series to return: one name or a list. Default: all 44.",
        "oneOf": [{"$ref": "#/components/schemas/SeriesName"},
                  {"type": "array", "items": {"$ref": "#/components/schemas/SeriesName"}, "minItems": 1},
                  {"type": "null"}],
    });
    let scenario =
        json!({"type": "object", "additionalProperties": false, "properties": simulate_properties()});
    let error = json!({"$ref": "#/components/schemas/Error"});
    let errors = |codes: &[(&str, &str)]| -> Value {
        let mut map = serde_json::Map::new();
        for (code, description) in codes {
            map.insert(
                code.to_string(),
                json!({"description": description, "content": {"application/json": {"schema": error}}}),
            );
        }
        Value::Object(map)
    };
    let with = |mut base: Value, extra: Value| {
        for (k, v) in extra.as_object().expect("object") {
            base[k] = v.clone();
        }
        base
    };
    let simulate_op = |summary: &str, description: &str| {
        json!({
            "summary": summary, "description": description,
            "requestBody": {"required": false, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SimulateRequest"}}}},
            "responses": with(json!({"200": {"description": "The forecast", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SimulateResponse"}}}}}),
                errors(&[("408", "Body not received in time"), ("413", "Body over the size or value limit"), ("422", "Invalid input"), ("429", "Busy: retry after Retry-After"), ("503", "No snapshot can be served")])),
        })
    };
    let historical_op = |summary: &str| {
        json!({
            "summary": summary,
            "parameters": [{"name": "fields", "in": "query", "required": false, "schema": {"type": "string"},
                            "description": "Comma-separated field names (default: all)"}],
            "responses": with(json!({"200": {"description": "History with field_meta", "content": {"application/json": {"schema": {"type": "object"}}}}}),
                errors(&[("422", "Unknown field"), ("503", "No snapshot can be served")])),
        })
    };
    json!({
        "openapi": "3.1.0",
        "info": {"title": "MechaFil API", "version": super::VERSION,
                 "description": format!("Filecoin economics forecasts (the MechaFil model) and network history. Bodies up to {BODY_LIMIT} bytes ({LARGE_BODY_LIMIT} for /simulate/batch and /analyze/*); duplicate keys are refused. See docs/API.md.")},
        "paths": {
            "/health": {"get": {"summary": "Service status", "responses": {"200": {"description": "Serving"}, "503": {"description": "No snapshot"}}}},
            "/simulate": {"post": simulate_op("Forecast, weekly", "Mondays of current_date ..= current_date + F - 1; series_dates gives each series' dates.")},
            "/simulate/full": {"post": simulate_op("Forecast, daily", "Every day from each series' first date (start_date, or current_date for the schedules).")},
            "/simulate/batch": {"post": {
                "summary": format!("Up to {MAX_BATCH_SCENARIOS} weekly forecasts"),
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false, "required": ["scenarios", "output"],
                    "properties": {"scenarios": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_SCENARIOS, "items": scenario},
                                   "output": simulate_request["properties"]["output"].clone()}}}}},
                "responses": with(json!({"200": {"description": "{\"results\": [...]} in request order"}}),
                    errors(&[("408", "Body not received in time"), ("413", "Body over the size or value limit"), ("422", "Invalid input"), ("429", "Busy: retry after Retry-After"), ("503", "No snapshot can be served")])),
            }},
            "/analyze/ensemble": {"post": analyze_op("Ensemble: percentile bands", "EnsembleRequest",
                "N members, each the base with the varied knobs drawn from its own seeded stream; exact quantiles (numpy's linear method) per date, and the distribution of each summary.")},
            "/analyze/sweep": {"post": analyze_op("Sweep: a grid of summaries", "SweepRequest",
                "The Cartesian product of up to 4 knobs' value lists; results[label] are nested lists, first axis outermost.")},
            "/analyze/solve": {"post": analyze_op("Goal seek", "SolveRequest",
                "The knob value within the bracket that makes the summary equal the target (scan + Brent, at most 40 simulations); solved: false with the reachable range otherwise.")},
            "/analyze/sensitivity": {"post": analyze_op("Sensitivities and tornado table", "SensitivityRequest",
                "Central-difference derivatives, elasticities, one-sided quotients with a kink flag, and the summary at +-move_pct of each knob, ranked.")},
            "/analyze/compare": {"post": analyze_op("Scenario comparison", "CompareRequest",
                "The baseline and each named scenario (the baseline with its own fields) on shared dates, with diff and rel_diff.")},
            "/historical-data": {"get": historical_op("Network history, weekly")},
            "/metrics": {"get": {"summary": "Counters for operators in the Prometheus text format (version 0.0.4)",
                "responses": {"200": {"description": "text/plain; version=0.0.4", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/historical-data/full": {"get": historical_op("Network history, daily")},
            "/admin/update-cache": {"post": {
                "summary": "Fetch fresh data from Spacescope", "security": [{"bearer": []}],
                "responses": with(json!({"200": {"description": "Updated; the new snapshot's dates"}}),
                    errors(&[("401", "Missing or wrong token"), ("403", "ADMIN_TOKEN not configured"),
                             ("409", "An update is already running"), ("502", "Spacescope failed or the update deadline passed; the old snapshot is still served")])),
            }},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "SeriesName": {"type": "string", "enum": names},
                "AnalysisSeries": {"type": "string", "enum": AnalysisSeries::names().collect::<Vec<_>>(),
                    "description": "One of the 44 series, or lock_ratio (network_locked / circ_supply)"},
                "Scenario": scenario.clone(),
                "Summary": summary_schema(),
                "Output": {"oneOf": [{"$ref": "#/components/schemas/AnalysisSeries"},
                                     {"type": "array", "items": {"$ref": "#/components/schemas/AnalysisSeries"}, "minItems": 1, "maxItems": MAX_OUTPUT_SERIES}]},
                "Resolution": {"type": "string", "enum": ["weekly", "daily"], "default": "weekly"},
                "Summaries": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Summary"}, "maxProperties": MAX_SUMMARIES},
                "EnsembleRequest": ensemble_schema(),
                "SweepRequest": sweep_schema(),
                "SolveRequest": solve_schema(),
                "SensitivityRequest": sensitivity_schema(),
                "CompareRequest": compare_schema(),
                "SimulateRequest": simulate_request,
                "SimulateResponse": {"type": "object", "required": ["input", "simulation_output"], "properties": {
                    "input": {"type": "object", "description": "Values used, sim_start_date, sim_end_date, timestep_days, n_entries, series_dates",
                        "properties": {
                            "sim_start_date": {"type": ["string", "null"], "format": "date"},
                            "sim_end_date": {"type": ["string", "null"], "format": "date"},
                            "timestep_days": {"type": "integer"},
                            "n_entries": {"type": "integer"},
                            "series_dates": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/SeriesDates"}},
                        }},
                    "simulation_output": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": ["number", "null"]}}},
                }},
                "SeriesDates": {"type": "object", "description": "Dates of one series; null dates when it has no entries",
                    "properties": {
                        "start_date": {"type": ["string", "null"], "format": "date"},
                        "end_date": {"type": ["string", "null"], "format": "date"},
                        "n_entries": {"type": "integer"}, "timestep_days": {"type": "integer"},
                    }},
                "Error": {"type": "object", "required": ["error", "details"], "properties": {
                    "error": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
                }},
            },
        },
    })
}

fn analyze_op(summary: &str, request: &str, description: &str) -> Value {
    let error = json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let with = |description: &str| {
        let mut e = error.clone();
        e["description"] = json!(description);
        e
    };
    json!({
        "summary": summary, "description": description,
        "requestBody": {"required": false, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{request}")}}}},
        "responses": {
            "200": {"description": "The analysis, with version, snapshot, current_date, explanation and input", "content": {"application/json": {"schema": {"type": "object"}}}},
            "413": with("Body over the size limit"),
            "422": with("Invalid input or a limit exceeded; details name each field"),
            "429": with("Too much work queued; retry after Retry-After seconds"),
            "503": with("No snapshot can be served, or the analysis hit its time limit"),
        },
    })
}

fn scenario_ref() -> Value {
    json!({"$ref": "#/components/schemas/Scenario"})
}

fn summary_schema() -> Value {
    json!({
        "type": "object", "additionalProperties": false, "required": ["series", "stat"],
        "description": "One number (or date) from one run, on daily values; from/to default to the forecast window",
        "properties": {
            "series": {"$ref": "#/components/schemas/AnalysisSeries"},
            "over": {"$ref": "#/components/schemas/SeriesName"},
            "stat": {"type": "string", "enum": Stat::ALL.iter().map(|s| s.name()).collect::<Vec<_>>()},
            "date": {"type": "string", "format": "date"},
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "threshold": {"type": "number"},
        },
    })
}

fn knob_names() -> Vec<&'static str> {
    Param::SCALAR_KNOBS.iter().map(|p| p.name()).collect()
}

fn ensemble_schema() -> Value {
    let number = json!({"type": "number"});
    json!({
        "type": "object", "additionalProperties": false,
        "properties": {
            "base": scenario_ref(),
            "members": {"type": "integer", "minimum": 1, "maximum": MAX_MEMBERS, "default": 1000},
            "seed": {"type": "integer", "minimum": 0, "maximum": MAX_SEED, "default": 0},
            "vary": {"type": "object", "propertyNames": {"enum": knob_names()}, "additionalProperties": {"oneOf": [
                {"type": "object", "additionalProperties": false, "required": ["dist", "lo", "hi"],
                 "properties": {"dist": {"const": "uniform"}, "lo": number, "hi": number}},
                {"type": "object", "additionalProperties": false, "required": ["dist", "sd"],
                 "properties": {"dist": {"enum": ["normal", "lognormal"]}, "mean": number, "sd": {"type": "number", "minimum": 0}}},
                {"type": "object", "additionalProperties": false, "required": ["dist", "vol"],
                 "properties": {"dist": {"const": "walk"}, "start": number, "vol": {"type": "number", "minimum": 0, "maximum": MAX_WALK_VOL}}},
            ]}},
            "output": {"$ref": "#/components/schemas/Output"},
            "quantiles": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 100}, "minItems": 1, "maxItems": MAX_QUANTILES},
            "resolution": {"$ref": "#/components/schemas/Resolution"},
            "summaries": {"$ref": "#/components/schemas/Summaries"},
            "return_member_params": {"type": "boolean", "default": false},
            "member_paths": {"type": "integer", "minimum": 0, "maximum": MAX_MEMBER_PATHS, "default": 0},
        },
    })
}

fn sweep_schema() -> Value {
    let values = json!({"type": "array", "items": {"type": "number"}, "minItems": 1});
    json!({
        "type": "object", "additionalProperties": false, "required": ["axes"],
        "properties": {
            "base": scenario_ref(),
            "axes": {"oneOf": [
                {"type": "object", "propertyNames": {"enum": knob_names()}, "additionalProperties": values, "minProperties": 1, "maxProperties": MAX_AXES},
                {"type": "array", "minItems": 1, "maxItems": MAX_AXES, "items": {"type": "object", "additionalProperties": false,
                    "required": ["knob", "values"], "properties": {"knob": {"enum": knob_names()}, "values": values}}},
            ], "description": format!("At most {MAX_CELLS} cells and cells x forecast days <= {MAX_WORK_DAYS}")},
            "summaries": {"$ref": "#/components/schemas/Summaries"},
        },
    })
}

fn solve_schema() -> Value {
    json!({
        "type": "object", "additionalProperties": false, "required": ["knob", "summary", "target"],
        "properties": {
            "base": scenario_ref(),
            "knob": {"enum": knob_names()},
            "summary": {"$ref": "#/components/schemas/Summary"},
            "target": {"type": "number"},
            "bracket": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            "tolerance": {"type": "number", "exclusiveMinimum": 0},
        },
    })
}

fn sensitivity_schema() -> Value {
    json!({
        "type": "object", "additionalProperties": false,
        "properties": {
            "base": scenario_ref(),
            "summaries": {"$ref": "#/components/schemas/Summaries"},
            "knobs": {"type": "array", "items": {"enum": knob_names()}, "minItems": 1},
            "move_pct": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100, "default": DEFAULT_MOVE_PCT},
            "duration_step": {"type": "integer", "minimum": 1, "maximum": 365, "default": 1},
        },
    })
}

fn compare_schema() -> Value {
    json!({
        "type": "object", "additionalProperties": false, "required": ["scenarios"],
        "properties": {
            "baseline": scenario_ref(),
            "scenarios": {"type": "object", "minProperties": 1, "maxProperties": MAX_SCENARIOS,
                "propertyNames": {"not": {"enum": RESERVED_NAMES}, "minLength": 1, "maxLength": MAX_NAME_CHARS},
                "additionalProperties": scenario_ref()},
            "output": {"$ref": "#/components/schemas/Output"},
            "resolution": {"$ref": "#/components/schemas/Resolution"},
            "summaries": {"$ref": "#/components/schemas/Summaries"},
        },
    })
}

/// `GET /openapi.json`.
pub async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], serde_json::to_vec(&*DOCUMENT).expect("plain data"))
}

/// `GET /docs`.
pub async fn docs_page() -> Html<String> {
    let mut rows = String::new();
    for e in ENDPOINTS {
        rows += &format!(
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>\n",
            e.method,
            e.path,
            escape(e.summary)
        );
    }
    let mut params = String::new();
    for (name, schema) in simulate_properties().as_object().expect("object") {
        let description = schema["description"].as_str().unwrap_or_default();
        params += &format!("<tr><td><code>{name}</code></td><td>{}</td></tr>\n", escape(description));
    }
    let series: Vec<String> = SeriesName::names().map(|n| format!("<code>{n}</code>")).collect();
    Html(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>MechaFil API</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}
table{{border-collapse:collapse}}td{{border-top:1px solid #ddd;padding:.3rem .6rem;vertical-align:top}}code{{background:#f4f4f4}}</style></head>
<body><h1>MechaFil API <small>v{version}</small></h1>
<p>Filecoin economics forecasts (the MechaFil model) and network history. Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
<h2>Endpoints</h2><table>{rows}</table>
<h2>Simulation parameters</h2><p>All optional; a list parameter gives one value per forecast day. Unknown fields are rejected (422).</p><table>{params}</table>
<h2>Output series</h2><p>{series}</p>
<h2>Example</h2><pre>curl -s -X POST localhost:8000/simulate -H 'content-type: application/json' \
  -d '{{"forecast_length_days": 365, "output": ["circ_supply", "1y_sector_roi"]}}'</pre>
<p>Weekly answers sample the Mondays of the forecast window (<code>input.sim_start_date</code>, <code>input.timestep_days</code>);
<code>input.series_dates</code> gives each series' own dates. Errors are <code>{{"error", "details": [{{"field", "message"}}]}}</code>.</p>
</body></html>"#,
        version = super::VERSION,
        series = series.join(", "),
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_schema_has_the_rule_s_bounds() {
        let properties = simulate_properties();
        for param in Param::ALL {
            let schema = &properties[param.name()];
            let rule = param.rule();
            let number = match rule.kind {
                ParamKind::Knob => &schema["oneOf"][0],
                _ => schema,
            };
            match rule.bounds {
                Some(b) => {
                    let min_key = if b.min_exclusive { "exclusiveMinimum" } else { "minimum" };
                    assert_eq!(number[min_key].as_f64(), Some(b.min), "{param}");
                    assert_eq!(number["maximum"].as_f64(), Some(b.max), "{param}");
                }
                None => assert_eq!(number["type"], json!(["boolean", "null"]), "{param}"),
            }
            assert!(schema["description"].as_str().unwrap().starts_with(rule.description), "{param}");
        }
        assert_eq!(properties.as_object().unwrap().len(), Param::ALL.len());
    }
}
