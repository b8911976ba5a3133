//! Analyses: many simulations on one [`Simulator`] reduced to the statistics an analyst asks
//! for. One module per analysis, all pure and built the same way:
//!
//! 1. a *spec* (plain data, as a caller writes it) is **prepared** against a simulator: every
//!    problem is reported at once, each with the path of the field at fault
//!    ([`InvalidSpec`]); limits are checked here, before any work;
//! 2. the prepared analysis runs in **chunks** of independent units (ensemble members, sweep
//!    cells) with [`Simulator::simulate_into`] into a reused output buffer, so a caller (the
//!    API) can schedule the chunks within its CPU budget, interleave them with other work and
//!    stop between two of them; each chunk keeps only what the answer needs;
//! 3. **finishing** combines the chunks, in unit order, into the result. Nothing depends on
//!    how units were grouped into chunks or which thread ran them, so answers are
//!    reproducible to the bit.
//!
//! The small analyses (solve, sensitivity, compare) need at most ~40 runs and run whole.
//! Each module also has a one-call convenience (`run` with rayon) for library users.
//!
//! - [`summary`]: one number (or date) from one run: the shared building block.
//! - [`ensemble`]: Monte Carlo members, percentile bands and summary distributions.
//! - [`sweep`]: a grid over up to 4 knobs.
//! - [`solve`]: the knob value that makes a summary hit a target.
//! - [`sensitivity`]: derivatives, elasticities and a tornado table.
//! - [`compare`]: a baseline and named scenarios side by side.

use chrono::{Days, NaiveDate};

use crate::output::{Axis, SeriesName, SimOutput};
use crate::params::{InvalidParams, SimParams, ValidParams};
use crate::sampling::{Resolution, Sampling};
use crate::simulator::Simulator;

pub mod compare;
pub mod ensemble;
pub mod quantile;
mod random;
pub mod sensitivity;
pub mod solve;
pub mod summary;
pub mod sweep;

/// Most simulations × forecast days one analysis may run (ensemble members, sweep cells):
/// about 6 s of one core, well inside the API's time limit.
pub const MAX_WORK_DAYS: usize = 64_000_000;
/// Most summaries one analysis computes.
pub const MAX_SUMMARIES: usize = 16;
/// Most series one analysis returns.
pub const MAX_OUTPUT_SERIES: usize = 12;
/// Longest summary label or scenario name, characters.
pub const MAX_NAME_CHARS: usize = 64;

/// One problem with one field of an analysis spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    /// The path of the field, e.g. `vary.rbp.sd` or `summaries.lock.from`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// Every problem found in one spec; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid analysis: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct InvalidSpec(pub Vec<SpecError>);

/// Collects problems while preparing a spec.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<SpecError>);

impl Problems {
    pub(crate) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(SpecError { field: field.into(), message: message.into() });
    }

    /// Adds the problems of parameters validated under `prefix` (e.g. `base.`).
    pub(crate) fn params(&mut self, prefix: &str, err: InvalidParams) {
        for e in err.errors {
            self.push(format!("{prefix}{}", e.param), e.problem.to_string());
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, InvalidSpec> {
        if self.0.is_empty() { Ok(value()) } else { Err(InvalidSpec(self.0)) }
    }
}

/// Validates `params` as the scenario at `field` (problems named `field.<param>`).
pub(crate) fn validate_scenario(
    sim: &Simulator,
    params: &SimParams,
    field: &str,
    problems: &mut Problems,
) -> Option<ValidParams> {
    match sim.validate(params) {
        Ok(valid) => Some(valid),
        Err(err) => {
            problems.params(&format!("{field}."), err);
            None
        }
    }
}

/// A series an analysis reads: one of the 44, or the ratio of two on the same date axis
/// (`lock_ratio` is `network_locked / circ_supply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnalysisSeries {
    /// One output series.
    Series(SeriesName),
    /// `numerator / denominator`, day by day.
    Ratio(SeriesName, SeriesName),
}

impl AnalysisSeries {
    /// The lock ratio, `network_locked / circ_supply`.
    pub const LOCK_RATIO: AnalysisSeries =
        AnalysisSeries::Ratio(SeriesName::NetworkLocked, SeriesName::CircSupply);

    /// Parses an output name: one of the 44, or `lock_ratio`.
    pub fn from_name(name: &str) -> Option<AnalysisSeries> {
        if name == "lock_ratio" {
            return Some(AnalysisSeries::LOCK_RATIO);
        }
        SeriesName::from_name(name).map(AnalysisSeries::Series)
    }

    /// `series / over` (or `series` alone); an error message when the axes differ.
    pub fn ratio(series: SeriesName, over: Option<SeriesName>) -> Result<AnalysisSeries, String> {
        match over {
            None => Ok(AnalysisSeries::Series(series)),
            Some(over) if over.axis() == series.axis() => Ok(AnalysisSeries::Ratio(series, over)),
            Some(over) => Err(format!(
                "{over} is on another date axis than {series} ({}); a ratio needs both on the same dates",
                axis_words(over.axis())
            )),
        }
    }

    /// Every valid output name, for messages.
    pub fn names() -> impl Iterator<Item = &'static str> {
        SeriesName::names().chain(std::iter::once("lock_ratio"))
    }

    /// The name answers use: the series' own name, `lock_ratio`, or `a/b`.
    pub fn name(&self) -> String {
        match *self {
            AnalysisSeries::Series(s) => s.as_str().to_string(),
            r if r == AnalysisSeries::LOCK_RATIO => "lock_ratio".to_string(),
            AnalysisSeries::Ratio(a, b) => format!("{a}/{b}"),
        }
    }

    /// The date axis.
    pub fn axis(&self) -> Axis {
        match *self {
            AnalysisSeries::Series(s) | AnalysisSeries::Ratio(s, _) => s.axis(),
        }
    }

    /// The anchor series (its dates and length are this series').
    fn anchor(&self) -> SeriesName {
        match *self {
            AnalysisSeries::Series(s) | AnalysisSeries::Ratio(s, _) => s,
        }
    }

    /// The value at index `i` of the series in `out`.
    #[inline]
    pub fn value(&self, out: &SimOutput, i: usize) -> f64 {
        match *self {
            AnalysisSeries::Series(s) => out.series(s)[i],
            AnalysisSeries::Ratio(a, b) => out.series(a)[i] / out.series(b)[i],
        }
    }
}

fn axis_words(axis: Axis) -> &'static str {
    match axis {
        Axis::Daily => "daily from start_date",
        Axis::Forecast => "forecast days from current_date",
        Axis::OneYear => "1-year windows by sector start date",
    }
}

/// The dates of a series in a simulation of `forecast_len` days on `sim`'s snapshot, without
/// running it: first date and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesSpan {
    /// Date of index 0.
    pub first_date: NaiveDate,
    /// Number of values.
    pub len: usize,
}

impl SeriesSpan {
    /// The span of `series` for a forecast of `forecast_len` days on `sim`.
    pub fn of(sim: &Simulator, series: AnalysisSeries, forecast_len: usize) -> SeriesSpan {
        let snapshot = sim.snapshot();
        let n_days = snapshot.history_len() - 1 + forecast_len;
        match series.anchor().axis() {
            Axis::Daily => SeriesSpan { first_date: snapshot.start_date, len: n_days },
            Axis::Forecast => SeriesSpan { first_date: snapshot.current_date, len: forecast_len },
            Axis::OneYear => SeriesSpan {
                first_date: snapshot.start_date,
                len: n_days.saturating_sub(crate::constants::YEAR_WINDOW - 1),
            },
        }
    }

    /// The date of the last value (None when empty).
    pub fn last_date(&self) -> Option<NaiveDate> {
        (self.len > 0).then(|| self.first_date + Days::new(self.len as u64 - 1))
    }

    /// The index of `date`, if the series has a value on it.
    pub fn index_of(&self, date: NaiveDate) -> Option<usize> {
        let i = (date - self.first_date).num_days();
        (0..self.len as i64).contains(&i).then_some(i as usize)
    }
}

/// The forecast window `current_date ..= current_date + F - 1`.
pub fn forecast_window(sim: &Simulator, forecast_len: usize) -> (NaiveDate, NaiveDate) {
    let start = sim.snapshot().current_date;
    (start, start + Days::new(forecast_len as u64 - 1))
}

/// Which entries of `series` an answer at `resolution` carries: its part of the forecast
/// window, daily or on Mondays.
pub fn window_sampling(
    sim: &Simulator,
    series: AnalysisSeries,
    forecast_len: usize,
    resolution: Resolution,
) -> Sampling {
    let span = SeriesSpan::of(sim, series, forecast_len);
    let (start, end) = forecast_window(sim, forecast_len);
    Sampling::window(span.first_date, span.len, start, end, resolution)
}

/// A series as an answer returns it: its name, which entries, and the values of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledOutput {
    /// The series.
    pub series: AnalysisSeries,
    /// Its dates in the answer.
    pub sampling: Sampling,
}

impl SampledOutput {
    /// The sampled values of `out` appended to `dst`.
    pub(crate) fn extend_from(&self, out: &SimOutput, dst: &mut Vec<f64>) {
        dst.extend((0..self.sampling.count).map(|k| self.series.value(out, self.sampling.index(k))));
    }
}

/// Checks an output list: 1 to [`MAX_OUTPUT_SERIES`] distinct series.
pub(crate) fn prepare_output(
    sim: &Simulator,
    output: &[AnalysisSeries],
    forecast_len: usize,
    resolution: Resolution,
    problems: &mut Problems,
) -> Vec<SampledOutput> {
    if output.is_empty() {
        problems.push("output", "an empty list; give at least one series name");
    } else if output.len() > MAX_OUTPUT_SERIES {
        problems.push(
            "output",
            format!(
                "{} series; at most {MAX_OUTPUT_SERIES} per analysis (limit MAX_OUTPUT_SERIES)",
                output.len()
            ),
        );
    }
    let mut seen = Vec::new();
    for s in output.iter().take(MAX_OUTPUT_SERIES) {
        if !seen.contains(s) {
            seen.push(*s);
        }
    }
    seen.into_iter()
        .map(|series| SampledOutput {
            series,
            sampling: window_sampling(sim, series, forecast_len, resolution),
        })
        .collect()
}

/// Checks a label or scenario name: 1 to [`MAX_NAME_CHARS`] characters.
pub(crate) fn check_name(field: &str, name: &str, problems: &mut Problems) {
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS {
        problems.push(field, format!("names have 1 to {MAX_NAME_CHARS} characters; {name:?} has {n}"));
    }
}
