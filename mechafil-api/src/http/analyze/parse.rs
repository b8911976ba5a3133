//! Request bodies of `/analyze/*` into the core's analysis specs, field by field, so every
//! problem (unknown field, wrong type, bad name) is reported at once with its path
//! (`vary.rbp.sd`, `summaries.lock.from`, `scenarios.high.rr`). Range and limit checks are the
//! core's (`Ensemble::prepare`, ...), whose field paths are the same.

use chrono::NaiveDate;
use mechafil_core::analysis::AnalysisSeries;
use mechafil_core::analysis::compare::CompareSpec;
use mechafil_core::analysis::ensemble::{DistSpec, EnsembleSpec};
use mechafil_core::analysis::sensitivity::{DEFAULT_MOVE_PCT, SensitivitySpec};
use mechafil_core::analysis::solve::SolveSpec;
use mechafil_core::analysis::summary::{Stat, SummarySpec};
use mechafil_core::analysis::sweep::SweepSpec;
use mechafil_core::sampling::Resolution;
use mechafil_core::{Param, SimParams};
use serde_json::{Map, Value};

use super::super::error::FieldError;
use super::super::request::{number, scenario_params, type_name};

/// Which fields a scenario object gave, for the explanation.
pub type Given = Vec<&'static str>;

/// Collects the problems of one body.
#[derive(Default)]
pub struct Fields {
    /// Every problem found so far.
    pub errors: Vec<FieldError>,
}

impl Fields {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Unknown keys of `map` (at `path`) are errors listing `allowed`.
    fn check_keys(&mut self, map: &Map<String, Value>, path: &str, allowed: &[&str]) {
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                self.push(join(path, key), format!("unknown field; valid fields: {}", allowed.join(", ")));
            }
        }
    }

    /// A JSON object, or an error.
    fn object<'a>(&mut self, value: &'a Value, field: &str) -> Option<&'a Map<String, Value>> {
        match value {
            Value::Object(map) => Some(map),
            other => {
                self.push(field, format!("expected an object, got {}", type_name(other)));
                None
            }
        }
    }

    /// An optional number (`null` = absent).
    fn opt_number(&mut self, map: &Map<String, Value>, key: &str, path: &str) -> Option<f64> {
        map.get(key).filter(|v| !v.is_null()).and_then(|v| number(v, &join(path, key), &mut self.errors))
    }

    /// An optional whole number in `0..=max`.
    fn opt_count(&mut self, map: &Map<String, Value>, key: &str, path: &str, max: u64) -> Option<u64> {
        let value = map.get(key).filter(|v| !v.is_null())?;
        match value.as_u64().filter(|n| *n <= max) {
            Some(n) => Some(n),
            None => {
                self.push(
                    join(path, key),
                    format!("expected a whole number in 0 ..= {max}, got {}", show(value)),
                );
                None
            }
        }
    }

    /// An optional boolean.
    fn opt_bool(&mut self, map: &Map<String, Value>, key: &str, path: &str) -> Option<bool> {
        match map.get(key)? {
            Value::Null => None,
            Value::Bool(b) => Some(*b),
            other => {
                self.push(join(path, key), format!("expected true or false, got {}", type_name(other)));
                None
            }
        }
    }

    /// An optional string.
    fn opt_str<'a>(&mut self, map: &'a Map<String, Value>, key: &str, path: &str) -> Option<&'a str> {
        match map.get(key)? {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => {
                self.push(join(path, key), format!("expected a string, got {}", type_name(other)));
                None
            }
        }
    }

    /// An optional `YYYY-MM-DD` date.
    fn opt_date(&mut self, map: &Map<String, Value>, key: &str, path: &str) -> Option<NaiveDate> {
        let text = self.opt_str(map, key, path)?;
        match text.parse() {
            Ok(d) => Some(d),
            Err(_) => {
                self.push(join(path, key), format!("{text:?} is not a date; expected YYYY-MM-DD"));
                None
            }
        }
    }

    /// A list of numbers.
    fn numbers(&mut self, value: &Value, field: &str) -> Option<Vec<f64>> {
        let Value::Array(items) = value else {
            self.push(field, format!("expected a list of numbers, got {}", type_name(value)));
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.as_f64() {
                Some(v) => out.push(v),
                None => {
                    self.push(format!("{field}[{i}]"), format!("expected a number, got {}", type_name(item)));
                    return None;
                }
            }
        }
        Some(out)
    }

    /// A scenario object (or absent: the defaults).
    pub fn scenario(&mut self, value: Option<&Value>, field: &str) -> (SimParams, Given) {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return (SimParams::default(), Vec::new());
        };
        let Some(map) = self.object(value, field) else {
            return (SimParams::default(), Vec::new());
        };
        if map.contains_key("output") {
            self.push(
                format!("{field}.output"),
                "not a scenario field; give output at the top level of the request",
            );
        }
        scenario_params(map, &format!("{field}."), &["output"], &[], &mut self.errors)
    }

    /// A knob name of the scenario (`rbp`, `sector_duration_days`, ...).
    fn knob(&mut self, name: &str, field: &str) -> Option<Param> {
        let param = Param::from_name(name).filter(|p| Param::SCALAR_KNOBS.contains(p));
        if param.is_none() {
            self.push(
                field,
                format!(
                    "{name:?} is not a knob; knobs: {}",
                    Param::SCALAR_KNOBS.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
                ),
            );
        }
        param
    }

    /// One series name (the 44 and `lock_ratio`).
    fn series(&mut self, value: &Value, field: &str) -> Option<AnalysisSeries> {
        let found = value.as_str().and_then(AnalysisSeries::from_name);
        if found.is_none() {
            self.push(
                field,
                format!(
                    "unknown series {}; valid names: {}",
                    show(value),
                    AnalysisSeries::names().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        found
    }

    /// `output`: a name or a list of names (absent: `default`).
    fn output(&mut self, map: &Map<String, Value>, default: Vec<AnalysisSeries>) -> Vec<AnalysisSeries> {
        match map.get("output") {
            None | Some(Value::Null) => default,
            Some(v @ Value::String(_)) => self.series(v, "output").into_iter().collect(),
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    self.push("output", "an empty list; give at least one series name");
                }
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| self.series(v, &format!("output[{i}]")))
                    .collect()
            }
            Some(other) => {
                self.push(
                    "output",
                    format!("expected a series name or a list of names, got {}", type_name(other)),
                );
                Vec::new()
            }
        }
    }

    /// `resolution`: `weekly` (default) or `daily`.
    fn resolution(&mut self, map: &Map<String, Value>) -> Resolution {
        match self.opt_str(map, "resolution", "") {
            None | Some("weekly") => Resolution::Weekly,
            Some("daily") => Resolution::Daily,
            Some(other) => {
                self.push("resolution", format!("{other:?}; expected \"weekly\" or \"daily\""));
                Resolution::Weekly
            }
        }
    }

    /// One summary object.
    pub fn summary(&mut self, value: &Value, field: &str) -> Option<SummarySpec> {
        let map = self.object(value, field)?;
        self.check_keys(map, field, &["series", "over", "stat", "date", "from", "to", "threshold"]);
        let series = match map.get("series") {
            None | Some(Value::Null) => {
                self.push(join(field, "series"), "required: the series to summarise");
                None
            }
            Some(v) => self.series(v, &join(field, "series")),
        };
        let over = match map.get("over") {
            None | Some(Value::Null) => None,
            Some(v) => match self.series(v, &join(field, "over")) {
                Some(AnalysisSeries::Series(s)) => Some(s),
                Some(AnalysisSeries::Ratio(..)) => {
                    self.push(join(field, "over"), "divide by one of the 44 series, not by a ratio");
                    None
                }
                None => None,
            },
        };
        let stat = match self.opt_str(map, "stat", field) {
            None => {
                self.push(join(field, "stat"), format!("required: one of {}", stat_names()));
                None
            }
            Some(name) => {
                let stat = Stat::from_name(name);
                if stat.is_none() {
                    self.push(join(field, "stat"), format!("{name:?}; expected one of {}", stat_names()));
                }
                stat
            }
        };
        let date = self.opt_date(map, "date", field);
        let from = self.opt_date(map, "from", field);
        let to = self.opt_date(map, "to", field);
        let threshold = self.opt_number(map, "threshold", field);
        Some(SummarySpec { series: series?, over, stat: stat?, date, from, to, threshold })
    }

    /// `summaries`: an object of labelled summaries (absent: `default`).
    fn summaries(
        &mut self,
        map: &Map<String, Value>,
        default: impl FnOnce() -> Vec<(String, SummarySpec)>,
    ) -> Vec<(String, SummarySpec)> {
        match map.get("summaries") {
            None | Some(Value::Null) => default(),
            Some(value) => {
                let Some(labelled) = self.object(value, "summaries") else { return Vec::new() };
                labelled
                    .iter()
                    .filter_map(|(label, v)| {
                        self.summary(v, &format!("summaries.{label}")).map(|s| (label.clone(), s))
                    })
                    .collect()
            }
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        other => type_name(other).to_string(),
    }
}

fn stat_names() -> String {
    Stat::ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
}

/// Largest seed: JSON numbers are exact integers up to 2^53.
pub const MAX_SEED: u64 = 1 << 53;

/// `/analyze/ensemble`.
pub fn ensemble(body: &Map<String, Value>, f: &mut Fields) -> (EnsembleSpec, Given) {
    f.check_keys(
        body,
        "",
        &[
            "base",
            "members",
            "seed",
            "vary",
            "output",
            "quantiles",
            "resolution",
            "summaries",
            "return_member_params",
            "member_paths",
        ],
    );
    let defaults = EnsembleSpec::default();
    let (base, given) = f.scenario(body.get("base"), "base");
    let members = f.opt_count(body, "members", "", u64::MAX).map_or(defaults.members, |n| n as usize);
    let seed = f.opt_count(body, "seed", "", MAX_SEED).unwrap_or(defaults.seed);
    let vary = match body.get("vary") {
        None | Some(Value::Null) => None,
        Some(value) => Some(f.object(value, "vary").map(|map| vary(map, f)).unwrap_or_default()),
    };
    let quantiles = match body.get("quantiles") {
        None | Some(Value::Null) => defaults.quantiles.clone(),
        Some(v) => f.numbers(v, "quantiles").unwrap_or_default(),
    };
    let spec = EnsembleSpec {
        base,
        members,
        seed,
        vary,
        output: f.output(body, defaults.output.clone()),
        quantiles,
        resolution: f.resolution(body),
        summaries: f.summaries(body, Vec::new),
        return_member_params: f.opt_bool(body, "return_member_params", "").unwrap_or(false),
        member_paths: f.opt_count(body, "member_paths", "", u64::MAX).map_or(0, |n| n as usize),
    };
    (spec, given)
}

/// `vary`: knob -> distribution.
fn vary(map: &Map<String, Value>, f: &mut Fields) -> Vec<(Param, DistSpec)> {
    let mut out = Vec::new();
    for (name, value) in map {
        let field = format!("vary.{name}");
        let Some(param) = f.knob(name, &field) else { continue };
        let Some(dist) = f.object(value, &field) else { continue };
        let kind = f.opt_str(dist, "dist", &field);
        let spec = match kind {
            Some("uniform") => {
                f.check_keys(dist, &field, &["dist", "lo", "hi"]);
                let lo = f.opt_number(dist, "lo", &field);
                let hi = f.opt_number(dist, "hi", &field);
                for (part, v) in [("lo", lo), ("hi", hi)] {
                    if v.is_none() && dist.get(part).is_none_or(Value::is_null) {
                        f.push(join(&field, part), "required by a uniform distribution");
                    }
                }
                lo.zip(hi).map(|(lo, hi)| DistSpec::Uniform { lo, hi })
            }
            Some(k @ ("normal" | "lognormal")) => {
                f.check_keys(dist, &field, &["dist", "mean", "sd"]);
                let mean = f.opt_number(dist, "mean", &field);
                let sd = f.opt_number(dist, "sd", &field);
                if sd.is_none() && dist.get("sd").is_none_or(Value::is_null) {
                    f.push(join(&field, "sd"), format!("required by a {k} distribution"));
                }
                sd.map(|sd| {
                    if k == "normal" {
                        DistSpec::Normal { mean, sd }
                    } else {
                        DistSpec::LogNormal { mean, sd }
                    }
                })
            }
            Some("walk") => {
                f.check_keys(dist, &field, &["dist", "start", "vol"]);
                let start = f.opt_number(dist, "start", &field);
                let vol = f.opt_number(dist, "vol", &field);
                if vol.is_none() && dist.get("vol").is_none_or(Value::is_null) {
                    f.push(join(&field, "vol"), "required by a walk: the daily volatility");
                }
                vol.map(|vol| DistSpec::Walk { start, vol })
            }
            Some(other) => {
                f.push(
                    join(&field, "dist"),
                    format!("{other:?}; expected uniform, normal, lognormal or walk"),
                );
                None
            }
            None => {
                f.push(join(&field, "dist"), "required: uniform, normal, lognormal or walk");
                None
            }
        };
        if let Some(spec) = spec {
            out.push((param, spec));
        }
    }
    out
}

/// `/analyze/sweep`.
pub fn sweep(body: &Map<String, Value>, f: &mut Fields) -> (SweepSpec, Given) {
    f.check_keys(body, "", &["base", "axes", "summaries"]);
    let (base, given) = f.scenario(body.get("base"), "base");
    let mut axes = Vec::new();
    match body.get("axes") {
        None | Some(Value::Null) => f.push("axes", "required: {\"<knob>\": [values], ...}, 1 to 4 knobs"),
        Some(Value::Object(map)) => {
            for (name, values) in map {
                let field = format!("axes.{name}");
                let param = f.knob(name, &field);
                let values = f.numbers(values, &field);
                if let (Some(p), Some(v)) = (param, values) {
                    axes.push((p, v));
                }
            }
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let field = format!("axes[{i}]");
                let Some(axis) = f.object(item, &field) else { continue };
                f.check_keys(axis, &field, &["knob", "values"]);
                let param = match f.opt_str(axis, "knob", &field) {
                    Some(name) => f.knob(name, &join(&field, "knob")),
                    None => {
                        f.push(join(&field, "knob"), "required");
                        None
                    }
                };
                let values = match axis.get("values") {
                    Some(v) => f.numbers(v, &join(&field, "values")),
                    None => {
                        f.push(join(&field, "values"), "required");
                        None
                    }
                };
                if let (Some(p), Some(v)) = (param, values) {
                    axes.push((p, v));
                }
            }
        }
        Some(other) => f.push(
            "axes",
            format!(
                "expected {{\"<knob>\": [values]}} or a list of {{\"knob\", \"values\"}}, got {}",
                type_name(other)
            ),
        ),
    }
    let summaries = f.summaries(body, SweepSpec::default_summaries);
    (SweepSpec { base, axes, summaries }, given)
}

/// `/analyze/solve`.
pub fn solve(body: &Map<String, Value>, f: &mut Fields) -> (Option<SolveSpec>, Given) {
    f.check_keys(body, "", &["base", "knob", "summary", "target", "bracket", "tolerance"]);
    let (base, given) = f.scenario(body.get("base"), "base");
    let knob = match f.opt_str(body, "knob", "") {
        Some(name) => f.knob(name, "knob"),
        None => {
            f.push("knob", "required: the knob to solve for");
            None
        }
    };
    let summary = match body.get("summary") {
        None | Some(Value::Null) => {
            f.push("summary", "required: the quantity that must reach the target");
            None
        }
        Some(v) => f.summary(v, "summary"),
    };
    let target = f.opt_number(body, "target", "");
    if target.is_none() && body.get("target").is_none_or(Value::is_null) {
        f.push("target", "required: the value the summary must reach");
    }
    let bracket = match body.get("bracket") {
        None | Some(Value::Null) => None,
        Some(v) => match f.numbers(v, "bracket").as_deref() {
            Some(&[lo, hi]) => Some((lo, hi)),
            Some(other) => {
                f.push("bracket", format!("expected [lo, hi], got {} numbers", other.len()));
                None
            }
            None => None,
        },
    };
    let tolerance = f.opt_number(body, "tolerance", "");
    let spec = match (knob, summary, target) {
        (Some(knob), Some(summary), Some(target)) => {
            Some(SolveSpec { base, knob, summary, target, bracket, tolerance })
        }
        _ => None,
    };
    (spec, given)
}

/// `/analyze/sensitivity` (the default summaries need the forecast length: `default_summaries`).
pub fn sensitivity(
    body: &Map<String, Value>,
    f: &mut Fields,
    default_summaries: impl FnOnce(&SimParams) -> Vec<(String, SummarySpec)>,
) -> (SensitivitySpec, Given) {
    f.check_keys(body, "", &["base", "summaries", "knobs", "move_pct", "duration_step"]);
    let (base, given) = f.scenario(body.get("base"), "base");
    let summaries = f.summaries(body, || default_summaries(&base));
    let knobs = match body.get("knobs") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| match v.as_str() {
                    Some(name) => f.knob(name, &format!("knobs[{i}]")),
                    None => {
                        f.push(format!("knobs[{i}]"), format!("expected a knob name, got {}", type_name(v)));
                        None
                    }
                })
                .collect(),
        ),
        Some(other) => {
            f.push("knobs", format!("expected a list of knob names, got {}", type_name(other)));
            None
        }
    };
    let move_pct = f.opt_number(body, "move_pct", "").unwrap_or(DEFAULT_MOVE_PCT);
    let duration_step = f.opt_count(body, "duration_step", "", 365).map_or(1, |n| n as usize);
    (SensitivitySpec { base, summaries, knobs, move_pct, duration_step }, given)
}

/// `/analyze/compare`: the spec and the fields each scenario gave (`baseline` first).
pub fn compare(body: &Map<String, Value>, f: &mut Fields) -> (CompareSpec, Vec<(String, Given)>) {
    f.check_keys(body, "", &["baseline", "scenarios", "output", "resolution", "summaries"]);
    let (baseline, baseline_given) = f.scenario(body.get("baseline"), "baseline");
    let mut given = vec![("baseline".to_string(), baseline_given)];
    let mut scenarios = Vec::new();
    match body.get("scenarios") {
        None | Some(Value::Null) => f.push("scenarios", "required: {\"<name>\": scenario, ...}, 1 to 10"),
        Some(value) => {
            if let Some(map) = f.object(value, "scenarios") {
                for (name, scenario) in map {
                    let (params, g) = f.scenario(Some(scenario), &format!("scenarios.{name}"));
                    scenarios.push((name.clone(), params));
                    given.push((name.clone(), g));
                }
            }
        }
    }
    let spec = CompareSpec {
        baseline,
        scenarios,
        output: f.output(body, CompareSpec::default_output()),
        resolution: f.resolution(body),
        summaries: f.summaries(body, Vec::new),
    };
    (spec, given)
}
