//! A bounded JSON parser: request bytes to a `serde_json::Value` tree, refusing duplicate keys at
//! any depth and stopping as soon as the body holds more values than its endpoint allows.
//!
//! Why not `serde_json::from_slice::<Value>`: it accepts `{"rr": 0.5, "rr": 2}` (the last wins,
//! silently) and builds the whole tree before anything can look at it. A `Value` costs 72 bytes
//! (with `preserve_order`), more while a list grows, so a 4 MiB body of `1,1,1,...` (two million
//! numbers) became ~100 MB of tree.
//! Here every value is counted while it is parsed against a budget of [`ParseLimits::max_values`];
//! the parse fails at the first value over it, so the tree never grows past
//! `max_values` entries, whatever the body. Depth stays bounded by serde_json's recursion limit
//! (128). The callers keep seeing a plain `Map<String, Value>`.

use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// What one body may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Most values (numbers, strings, booleans, nulls, lists, objects and object keys).
    pub max_values: usize,
}

/// Why a body is not a JSON object we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// Not JSON, a duplicate key, or not an object at the top level.
    #[error("{0}")]
    Malformed(String),
    /// More values than [`ParseLimits::max_values`].
    #[error("the body holds more than {limit} JSON values")]
    TooManyValues {
        /// The limit.
        limit: usize,
    },
}

/// Parses `body` as one JSON object within `limits`. An empty (or all-whitespace) body is `{}`.
pub fn parse_object(body: &[u8], limits: ParseLimits) -> Result<Map<String, Value>, JsonError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let budget = Budget { left: Cell::new(limits.max_values), exceeded: Cell::new(false) };
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed =
        ValueSeed { budget: &budget }.deserialize(&mut de).and_then(|value| de.end().map(|()| value));
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(JsonError::Malformed(format!("expected a JSON object, got {}", kind(&other)))),
        Err(_) if budget.exceeded.get() => Err(JsonError::TooManyValues { limit: limits.max_values }),
        Err(e) => Err(JsonError::Malformed(format!("malformed JSON: {e}"))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Values still allowed; set `exceeded` when the parse stopped because of it (the error message
/// alone could not tell this from a syntax error).
struct Budget {
    left: Cell<usize>,
    exceeded: Cell<bool>,
}

impl Budget {
    fn take<E: serde::de::Error>(&self) -> Result<(), E> {
        match self.left.get() {
            0 => {
                self.exceeded.set(true);
                Err(E::custom("too many values"))
            }
            n => {
                self.left.set(n - 1);
                Ok(())
            }
        }
    }
}

#[derive(Clone, Copy)]
struct ValueSeed<'b> {
    budget: &'b Budget,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        self.budget.take()?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        self.budget.take()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        self.budget.take()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        self.budget.take()?;
        // JSON text cannot spell NaN or infinity; serde_json turns an overflowing literal
        // (1e400) into an error before it gets here.
        Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        self.budget.take()?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        self.budget.take()?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        self.budget.take()?;
        Ok(Value::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.budget.take()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        self.budget.take()?;
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            self.budget.take()?;
            if map.contains_key(&key) {
                return Err(A::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let value = access.next_value_seed(self)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ROOMY: ParseLimits = ParseLimits { max_values: 1000 };

    fn parse(text: &str, limits: ParseLimits) -> Result<Value, JsonError> {
        parse_object(text.as_bytes(), limits).map(Value::Object)
    }

    #[test]
    fn parses_what_serde_json_parses_keeping_key_order() {
        let text = r#"{"z": [1, -2, 3.5, 1e300, 18446744073709551615, "s", null, true],
                      "a": {"nested": {"deep": []}}, "m": {}}"#;
        let ours = parse(text, ROOMY).unwrap();
        let theirs: Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours, theirs);
        let keys: Vec<&String> = ours.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
        // Floats come back bit for bit (serde_json's float_roundtrip).
        let x = parse(r#"{"x": 0.30000000000000004}"#, ROOMY).unwrap();
        assert_eq!(x["x"].as_f64().unwrap().to_bits(), 0.30000000000000004f64.to_bits());
    }

    #[test]
    fn empty_bodies_are_empty_objects_and_other_tops_are_refused() {
        assert_eq!(parse(" \n", ROOMY).unwrap(), json!({}));
        for (text, what) in [("[1]", "a list"), ("3", "a number"), ("null", "null"), ("\"x\"", "a string")] {
            let err = parse(text, ROOMY).unwrap_err();
            assert_eq!(err, JsonError::Malformed(format!("expected a JSON object, got {what}")));
        }
        assert!(
            matches!(parse("{\"a\": 1} x", ROOMY), Err(JsonError::Malformed(m)) if m.contains("trailing"))
        );
        assert!(matches!(parse("{\"a\": 1e400}", ROOMY), Err(JsonError::Malformed(_))));
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        for text in [
            r#"{"rr": 0.5, "rr": 2}"#,
            r#"{"scenarios": [{}, {"rbp": 1, "rbp": 1}]}"#,
            r#"{"base": {"vary": {"rbp": {"sd": 1, "sd": 2}}}}"#,
        ] {
            match parse(text, ROOMY) {
                Err(JsonError::Malformed(m)) => assert!(m.contains("duplicate key"), "{text}: {m}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        // The same key in sibling objects is fine.
        assert!(parse(r#"{"a": {"k": 1}, "b": {"k": 2}}"#, ROOMY).is_ok());
    }

    #[test]
    fn the_value_budget_counts_every_value_and_key() {
        // {"a": [1, 2]}: the object, the key, the list and two numbers.
        assert!(parse(r#"{"a": [1, 2]}"#, ParseLimits { max_values: 5 }).is_ok());
        assert_eq!(
            parse(r#"{"a": [1, 2]}"#, ParseLimits { max_values: 4 }).unwrap_err(),
            JsonError::TooManyValues { limit: 4 }
        );
        let long = format!("{{\"rbp\": [{}]}}", vec!["1"; 100_000].join(","));
        assert_eq!(
            parse(&long, ParseLimits { max_values: 65_536 }).unwrap_err(),
            JsonError::TooManyValues { limit: 65_536 }
        );
        // A syntax error is still reported as such when the budget is not the cause.
        assert!(matches!(parse("{\"a\": [1,", ROOMY), Err(JsonError::Malformed(_))));
    }

    #[test]
    fn nesting_is_bounded_by_the_recursion_limit() {
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(parse(&deep, ParseLimits { max_values: 1_000_000 }), Err(JsonError::Malformed(_))));
    }
}
