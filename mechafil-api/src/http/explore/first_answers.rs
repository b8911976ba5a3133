//! The answers the explorer page needs for its first chart, rendered into the page.
//!
//! At load the page needs three answers of this API: `GET /historical-data` for the catalogue's
//! history fields, `POST /simulate/full` for the model's history of what the data does not
//! measure, and `POST /simulate` for the default forecast. Fetched by the page, they arrive
//! while its main thread is busy starting up, and handling them costs it more time again;
//! rendered into the page they are there when its scripts run, and the first chart is drawn
//! right after. They are the API's own answers: the same functions as the handlers make the
//! same bytes (`tests/explore.rs` compares them with the endpoints' answers).
//!
//! Each answer comes with the request it answers, as the page would send it (pinned to the
//! snapshot). The page uses an answer only when its own first request is that very request;
//! a link that sets a knob or picks other charts asks the API as before.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::{CHARTS, fields, history_fields};
use crate::http::error::ApiError;
use crate::http::historical::historical_json;
use crate::http::request::parse_simulate;
use crate::http::simulate::{Resolution, simulate_json};
use crate::http::state::Served;

/// The page's first answers, as rendered into it (`<script type="application/json"
/// id="explore-answers">`).
#[derive(Serialize)]
pub struct FirstAnswers {
    /// `GET /historical-data?fields=...` for the config's `history_fields`.
    pub history: Answered,
    /// `POST /simulate/full`: the model's history of the series no history field has; `None`
    /// when every line draws data.
    pub model: Option<Answered>,
    /// `POST /simulate` for the default scenario and the charts shown by default.
    pub forecast: Answered,
}

/// One request and the API's answer to it.
#[derive(Serialize)]
pub struct Answered {
    /// The request: the query's fields for the history, the JSON body otherwise.
    pub request: Value,
    /// The answer's body, as the endpoint sends it.
    pub answer: Box<RawValue>,
}

/// Pushes each of `items` onto `out` unless it is there already (first-seen order, as the page's
/// `Set`s keep it).
fn push_new(out: &mut Vec<&'static str>, items: Vec<&'static str>) {
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
}

/// The series the page asks `/simulate/full` for: every line's model history whose data
/// history this snapshot lacks (explore.js `wantedBodies`).
fn model_history_series(history_fields: &[&str]) -> Vec<&'static str> {
    let mut series = Vec::new();
    for line in CHARTS.iter().flat_map(|c| c.lines) {
        let data = fields(line.data_history);
        let uses_data = !data.is_empty() && data.iter().all(|f| history_fields.contains(f));
        if !uses_data {
            push_new(&mut series, fields(line.model_history));
        }
    }
    series
}

/// The series of the default forecast: those of the charts shown by default (explore.js
/// `forecastOutputs`).
fn default_forecast_series() -> Vec<&'static str> {
    let mut series = Vec::new();
    for line in CHARTS.iter().filter(|c| c.shown_by_default).flat_map(|c| c.lines) {
        push_new(&mut series, fields(Some(line.forecast)));
    }
    if series.is_empty() {
        series.push("circ_supply");
    }
    series
}

fn raw(bytes: Vec<u8>) -> Box<RawValue> {
    let text = String::from_utf8(bytes).expect("serde_json writes UTF-8");
    RawValue::from_string(text).expect("serde_json writes JSON")
}

/// Runs the simulation `request` asks for (its `snapshot` pin is `served`'s own).
fn simulated(served: &Served, request: Value, resolution: Resolution) -> Result<Answered, ApiError> {
    let mut body: Map<String, Value> = request.as_object().cloned().unwrap_or_default();
    body.remove("snapshot");
    let parsed = parse_simulate(&body, &served.simulator)?;
    let answer = raw(simulate_json(served, &parsed, resolution)?);
    Ok(Answered { request, answer })
}

/// The first answers on `served`; an error when a simulation fails (an extreme snapshot can
/// overflow), in which case the page asks the API itself and shows what it says.
pub fn first_answers(served: &Served) -> Result<FirstAnswers, ApiError> {
    let names = history_fields(served);
    let owned: Vec<String> = names.iter().map(|f| f.to_string()).collect();
    let history = Answered {
        request: json!({ "fields": names }),
        answer: raw(historical_json(served, Some(owned.as_slice()), false)),
    };
    let pin = &served.snapshot_id;
    let model_series = model_history_series(&names);
    let model = if model_series.is_empty() {
        None
    } else {
        let request = json!({ "forecast_length_days": 1, "output": model_series, "snapshot": pin });
        Some(simulated(served, request, Resolution::Daily)?)
    };
    let request = json!({ "output": default_forecast_series(), "snapshot": pin });
    let forecast = simulated(served, request, Resolution::Weekly)?;
    Ok(FirstAnswers { history, model, forecast })
}
