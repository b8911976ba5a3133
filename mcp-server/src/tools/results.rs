//! The pieces every tool result is built from: the data source with its demo flag
//! ([`DataSource`]), the dates of a series ([`SeriesDates`]), units and kinds ([`UnitInfo`]),
//! objects that keep their key order ([`Ordered`]), and the `get_historical_data` result.
//!
//! Numbers pass through unchanged (serde_json's `float_roundtrip` reads and writes every f64
//! exactly), so a value in a tool result equals the API's value on the same date.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::dated::Dated;
use crate::api_client::ApiError;
use crate::series::Kind;

/// A list of `(key, value)` pairs serialised as a JSON object in this order.
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<V> Ordered<V> {
    /// Appends `key: value`.
    pub fn push(&mut self, key: impl Into<String>, value: V) {
        self.0.push((key.into(), value));
    }

    /// Whether it has no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `skip_serializing_if` for empty [`Ordered`] maps.
pub fn is_empty<V>(map: &Ordered<V>) -> bool {
    map.is_empty()
}

/// The dates of one series: value `i` is on `start_date + i * timestep_days`.
///
/// A series with no value in the window (a 1-year series of a short forecast, any series of a
/// weekly window with no Monday) has no dates: both are `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesDates {
    /// Date of the first value; `None` when there is none.
    pub start_date: Option<NaiveDate>,
    /// Date of the last value; `None` when there is none.
    pub end_date: Option<NaiveDate>,
    /// Number of values.
    pub n_entries: usize,
    /// Days between two values.
    pub timestep_days: u32,
}

impl SeriesDates {
    /// The dates of `series` (`None` = no value), `step_days` apart.
    pub fn of(series: Option<&Dated>, step_days: u32) -> SeriesDates {
        match series {
            Some(series) => SeriesDates {
                start_date: Some(series.start),
                end_date: series.end(),
                n_entries: series.values.len(),
                timestep_days: series.step_days,
            },
            None => SeriesDates { start_date: None, end_date: None, n_entries: 0, timestep_days: step_days },
        }
    }
}

/// Unit, kind and meaning of one returned key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitInfo {
    /// The unit of each value.
    pub unit: String,
    /// Stock, flow, cumulative, ratio or index.
    pub kind: Kind,
    /// One line on what it is.
    pub meaning: String,
}

/// Which snapshot the numbers come from; in every result, so that no number is quoted without
/// knowing whether it is real network data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataSource {
    /// `spacescope` (live network data), `import` or `demo`.
    #[serde(default)]
    pub source: Option<String>,
    /// First history day of the snapshot.
    #[serde(default)]
    pub start_date: Option<String>,
    /// Last history day; the forecast starts here.
    #[serde(default)]
    pub current_date: Option<String>,
    /// The snapshot's id (the API's `snapshot_id`): the further API requests of one tool call
    /// pin it, so every number of a result comes from the same data even when the API runs as
    /// several machines that refresh at different times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// True when the API serves demo data: answers must say so.
    #[serde(default)]
    pub is_demo: bool,
}

impl DataSource {
    /// The frame of a chart drawn from this data: `title`, then `detail` and where the data
    /// comes from on the second line, and the demo label when it is demo data.
    pub fn frame(&self, title: String, detail: &str) -> crate::plot::Frame {
        crate::plot::Frame { title, subtitle: Some(format!("{detail}; {}", self.note())), demo: self.is_demo }
    }

    /// Sets `is_demo` from `source`.
    pub fn labelled(mut self) -> DataSource {
        self.is_demo = self.source.as_deref() == Some("demo");
        self
    }

    /// In words, for explanations: "DEMO data (demo snapshot up to 2025-09-09), not the real
    /// network" or "spacescope snapshot up to 2025-09-09".
    pub fn note(&self) -> String {
        let source = self.source.as_deref().unwrap_or("unknown");
        let through = self.current_date.as_deref().map(|d| format!(" up to {d}")).unwrap_or_default();
        if self.is_demo {
            format!("DEMO data ({source} snapshot{through}), not the real network")
        } else {
            format!("{source} snapshot{through}")
        }
    }
}

/// The `get_historical_data` result: the API's `data` object with an `end_date` added to each
/// `field_meta` entry, a summary line and the demo flag.
#[derive(Debug, Serialize)]
pub struct HistoricalResult {
    /// One line: the data source, its dates, and where each field's dates are.
    pub summary: String,
    /// The data source (with `is_demo`).
    pub data_source: DataSource,
    /// True when the API serves demo data.
    pub is_demo: bool,
    /// The API's `data` object.
    pub data: Map<String, Value>,
}

impl HistoricalResult {
    /// The array fields and the characters each takes, largest first.
    pub fn field_sizes(&self) -> Vec<(String, usize)> {
        let mut sizes: Vec<(String, usize)> = self
            .data
            .iter()
            .filter(|(_, value)| value.is_array())
            .map(|(key, value)| (key.clone(), value.to_string().len()))
            .collect();
        sizes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        sizes
    }
}

/// Builds the `get_historical_data` result from the API's answer.
pub fn historical_result(answer: Value) -> Result<HistoricalResult, ApiError> {
    let Value::Object(mut answer) = answer else {
        return Err(ApiError::InvalidResponse("/historical-data answer is not an object".into()));
    };
    let Some(Value::Object(mut data)) = answer.remove("data") else {
        return Err(ApiError::InvalidResponse("/historical-data answer has no `data` object".into()));
    };
    if let Some(Value::Object(field_meta)) = data.get_mut("field_meta") {
        for meta in field_meta.values_mut() {
            add_end_date(meta);
        }
    }
    let text = |key: &str| data.get(key).and_then(Value::as_str).map(String::from);
    let data_source = DataSource {
        source: text("source"),
        start_date: text("start_date"),
        current_date: text("current_date"),
        snapshot_id: text("snapshot_id"),
        is_demo: false,
    }
    .labelled();
    let summary = format!(
        "Network history from the {}, {} to {}, weekly (Mondays). Each field's unit and dates are in \
         field_meta[field] (start_date, end_date, n_entries, timestep_days); value i is on \
         start_date + i * timestep_days days.",
        data_source.note(),
        text("start_date").unwrap_or_else(|| "?".into()),
        text("current_date").unwrap_or_else(|| "?".into()),
    );
    Ok(HistoricalResult { summary, is_demo: data_source.is_demo, data_source, data })
}

/// Adds `end_date = start_date + (n_entries - 1) * timestep_days` to one `field_meta` entry, so
/// Claude does not have to do date arithmetic to know where a field ends.
fn add_end_date(meta: &mut Value) {
    let Value::Object(meta) = meta else { return };
    if meta.contains_key("end_date") {
        return;
    }
    let start = meta.get("start_date").and_then(Value::as_str).and_then(|s| s.parse::<NaiveDate>().ok());
    let n_entries = meta.get("n_entries").and_then(Value::as_u64);
    let step = meta.get("timestep_days").and_then(Value::as_u64).and_then(|s| u32::try_from(s).ok());
    if let (Some(start), Some(n_entries), Some(step)) = (start, n_entries, step) {
        let series = Dated { start, step_days: step.max(1), values: vec![None; n_entries as usize] };
        if let Some(end_date) = series.end() {
            meta.insert("end_date".into(), Value::String(end_date.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn historical_field_meta_gets_end_dates() {
        let result = historical_result(json!({"data": {
            "source": "spacescope", "start_date": "2022-10-10", "current_date": "2025-09-09",
            "circ_supply": [1.0, 2.0], "renewal_rate": [0.5],
            "field_meta": {
                "circ_supply": {"unit": "FIL", "kind": "stock", "start_date": "2022-10-10", "n_entries": 152, "timestep_days": 7},
                "renewal_rate": {"unit": "fraction", "kind": "rate", "start_date": "2025-03-17", "n_entries": 1, "timestep_days": 7}
            }
        }}))
        .unwrap();
        assert_eq!(result.data["field_meta"]["circ_supply"]["end_date"], "2025-09-01");
        assert_eq!(result.data["field_meta"]["renewal_rate"]["end_date"], "2025-03-17");
        assert!(!result.is_demo);
        assert!(!result.data_source.is_demo);
        assert!(result.summary.contains("spacescope snapshot up to 2025-09-09, 2022-10-10 to 2025-09-09"));
        assert_eq!(result.field_sizes()[0].0, "circ_supply");
        assert!(historical_result(json!({"nope": 1})).is_err());
    }

    #[test]
    fn data_notes_say_demo_loudly() {
        let demo = DataSource {
            source: Some("demo".into()),
            current_date: Some("2025-09-09".into()),
            ..DataSource::default()
        }
        .labelled();
        assert!(demo.is_demo);
        assert_eq!(demo.note(), "DEMO data (demo snapshot up to 2025-09-09), not the real network");
    }
}
