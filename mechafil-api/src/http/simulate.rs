//! `/simulate`, `/simulate/full` and `/simulate/batch`: runs the model and shapes its output
//! the way the reference service's clients expect, with dates on every series.
//!
//! [`simulate_json`] is a pure function of the served snapshot and the request, shared by the
//! HTTP handlers and the offline `simulate` CLI command so both print the same bytes.

use chrono::{Days, NaiveDate};
use mechafil_core::{Knob, SeriesName, SimOutput, ValidParams};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::error::ApiError;
use super::request::{BatchRequest, SimulateRequest};
use super::sampling::{SampledSeries, Sampling, SeriesDates, first_monday_on_or_after};
use super::state::{Served, SnapshotRef};
use crate::network_data::SnapshotSource;

/// Most numbers one batch response may hold (scenarios x series x entries): about 40 MB of
/// JSON. Beyond it the request is refused with a 422 that says how to narrow it.
pub const MAX_BATCH_VALUES: usize = 2_000_000;

/// Daily (every entry, from each series' first date) or weekly (the forecast window's Mondays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// `/simulate`: Mondays of `current_date ..= current_date + F - 1`.
    Weekly,
    /// `/simulate/full`: the whole model output.
    Daily,
}

/// Runs `request` on `served` and returns the response body; a 422 when the forecast overflows
/// ([`check_finite`]).
pub fn simulate_json(
    served: &Served,
    request: &SimulateRequest,
    resolution: Resolution,
) -> Result<Vec<u8>, ApiError> {
    // A pooled output: a fresh 1-3 MB buffer per request would cost page faults on every
    // call and let the allocator's footprint drift with the forecast lengths asked for.
    served.with_output(|out| {
        served.simulator.simulate_into(&request.params, out);
        check_finite(out)?;
        let body = SimulateBody::new(served, request, out, resolution);
        // Sized up front (about 20 bytes per number) so the buffer is allocated once rather
        // than doubled a dozen times.
        let numbers: usize = body.simulation_output.series.iter().map(|(_, s)| s.count).sum();
        let mut json = Vec::with_capacity(4096 + 20 * numbers);
        serde_json::to_writer(&mut json, &body).expect("serialising to memory cannot fail");
        Ok(json)
    })
}

/// Refuses (422) a run whose forecast left the finite numbers: within the parameter rules the
/// model stays finite on real data (`mechafil-core/tests/properties.rs` checks the corners), but
/// an extreme snapshot can still overflow, and an answer of `null`s helps nobody. NaN is the
/// model's own 0/0 in the two per-sector ratios (no sector was sealed), as in the reference,
/// and is allowed there only. Only the forecast days are checked: the history is data.
pub fn check_finite(out: &SimOutput) -> Result<(), ApiError> {
    let history_days = out.n_days() - out.forecast_len();
    for (name, values) in out.iter() {
        let ratio = matches!(name, SeriesName::DayPledgePerQap | SeriesName::OneYearSectorRoi);
        let first_forecast_index = match name.axis() {
            mechafil_core::Axis::Forecast => 0,
            _ => history_days.min(values.len()),
        };
        let bad = values[first_forecast_index..]
            .iter()
            .position(|v| v.is_infinite() || (v.is_nan() && !ratio))
            .map(|i| i + first_forecast_index);
        if let Some(i) = bad {
            return Err(ApiError::field(
                "body",
                format!(
                    "the forecast overflows with these parameters: {name} is {} on {}; \
                     smaller onboarding or multipliers keep it finite",
                    values[i],
                    out.date_at(name, i)
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses a batch whose answer would be too large (422 naming `scenarios`).
pub fn check_batch_size(batch: &BatchRequest) -> Result<(), ApiError> {
    let values: usize = batch
        .scenarios
        .iter()
        .flatten()
        .map(|r| r.output.len() * r.params.forecast_length_days().div_ceil(7))
        .sum();
    if values > MAX_BATCH_VALUES {
        return Err(ApiError::field(
            "scenarios",
            format!(
                "the answer would hold about {values} numbers (limit {MAX_BATCH_VALUES}); \
                 request fewer scenarios, fewer output series or shorter forecasts"
            ),
        ));
    }
    Ok(())
}

/// The answers of the scenarios in `range`, comma-separated: each valid scenario's weekly
/// answer, or its error entry. Chunks of these joined by commas make the `results` list.
pub fn batch_entries(served: &Served, batch: &BatchRequest, range: std::ops::Range<usize>) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, scenario) in batch.scenarios[range].iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        let answer = match scenario {
            Ok(request) => simulate_json(served, request, Resolution::Weekly),
            Err(err) => Err(err.clone()),
        };
        match answer {
            Ok(json) => body.extend_from_slice(&json),
            Err(err) => serde_json::to_writer(
                &mut body,
                &ErrorEntry { error: err.to_string(), details: err.details() },
            )
            .expect("serialising to memory cannot fail"),
        }
    }
    body
}

/// `{"results": [...]}` from the entries of consecutive chunks of scenarios, as the pieces to
/// send one after the other: an answer of tens of MB is never copied into one buffer, which
/// would double its memory and take milliseconds on an async worker.
pub fn batch_body(chunks: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut pieces = Vec::with_capacity(2 * chunks.len() + 2);
    pieces.push(b"{\"results\":[".to_vec());
    for (i, chunk) in chunks.into_iter().enumerate() {
        if i > 0 {
            pieces.push(b",".to_vec());
        }
        pieces.push(chunk);
    }
    pieces.push(b"]}".to_vec());
    pieces
}

#[derive(Serialize)]
struct ErrorEntry<'a> {
    error: String,
    details: &'a [super::error::FieldError],
}

/// The response: `{"input": {...}, "simulation_output": {...}}`.
#[derive(Serialize)]
struct SimulateBody<'a> {
    input: InputEcho<'a>,
    simulation_output: Outputs<'a>,
}

/// `input`: the parameters actually used plus the metadata that dates every array.
#[derive(Serialize)]
struct InputEcho<'a> {
    #[serde(flatten)]
    params: &'a ValidParams,
    /// Aliases of `rbp`, `rr` and `fpr` under the names the reference service's clients read.
    raw_byte_power: &'a Knob,
    renewal_rate: &'a Knob,
    filplus_rate: &'a Knob,
    output: Vec<&'static str>,
    explanation: String,
    snapshot: SnapshotRef,
    current_date: NaiveDate,
    sim_start_date: Option<NaiveDate>,
    sim_end_date: Option<NaiveDate>,
    timestep_days: usize,
    n_entries: usize,
    series_dates: Dates,
}

/// The requested series with their samplings.
struct Outputs<'a> {
    out: &'a SimOutput,
    series: Vec<(SeriesName, Sampling)>,
}

impl Serialize for Outputs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.series.len()))?;
        for &(name, sampling) in &self.series {
            map.serialize_entry(name.as_str(), &SampledSeries { values: self.out.series(name), sampling })?;
        }
        map.end()
    }
}

/// `series_dates`: each requested series' own dates, in request order.
struct Dates(Vec<(SeriesName, Sampling)>);

impl Serialize for Dates {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for &(name, sampling) in &self.0 {
            map.serialize_entry(name.as_str(), &SeriesDates::from(sampling))?;
        }
        map.end()
    }
}

impl<'a> SimulateBody<'a> {
    fn new(
        served: &'a Served,
        request: &'a SimulateRequest,
        out: &'a SimOutput,
        resolution: Resolution,
    ) -> Self {
        let snapshot = served.simulator.snapshot();
        let f = out.forecast_len();
        let window_start = snapshot.current_date;
        let window_end = window_start + Days::new(f as u64 - 1);
        let sampling_of = |name: SeriesName| {
            let len = out.series(name).len();
            let first = out.first_date(name);
            match resolution {
                Resolution::Daily => Sampling::daily(first, len),
                Resolution::Weekly => Sampling::mondays(first, len, window_start, window_end),
            }
        };
        // The main axis: the daily series (all but the forecast-only and 1-year ones).
        let main = sampling_of(SeriesName::CircSupply);
        let series: Vec<(SeriesName, Sampling)> =
            request.output.iter().map(|&n| (n, sampling_of(n))).collect();
        SimulateBody {
            input: InputEcho {
                params: &request.params,
                raw_byte_power: request.params.rbp(),
                renewal_rate: request.params.rr(),
                filplus_rate: request.params.fpr(),
                output: request.output.iter().map(|n| n.as_str()).collect(),
                explanation: explanation(served, request),
                snapshot: served.snapshot_ref(),
                current_date: snapshot.current_date,
                sim_start_date: match resolution {
                    Resolution::Daily => Some(main.first_date),
                    Resolution::Weekly => {
                        Some(first_monday_on_or_after(window_start)).filter(|_| main.count > 0)
                    }
                },
                sim_end_date: main.last_date(),
                timestep_days: main.step,
                n_entries: main.count,
                series_dates: Dates(series.clone()),
            },
            simulation_output: Outputs { out, series },
        }
    }
}

/// One line saying what was simulated and which inputs were defaults.
fn explanation(served: &Served, request: &SimulateRequest) -> String {
    scenario_sentence(served, &request.params, &request.given)
}

/// A scenario in words: the forecast, the data, and which parameters were given, taken from
/// the snapshot or left at their defaults.
pub(crate) fn scenario_sentence(served: &Served, p: &ValidParams, given: &[&str]) -> String {
    let snapshot = served.simulator.snapshot();
    let f = p.forecast_length_days();
    let given = |name: &str| given.contains(&name);
    let describe = |name: &'static str, knob: &Knob, unit: &str| match knob {
        Knob::Scalar(v) => format!("{name} {}{unit}", fmt_sig(*v)),
        Knob::Series(values) => format!("{name} a {}-day series", values.len()),
    };
    let mut from_snapshot = Vec::new();
    let mut chosen = Vec::new();
    for (name, knob, unit) in [("rbp", p.rbp(), " PiB/day"), ("rr", p.rr(), ""), ("fpr", p.fpr(), "")] {
        if given(name) { &mut chosen } else { &mut from_snapshot }.push(describe(name, knob, unit));
    }
    let mut defaults = Vec::new();
    for (name, knob) in [
        ("lock_target", p.lock_target()),
        ("fil_plus_m", p.fil_plus_m()),
        ("qa_renew_relative_multiplier", p.qa_renew_relative_multiplier()),
    ] {
        if given(name) { &mut chosen } else { &mut defaults }.push(describe(name, knob, ""));
    }
    let duration = format!("sector_duration_days {}", p.sector_duration_days());
    if given("sector_duration_days") { &mut chosen } else { &mut defaults }.push(duration);
    for (name, text) in [
        ("burn_boost", format!("burn_boost {}", fmt_sig(p.burn_boost()))),
        ("use_available_supply", format!("use_available_supply {}", p.use_available_supply())),
    ] {
        if given(name) {
            chosen.push(text);
        }
    }
    let source = match served.meta.source {
        SnapshotSource::Demo => "the synthetic DEMO snapshot, not real network data",
        SnapshotSource::Spacescope => "Spacescope network data",
        SnapshotSource::Import => "imported network data",
    };
    let mut text = format!(
        "{f}-day forecast ({:.1} years) from {} on {source} (history {} .. {})",
        f as f64 / 365.0,
        snapshot.current_date,
        snapshot.start_date,
        snapshot.current_date,
    );
    if !chosen.is_empty() {
        text += &format!("; given: {}", chosen.join(", "));
    }
    if !from_snapshot.is_empty() {
        text += &format!("; from the snapshot's 30-day medians: {}", from_snapshot.join(", "));
    }
    if !defaults.is_empty() {
        text += &format!("; defaults: {}", defaults.join(", "));
    }
    text
}

/// `v` with at most 4 significant digits, for prose.
pub(crate) fn fmt_sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return v.to_string();
    }
    let digits = (3 - v.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::fmt_sig;

    #[test]
    fn prose_numbers_are_short() {
        assert_eq!(fmt_sig(2.6374359130859375), "2.637");
        assert_eq!(fmt_sig(0.3), "0.3");
        assert_eq!(fmt_sig(540.0), "540");
        assert_eq!(fmt_sig(0.000123456), "0.0001235");
    }
}
