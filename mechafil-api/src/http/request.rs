//! Parsing of request bodies into validated parameters, with one error entry per bad field.
//!
//! Bodies are read as `serde_json::Value` first (by the bounded parser of [`super::json`]) and
//! converted field by field (rather than
//! deserialised straight into a struct) so that every problem — wrong type, unknown field,
//! bad output name — is reported with its field name in the `details` list, all at once.

use mechafil_core::{Knob, SeriesName, SimParams, Simulator, ValidParams};
use serde_json::{Map, Value};

use super::error::{ApiError, FieldError};

/// The fields a simulate request may have, in documentation order.
pub const SIMULATE_FIELDS: [&str; 11] = [
    "rbp",
    "rr",
    "fpr",
    "lock_target",
    "forecast_length_days",
    "sector_duration_days",
    "fil_plus_m",
    "qa_renew_relative_multiplier",
    "burn_boost",
    "use_available_supply",
    "output",
];

/// Most scenarios one `/simulate/batch` request may run.
pub const MAX_BATCH_SCENARIOS: usize = 1000;

/// A parsed, validated simulate request.
#[derive(Debug, Clone)]
pub struct SimulateRequest {
    /// Validated against the served snapshot.
    pub params: ValidParams,
    /// Which parameters the caller gave (the rest are defaults), for the explanation.
    pub given: Vec<&'static str>,
    /// The requested series, in request order without duplicates.
    pub output: Vec<SeriesName>,
}

/// A parsed `/simulate/batch` request: per scenario either parameters or its errors.
#[derive(Debug)]
pub struct BatchRequest {
    /// One entry per scenario, in request order.
    pub scenarios: Vec<Result<SimulateRequest, ApiError>>,
    /// The requested series (shared by all scenarios).
    pub output: Vec<SeriesName>,
}

/// Parses a JSON body with the limits of an ordinary body (`body::MAX_VALUES`): malformed
/// JSON, duplicate keys and non-objects are 422s that say so; too many values a 413.
pub fn parse_json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    super::json::parse_object(body, super::body::BodyClass::Ordinary.parse_limits())
        .map_err(super::body::api_error)
}

/// Parses and validates a simulate request against `sim`'s snapshot.
pub fn parse_simulate(body: &Map<String, Value>, sim: &Simulator) -> Result<SimulateRequest, ApiError> {
    parse_scenario(body, sim, "", true)
}

/// Parses a `/simulate/batch` body: `{"scenarios": [...], "output": ...}`.
pub fn parse_batch(body: &Map<String, Value>, sim: &Simulator) -> Result<BatchRequest, ApiError> {
    let mut errors = Vec::new();
    for key in body.keys() {
        if key != "scenarios" && key != "output" {
            errors.push(FieldError::new(key, "unknown field; valid fields: scenarios, output"));
        }
    }
    let output = match body.get("output") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("output", "required for a batch: a series name or a list of names"));
            Vec::new()
        }
        Some(v) => parse_output(v, "output", &mut errors),
    };
    let scenarios = match body.get("scenarios") {
        Some(Value::Array(items)) if items.is_empty() => {
            errors.push(FieldError::new("scenarios", "must hold at least one scenario"));
            &[][..]
        }
        Some(Value::Array(items)) if items.len() > MAX_BATCH_SCENARIOS => {
            errors.push(FieldError::new(
                "scenarios",
                format!("{} scenarios; at most {MAX_BATCH_SCENARIOS} per request", items.len()),
            ));
            &[][..]
        }
        Some(Value::Array(items)) => items.as_slice(),
        Some(other) => {
            errors.push(FieldError::new(
                "scenarios",
                format!("expected a list of objects, got {}", type_name(other)),
            ));
            &[][..]
        }
        None => {
            errors
                .push(FieldError::new("scenarios", "required: a list of simulate requests (without output)"));
            &[][..]
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }
    let scenarios = scenarios
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let prefix = format!("scenarios[{i}].");
            match item {
                Value::Object(map) => parse_scenario(map, sim, &prefix, false).map(|mut request| {
                    request.output.clone_from(&output);
                    request
                }),
                other => Err(ApiError::field(
                    format!("scenarios[{i}]"),
                    format!("expected an object, got {}", type_name(other)),
                )),
            }
        })
        .collect();
    Ok(BatchRequest { scenarios, output })
}

fn parse_scenario(
    body: &Map<String, Value>,
    sim: &Simulator,
    prefix: &str,
    allow_output: bool,
) -> Result<SimulateRequest, ApiError> {
    let mut errors = Vec::new();
    let mut output = SeriesName::ALL.to_vec();
    if let Some(value) = body.get("output") {
        let field = format!("{prefix}output");
        if !allow_output {
            errors.push(FieldError::new(field, "give output once for the whole batch, not per scenario"));
        } else if !value.is_null() {
            output = parse_output(value, &field, &mut errors);
        }
    }
    // "output" is read above (for a batch scenario its error says where output belongs); it is
    // listed among the valid fields only where it is one.
    let listed: &[&str] = if allow_output { &["output"] } else { &[] };
    let (params, given) = scenario_params(body, prefix, &["output"], listed, &mut errors);
    // Range checks run even when other fields failed to parse, so one answer lists every
    // problem (a field that failed to parse is left at its default and not checked twice).
    match sim.validate(&params) {
        Ok(params) if errors.is_empty() => Ok(SimulateRequest { params, given, output }),
        Ok(_) => Err(ApiError::fields(errors)),
        Err(invalid) => {
            errors.extend(
                invalid
                    .errors
                    .into_iter()
                    .map(|e| FieldError::new(format!("{prefix}{}", e.param), e.problem.to_string())),
            );
            Err(ApiError::fields(errors))
        }
    }
}

/// The simulation parameters of a scenario object (`/simulate`'s fields but `output`),
/// unvalidated, and which were given. Keys in `skip` are left to the caller; any other unknown
/// key is an error listing the scenario fields and `listed`, as is a value of the wrong type
/// (named `prefix` + key).
pub fn scenario_params(
    body: &Map<String, Value>,
    prefix: &str,
    skip: &[&str],
    listed: &[&str],
    errors: &mut Vec<FieldError>,
) -> (SimParams, Vec<&'static str>) {
    let mut params = SimParams::default();
    let mut given = Vec::new();
    for (key, value) in body {
        let field = format!("{prefix}{key}");
        if skip.contains(&key.as_str()) {
            continue;
        }
        let Some(&name) = SIMULATE_FIELDS.iter().find(|f| **f == key && **f != "output") else {
            let valid: Vec<&str> = SIMULATE_FIELDS
                .iter()
                .copied()
                .filter(|f| *f != "output")
                .chain(listed.iter().copied())
                .collect();
            errors.push(FieldError::new(field, format!("unknown field; valid fields: {}", valid.join(", "))));
            continue;
        };
        if value.is_null() {
            continue; // null means the default, as in the reference
        }
        let before = errors.len();
        match name {
            "rbp" => params.rbp = knob(value, &field, errors),
            "rr" => params.rr = knob(value, &field, errors),
            "fpr" => params.fpr = knob(value, &field, errors),
            "lock_target" => params.lock_target = knob(value, &field, errors),
            "fil_plus_m" => params.fil_plus_m = knob(value, &field, errors),
            "qa_renew_relative_multiplier" => {
                params.qa_renew_relative_multiplier = knob(value, &field, errors)
            }
            "forecast_length_days" => params.forecast_length_days = day_count(value, &field, errors),
            "sector_duration_days" => params.sector_duration_days = day_count(value, &field, errors),
            "burn_boost" => params.burn_boost = number(value, &field, errors),
            "use_available_supply" => match value {
                Value::Bool(b) => params.use_available_supply = Some(*b),
                other => errors.push(FieldError::new(
                    field,
                    format!("expected true or false, got {}", type_name(other)),
                )),
            },
            _ => unreachable!("every field in SIMULATE_FIELDS is handled"),
        }
        if errors.len() == before {
            given.push(name);
        }
    }
    (params, given)
}

/// `output`: a series name or a list of names; unknown names list the valid ones.
fn parse_output(value: &Value, field: &str, errors: &mut Vec<FieldError>) -> Vec<SeriesName> {
    let names: Vec<&Value> = match value {
        Value::String(_) => vec![value],
        Value::Array(items) if !items.is_empty() => items.iter().collect(),
        Value::Array(_) => {
            errors.push(FieldError::new(field, "an empty list; give at least one series name"));
            return Vec::new();
        }
        other => {
            errors.push(FieldError::new(
                field,
                format!("expected a series name or a list of names, got {}", type_name(other)),
            ));
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(names.len());
    let mut unknown = Vec::new();
    for item in names {
        match item.as_str().map(SeriesName::from_name) {
            Some(Some(name)) if !out.contains(&name) => out.push(name),
            Some(Some(_)) => {}
            Some(None) => unknown.push(item.as_str().unwrap_or_default().to_string()),
            None => unknown.push(item.to_string()),
        }
    }
    if !unknown.is_empty() {
        errors.push(FieldError::new(
            field,
            format!(
                "unknown series {}; valid names: {}",
                unknown.iter().map(|u| format!("{u:?}")).collect::<Vec<_>>().join(", "),
                SeriesName::names().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    out
}

/// A knob: a number or a non-empty list of numbers (one per forecast day).
pub fn knob(value: &Value, field: &str, errors: &mut Vec<FieldError>) -> Option<Knob> {
    match value {
        Value::Number(n) => n.as_f64().map(Knob::Scalar),
        Value::Array(items) => {
            let mut values = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_f64() {
                    Some(v) => values.push(v),
                    None => {
                        errors.push(FieldError::new(
                            field,
                            format!("value [{i}] is {}; a list must hold only numbers", type_name(item)),
                        ));
                        return None;
                    }
                }
            }
            if values.is_empty() {
                errors.push(FieldError::new(
                    field,
                    "an empty list; give a number or one number per forecast day",
                ));
                return None;
            }
            Some(Knob::Series(values))
        }
        other => {
            errors.push(FieldError::new(
                field,
                format!(
                    "expected a number or a list of numbers (one per forecast day), got {}",
                    type_name(other)
                ),
            ));
            None
        }
    }
}

/// A number.
pub fn number(value: &Value, field: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
    let v = value.as_f64();
    if v.is_none() {
        errors.push(FieldError::new(field, format!("expected a number, got {}", type_name(value))));
    }
    v
}

/// A whole, non-negative number of days (`365` or `365.0`); range checks are the core's.
pub fn day_count(value: &Value, field: &str, errors: &mut Vec<FieldError>) -> Option<usize> {
    let count = match value {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|v| v.fract() == 0.0 && *v >= 0.0 && *v < 1e15).map(|v| v as u64)),
        _ => None,
    };
    match count.and_then(|c| usize::try_from(c).ok()) {
        Some(c) => Some(c),
        None => {
            errors.push(FieldError::new(
                field,
                format!("expected a whole number of days, got {}", describe(value)),
            ));
            None
        }
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        other => type_name(other).to_string(),
    }
}

/// The JSON type of `value`, for messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
