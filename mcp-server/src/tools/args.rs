//! Tool arguments: their JSON Schemas (derived with schemars, descriptions carrying units and
//! ranges) and their parsing into validated requests.
//!
//! Parse, then use: [`parse_args`] turns the raw JSON object into the typed `*Args` struct with
//! a message naming the offending field, and each `validate` method checks ranges and names and
//! reports every problem at once. A failure here becomes a tool error (`isError`) before any
//! HTTP call, because Claude reads tool errors and fixes its arguments, while a JSON-RPC error
//! would be shown to it as an opaque failure.

use std::fmt;

use mechafil_core::{MAX_FORECAST_DAYS, SeriesName};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::series::DEFAULT_METRICS;

/// Arguments that failed to parse or validate; `Display` lists every problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidArgs {
    /// The tool the arguments were for.
    pub tool: &'static str,
    /// One line per problem, each naming the argument.
    pub problems: Vec<String>,
}

impl fmt::Display for InvalidArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid arguments for {}: {}", self.tool, self.problems.join("; "))
    }
}

impl std::error::Error for InvalidArgs {}

/// Deserializes `args` into `T`, naming the field at fault (`chart.series[3]: ...`).
pub fn parse_args<T: DeserializeOwned>(
    tool: &'static str,
    args: Map<String, Value>,
) -> Result<T, InvalidArgs> {
    serde_path_to_error::deserialize(Value::Object(args)).map_err(|err| {
        let path = err.path().to_string();
        let problem = if path == "." { err.inner().to_string() } else { format!("{path}: {}", err.inner()) };
        InvalidArgs { tool, problems: vec![problem] }
    })
}

/// Collects problems found while validating.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }

    fn finish<T>(self, tool: &'static str, value: T) -> Result<T, InvalidArgs> {
        if self.0.is_empty() { Ok(value) } else { Err(InvalidArgs { tool, problems: self.0 }) }
    }
}

/// A number for the whole forecast, or one number per forecast day.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum KnobArg {
    /// The same value every day.
    Scalar(f64),
    /// One value per forecast day.
    Series(Vec<f64>),
}

impl<'de> Deserialize<'de> for KnobArg {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Through `Value` so the message says what was expected instead of serde's
        // "did not match any variant of untagged enum".
        let expected = "a number or a list of numbers";
        match Value::deserialize(deserializer)? {
            Value::Number(n) => {
                n.as_f64().map(KnobArg::Scalar).ok_or_else(|| de::Error::custom("number out of range"))
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.as_f64().ok_or_else(|| {
                        de::Error::custom(format!("expected {expected}, but item {i} is {}", describe(item)))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(KnobArg::Series),
            other => Err(de::Error::custom(format!("expected {expected}, got {}", describe(&other)))),
        }
    }
}

impl KnobArg {
    fn values(&self) -> &[f64] {
        match self {
            KnobArg::Scalar(v) => std::slice::from_ref(v),
            KnobArg::Series(values) => values,
        }
    }
}

/// One name or a list of names (a comma-separated string is split).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct NameList(pub Vec<String>);

impl<'de> Deserialize<'de> for NameList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let expected = "a name or a list of names";
        let split =
            |s: &str| s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
        match Value::deserialize(deserializer)? {
            Value::String(s) => Ok(NameList(split(&s))),
            Value::Array(items) => {
                let mut names = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => names.extend(split(s)),
                        other => {
                            return Err(de::Error::custom(format!(
                                "expected {expected}, but item {i} is {}",
                                describe(other)
                            )));
                        }
                    }
                }
                Ok(NameList(names))
            }
            other => Err(de::Error::custom(format!("expected {expected}, got {}", describe(&other)))),
        }
    }
}

fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".into(),
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    let mut text = value.to_string();
    if text.len() > 40 {
        text = format!("{}…", text.chars().take(40).collect::<String>());
    }
    format!("{kind} ({text})")
}

fn knob_schema(minimum: f64, maximum: Option<f64>, exclusive_minimum: bool) -> Schema {
    let mut number = json!({ "type": "number" });
    number[if exclusive_minimum { "exclusiveMinimum" } else { "minimum" }] = json!(minimum);
    if let Some(maximum) = maximum {
        number["maximum"] = json!(maximum);
    }
    json_schema!({
        "anyOf": [
            number.clone(),
            { "type": "array", "items": number, "minItems": 1, "maxItems": MAX_FORECAST_DAYS }
        ]
    })
}

fn non_negative_knob(_: &mut SchemaGenerator) -> Schema {
    knob_schema(0.0, None, false)
}

fn fraction_knob(_: &mut SchemaGenerator) -> Schema {
    knob_schema(0.0, Some(1.0), false)
}

fn positive_knob(_: &mut SchemaGenerator) -> Schema {
    knob_schema(0.0, None, true)
}

fn metric_names_schema(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = SeriesName::names().collect();
    json_schema!({
        "anyOf": [
            { "type": "array", "items": { "type": "string", "enum": names }, "minItems": 1 },
            { "type": "string", "enum": names }
        ]
    })
}

fn field_names_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "array", "items": { "type": "string", "pattern": "^[A-Za-z0-9_]+$" }, "maxItems": MAX_FIELDS },
            { "type": "string", "description": "comma-separated field names" }
        ]
    })
}

/// Arguments of `fetch_context`: none.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchContextArgs {}

/// Arguments of `simulate`: the API's `/simulate` parameters plus the series to return.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SimulateArgs {
    /// Raw-byte power onboarded per day, in PiB/day (NOT EiB/day), >= 0. A number held constant
    /// over the forecast, or a list of one value per forecast day. Default: the snapshot's
    /// smoothed recent value (the median of its last 30 days).
    #[schemars(schema_with = "non_negative_knob")]
    pub rbp: Option<KnobArg>,
    /// Renewal rate: the fraction (0 to 1, so 0.6 means 60%) of expiring sectors that are
    /// renewed. Number or per-day list. Default: the snapshot's smoothed recent value.
    #[schemars(schema_with = "fraction_knob")]
    pub rr: Option<KnobArg>,
    /// FIL+ rate: the fraction (0 to 1) of onboarded power that is verified (FIL+) deals.
    /// Number or per-day list. Default: the snapshot's smoothed recent value.
    #[schemars(schema_with = "fraction_knob")]
    pub fpr: Option<KnobArg>,
    /// Pledge lock target, a fraction 0 to 1. Number or per-day list. Default 0.3.
    #[schemars(schema_with = "fraction_knob")]
    pub lock_target: Option<KnobArg>,
    /// Forecast length in days, 1 to 7300 (20 years), counted from the snapshot's current date.
    /// Default: the length of the list parameters if any, else 3650 (10 years).
    #[schemars(range(min = 1, max = 7300))]
    pub forecast_length_days: Option<u32>,
    /// Average sector duration (commitment length) in days, >= 1. Default 540.
    #[schemars(range(min = 1))]
    pub sector_duration_days: Option<u32>,
    /// FIL+ quality-adjusted power multiplier, > 0. Number or per-day list. Default 10.
    #[schemars(schema_with = "positive_knob")]
    pub fil_plus_m: Option<KnobArg>,
    /// Renewal rate of QA power relative to raw-byte power, >= 0. Number or per-day list. Default 1.
    #[schemars(schema_with = "non_negative_knob")]
    pub qa_renew_relative_multiplier: Option<KnobArg>,
    /// Multiplier of the daily gas burn over the forecast, >= 0 (a number, not a list). Default 1.
    #[schemars(range(min = 0))]
    pub burn_boost: Option<f64>,
    /// Base new pledges on available supply instead of circulating supply. Default false.
    pub use_available_supply: Option<bool>,
    /// Which output series to return (one call returns several series of one scenario). Default:
    /// circ_supply, network_locked, network_QAP_EIB, day_network_reward, 1y_sector_roi. Each
    /// series of a 10-year forecast costs about 10,000 characters of the 100,000-character
    /// result limit.
    #[schemars(schema_with = "metric_names_schema")]
    pub requested_metrics: Option<NameList>,
    /// Alias of requested_metrics (one name or a list), kept for the reference's clients.
    #[schemars(schema_with = "metric_names_schema")]
    pub requested_metric: Option<NameList>,
}

/// A `simulate` call that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulateRequest {
    /// The body for the API's `POST /simulate`.
    pub body: Map<String, Value>,
    /// The series to return, without duplicates, in the caller's order.
    pub metrics: Vec<SeriesName>,
    /// The API parameters the caller set (the others are the API's defaults).
    pub given: Vec<&'static str>,
}

/// A knob parameter: name, allowed range in words, and the check.
type KnobRule = (&'static str, &'static str, fn(f64) -> bool);

/// The knob parameters.
const KNOBS: [KnobRule; 6] = [
    ("rbp", ">= 0 (PiB/day)", |v| v >= 0.0),
    ("rr", "between 0 and 1", |v| (0.0..=1.0).contains(&v)),
    ("fpr", "between 0 and 1", |v| (0.0..=1.0).contains(&v)),
    ("lock_target", "between 0 and 1", |v| (0.0..=1.0).contains(&v)),
    ("fil_plus_m", "> 0", |v| v > 0.0),
    ("qa_renew_relative_multiplier", ">= 0", |v| v >= 0.0),
];

impl SimulateArgs {
    fn knob(&self, name: &str) -> Option<&KnobArg> {
        match name {
            "rbp" => self.rbp.as_ref(),
            "rr" => self.rr.as_ref(),
            "fpr" => self.fpr.as_ref(),
            "lock_target" => self.lock_target.as_ref(),
            "fil_plus_m" => self.fil_plus_m.as_ref(),
            "qa_renew_relative_multiplier" => self.qa_renew_relative_multiplier.as_ref(),
            _ => None,
        }
    }

    /// Checks ranges, list lengths and series names; builds the API request.
    pub fn validate(self) -> Result<SimulateRequest, InvalidArgs> {
        let mut problems = Problems::default();
        let mut body = Map::new();
        let mut given = Vec::new();
        let mut list_lengths: Vec<(&str, usize)> = Vec::new();

        for (name, range, ok) in KNOBS {
            let Some(knob) = self.knob(name) else { continue };
            given.push(name);
            if let KnobArg::Series(values) = knob {
                list_lengths.push((name, values.len()));
                if values.is_empty() {
                    problems.push(format!(
                        "{name}: a list must have one value per forecast day, got an empty list"
                    ));
                }
            }
            if let Some((i, v)) = knob.values().iter().enumerate().find(|(_, v)| !ok(**v)) {
                let at =
                    if matches!(knob, KnobArg::Series(_)) { format!(" (item {i})") } else { String::new() };
                problems.push(format!("{name} must be {range}, got {v}{at}"));
            }
            body.insert(name.into(), serde_json::to_value(knob).unwrap_or(Value::Null));
        }

        let max = MAX_FORECAST_DAYS as u32;
        if let Some(days) = self.forecast_length_days {
            given.push("forecast_length_days");
            if !(1..=max).contains(&days) {
                problems.push(format!("forecast_length_days must be between 1 and {max}, got {days}"));
            }
            body.insert("forecast_length_days".into(), days.into());
        }
        match (self.forecast_length_days, list_lengths.first()) {
            (Some(days), _) => {
                for (name, len) in &list_lengths {
                    if *len != days as usize && *len > 0 {
                        problems.push(format!(
                            "{name} has {len} values but forecast_length_days is {days}: a list needs one value per forecast day"
                        ));
                    }
                }
            }
            (None, Some((first, first_len))) => {
                for (name, len) in &list_lengths[1..] {
                    if len != first_len {
                        problems.push(format!(
                            "{name} has {len} values but {first} has {first_len}: lists must all have one value per forecast day"
                        ));
                    }
                }
                if *first_len > MAX_FORECAST_DAYS {
                    problems
                        .push(format!("{first} has {first_len} values; the forecast is at most {max} days"));
                }
            }
            (None, None) => {}
        }

        if let Some(days) = self.sector_duration_days {
            given.push("sector_duration_days");
            if days == 0 {
                problems.push("sector_duration_days must be >= 1, got 0");
            }
            body.insert("sector_duration_days".into(), days.into());
        }
        if let Some(boost) = self.burn_boost {
            given.push("burn_boost");
            if boost < 0.0 {
                problems.push(format!("burn_boost must be >= 0, got {boost}"));
            }
            body.insert("burn_boost".into(), json!(boost));
        }
        if let Some(flag) = self.use_available_supply {
            given.push("use_available_supply");
            body.insert("use_available_supply".into(), flag.into());
        }

        let names: Vec<String> =
            self.requested_metrics.into_iter().chain(self.requested_metric).flat_map(|list| list.0).collect();
        let mut metrics = Vec::new();
        let mut unknown = Vec::new();
        for name in &names {
            match SeriesName::from_name(name) {
                Some(series) if !metrics.contains(&series) => metrics.push(series),
                Some(_) => {}
                None => unknown.push(format!("{name:?}")),
            }
        }
        if !unknown.is_empty() {
            problems.push(format!(
                "unknown series {}; valid names: {}",
                unknown.join(", "),
                SeriesName::names().collect::<Vec<_>>().join(", ")
            ));
        }
        if names.is_empty() {
            metrics = DEFAULT_METRICS.to_vec();
        }
        body.insert("output".into(), metrics.iter().map(|m| Value::from(m.as_str())).collect());

        problems.finish("simulate", SimulateRequest { body, metrics, given })
    }
}

/// Most fields one `get_historical_data` call may name.
pub const MAX_FIELDS: usize = 100;

/// Arguments of `get_historical_data`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HistoricalArgs {
    /// Which fields to return (a list, or a comma-separated string), e.g. ["raw_byte_power",
    /// "network_qa_power_eib", "circ_supply"]. Date metadata is always returned. Default: every
    /// field, which may exceed the result limit; the error then lists the field names.
    #[schemars(schema_with = "field_names_schema")]
    pub fields: Option<NameList>,
}

impl HistoricalArgs {
    /// The field names to ask for (`None` = all), checked for shape; the API knows which exist.
    pub fn validate(self) -> Result<Option<Vec<String>>, InvalidArgs> {
        let mut problems = Problems::default();
        let Some(NameList(fields)) = self.fields else { return Ok(None) };
        if fields.is_empty() {
            problems.push("fields: give at least one field name, or leave fields out for all fields");
        }
        if fields.len() > MAX_FIELDS {
            problems.push(format!("fields: at most {MAX_FIELDS} names, got {}", fields.len()));
        }
        for field in &fields {
            if field.len() > 64 || !field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                problems.push(format!("fields: {field:?} is not a field name (letters, digits and _ only)"));
            }
        }
        problems.finish("get_historical_data", Some(fields))
    }
}

/// The data of a chart: one list, or several named lists.
#[derive(Debug, Clone, PartialEq)]
pub enum SeriesData {
    /// One series; its legend is the chart label.
    One(Vec<Option<f64>>),
    /// Several series by legend name, in the order given.
    Named(Vec<(String, Vec<Option<f64>>)>),
}

impl<'de> Deserialize<'de> for SeriesData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeriesVisitor;

        impl<'de> Visitor<'de> for SeriesVisitor {
            type Value = SeriesData;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of numbers, or an object mapping legend names to lists of numbers")
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<SeriesData, A::Error> {
                let values = Vec::<Option<f64>>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(SeriesData::One(values))
            }

            // The arguments keep their key order (serde_json's `preserve_order`), so the
            // legend lists the series as the caller wrote them.
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SeriesData, A::Error> {
                let mut named = Vec::new();
                while let Some((name, values)) = map.next_entry::<String, Vec<Option<f64>>>()? {
                    named.push((name, values));
                }
                Ok(SeriesData::Named(named))
            }
        }

        deserializer.deserialize_any(SeriesVisitor)
    }
}

fn series_data_schema(_: &mut SchemaGenerator) -> Schema {
    let values = json!({ "type": "array", "items": { "type": ["number", "null"] }, "minItems": 1 });
    json_schema!({
        "anyOf": [
            values.clone(),
            { "type": "object", "additionalProperties": values, "minProperties": 1, "maxProperties": 10 }
        ]
    })
}

/// The chart spec of the reference's `provide_plot`, with two optional additions
/// (`start_date`, `timestep_days`) that put calendar dates on the x axis.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChartArgs {
    /// The values, copied from a simulate or get_historical_data result: a list of numbers (null
    /// for a gap), or an object {"legend name": [numbers], ...} for several series (at most 10,
    /// each at most 20,000 points; the legend lists them by name).
    #[schemars(schema_with = "series_data_schema")]
    pub series: SeriesData,
    /// Chart title, e.g. "Circulating supply, base case".
    #[schemars(length(min = 1, max = 200))]
    pub label: String,
    /// Unit of the values, e.g. "FIL", "PiB/day", "EiB", "fraction".
    #[serde(default)]
    #[schemars(length(max = 40))]
    pub unit: Option<String>,
    /// Which date the first value is on: the key of that date in the result the values came from
    /// ("sim_start_date", "data_start_date", "hist_window_start_date", or
    /// "series_dates.<name>.start_date"), or the date itself as YYYY-MM-DD.
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub start_date_key: Option<String>,
    /// The date (YYYY-MM-DD) that start_date_key names, when start_date_key is a key. Without a
    /// date the x axis shows sample indices.
    #[serde(default)]
    pub start_date: Option<String>,
    /// Days between two values: 7 for the weekly series of simulate and get_historical_data
    /// (the default), 1 for daily series.
    #[serde(default)]
    #[schemars(range(min = 1, max = 366))]
    pub timestep_days: Option<u32>,
}

/// Arguments of `provide_plot`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvidePlotArgs {
    /// The chart to draw.
    pub chart: ChartArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simulate(args: Value) -> Result<SimulateRequest, InvalidArgs> {
        let Value::Object(map) = args else { panic!("not an object") };
        parse_args::<SimulateArgs>("simulate", map)?.validate()
    }

    fn problems(args: Value) -> String {
        simulate(args).unwrap_err().to_string()
    }

    #[test]
    fn defaults_ask_for_the_default_metrics_only() {
        let request = simulate(json!({})).unwrap();
        assert_eq!(request.metrics, DEFAULT_METRICS);
        assert!(request.given.is_empty());
        assert_eq!(request.body.len(), 1);
        assert_eq!(request.body["output"][0], "circ_supply");
    }

    #[test]
    fn body_carries_exactly_the_given_parameters() {
        let request = simulate(json!({
            "rbp": 3.5, "rr": [0.5, 0.6], "forecast_length_days": 2, "burn_boost": 2,
            "use_available_supply": true, "requested_metrics": ["1y_sector_roi", "circ_supply"]
        }))
        .unwrap();
        assert_eq!(
            Value::Object(request.body),
            json!({
                "rbp": 3.5, "rr": [0.5, 0.6], "forecast_length_days": 2, "burn_boost": 2.0,
                "use_available_supply": true, "output": ["1y_sector_roi", "circ_supply"]
            })
        );
        assert_eq!(
            request.given,
            ["rbp", "rr", "forecast_length_days", "burn_boost", "use_available_supply"]
        );
    }

    #[test]
    fn requested_metric_is_an_alias_and_names_are_deduplicated() {
        let request = simulate(json!({"requested_metric": "available_supply"})).unwrap();
        assert_eq!(request.metrics, [SeriesName::AvailableSupply]);
        let request = simulate(json!({
            "requested_metrics": "circ_supply, network_locked", "requested_metric": ["circ_supply", "days"]
        }))
        .unwrap();
        assert_eq!(request.metrics, [SeriesName::CircSupply, SeriesName::NetworkLocked, SeriesName::Days]);
    }

    #[test]
    fn unknown_metrics_list_the_valid_names() {
        let message = problems(json!({"requested_metrics": ["circ_supply", "supply"]}));
        assert!(message.contains("unknown series \"supply\""), "{message}");
        assert!(message.contains("valid names: days, rb_total_power_eib"), "{message}");
        assert!(message.contains("1y_sector_roi"), "{message}");
    }

    #[test]
    fn out_of_range_values_are_all_reported() {
        let message = problems(json!({
            "rbp": -1, "rr": [0.5, 1.5], "fil_plus_m": 0, "forecast_length_days": 7301,
            "sector_duration_days": 0, "burn_boost": -0.5
        }));
        for expected in [
            "rbp must be >= 0 (PiB/day), got -1",
            "rr must be between 0 and 1, got 1.5 (item 1)",
            "fil_plus_m must be > 0, got 0",
            "forecast_length_days must be between 1 and 7300, got 7301",
            "rr has 2 values but forecast_length_days is 7301",
            "sector_duration_days must be >= 1, got 0",
            "burn_boost must be >= 0, got -0.5",
        ] {
            assert!(message.contains(expected), "missing {expected:?} in {message}");
        }
    }

    #[test]
    fn lists_must_agree_in_length() {
        let message = problems(json!({"rbp": [1, 2, 3], "rr": [0.5, 0.5]}));
        assert!(message.contains("rr has 2 values but rbp has 3"), "{message}");
        assert!(simulate(json!({"rbp": [1, 2, 3], "rr": [0.5, 0.5, 0.5]})).is_ok());
        assert!(problems(json!({"rbp": []})).contains("empty list"));
    }

    #[test]
    fn wrong_types_name_the_field() {
        for (args, expected) in [
            (json!({"rbp": "fast"}), "rbp: expected a number or a list of numbers, got a string (\"fast\")"),
            (json!({"rr": [0.5, "x"]}), "rr: expected a number or a list of numbers, but item 1 is a string"),
            (json!({"forecast_length_days": "60"}), "forecast_length_days: invalid type: string \"60\""),
            (json!({"forecast_length_days": 60.5}), "forecast_length_days: invalid type: floating point"),
            (json!({"use_available_supply": 1}), "use_available_supply: invalid type: integer"),
            (json!({"requested_metrics": [3]}), "requested_metrics: expected a name or a list of names"),
            (json!({"rbpp": 1}), "unknown field `rbpp`, expected one of `rbp`"),
        ] {
            let message = problems(args);
            assert!(message.contains(expected), "missing {expected:?} in {message}");
        }
    }

    #[test]
    fn historical_fields_are_checked_for_shape() {
        let parse = |args: Value| {
            let Value::Object(map) = args else { panic!() };
            parse_args::<HistoricalArgs>("get_historical_data", map)?.validate()
        };
        assert_eq!(parse(json!({})).unwrap(), None);
        assert_eq!(parse(json!({"fields": "a,b"})).unwrap(), Some(vec!["a".to_string(), "b".to_string()]));
        assert!(parse(json!({"fields": ["ok", "not ok"]})).unwrap_err().to_string().contains("\"not ok\""));
        assert!(parse(json!({"fields": []})).is_err());
        assert!(parse(json!({"fields": 3})).is_err());
    }

    #[test]
    fn chart_series_keep_their_gaps_and_their_order() {
        let parse = |args: Value| {
            let Value::Object(map) = args else { panic!() };
            parse_args::<ProvidePlotArgs>("provide_plot", map)
        };
        let args = parse(json!({"chart": {"series": {"b": [1, null], "a": [2]}, "label": "x"}})).unwrap();
        assert_eq!(
            args.chart.series,
            SeriesData::Named(vec![("b".into(), vec![Some(1.0), None]), ("a".into(), vec![Some(2.0)])])
        );
        let args = parse(json!({"chart": {"series": [1, 2.5], "label": "x", "unit": "FIL"}})).unwrap();
        assert_eq!(args.chart.series, SeriesData::One(vec![Some(1.0), Some(2.5)]));
        let err = parse(json!({"chart": {"series": [1, "a"], "label": "x"}})).unwrap_err().to_string();
        assert!(err.contains("chart.series"), "{err}");
        assert!(parse(json!({"chart": {"series": [1]}})).unwrap_err().to_string().contains("label"));
    }
}
