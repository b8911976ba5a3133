//! What the analysis tools share: reading scenarios, series names, summaries, knobs and chart
//! options from arguments; the common part of every `/analyze/*` answer; sampling arrays for
//! the text; units and words for summaries and knobs.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use mechafil_core::{Param, SeriesName};
use rmcp::model::JsonObject;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

use crate::series::series_info;
use crate::tools::args::{Fields, Problems, boolean, choice, date, describe, name_list, number, text};
use crate::tools::dated::{Dated, first_monday_on_or_after};
use crate::tools::params::Scenario;
use crate::tools::results::{DataSource, Ordered, SeriesDates};
use crate::tools::simulate::AUTO_WEEKLY_MAX_DAYS;

/// The analysis-only series: `network_locked / circ_supply`, daily.
pub const LOCK_RATIO: &str = "lock_ratio";

/// The statistics a summary may take.
pub const STATS: [&str; 7] = ["end", "value_at", "mean", "min", "max", "first_below", "first_above"];

/// Resolutions of the analyses' arrays.
pub const RESOLUTIONS: [&str; 2] = ["weekly", "daily"];

/// Most numbers an analysis answer may hold (dates x series x columns): the API's answer is read
/// into memory whole, and ten years of weekly bands of three series at six quantiles are about
/// 9,400; beyond this the text could not show them anyway.
pub const MAX_ANSWER_VALUES: usize = 250_000;

/// The forecast length a scenario body implies (as the API decides it): `forecast_length_days`,
/// else a per-day list's length, else 3650.
pub fn forecast_len_of(body: &JsonObject) -> usize {
    body.get("forecast_length_days")
        .and_then(Value::as_u64)
        .map(|f| f as usize)
        .or_else(|| body.values().find_map(|v| v.as_array().map(Vec::len)))
        .unwrap_or(3650)
}

/// Checks that an answer of `series` x `columns` arrays over a forecast of `forecast_len`
/// days at `resolution` stays within [`MAX_ANSWER_VALUES`].
pub fn check_answer_size(
    forecast_len: usize,
    resolution: Option<&str>,
    series: usize,
    columns: usize,
    problems: &mut Problems,
) {
    let dates = if resolution == Some("daily") { forecast_len } else { forecast_len / 7 + 1 };
    let values = dates * series * columns;
    if values > MAX_ANSWER_VALUES {
        problems.at(
            "",
            format!(
                "the answer would hold about {values} numbers ({dates} dates x {series} series x {columns} columns), \
                 over the {MAX_ANSWER_VALUES} this tool reads: ask for weekly resolution, fewer series in `output`, \
                 fewer columns (quantiles or scenarios) or a shorter forecast"
            ),
        );
    }
}

/// Every series an analysis can return: the 44 simulated series and `lock_ratio`.
pub fn series_names() -> Vec<&'static str> {
    SeriesName::names().chain([LOCK_RATIO]).collect()
}

/// The unit of series `name`.
pub fn series_unit(name: &str) -> &'static str {
    match SeriesName::from_name(name) {
        Some(series) => series_info(series).unit,
        None => "fraction",
    }
}

/// A panel title for series `name`: its name and meaning.
pub fn series_title(name: &str) -> String {
    match SeriesName::from_name(name) {
        Some(series) => format!("{name}: {}", series_info(series).meaning),
        None => format!("{name}: network_locked / circ_supply"),
    }
}

/// Reads the scenario object at `key` (absent = `{}`), checked with the parameter rules.
pub fn read_scenario(fields: &mut Fields, key: &str, problems: &mut Problems) -> JsonObject {
    let path = fields.path(key);
    match fields.take(key) {
        None => JsonObject::new(),
        Some(Value::Object(map)) => scenario_body(&path, map, problems),
        Some(other) => {
            problems.at(
                &path,
                format!("expected a scenario object such as {{\"rbp\": 6}}, got {}", describe(&other)),
            );
            JsonObject::new()
        }
    }
}

/// Checks one scenario object at `path` and returns it as the API's fields.
pub fn scenario_body(path: &str, map: JsonObject, problems: &mut Problems) -> JsonObject {
    let mut fields = Fields::new(path, map);
    let scenario = Scenario::read(&mut fields, problems);
    fields.finish(&crate::tools::params::param_names(), problems);
    scenario.to_body()
}

/// Reads a list of series names at `key`, each one an analysis series.
pub fn read_series_list(fields: &mut Fields, key: &str, problems: &mut Problems) -> Option<Vec<String>> {
    let path = fields.path(key);
    let names = fields.read(key, problems, name_list)?;
    let valid = series_names();
    let unknown: Vec<String> =
        names.iter().filter(|n| !valid.contains(&n.as_str())).map(|n| format!("{n:?}")).collect();
    if !unknown.is_empty() {
        problems
            .at(&path, format!("unknown series {}; valid names: {}", unknown.join(", "), valid.join(", ")));
    }
    if names.is_empty() {
        problems.at(&path, "give at least one series name, or leave it out for the default");
    }
    Some(names)
}

/// Reads `resolution` (`weekly` or `daily`).
pub fn read_resolution(fields: &mut Fields, problems: &mut Problems) -> Option<&'static str> {
    fields.read("resolution", problems, |v| choice(v, &RESOLUTIONS))
}

/// Reads one summary (`{"series", "over"?, "stat", "date"?, "from"?, "to"?, "threshold"?}`) at
/// `path` into the API's form.
pub fn read_summary(value: &Value, path: &str, problems: &mut Problems) -> Option<JsonObject> {
    let Value::Object(map) = value else {
        problems.at(
            path,
            format!(
                "expected a summary such as {{\"series\": \"1y_sector_roi\", \"stat\": \"end\"}}, got {}",
                describe(value)
            ),
        );
        return None;
    };
    let before = problems.len();
    let mut fields = Fields::new(path, map.clone());
    let valid = series_names();
    let series_name = |v: &Value| {
        let name = text(v, 100)?;
        if valid.contains(&name.as_str()) {
            Ok(name)
        } else {
            Err(format!("unknown series {name:?}; valid names: {}", valid.join(", ")))
        }
    };
    let series = fields.read("series", problems, series_name);
    let over = fields.read("over", problems, series_name);
    let stat = fields.read("stat", problems, |v| choice(v, &STATS));
    let on = fields.read("date", problems, date);
    let from = fields.read("from", problems, date);
    let to = fields.read("to", problems, date);
    let threshold = fields.read("threshold", problems, number);
    fields.finish(&["series", "over", "stat", "date", "from", "to", "threshold"], problems);
    if series.is_none() && !map.contains_key("series") {
        problems.at(path, "a summary needs `series` (e.g. \"network_locked\")");
    }
    match stat {
        None if !map.contains_key("stat") => {
            problems.at(path, format!("a summary needs `stat`: one of {}", STATS.join(", ")))
        }
        Some("value_at") if on.is_none() => problems.at(path, "stat value_at needs `date` (YYYY-MM-DD)"),
        Some("first_below" | "first_above") if threshold.is_none() => {
            problems.at(path, "stat first_below / first_above needs `threshold`")
        }
        _ => {}
    }
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        problems.at(path, format!("from {from} is after to {to}"));
    }
    if problems.len() > before {
        return None;
    }
    let mut summary = JsonObject::new();
    summary.insert("series".into(), json!(series));
    if let Some(over) = over {
        summary.insert("over".into(), json!(over));
    }
    summary.insert("stat".into(), json!(stat));
    for (key, value) in [("date", on), ("from", from), ("to", to)] {
        if let Some(value) = value {
            summary.insert(key.into(), json!(value));
        }
    }
    if let Some(threshold) = threshold {
        summary.insert("threshold".into(), json!(threshold));
    }
    Some(summary)
}

/// Reads `summaries` (`{"<label>": summary, ...}`, labels of 1 to 64 characters).
pub fn read_summaries(
    fields: &mut Fields,
    key: &str,
    problems: &mut Problems,
) -> Option<Ordered<JsonObject>> {
    let path = fields.path(key);
    let value = fields.take(key)?;
    let Value::Object(map) = value else {
        problems.at(&path, format!("expected {{\"<label>\": summary, ...}}, got {}", describe(&value)));
        return None;
    };
    if map.is_empty() {
        problems.at(&path, "give at least one summary, or leave it out for the default");
    }
    let mut summaries = Ordered::default();
    for (label, summary) in &map {
        let label_path = format!("{path}.{label}");
        if label.is_empty() || label.chars().count() > 64 {
            problems.at(&label_path, "labels are 1 to 64 characters");
            continue;
        }
        if let Some(summary) = read_summary(summary, &label_path, problems) {
            summaries.push(label.clone(), summary);
        }
    }
    Some(summaries)
}

/// A knob an analysis can vary: every scalar parameter.
pub fn knob(value: &Value) -> Result<Param, String> {
    let name = text(value, 64)?;
    Param::SCALAR_KNOBS.into_iter().find(|p| p.name() == name).ok_or_else(|| {
        let names: Vec<&str> = Param::SCALAR_KNOBS.iter().map(|p| p.name()).collect();
        format!("unknown knob {name:?}; the knobs are {}", names.join(", "))
    })
}

/// The unit of a knob, in words.
pub fn knob_unit(param: Param) -> &'static str {
    match param.rule().unit {
        "" if param.is_rate() => "fraction",
        "" => "multiplier",
        unit => unit,
    }
}

/// Chart options shared by the analysis tools.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartOptions {
    /// Whether to draw the chart (default true).
    pub draw: bool,
    /// Which series get a panel (compare, forecast_range).
    pub series: Option<Vec<String>>,
    /// Which summary the chart shows (sweep, sensitivity).
    pub summary: Option<String>,
}

/// The chart option argument names.
pub const CHART_SERIES: &str = "chart_series";
/// The chart summary argument name.
pub const CHART_SUMMARY: &str = "chart_summary";

/// Reads `chart` and, where `with_series` / `with_summary`, `chart_series` / `chart_summary`.
pub fn read_chart_options(
    fields: &mut Fields,
    problems: &mut Problems,
    with_series: bool,
    with_summary: bool,
) -> ChartOptions {
    let draw = fields.read("chart", problems, boolean).unwrap_or(true);
    let series = if with_series { read_series_list(fields, CHART_SERIES, problems) } else { None };
    let summary = if with_summary { fields.read(CHART_SUMMARY, problems, |v| text(v, 64)) } else { None };
    ChartOptions { draw, series, summary }
}

/// What every `/analyze/*` answer carries besides its results.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Common {
    /// The snapshot the runs used.
    #[serde(default)]
    pub snapshot: DataSource,
    /// Its current date: the forecast window starts here.
    #[serde(default)]
    pub current_date: Option<NaiveDate>,
    /// What was run and what was assumed.
    #[serde(default)]
    pub explanation: Option<String>,
    /// The request as the API understood it.
    #[serde(default)]
    pub input: Value,
}

impl Common {
    /// The data source with its demo flag.
    pub fn data(&self) -> DataSource {
        let mut data = self.snapshot.clone().labelled();
        if data.current_date.is_none() {
            data.current_date = self.current_date.map(|d| d.to_string());
        }
        data
    }

    /// The forecast length the runs used, from the request as understood (the first
    /// `forecast_length_days` found in it).
    pub fn forecast_len(&self) -> Option<usize> {
        fn find(value: &Value) -> Option<u64> {
            match value {
                Value::Object(map) => map
                    .get("forecast_length_days")
                    .and_then(Value::as_u64)
                    .or_else(|| map.values().find_map(find)),
                Value::Array(items) => items.iter().find_map(find),
                _ => None,
            }
        }
        find(&self.input).map(|f| f as usize)
    }
}

/// A JSON object whose entries keep the answer's order (quantile labels `p5` < `p25` < ...),
/// read without building a `serde_json::Value` tree for its arrays.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InOrder<V>(pub Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for InOrder<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Entries<V> {
            type Value = InOrder<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<InOrder<V>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, V>()? {
                    entries.push(entry);
                }
                Ok(InOrder(entries))
            }
        }
        deserializer.deserialize_map(Entries(std::marker::PhantomData))
    }
}

impl<V> InOrder<V> {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// An array of an answer with its dates (`None` when it has no value).
pub fn dated(values: Vec<Option<f64>>, dates: Option<&SeriesDates>) -> Option<Dated> {
    let dates = dates?;
    let start = dates.start_date?;
    (!values.is_empty()).then(|| Dated { start, step_days: dates.timestep_days.max(1), values })
}

/// The step the text shows an array at: every 4 weeks beyond two years, weekly for daily arrays
/// beyond 90 days, else as the API sent it.
pub fn text_step(api_step: u32, forecast_days: usize) -> u32 {
    if forecast_days > AUTO_WEEKLY_MAX_DAYS {
        28
    } else if api_step == 1 && forecast_days > 90 {
        7
    } else {
        api_step
    }
}

/// `series` sampled every `step` days on Mondays (or as it is, when `step` is its own).
pub fn sample(series: &Dated, step: u32) -> Dated {
    if step == series.step_days {
        return series.clone();
    }
    let first =
        if series.step_days == 1 { first_monday_on_or_after(series.start) } else { Some(series.start) };
    first
        .zip(series.end())
        .and_then(|(first, last)| series.sample(first, step, last))
        .unwrap_or_else(|| series.clone())
}

/// How a resolution reads in explanations.
pub fn describe_step(step: u32) -> String {
    match step {
        1 => "daily".into(),
        7 => "weekly (Mondays)".into(),
        28 => "every 4 weeks (28 days, on Mondays)".into(),
        other => format!("every {other} days"),
    }
}

/// A summary in words: "the value of 1y_sector_roi on 2027-01-04", "the first date
/// network_locked / circ_supply is below 0.2".
pub fn describe_summary(summary: &Value) -> String {
    let get = |key: &str| summary.get(key).and_then(Value::as_str);
    let series = get("series").unwrap_or("?");
    let quantity = match get("over") {
        Some(over) => format!("{series} / {over}"),
        None => series.to_string(),
    };
    let range = match (get("from"), get("to")) {
        (Some(from), Some(to)) => format!(" from {from} to {to}"),
        (Some(from), None) => format!(" from {from}"),
        (None, Some(to)) => format!(" up to {to}"),
        (None, None) => " over the forecast".to_string(),
    };
    let threshold = summary.get("threshold").map(Value::to_string).unwrap_or_default();
    match get("stat").unwrap_or("?") {
        "end" => match get("to") {
            Some(to) => format!("{quantity} at the end, on {to}"),
            None => format!("{quantity} at the end of the forecast"),
        },
        "value_at" => format!("{quantity} on {}", get("date").unwrap_or("?")),
        "mean" => format!("the mean of {quantity}{range}"),
        "min" => format!("the minimum of {quantity}{range}"),
        "max" => format!("the maximum of {quantity}{range}"),
        "first_below" => format!("the first date {quantity} is below {threshold}{range}"),
        "first_above" => format!("the first date {quantity} is above {threshold}{range}"),
        other => format!("{other} of {quantity}"),
    }
}

/// The unit of a summary's value: a date, a ratio, or its series' unit.
pub fn summary_unit(summary: &Value) -> String {
    let get = |key: &str| summary.get(key).and_then(Value::as_str);
    match (get("stat"), get("series"), get("over")) {
        (Some("first_below" | "first_above"), _, _) => "date".into(),
        (_, Some(series), Some(over)) if series_unit(series) == series_unit(over) => "ratio".into(),
        (_, Some(series), Some(over)) => format!("{} / {}", series_unit(series), series_unit(over)),
        (_, Some(series), None) => series_unit(series).into(),
        _ => String::new(),
    }
}

/// Definitions of summaries as the tools echo them: the summary, its meaning and unit.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryDefinition {
    /// The summary as sent.
    pub summary: Value,
    /// In words.
    pub meaning: String,
    /// The unit of its value.
    pub unit: String,
}

/// Definitions of the summaries of an answer's input (or those given).
pub fn summary_definitions(summaries: &Map<String, Value>) -> Ordered<SummaryDefinition> {
    let mut out = Ordered::default();
    for (label, summary) in summaries {
        out.push(
            label.clone(),
            SummaryDefinition {
                summary: summary.clone(),
                meaning: describe_summary(summary),
                unit: summary_unit(summary),
            },
        );
    }
    out
}

/// The summaries of an answer's input, if it echoed them.
pub fn input_summaries(common: &Common) -> Map<String, Value> {
    common.input.get("summaries").and_then(Value::as_object).cloned().unwrap_or_default()
}

/// The series dates of an answer.
pub type DatesMap = BTreeMap<String, SeriesDates>;

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(value: Value) -> Result<JsonObject, String> {
        let mut problems = Problems::default();
        let summary = read_summary(&value, "summary", &mut problems);
        problems.finish("t", ()).map_err(|e| e.to_string())?;
        Ok(summary.unwrap())
    }

    #[test]
    fn summaries_are_read_checked_and_described() {
        let roi =
            summary(json!({"series": "1y_sector_roi", "stat": "value_at", "date": "2027-01-04"})).unwrap();
        assert_eq!(
            Value::Object(roi.clone()),
            json!({"series": "1y_sector_roi", "stat": "value_at", "date": "2027-01-04"})
        );
        assert_eq!(describe_summary(&Value::Object(roi.clone())), "1y_sector_roi on 2027-01-04");
        assert_eq!(summary_unit(&Value::Object(roi)), "fraction");
        let lock = summary(json!({"series": "network_locked", "over": "circ_supply", "stat": "first_below", "threshold": "0.2"})).unwrap();
        assert_eq!(lock["threshold"], json!(0.2));
        assert_eq!(
            describe_summary(&Value::Object(lock.clone())),
            "the first date network_locked / circ_supply is below 0.2 over the forecast"
        );
        assert_eq!(summary_unit(&Value::Object(lock)), "date");
        for (bad, expected) in [
            (json!({"series": "supply", "stat": "end"}), "summary.series: unknown series \"supply\""),
            (json!({"series": "lock_ratio"}), "needs `stat`"),
            (json!({"stat": "end"}), "needs `series`"),
            (json!({"series": "lock_ratio", "stat": "value_at"}), "needs `date`"),
            (json!({"series": "lock_ratio", "stat": "first_below"}), "needs `threshold`"),
            (
                json!({"series": "lock_ratio", "stat": "mean", "from": "2030-01-01", "to": "2029-01-01"}),
                "is after to",
            ),
            (
                json!({"series": "lock_ratio", "stat": "median"}),
                "summary.stat: expected one of end, value_at",
            ),
            (json!({"series": "lock_ratio", "stat": "end", "when": 1}), "summary.when: unknown argument"),
            (json!("end"), "expected a summary such as"),
        ] {
            let message = summary(bad.clone()).unwrap_err();
            assert!(message.contains(expected), "{bad}: missing {expected:?} in {message}");
        }
    }

    #[test]
    fn knobs_and_units_come_from_the_rules() {
        assert_eq!(knob(&json!("rr")), Ok(Param::Rr));
        assert!(knob(&json!("forecast_length_days")).unwrap_err().contains("the knobs are rbp, rr"));
        assert_eq!(knob_unit(Param::Rbp), "PiB/day");
        assert_eq!(knob_unit(Param::Rr), "fraction");
        assert_eq!(knob_unit(Param::FilPlusM), "multiplier");
        assert_eq!(knob_unit(Param::SectorDurationDays), "days");
    }

    #[test]
    fn arrays_are_sampled_every_four_weeks_beyond_two_years() {
        assert_eq!(text_step(7, 3650), 28);
        assert_eq!(text_step(7, 365), 7);
        assert_eq!(text_step(1, 365), 7);
        assert_eq!(text_step(1, 60), 1);
        let weekly = Dated {
            start: "2025-09-15".parse().unwrap(),
            step_days: 7,
            values: (0..10).map(|i| Some(f64::from(i))).collect(),
        };
        assert_eq!(sample(&weekly, 28).values, [Some(0.0), Some(4.0), Some(8.0)]);
        let daily = Dated {
            start: "2025-09-09".parse().unwrap(),
            step_days: 1,
            values: (0..30).map(|i| Some(f64::from(i))).collect(),
        };
        let sampled = sample(&daily, 7);
        assert_eq!(sampled.start.to_string(), "2025-09-15");
        assert_eq!(sampled.values[..2], [Some(6.0), Some(13.0)]);
    }

    #[test]
    fn forecast_length_is_found_in_the_input() {
        let common =
            Common { input: json!({"base": {"rbp": 3, "forecast_length_days": 730}}), ..Common::default() };
        assert_eq!(common.forecast_len(), Some(730));
        let ordered: InOrder<Vec<f64>> = serde_json::from_value(json!({"p95": [1.0], "p5": [0.0]})).unwrap();
        assert_eq!(ordered.0[0].0, "p95");
    }
}
