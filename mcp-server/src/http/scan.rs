//! A pass over a request body that builds no JSON tree: it counts the values and the nesting
//! depth (refusing bodies over the limits before anything parses them into memory) and reads
//! the few facts the HTTP layer needs: the JSON-RPC `method`, the `id` (for an error answer),
//! and whether a notification was sent with an id.
//!
//! Why: rmcp parses every body into a `serde_json::Value` tree, about 80 bytes per value. A
//! 1 MiB body of small numbers is 500,000 values, 40 MB of tree, and twenty of them at once
//! were most of a gigabyte. Scanning first costs no memory, and a body that passes holds at most
//! [`crate::http::HttpLimits::max_json_values`] values: the largest legitimate request (a
//! `simulate` with six per-day lists of 7,300 days) has about 44,000.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// What the scan found in a body that is within the limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The top-level `method`, when the body is one JSON-RPC message.
    pub method: Option<String>,
    /// The top-level `id` (a number or a string), when there is one.
    pub id: Option<Value>,
    /// How many JSON values the body holds.
    pub values: usize,
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScanError {
    /// More values than allowed.
    #[error("the request holds more than {0} JSON values")]
    TooManyValues(usize),
    /// Nested deeper than allowed.
    #[error("the request nests JSON deeper than {0} levels")]
    TooDeep(usize),
    /// Not JSON at all (rmcp answers it as a parse error).
    #[error("the request is not JSON: {0}")]
    NotJson(String),
}

/// Limits of one scan.
#[derive(Debug, Clone, Copy)]
pub struct ScanLimits {
    /// Most values (every number, string, boolean, null, list and object counts one).
    pub max_values: usize,
    /// Deepest nesting.
    pub max_depth: usize,
}

struct Budget<'a> {
    limits: ScanLimits,
    values: &'a Cell<usize>,
    /// The top-level id as soon as it is read, for an error answer to a refused body.
    id: &'a Cell<Option<Value>>,
    /// The first limit exceeded (serde's own error would lose which one).
    exceeded: &'a Cell<Option<ScanError>>,
}

impl Budget<'_> {
    fn count<E: de::Error>(&self, depth: usize) -> Result<(), E> {
        let values = self.values.get() + 1;
        self.values.set(values);
        let problem = if values > self.limits.max_values {
            Some(ScanError::TooManyValues(self.limits.max_values))
        } else if depth > self.limits.max_depth {
            Some(ScanError::TooDeep(self.limits.max_depth))
        } else {
            None
        };
        match problem {
            Some(problem) => {
                let message = problem.to_string();
                self.exceeded.set(Some(problem));
                Err(E::custom(message))
            }
            None => Ok(()),
        }
    }
}

/// Counts one value (and everything inside it) at `depth`.
struct Count<'b, 'a> {
    budget: &'b Budget<'a>,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Count<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Count<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.budget.count(self.depth)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.budget.count(self.depth)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.budget.count(self.depth)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.budget.count(self.depth)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.budget.count(self.depth)
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.budget.count(self.depth)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.budget.count(self.depth)?;
        while seq.next_element_seed(Count { budget: self.budget, depth: self.depth + 1 })?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.budget.count(self.depth)?;
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Count { budget: self.budget, depth: self.depth + 1 })?;
        }
        Ok(())
    }
}

/// Counts one value at depth 1 and keeps it when it is a string or a number (a `method` or an
/// `id`); a list or an object there is counted like any other, never built.
struct Scalar<'b, 'a> {
    budget: &'b Budget<'a>,
}

impl<'de> DeserializeSeed<'de> for Scalar<'_, '_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Value>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scalar<'_, '_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        self.budget.count(1).map(|()| None)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.budget.count(1).map(|()| Some(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.budget.count(1).map(|()| Some(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.budget.count(1).map(|()| Some(Value::from(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        // Longer strings are no method name or id anyone sends; they are counted, not kept.
        self.budget.count(1).map(|()| (v.len() <= 200).then(|| Value::from(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.budget.count(1).map(|()| None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Count { budget: self.budget, depth: 1 }.visit_seq(seq).map(|()| None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Count { budget: self.budget, depth: 1 }.visit_map(map).map(|()| None)
    }
}

/// The top level: counts everything, and keeps `method` and a scalar `id` of an object.
struct TopLevel<'b, 'a> {
    budget: &'b Budget<'a>,
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = (Option<String>, Option<Value>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC message")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        self.budget.count(0)?;
        let (mut method, mut id) = (None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "method" => {
                    method = map
                        .next_value_seed(Scalar { budget: self.budget })?
                        .and_then(|v| v.as_str().map(String::from));
                }
                "id" => {
                    id = map.next_value_seed(Scalar { budget: self.budget })?;
                    self.budget.id.set(id.clone());
                }
                _ => map.next_value_seed(Count { budget: self.budget, depth: 1 })?,
            }
        }
        Ok((method, id))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Count { budget: self.budget, depth: 0 }.visit_seq(seq).map(|()| (None, None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        self.budget.count(0).map(|()| (None, None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        self.budget.count(0).map(|()| (None, None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        self.budget.count(0).map(|()| (None, None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        self.budget.count(0).map(|()| (None, None))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        self.budget.count(0).map(|()| (None, None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.budget.count(0).map(|()| (None, None))
    }
}

/// A refused body: why, and its `id` if it came before the problem (for the error answer).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// Why.
    pub error: ScanError,
    /// The request's id, if read.
    pub id: Option<Value>,
}

/// Scans `body` within `limits`.
pub fn scan(body: &[u8], limits: ScanLimits) -> Result<Facts, Refusal> {
    let values = Cell::new(0);
    let exceeded = Cell::new(None);
    let id = Cell::new(None);
    let budget = Budget { limits, values: &values, id: &id, exceeded: &exceeded };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    // The scan counts depth itself; serde_json's own recursion limit (128) stays as a backstop.
    let result = deserializer.deserialize_any(TopLevel { budget: &budget }).and_then(|facts| {
        deserializer.end()?;
        Ok(facts)
    });
    match (result, exceeded.take()) {
        (_, Some(error)) => Err(Refusal { error, id: id.take() }),
        (Ok((method, id)), None) => Ok(Facts { method, id, values: values.get() }),
        (Err(err), None) => Err(Refusal { error: ScanError::NotJson(err.to_string()), id: id.take() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIMITS: ScanLimits = ScanLimits { max_values: 100, max_depth: 8 };

    #[test]
    fn counts_every_value_and_keeps_method_and_id() {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "simulate", "arguments": {"rr": [0.5, 0.6]}}});
        let facts = scan(body.to_string().as_bytes(), LIMITS).unwrap();
        assert_eq!(facts.method.as_deref(), Some("tools/call"));
        assert_eq!(facts.id, Some(json!(7)));
        // object, "2.0", 7, method, params object, "simulate", arguments object, list, 2 numbers
        assert_eq!(facts.values, 10);
        let facts = scan(br#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#, LIMITS).unwrap();
        assert_eq!(facts.id, Some(json!("a")));
        assert_eq!(scan(b"[1, 2]", LIMITS).unwrap().method, None);
    }

    #[test]
    fn refuses_too_many_values_or_too_deep_nesting() {
        let error = |body: &[u8]| scan(body, LIMITS).unwrap_err();
        let many = json!({"id": 1, "params": (0..200).collect::<Vec<_>>()});
        assert_eq!(
            error(many.to_string().as_bytes()),
            Refusal { error: ScanError::TooManyValues(100), id: Some(json!(1)) }
        );
        let deep = format!("{}1{}", "[".repeat(20), "]".repeat(20));
        assert_eq!(error(deep.as_bytes()).error, ScanError::TooDeep(8));
        assert!(matches!(error(b"{not json").error, ScanError::NotJson(_)));
        assert!(matches!(error(b"{} {}").error, ScanError::NotJson(_)));
        // A method or id that is a huge list is counted like everything else, not built.
        let sneaky = json!({"method": (0..200).collect::<Vec<_>>()});
        assert_eq!(error(sneaky.to_string().as_bytes()).error, ScanError::TooManyValues(100));
    }
}
