//! Scenario parameters (the API's `/simulate` fields but `output`), read, checked and described
//! from one table: `mechafil_core::rules`.
//!
//! Every name, unit, range, default and description here comes from [`Param::rule`], so the
//! tool schemas, the argument checks and the API's own validation cannot drift apart: a rule
//! changed in the core changes all three. The one check that is not a per-parameter bound, the
//! QA renewal rate `rr x qa_renew_relative_multiplier <= 1`, is applied when both are given (the
//! API applies it to defaults too, and its message comes back as a tool error).
//!
//! The same reader serves `simulate`, `provide_plot` (parameters beside the series) and every
//! scenario of the analysis tools (`base`, `baseline`, `scenarios.<name>`), with paths in the
//! messages (`base.rr: ...`).

use mechafil_core::{Bounds, MAX_FORECAST_DAYS, Param, ParamDefault, ParamKind};
use rmcp::model::JsonObject;
use serde_json::{Value, json};

use super::args::{Fields, Problems, boolean, describe, number, whole_number};

/// A number for the whole forecast, or one number per forecast day.
#[derive(Debug, Clone, PartialEq)]
pub enum KnobArg {
    /// The same value every day.
    Scalar(f64),
    /// One value per forecast day.
    Series(Vec<f64>),
}

impl KnobArg {
    fn values(&self) -> &[f64] {
        match self {
            KnobArg::Scalar(v) => std::slice::from_ref(v),
            KnobArg::Series(values) => values,
        }
    }

    /// The value on forecast day `day` (a series' last value past its end).
    pub fn at(&self, day: usize) -> f64 {
        match self {
            KnobArg::Scalar(v) => *v,
            KnobArg::Series(values) => values[day.min(values.len() - 1)],
        }
    }

    fn to_json(&self) -> Value {
        match self {
            KnobArg::Scalar(v) => json!(v),
            KnobArg::Series(values) => json!(values),
        }
    }
}

/// The value of one parameter, of the kind its rule says.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A number or a per-day list ([`ParamKind::Knob`]).
    Knob(KnobArg),
    /// A single number ([`ParamKind::Number`]).
    Number(f64),
    /// A whole number of days ([`ParamKind::Days`]).
    Days(u32),
    /// A flag ([`ParamKind::Bool`]).
    Bool(bool),
}

impl ParamValue {
    fn to_json(&self) -> Value {
        match self {
            ParamValue::Knob(knob) => knob.to_json(),
            ParamValue::Number(x) => json!(x),
            ParamValue::Days(days) => json!(days),
            ParamValue::Bool(flag) => json!(flag),
        }
    }
}

/// The parameters a caller gave for one scenario, in [`Param::ALL`] order. Absent ones take the
/// API's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scenario {
    values: Vec<(Param, ParamValue)>,
}

/// The names of every scenario parameter, for "valid arguments" lists.
pub fn param_names() -> Vec<&'static str> {
    Param::ALL.iter().map(|p| p.name()).collect()
}

/// A value that is allowed by `bounds`, or the problem in words with `unit`.
fn in_bounds(value: f64, bounds: Bounds, unit: &str) -> Result<(), String> {
    if bounds.contains(value) {
        Ok(())
    } else {
        let unit = if unit.is_empty() { String::new() } else { format!(" ({unit})") };
        Err(format!("{value} is out of range; allowed: {}{unit}", bounds.describe()))
    }
}

fn read_param(param: Param, value: &Value) -> Result<ParamValue, String> {
    let rule = param.rule();
    let bounds = rule.bounds;
    let check = |x: f64| bounds.map_or(Ok(()), |b| in_bounds(x, b, rule.unit));
    match rule.kind {
        ParamKind::Knob => {
            let knob = match value {
                Value::Array(items) => {
                    if items.is_empty() {
                        return Err("a list must have one value per forecast day, got an empty list".into());
                    }
                    if items.len() > MAX_FORECAST_DAYS {
                        return Err(format!(
                            "a list has one value per forecast day, at most {MAX_FORECAST_DAYS}; got {} values",
                            items.len()
                        ));
                    }
                    let mut values = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let x = number(item).map_err(|_| {
                            format!(
                                "expected a number or a list of numbers, but item [{i}] is {}",
                                describe(item)
                            )
                        })?;
                        check(x).map_err(|problem| format!("item [{i}]: {problem}"))?;
                        values.push(x);
                    }
                    KnobArg::Series(values)
                }
                other => {
                    let x = number(other).map_err(|_| {
                        format!("expected a number or a list of numbers, got {}", describe(other))
                    })?;
                    check(x)?;
                    KnobArg::Scalar(x)
                }
            };
            Ok(ParamValue::Knob(knob))
        }
        ParamKind::Number => {
            let x = number(value)?;
            check(x)?;
            Ok(ParamValue::Number(x))
        }
        ParamKind::Days => {
            let days = whole_number(value).map_err(|_| match number(value) {
                Ok(x) => format!("expected a whole number of days, got {x}"),
                Err(_) => format!("expected a whole number of days, got {}", describe(value)),
            })?;
            // The unit is in the words already: "1 <= days <= 7300".
            if let Some(bounds) = bounds {
                in_bounds(f64::from(days), bounds, "").map_err(|problem| problem.replace(" x ", " days "))?;
            }
            Ok(ParamValue::Days(days))
        }
        ParamKind::Bool => boolean(value).map(ParamValue::Bool),
    }
}

impl Scenario {
    /// Reads every scenario parameter present in `fields` (leaving other keys there), checking
    /// each against its rule, list lengths against each other and the forecast length, and the
    /// QA renewal rate when both of its factors are given.
    pub fn read(fields: &mut Fields, problems: &mut Problems) -> Scenario {
        let mut values = Vec::new();
        for param in Param::ALL {
            if let Some(value) = fields.read(param.name(), problems, |v| read_param(param, v)) {
                values.push((param, value));
            }
        }
        let scenario = Scenario { values };
        scenario.check_lengths(fields, problems);
        scenario.check_qa_renewal_rate(fields, problems);
        scenario
    }

    fn check_lengths(&self, fields: &Fields, problems: &mut Problems) {
        let lists: Vec<(Param, usize)> = self
            .values
            .iter()
            .filter_map(|(param, value)| match value {
                ParamValue::Knob(KnobArg::Series(values)) => Some((*param, values.len())),
                _ => None,
            })
            .collect();
        match (self.days(Param::ForecastLengthDays), lists.first()) {
            (Some(days), _) => {
                for (param, len) in &lists {
                    if *len != days as usize {
                        problems.at(
                            &fields.path(param.name()),
                            format!(
                                "the list has {len} values but forecast_length_days is {days}: a list needs one value per forecast day"
                            ),
                        );
                    }
                }
            }
            (None, Some((first, first_len))) => {
                for (param, len) in &lists[1..] {
                    if len != first_len {
                        problems.at(
                            &fields.path(param.name()),
                            format!(
                                "the list has {len} values but {first} has {first_len}: lists must all have one value per forecast day"
                            ),
                        );
                    }
                }
            }
            (None, None) => {}
        }
    }

    fn check_qa_renewal_rate(&self, fields: &Fields, problems: &mut Problems) {
        let (Some(rr), Some(multiplier)) =
            (self.knob(Param::Rr), self.knob(Param::QaRenewRelativeMultiplier))
        else {
            return;
        };
        let days = rr.values().len().max(multiplier.values().len());
        if let Some((day, product)) =
            (0..days).map(|k| (k, rr.at(k) * multiplier.at(k))).find(|(_, q)| *q > 1.0)
        {
            let on = if days > 1 { format!("on forecast day {day}, ") } else { String::new() };
            problems.at(
                &fields.path(Param::QaRenewRelativeMultiplier.name()),
                format!(
                    "{on}rr {} times qa_renew_relative_multiplier {} is {product}, a QA renewal rate above 1; keep the product <= 1",
                    rr.at(day),
                    multiplier.at(day)
                ),
            );
        }
    }

    /// The value given for `param`.
    pub fn get(&self, param: Param) -> Option<&ParamValue> {
        self.values.iter().find(|(p, _)| *p == param).map(|(_, v)| v)
    }

    /// Whether the caller gave `param`.
    pub fn has(&self, param: Param) -> bool {
        self.get(param).is_some()
    }

    /// The parameters given, in [`Param::ALL`] order.
    pub fn given(&self) -> impl Iterator<Item = Param> + '_ {
        self.values.iter().map(|(p, _)| *p)
    }

    fn knob(&self, param: Param) -> Option<&KnobArg> {
        match self.get(param) {
            Some(ParamValue::Knob(knob)) => Some(knob),
            _ => None,
        }
    }

    fn days(&self, param: Param) -> Option<u32> {
        match self.get(param) {
            Some(ParamValue::Days(days)) => Some(*days),
            _ => None,
        }
    }

    /// The forecast length the API will use: `forecast_length_days`, else a list's length, else
    /// the default.
    pub fn forecast_len(&self) -> usize {
        if let Some(days) = self.days(Param::ForecastLengthDays) {
            return days as usize;
        }
        let list_len = self.values.iter().find_map(|(_, value)| match value {
            ParamValue::Knob(KnobArg::Series(values)) => Some(values.len()),
            _ => None,
        });
        list_len.unwrap_or(match Param::ForecastLengthDays.rule().default {
            ParamDefault::ForecastLength(days) => days,
            _ => unreachable!("forecast_length_days defaults to a length"),
        })
    }

    /// The same scenario run for `days` days: `forecast_length_days` set, and every per-day
    /// list continued with its last value (the scenario continuing unchanged).
    pub fn lengthened(&self, days: usize) -> Scenario {
        let mut values: Vec<(Param, ParamValue)> = self
            .values
            .iter()
            .filter(|(param, _)| *param != Param::ForecastLengthDays)
            .map(|(param, value)| {
                let value = match value {
                    ParamValue::Knob(KnobArg::Series(list)) => {
                        let mut list = list.clone();
                        let last = *list.last().expect("lists are never empty");
                        list.resize(days, last);
                        ParamValue::Knob(KnobArg::Series(list))
                    }
                    other => other.clone(),
                };
                (*param, value)
            })
            .collect();
        values.push((Param::ForecastLengthDays, ParamValue::Days(days as u32)));
        values.sort_by_key(|(param, _)| *param);
        Scenario { values }
    }

    /// The scenario as the API's request fields.
    pub fn to_body(&self) -> JsonObject {
        self.values.iter().map(|(param, value)| (param.name().to_string(), value.to_json())).collect()
    }
}

/// The JSON Schema of one number under `bounds` (`integer` for whole days).
fn bounded_number(bounds: Option<Bounds>, integer: bool) -> Value {
    let mut schema = json!({ "type": if integer { "integer" } else { "number" } });
    if let Some(bounds) = bounds {
        let key = if bounds.min_exclusive { "exclusiveMinimum" } else { "minimum" };
        schema[key] = json!(bounds.min);
        schema["maximum"] = json!(bounds.max);
        if integer {
            schema[key] = json!(bounds.min as i64);
            schema["maximum"] = json!(bounds.max as i64);
        }
    }
    schema
}

/// What a parameter's default is, in words.
fn default_words(default: ParamDefault) -> String {
    match default {
        ParamDefault::Smoothed => "the snapshot's recent value".into(),
        ParamDefault::Value(x) => format!("{x}"),
        ParamDefault::Flag(flag) => format!("{flag}"),
        ParamDefault::ForecastLength(days) => format!("the length of a list parameter, else {days}"),
    }
}

/// The JSON Schema of `param`, with its unit, range and default in the description.
pub fn param_schema(param: Param) -> Value {
    let rule = param.rule();
    let range = rule.bounds.map(|b| {
        let unit = if rule.unit.is_empty() { String::new() } else { format!(", in {}", rule.unit) };
        format!(" Allowed: {}{unit}.", b.describe())
    });
    let mut description = format!("{}{}", rule.description, range.unwrap_or_default());
    if !description.contains("Default") {
        description.push_str(&format!(" Default: {}.", default_words(rule.default)));
    }
    let mut schema = match rule.kind {
        ParamKind::Knob => {
            let number = bounded_number(rule.bounds, false);
            description
                .push_str(" A number for the whole forecast, or a list of one number per forecast day.");
            json!({
                "anyOf": [
                    number.clone(),
                    { "type": "array", "items": number, "minItems": 1, "maxItems": MAX_FORECAST_DAYS }
                ]
            })
        }
        ParamKind::Number => bounded_number(rule.bounds, false),
        ParamKind::Days => bounded_number(rule.bounds, true),
        ParamKind::Bool => json!({ "type": "boolean" }),
    };
    if param == Param::Rbp {
        // The reference's documentation said EiB/day for years; say it plainly.
        description.push_str(" PiB/day, NOT EiB/day.");
    }
    schema["description"] = json!(description);
    schema
}

/// The schema properties of every scenario parameter, in [`Param::ALL`] order.
pub fn scenario_properties() -> Vec<(String, Value)> {
    Param::ALL.iter().map(|param| (param.name().to_string(), param_schema(*param))).collect()
}

/// The JSON Schema of a scenario object (every parameter optional).
pub fn scenario_schema(description: &str) -> Value {
    json!({
        "type": "object",
        "description": description,
        "properties": Value::Object(scenario_properties().into_iter().collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mechafil_core::ParamRule;

    fn read(args: Value) -> Result<Scenario, Vec<String>> {
        let mut problems = Problems::default();
        let mut fields = Fields::new("", args.as_object().cloned().unwrap());
        let scenario = Scenario::read(&mut fields, &mut problems);
        fields.finish(&param_names(), &mut problems);
        problems.finish("simulate", scenario).map_err(|err| err.problems)
    }

    /// A value just inside and just outside each bound of each numeric rule: the reader must
    /// accept and refuse exactly as the rule's own `contains` does.
    #[test]
    fn every_rule_is_enforced_at_its_bounds() {
        for param in Param::ALL {
            let ParamRule { bounds: Some(bounds), kind, .. } = *param.rule() else { continue };
            let step = if kind == ParamKind::Days { 1.0 } else { 1e-9 * bounds.max.abs().max(1.0) };
            for (value, inside) in [
                (bounds.min, !bounds.min_exclusive),
                (bounds.min - step, false),
                (bounds.min + step, true),
                (bounds.max, true),
                (bounds.max + step, false),
            ] {
                if kind == ParamKind::Days && value < 0.0 {
                    continue;
                }
                let result = read(json!({ param.name(): value }));
                assert_eq!(result.is_ok(), inside, "{param} = {value}: {result:?}");
                assert_eq!(bounds.contains(value), inside, "{param} = {value}");
                if let Err(problems) = result {
                    assert!(problems[0].starts_with(&format!("{param}: ")), "{problems:?}");
                    let words = if kind == ParamKind::Days {
                        bounds.describe().replace(" x ", " days ")
                    } else {
                        bounds.describe()
                    };
                    assert!(problems[0].contains(&words), "{problems:?}");
                }
            }
        }
    }

    #[test]
    fn schemas_carry_the_rules() {
        for param in Param::ALL {
            let rule = param.rule();
            let schema = param_schema(param);
            let description = schema["description"].as_str().unwrap();
            assert!(description.starts_with(rule.description), "{param}: {description}");
            if !rule.unit.is_empty() {
                assert!(description.contains(rule.unit), "{param}: {description}");
            }
            let number = match rule.kind {
                ParamKind::Knob => &schema["anyOf"][0],
                _ => &schema,
            };
            match rule.bounds {
                Some(bounds) => {
                    let min_key = if bounds.min_exclusive { "exclusiveMinimum" } else { "minimum" };
                    assert_eq!(number[min_key].as_f64(), Some(bounds.min), "{param}");
                    assert_eq!(number["maximum"].as_f64(), Some(bounds.max), "{param}");
                }
                None => assert_eq!(number["type"], "boolean"),
            }
            if rule.kind == ParamKind::Knob {
                assert_eq!(schema["anyOf"][1]["items"], schema["anyOf"][0]);
                assert_eq!(schema["anyOf"][1]["maxItems"], MAX_FORECAST_DAYS);
            }
        }
        assert!(param_schema(Param::Rbp)["description"].as_str().unwrap().contains("PiB/day, NOT EiB/day"));
    }

    #[test]
    fn numbers_as_strings_lists_and_flags_are_read() {
        let scenario = read(json!({
            "rbp": "8", "rr": [0.5, "0.6"], "forecast_length_days": "2", "use_available_supply": "true",
            "sector_duration_days": 540.0, "burn_boost": null
        }))
        .unwrap();
        assert_eq!(
            Value::Object(scenario.to_body()),
            json!({"rbp": 8.0, "rr": [0.5, 0.6], "forecast_length_days": 2, "sector_duration_days": 540, "use_available_supply": true})
        );
        assert_eq!(scenario.forecast_len(), 2);
        assert_eq!(read(json!({"rr": [0.5, 0.6, 0.7]})).unwrap().forecast_len(), 3);
        assert_eq!(read(json!({})).unwrap().forecast_len(), 3650);
    }

    #[test]
    fn every_problem_is_named() {
        let problems = read(json!({
            "rbp": -1, "rr": [0.5, 1.5], "fil_plus_m": 0, "forecast_length_days": 7301,
            "sector_duration_days": 540.5, "burn_boost": "lots", "use_available_supply": 1, "rbpp": 2
        }))
        .unwrap_err()
        .join("\n");
        for expected in [
            "rbp: -1 is out of range; allowed: 0 <= x <= 10000 (PiB/day)",
            "rr: item [1]: 1.5 is out of range; allowed: 0 <= x <= 1",
            "fil_plus_m: 0 is out of range; allowed: 0 < x <= 1000",
            "forecast_length_days: 7301 is out of range; allowed: 1 <= days <= 7300",
            "sector_duration_days: expected a whole number of days, got 540.5",
            "burn_boost: expected a number, got a string (\"lots\")",
            "use_available_supply: expected true or false, got a number (1)",
            "rbpp: unknown argument; the valid ones are rbp, rr, fpr",
        ] {
            assert!(problems.contains(expected), "missing {expected:?} in\n{problems}");
        }
    }

    #[test]
    fn lists_must_agree_and_the_qa_renewal_rate_stay_at_most_one() {
        let problems = read(json!({"rbp": [1, 2, 3], "rr": [0.5, 0.5]})).unwrap_err();
        assert_eq!(
            problems,
            ["rr: the list has 2 values but rbp has 3: lists must all have one value per forecast day"]
        );
        let problems = read(json!({"rbp": [1, 2, 3], "forecast_length_days": 2})).unwrap_err();
        assert!(
            problems[0].starts_with("rbp: the list has 3 values but forecast_length_days is 2"),
            "{problems:?}"
        );
        let problems = read(json!({"rr": 0.9, "qa_renew_relative_multiplier": 1.2})).unwrap_err();
        assert!(problems[0].starts_with("qa_renew_relative_multiplier: rr 0.9 times"), "{problems:?}");
        let problems = read(json!({"rr": [0.5, 0.9], "qa_renew_relative_multiplier": 1.2})).unwrap_err();
        assert!(problems[0].contains("on forecast day 1,"), "{problems:?}");
        assert!(read(json!({"rr": 0.8, "qa_renew_relative_multiplier": 1.25})).is_ok());
    }

    #[test]
    fn lengthening_continues_lists_with_their_last_value() {
        let scenario = read(json!({"rr": [0.5, 0.6], "rbp": 3})).unwrap().lengthened(4);
        assert_eq!(
            Value::Object(scenario.to_body()),
            json!({"rbp": 3.0, "rr": [0.5, 0.6, 0.6, 0.6], "forecast_length_days": 4})
        );
    }
}
