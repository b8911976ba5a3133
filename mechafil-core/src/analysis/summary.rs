//! Summaries: one number (or one date) taken from one run, the building block every analysis
//! shares (an ensemble's distributions, a sweep's cells, a solve's target, a sensitivity's
//! result).
//!
//! A summary reads the **daily** values of a series (or of the ratio of two series on the
//! same dates) over an inclusive date range, by default the series' part of the forecast
//! window, and takes its value at the end or on a date, its mean, minimum or maximum, or the
//! first date it is below or above a threshold. Everything about dates is resolved once, when
//! the summary is prepared for a forecast length; evaluating it is a loop over a slice.

use chrono::{Days, NaiveDate};

use super::{AnalysisSeries, Problems, SeriesSpan, forecast_window};
use crate::output::{SeriesName, SimOutput};
use crate::simulator::Simulator;

/// What a summary takes from its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// The last value of the range.
    End,
    /// The value on `date`.
    ValueAt,
    /// The mean of the range.
    Mean,
    /// The smallest value of the range.
    Min,
    /// The largest value of the range.
    Max,
    /// The first date whose value is below `threshold`.
    FirstBelow,
    /// The first date whose value is above `threshold`.
    FirstAbove,
}

impl Stat {
    /// Every stat, in documentation order.
    pub const ALL: [Stat; 7] =
        [Stat::End, Stat::ValueAt, Stat::Mean, Stat::Min, Stat::Max, Stat::FirstBelow, Stat::FirstAbove];

    /// Its name in requests.
    pub const fn name(self) -> &'static str {
        match self {
            Stat::End => "end",
            Stat::ValueAt => "value_at",
            Stat::Mean => "mean",
            Stat::Min => "min",
            Stat::Max => "max",
            Stat::FirstBelow => "first_below",
            Stat::FirstAbove => "first_above",
        }
    }

    /// Looks a stat up by name.
    pub fn from_name(name: &str) -> Option<Stat> {
        Stat::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether it gives a date rather than a number.
    pub const fn is_date(self) -> bool {
        matches!(self, Stat::FirstBelow | Stat::FirstAbove)
    }
}

/// A summary as a caller writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SummarySpec {
    /// The series (`lock_ratio` is already a ratio).
    pub series: AnalysisSeries,
    /// Divides `series` by this series, day by day.
    pub over: Option<SeriesName>,
    /// What to take.
    pub stat: Stat,
    /// The date of `value_at`.
    pub date: Option<NaiveDate>,
    /// First date of the range (inclusive).
    pub from: Option<NaiveDate>,
    /// Last date of the range (inclusive).
    pub to: Option<NaiveDate>,
    /// The threshold of `first_below` / `first_above`.
    pub threshold: Option<f64>,
}

impl SummarySpec {
    /// A summary with only series and stat set.
    pub fn new(series: AnalysisSeries, stat: Stat) -> SummarySpec {
        SummarySpec { series, over: None, stat, date: None, from: None, to: None, threshold: None }
    }
}

/// The value of a summary for one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SummaryValue {
    /// A number (NaN when the range holds a 0/0 value, for mean, min and max).
    Number(f64),
    /// A date, or `None` when the threshold is never crossed.
    Date(Option<NaiveDate>),
}

impl SummaryValue {
    /// The number, if it is one.
    pub fn number(self) -> Option<f64> {
        match self {
            SummaryValue::Number(v) => Some(v),
            SummaryValue::Date(_) => None,
        }
    }
}

/// A summary prepared for one forecast length: the range as indices into the series.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    series: AnalysisSeries,
    stat: Stat,
    threshold: f64,
    /// First and last index of the range (inclusive), into the whole series.
    lo: usize,
    hi: usize,
    first_date: NaiveDate,
}

impl Summary {
    /// Prepares `spec` for forecasts of `forecast_len` days on `sim`; problems are named
    /// `field.<part>`.
    pub(crate) fn prepare(
        sim: &Simulator,
        spec: &SummarySpec,
        forecast_len: usize,
        field: &str,
        problems: &mut Problems,
    ) -> Option<Summary> {
        let before = problems.0.len();
        let series = match (spec.series, spec.over) {
            (s, None) => Some(s),
            (AnalysisSeries::Series(s), Some(over)) => match AnalysisSeries::ratio(s, Some(over)) {
                Ok(r) => Some(r),
                Err(message) => {
                    problems.push(format!("{field}.over"), message);
                    None
                }
            },
            (AnalysisSeries::Ratio(..), Some(_)) => {
                problems
                    .push(format!("{field}.over"), "the series is already a ratio (lock_ratio); drop over");
                None
            }
        };
        let needs = |name: &str, given: bool, wanted: bool, problems: &mut Problems| match (given, wanted) {
            (false, true) => {
                problems.push(format!("{field}.{name}"), format!("required by stat {}", spec.stat.name()))
            }
            (true, false) => problems
                .push(format!("{field}.{name}"), format!("not used by stat {}; remove it", spec.stat.name())),
            _ => {}
        };
        needs("date", spec.date.is_some(), spec.stat == Stat::ValueAt, problems);
        needs("threshold", spec.threshold.is_some(), spec.stat.is_date(), problems);
        if spec.stat == Stat::ValueAt {
            needs("from", spec.from.is_some(), false, problems);
            needs("to", spec.to.is_some(), false, problems);
        }
        if let Some(t) = spec.threshold.filter(|t| !t.is_finite()) {
            problems.push(format!("{field}.threshold"), format!("{t} is not a finite number"));
        }
        let series = series?;
        let span = SeriesSpan::of(sim, series, forecast_len);
        let one_year = series.axis() == crate::output::Axis::OneYear;
        let describe = || {
            let dates = match span.last_date() {
                Some(last) => format!("{} has values from {} to {last}", series.name(), span.first_date),
                None => format!("{} has no values in a {forecast_len}-day forecast", series.name()),
            };
            if one_year {
                format!(
                    "{dates} (the 1-year series are dated by sector start and end 364 days before the \
                     simulation does: a forecast needs at least 365 days to hold one, more to cover later dates)"
                )
            } else {
                dates
            }
        };
        let index = |name: &str, date: NaiveDate, problems: &mut Problems| {
            let i = span.index_of(date);
            if i.is_none() {
                problems
                    .push(format!("{field}.{name}"), format!("{date} is outside the series: {}", describe()));
            }
            i
        };
        let (window_start, window_end) = forecast_window(sim, forecast_len);
        let (lo, hi) = if spec.stat == Stat::ValueAt {
            let i = spec.date.and_then(|d| index("date", d, problems));
            (i.unwrap_or(0), i.unwrap_or(0))
        } else {
            let lo = match spec.from {
                Some(d) => index("from", d, problems),
                None => span.index_of(window_start.max(span.first_date)),
            };
            let hi = match spec.to {
                Some(d) => index("to", d, problems),
                None => span.last_date().and_then(|last| span.index_of(window_end.min(last))),
            };
            match (lo, hi) {
                (Some(lo), Some(hi)) if lo <= hi => (lo, hi),
                (Some(_), Some(_)) if spec.from.is_some() || spec.to.is_some() => {
                    problems.push(format!("{field}.from"), "from is after to");
                    (0, 0)
                }
                _ if spec.from.is_none() && spec.to.is_none() => {
                    problems.push(
                        field.to_string(),
                        format!(
                            "no values in the forecast window {window_start} .. {window_end}: {}",
                            describe()
                        ),
                    );
                    (0, 0)
                }
                _ => (0, 0),
            }
        };
        (problems.0.len() == before).then_some(Summary {
            series,
            stat: spec.stat,
            threshold: spec.threshold.unwrap_or(f64::NAN),
            lo,
            hi,
            first_date: span.first_date,
        })
    }

    /// What it takes.
    pub fn stat(&self) -> Stat {
        self.stat
    }

    /// The series it reads.
    pub fn series(&self) -> AnalysisSeries {
        self.series
    }

    /// The threshold of `first_below` / `first_above`.
    pub fn threshold(&self) -> Option<f64> {
        self.stat.is_date().then_some(self.threshold)
    }

    /// The first and last date of its range.
    pub fn range(&self) -> (NaiveDate, NaiveDate) {
        (self.first_date + Days::new(self.lo as u64), self.first_date + Days::new(self.hi as u64))
    }

    /// Its value for the run in `out` (which must have the forecast length it was prepared for).
    pub fn eval(&self, out: &SimOutput) -> SummaryValue {
        let value = |i: usize| self.series.value(out, i);
        let number = match self.stat {
            Stat::End => value(self.hi),
            Stat::ValueAt => value(self.lo),
            Stat::Mean => super::quantile::running_mean((self.lo..=self.hi).map(value)),
            // A NaN anywhere makes the extreme NaN (as numpy's min and max), not silently skipped.
            Stat::Min => (self.lo..=self.hi).map(value).fold(f64::INFINITY, crate::nanmath::min),
            Stat::Max => (self.lo..=self.hi).map(value).fold(f64::NEG_INFINITY, crate::nanmath::max),
            Stat::FirstBelow | Stat::FirstAbove => {
                let below = self.stat == Stat::FirstBelow;
                let hit = (self.lo..=self.hi).find(|&i| {
                    let v = value(i);
                    if below { v < self.threshold } else { v > self.threshold }
                });
                return SummaryValue::Date(hit.map(|i| self.first_date + Days::new(i as u64)));
            }
        };
        SummaryValue::Number(number)
    }

    /// Its value as a number (`None` for the date stats).
    pub fn eval_number(&self, out: &SimOutput) -> Option<f64> {
        self.eval(out).number()
    }
}

/// Prepares labelled summaries: at most [`super::MAX_SUMMARIES`], labels checked.
pub(crate) fn prepare_all(
    sim: &Simulator,
    specs: &[(String, SummarySpec)],
    forecast_len: usize,
    problems: &mut Problems,
) -> Vec<(String, Summary)> {
    if specs.len() > super::MAX_SUMMARIES {
        problems.push(
            "summaries",
            format!(
                "{} summaries; at most {} per analysis (limit MAX_SUMMARIES)",
                specs.len(),
                super::MAX_SUMMARIES
            ),
        );
        return Vec::new();
    }
    let mut out = Vec::with_capacity(specs.len());
    for (label, spec) in specs {
        let field = format!("summaries.{label}");
        super::check_name(&field, label, problems);
        if let Some(summary) = Summary::prepare(sim, spec, forecast_len, &field, problems) {
            out.push((label.clone(), summary));
        }
    }
    out
}
