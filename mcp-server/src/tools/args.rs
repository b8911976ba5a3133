//! Reading tool arguments: the shapes every client sends, taken apart field by field into
//! typed values, with a message naming the argument at fault.
//!
//! Parse, then use: each tool turns its raw JSON object into a validated request here, before
//! any HTTP call, and a failure is a tool error (`isError`) that lists every problem at once:
//! Claude reads tool errors and fixes its arguments, while a JSON-RPC error would reach it as an
//! opaque failure.
//!
//! The readers are lenient where clients and models are known to differ from the schema, as the
//! reference server's pydantic models are: a number may come as a numeric string (`"365"`), a
//! boolean as `"true"`, an optional argument as `null` (absent), a list of names as one
//! comma-separated string, and the whole argument object wrapped as the reference's clients
//! wrap it (`{"sim": {...}}`, `{"req": {...}}`, see [`unwrap_reference_shape`]). Nothing else is
//! guessed: an unknown argument is an error that lists the valid ones.

use std::fmt;

use rmcp::model::JsonObject;
use serde_json::Value;

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

/// Problems found while reading one tool's arguments.
#[derive(Debug, Default)]
pub struct Problems(Vec<String>);

impl Problems {
    /// Records a problem with the argument at `path`.
    pub fn at(&mut self, path: &str, problem: impl fmt::Display) {
        if path.is_empty() {
            self.0.push(problem.to_string());
        } else {
            self.0.push(format!("{path}: {problem}"));
        }
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems were found so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `value` if no problem was found, else every problem.
    pub fn finish<T>(self, tool: &'static str, value: T) -> Result<T, InvalidArgs> {
        if self.0.is_empty() { Ok(value) } else { Err(InvalidArgs { tool, problems: self.0 }) }
    }
}

/// The keys under which the reference's clients wrap a tool's whole argument object: its
/// FastMCP tools took one pydantic model parameter (`simulate(sim)`, `provide_plot(req)`), so
/// clients written against it send `{"sim": {...}}` or `{"req": {...}}`.
pub const WRAPPER_KEYS: [&str; 2] = ["sim", "req"];

/// Unwraps `{"sim": {...}}` / `{"req": {...}}` into the object inside; other objects are
/// returned as they are. A wrapper must be the only key, so that no argument is silently lost.
pub fn unwrap_reference_shape(tool: &'static str, mut args: JsonObject) -> Result<JsonObject, InvalidArgs> {
    let Some(key) = WRAPPER_KEYS.into_iter().find(|key| args.contains_key(*key)) else {
        return Ok(args);
    };
    let invalid = |problem: String| InvalidArgs { tool, problems: vec![problem] };
    if args.len() > 1 {
        let others: Vec<&str> = args.keys().map(String::as_str).filter(|k| *k != key).collect();
        return Err(invalid(format!(
            "{key}: `{key}` wraps the whole argument object, so it must be the only argument; \
             move {} inside it or drop the wrapper",
            others.join(", ")
        )));
    }
    match args.remove(key) {
        Some(Value::Object(inner)) => Ok(inner),
        Some(Value::Null) => Ok(JsonObject::new()),
        Some(other) => {
            Err(invalid(format!("{key}: expected an object of arguments, got {}", describe(&other))))
        }
        None => Ok(args),
    }
}

/// One argument object, taken apart key by key. Keys are removed as they are read, so
/// [`Fields::finish`] can report the ones nobody asked for.
#[derive(Debug)]
pub struct Fields {
    prefix: String,
    map: JsonObject,
}

impl Fields {
    /// The object at `prefix` (`""` for the top level, `"base"` for a nested scenario).
    pub fn new(prefix: impl Into<String>, map: JsonObject) -> Fields {
        Fields { prefix: prefix.into(), map }
    }

    /// The path of `key` in messages: `rbp`, `base.rbp`.
    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() { key.to_string() } else { format!("{}.{key}", self.prefix) }
    }

    /// Removes and returns `key`; `null` counts as absent (clients send optional arguments as
    /// `null`, and the reference's pydantic models read that as "not given").
    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key).filter(|value| !value.is_null())
    }

    /// Whether `key` is present (and not `null`).
    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|value| !value.is_null())
    }

    /// Reads `key` with `read`, recording a problem (and returning `None`) when it fails.
    pub fn read<T>(
        &mut self,
        key: &str,
        problems: &mut Problems,
        read: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.take(key)?;
        match read(&value) {
            Ok(value) => Some(value),
            Err(problem) => {
                problems.at(&self.path(key), problem);
                None
            }
        }
    }

    /// Reports every key not read, listing the `allowed` ones.
    pub fn finish(self, allowed: &[&str], problems: &mut Problems) {
        for key in self.map.keys() {
            let path = self.path(key);
            let valid = if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") };
            problems.at(&path, format!("unknown argument; the valid ones are {valid}"));
        }
    }
}

/// A short description of a JSON value for messages: `a string ("fast")`.
pub fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".into(),
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    let mut text = value.to_string();
    if text.chars().count() > 40 {
        text = format!("{}…", text.chars().take(40).collect::<String>());
    }
    format!("{kind} ({text})")
}

/// A finite number, or a string holding one (`"0.7"`, `" 365 "`).
pub fn number(value: &Value) -> Result<f64, String> {
    let parsed = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match parsed {
        Some(x) if x.is_finite() => Ok(x),
        Some(x) => Err(format!("{x} is not a finite number")),
        None => Err(format!("expected a number, got {}", describe(value))),
    }
}

/// A whole number in `0..=u32::MAX` (`365`, `365.0`, `"365"`).
pub fn whole_number(value: &Value) -> Result<u32, String> {
    let x = number(value)?;
    if x.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&x) {
        return Err(format!("expected a whole number, got {x}"));
    }
    Ok(x as u32)
}

/// `true`/`false`, or the strings `"true"`/`"false"` in any case.
pub fn boolean(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        other => Err(format!("expected true or false, got {}", describe(other))),
    }
}

/// A string of at most `max_chars` characters, trimmed.
pub fn text(value: &Value, max_chars: usize) -> Result<String, String> {
    match value {
        Value::String(s) if s.chars().count() <= max_chars => Ok(s.trim().to_string()),
        Value::String(s) => Err(format!("at most {max_chars} characters, got {}", s.chars().count())),
        other => Err(format!("expected a string, got {}", describe(other))),
    }
}

/// A list of numbers (each may be a numeric string) of 1 to `max_len` values.
pub fn number_list(value: &Value, max_len: usize) -> Result<Vec<f64>, String> {
    let Value::Array(items) = value else {
        return Err(format!("expected a list of numbers, got {}", describe(value)));
    };
    if items.is_empty() || items.len() > max_len {
        return Err(format!("a list of 1 to {max_len} numbers, got {} values", items.len()));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| number(item).map_err(|err| format!("item [{i}]: {err}")))
        .collect()
}

/// One name, a comma-separated string of names, or a list of names (each of which may itself
/// be comma-separated). Empty names are dropped.
pub fn name_list(value: &Value) -> Result<Vec<String>, String> {
    let split = |s: &str| -> Vec<String> {
        s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
    };
    match value {
        Value::String(s) => Ok(split(s)),
        Value::Array(items) => {
            let mut names = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => names.extend(split(s)),
                    other => {
                        return Err(format!(
                            "expected a name or a list of names, but item [{i}] is {}",
                            describe(other)
                        ));
                    }
                }
            }
            Ok(names)
        }
        other => Err(format!("expected a name or a list of names, got {}", describe(other))),
    }
}

/// Earliest and latest year a date argument may have: a start date far in the future is a
/// mistake, and date arithmetic from it could leave the calendar.
pub const DATE_YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

/// A `YYYY-MM-DD` date within [`DATE_YEARS`].
pub fn date(value: &Value) -> Result<chrono::NaiveDate, String> {
    let text =
        value.as_str().ok_or_else(|| format!("expected a date YYYY-MM-DD, got {}", describe(value)))?;
    let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("expected a date YYYY-MM-DD, got {text:?}"))?;
    if !DATE_YEARS.contains(&chrono::Datelike::year(&date)) {
        return Err(format!("{date} is outside the years {} to {}", DATE_YEARS.start(), DATE_YEARS.end()));
    }
    Ok(date)
}

/// An object (a nested scenario, a map of scenarios).
pub fn object(value: &Value) -> Result<JsonObject, String> {
    match value {
        Value::Object(map) => Ok(map.clone()),
        other => Err(format!("expected an object, got {}", describe(other))),
    }
}

/// One of `choices` (case-insensitive), returned as the choice itself.
pub fn choice(value: &Value, choices: &[&'static str]) -> Result<&'static str, String> {
    let given = match value {
        Value::String(s) => s.trim(),
        other => return Err(format!("expected one of {}, got {}", choices.join(", "), describe(other))),
    };
    choices
        .iter()
        .find(|choice| choice.eq_ignore_ascii_case(given))
        .copied()
        .ok_or_else(|| format!("expected one of {}, got {given:?}", choices.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object_of(value: Value) -> JsonObject {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn numbers_may_come_as_numeric_strings() {
        assert_eq!(number(&json!(0.7)), Ok(0.7));
        assert_eq!(number(&json!("0.7")), Ok(0.7));
        assert_eq!(number(&json!(" 365 ")), Ok(365.0));
        assert_eq!(whole_number(&json!("365")), Ok(365));
        assert_eq!(whole_number(&json!(365.0)), Ok(365));
        assert!(whole_number(&json!(365.5)).unwrap_err().contains("whole number"));
        assert!(whole_number(&json!(-1)).is_err());
        assert!(number(&json!("NaN")).unwrap_err().contains("not a finite number"));
        assert!(number(&json!("inf")).is_err());
        assert_eq!(number(&json!("fast")), Err("expected a number, got a string (\"fast\")".into()));
        assert_eq!(number(&json!([1])), Err("expected a number, got a list ([1])".into()));
        assert_eq!(boolean(&json!("TRUE")), Ok(true));
        assert_eq!(boolean(&json!(false)), Ok(false));
        assert!(boolean(&json!(1)).is_err());
    }

    #[test]
    fn lists_name_the_item_at_fault() {
        assert_eq!(number_list(&json!([1, "2", 3.5]), 5), Ok(vec![1.0, 2.0, 3.5]));
        assert_eq!(
            number_list(&json!([1, "x"]), 5),
            Err("item [1]: expected a number, got a string (\"x\")".into())
        );
        assert!(number_list(&json!([]), 5).unwrap_err().contains("1 to 5"));
        assert!(number_list(&json!([1, 2, 3]), 2).unwrap_err().contains("got 3 values"));
        assert_eq!(name_list(&json!("a, b,,c")), Ok(vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(name_list(&json!(["a", "b,c"])), Ok(vec!["a".into(), "b".into(), "c".into()]));
        assert!(name_list(&json!([3])).unwrap_err().contains("item [0] is a number"));
    }

    #[test]
    fn wrappers_are_unwrapped_and_must_stand_alone() {
        let inner = json!({"rbp": 3, "forecast_length_days": "365"});
        assert_eq!(
            unwrap_reference_shape("simulate", object_of(json!({"sim": inner}))).unwrap(),
            object_of(inner.clone())
        );
        assert_eq!(
            unwrap_reference_shape("provide_plot", object_of(json!({"req": inner}))).unwrap(),
            object_of(inner.clone())
        );
        assert_eq!(unwrap_reference_shape("simulate", object_of(inner.clone())).unwrap(), object_of(inner));
        assert!(unwrap_reference_shape("simulate", object_of(json!({"sim": null}))).unwrap().is_empty());
        let err = unwrap_reference_shape("simulate", object_of(json!({"sim": {}, "rbp": 3}))).unwrap_err();
        assert!(err.to_string().contains("sim: `sim` wraps the whole argument object"), "{err}");
        assert!(err.to_string().contains("move rbp inside it"), "{err}");
        let err = unwrap_reference_shape("simulate", object_of(json!({"sim": [1]}))).unwrap_err();
        assert!(err.to_string().contains("sim: expected an object of arguments, got a list"), "{err}");
    }

    #[test]
    fn fields_report_unknown_keys_and_treat_null_as_absent() {
        let mut problems = Problems::default();
        let mut fields = Fields::new("base", object_of(json!({"rbp": null, "rr": "0.5", "rbpp": 1})));
        assert_eq!(fields.read("rbp", &mut problems, number), None);
        assert_eq!(fields.read("rr", &mut problems, number), Some(0.5));
        fields.finish(&["rbp", "rr"], &mut problems);
        let err = problems.finish("sweep", ()).unwrap_err();
        assert_eq!(err.problems, ["base.rbpp: unknown argument; the valid ones are rbp, rr"]);
        assert_eq!(choice(&json!("Weekly"), &["daily", "weekly"]), Ok("weekly"));
        assert!(choice(&json!("hourly"), &["daily", "weekly"]).unwrap_err().contains("daily, weekly"));
    }
}
