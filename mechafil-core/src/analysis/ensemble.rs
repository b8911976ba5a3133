//! Ensembles: N members, each the base scenario with some knobs drawn at random, reduced to
//! percentile bands per day and the distribution of each summary.
//!
//! Each varied knob is drawn per member from a uniform, a normal or a lognormal distribution
//! truncated to the knob's valid range (a draw outside it is drawn again), or follows a daily
//! random walk (geometric for the unbounded-above knobs, in logit space for rates). A member's
//! draws come from streams keyed by (seed, member, knob) ([`super::random`]), so answers are
//! the same bits whatever the chunking or thread count.
//!
//! Memory: only the requested series, at the answer's resolution, are kept, as one
//! member x date matrix per chunk (column-major, so each date's members are contiguous for
//! the quantiles); never members x days x 44 series. The exact quantiles need every member's
//! value, so members x dates x series is capped ([`MAX_BAND_VALUES`]).

use std::ops::Range;

use chrono::NaiveDate;
use ndarray::{Array2, ShapeBuilder};
use rayon::prelude::*;

use super::quantile;
use super::random::{self, Stream};
use super::summary::{self, Summary, SummarySpec, SummaryValue};
use super::{AnalysisSeries, InvalidSpec, MAX_WORK_DAYS, Problems, SampledOutput, SpecError};
use crate::output::SimOutput;
use crate::params::{Knob, SimParams, ValidParams};
use crate::rules::{Bounds, Param};
use crate::sampling::{Resolution, Sampling};
use crate::simulator::Simulator;

/// Most members.
pub const MAX_MEMBERS: usize = 10_000;
/// Most members x dates x series (the matrices the exact quantiles need: 128 MB of f64).
pub const MAX_BAND_VALUES: usize = 16_000_000;
/// Most quantiles.
pub const MAX_QUANTILES: usize = 21;
/// Most member paths returned.
pub const MAX_MEMBER_PATHS: usize = 20;
/// Members per chunk: ~10 ms of work for 10-year forecasts.
pub const CHUNK_MEMBERS: usize = 32;
/// The quantiles when none are asked for, percent.
pub const DEFAULT_QUANTILES: [f64; 5] = [5.0, 25.0, 50.0, 75.0, 95.0];
/// The least share of a truncated distribution's mass that must lie in the knob's range.
/// At 1 % a draw needs at most 10,000 tries with probability 1 - e^-100.
const MIN_ACCEPTANCE: f64 = 0.01;
const MAX_TRIES: usize = 10_000;
/// Redraws of a member whose draws break the joint rule (rr x QA multiplier <= 1).
const MAX_MEMBER_TRIES: usize = 100;
/// Largest daily volatility of a walk.
pub const MAX_WALK_VOL: f64 = 1.0;

/// A distribution as a caller writes it (`mean` and `start` default to the base's value).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DistSpec {
    /// Uniform over `lo ..= hi` (whole days for `sector_duration_days`).
    Uniform {
        /// Lower end.
        lo: f64,
        /// Upper end.
        hi: f64,
    },
    /// Normal with this mean and standard deviation, truncated to the knob's range.
    Normal {
        /// Mean (default: the base value).
        mean: Option<f64>,
        /// Standard deviation.
        sd: f64,
    },
    /// Lognormal whose value has this mean and standard deviation, truncated to the range.
    LogNormal {
        /// Mean of the value (default: the base value).
        mean: Option<f64>,
        /// Standard deviation of the value.
        sd: f64,
    },
    /// A daily random walk from `start` with daily volatility `vol`.
    Walk {
        /// Value on the first forecast day (default: the base value).
        start: Option<f64>,
        /// Standard deviation of the daily step, in log (or logit) space.
        vol: f64,
    },
}

/// A distribution with its defaults resolved, as the answer echoes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    /// See [`DistSpec::Uniform`].
    Uniform {
        /// Lower end.
        lo: f64,
        /// Upper end.
        hi: f64,
    },
    /// See [`DistSpec::Normal`].
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// See [`DistSpec::LogNormal`].
    LogNormal {
        /// Mean of the value.
        mean: f64,
        /// Standard deviation of the value.
        sd: f64,
    },
    /// See [`DistSpec::Walk`].
    Walk {
        /// First-day value.
        start: f64,
        /// Daily volatility.
        vol: f64,
    },
}

/// An ensemble as a caller writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleSpec {
    /// The scenario every member starts from.
    pub base: SimParams,
    /// Number of members.
    pub members: usize,
    /// The seed of every member's streams.
    pub seed: u64,
    /// The varied knobs; `None` for the default spread (see [`EnsembleSpec::default_vary`]).
    pub vary: Option<Vec<(Param, DistSpec)>>,
    /// The series to band.
    pub output: Vec<AnalysisSeries>,
    /// Percentiles, 0..=100.
    pub quantiles: Vec<f64>,
    /// Dates of the bands.
    pub resolution: Resolution,
    /// Summaries whose distribution to report.
    pub summaries: Vec<(String, SummarySpec)>,
    /// Whether to return each member's drawn single-number knobs.
    pub return_member_params: bool,
    /// How many members' arrays to return.
    pub member_paths: usize,
}

impl Default for EnsembleSpec {
    fn default() -> Self {
        EnsembleSpec {
            base: SimParams::default(),
            members: 1000,
            seed: 0,
            vary: None,
            output: vec![
                AnalysisSeries::Series(crate::SeriesName::NetworkLocked),
                AnalysisSeries::Series(crate::SeriesName::CircSupply),
                AnalysisSeries::LOCK_RATIO,
            ],
            quantiles: DEFAULT_QUANTILES.to_vec(),
            resolution: Resolution::Weekly,
            summaries: Vec::new(),
            return_member_params: false,
            member_paths: 0,
        }
    }
}

impl EnsembleSpec {
    /// The spread used when `vary` is not given: onboarding lognormal with a standard
    /// deviation of 25 % of the base, renewal and FIL+ rates normal with 0.05, each only when
    /// the base value is a single number (and onboarding positive).
    pub fn default_vary(base: &ValidParams) -> Vec<(Param, Dist)> {
        let mut vary = Vec::new();
        if let Some(rbp) = base.scalar(Param::Rbp).filter(|v| *v > 0.0) {
            vary.push((Param::Rbp, Dist::LogNormal { mean: rbp, sd: 0.25 * rbp }));
        }
        for param in [Param::Rr, Param::Fpr] {
            if let Some(mean) = base.scalar(param) {
                vary.push((param, Dist::Normal { mean, sd: 0.05 }));
            }
        }
        vary
    }
}

/// A varied knob, ready to draw.
#[derive(Debug, Clone)]
struct Varied {
    param: Param,
    dist: Dist,
    bounds: Bounds,
    integer: bool,
}

/// How a walk moves: multiplicatively, or in logit space for a rate.
#[derive(Debug, Clone, Copy)]
enum WalkSpace {
    Log,
    Logit,
}

impl Varied {
    /// One value (`None` when truncation found nothing in [`MAX_TRIES`] draws, which the
    /// acceptance check at preparation makes practically impossible).
    fn draw(&self, s: &mut Stream) -> Option<f64> {
        let fit = |x: f64| if self.integer { x.round() } else { x };
        match self.dist {
            Dist::Uniform { lo, hi } if self.integer => {
                let n = hi - lo + 1.0;
                Some((lo + (s.uniform() * n).floor()).min(hi))
            }
            Dist::Uniform { lo, hi } => Some(lo + (hi - lo) * s.uniform()),
            Dist::Normal { mean, sd } | Dist::LogNormal { mean, sd } if sd == 0.0 => Some(fit(mean)),
            Dist::Normal { mean, sd } => {
                (0..MAX_TRIES).map(|_| fit(mean + sd * s.normal())).find(|x| self.bounds.contains(*x))
            }
            Dist::LogNormal { mean, sd } => {
                let (mu, sigma) = lognormal_params(mean, sd);
                (0..MAX_TRIES)
                    .map(|_| fit(random::exp(mu + sigma * s.normal())))
                    .find(|x| self.bounds.contains(*x))
            }
            Dist::Walk { .. } => unreachable!("walks are drawn as paths"),
        }
    }

    /// A walk of `len` days: day 0 is `start`, each later day one step from the previous,
    /// clamped to the knob's range.
    fn walk(&self, s: &mut Stream, len: usize) -> Vec<f64> {
        let Dist::Walk { start, vol } = self.dist else { unreachable!("not a walk") };
        if vol == 0.0 {
            return vec![start; len];
        }
        let space = if self.param.is_rate() { WalkSpace::Logit } else { WalkSpace::Log };
        let mut y = match space {
            WalkSpace::Log => random::ln(start),
            WalkSpace::Logit => random::ln(start / (1.0 - start)),
        };
        let mut path = Vec::with_capacity(len);
        path.push(start);
        for _ in 1..len {
            y += vol * s.normal();
            let x = match space {
                WalkSpace::Log => random::exp(y),
                WalkSpace::Logit => 1.0 / (1.0 + random::exp(-y)),
            };
            let lowest = if self.bounds.min_exclusive { f64::MIN_POSITIVE } else { self.bounds.min };
            path.push(x.clamp(lowest, self.bounds.max));
        }
        path
    }
}

/// `mu`, `sigma` of the logarithm of a lognormal value with mean `mean` and sd `sd`.
fn lognormal_params(mean: f64, sd: f64) -> (f64, f64) {
    let sigma2 = random::ln_1p((sd / mean) * (sd / mean));
    (random::ln(mean) - 0.5 * sigma2, sigma2.sqrt())
}

/// The share of a distribution's mass inside `[lo, hi]` (widened by half a day for whole days).
fn acceptance(dist: Dist, bounds: Bounds, integer: bool) -> f64 {
    let (lo, hi) = if integer { (bounds.min - 0.5, bounds.max + 0.5) } else { (bounds.min, bounds.max) };
    match dist {
        Dist::Normal { mean, sd } if sd > 0.0 => {
            random::normal_cdf((hi - mean) / sd) - random::normal_cdf((lo - mean) / sd)
        }
        Dist::LogNormal { mean, sd } if sd > 0.0 => {
            let (mu, sigma) = lognormal_params(mean, sd);
            let below =
                |x: f64| if x <= 0.0 { 0.0 } else { random::normal_cdf((random::ln(x) - mu) / sigma) };
            below(hi) - below(lo)
        }
        _ => 1.0,
    }
}

/// An ensemble prepared on one simulator.
#[derive(Debug, Clone)]
pub struct Ensemble {
    base: ValidParams,
    members: usize,
    seed: u64,
    vary: Vec<Varied>,
    default_vary: bool,
    outputs: Vec<SampledOutput>,
    quantiles: Vec<f64>,
    summaries: Vec<(String, Summary)>,
    return_member_params: bool,
    member_paths: usize,
}

/// What one chunk of members produced.
#[derive(Debug, Clone)]
pub struct EnsembleChunk {
    members: Range<usize>,
    /// Per output: members x dates, column-major (a date's members are contiguous).
    values: Vec<Array2<f64>>,
    /// Per summary: one value per member.
    summaries: Vec<Vec<SummaryValue>>,
    /// Per member: the drawn single-number knobs, when asked for.
    params: Vec<Vec<f64>>,
}

/// The distribution of one summary over the members.
#[derive(Debug, Clone, PartialEq)]
pub enum SummaryDistribution {
    /// A number summary: its quantiles and mean (NaN when a member's value is NaN).
    Number {
        /// One per requested quantile.
        quantiles: Vec<f64>,
        /// The mean over the members.
        mean: f64,
    },
    /// A date summary (`first_below` / `first_above`), over the members that cross.
    Date {
        /// One per requested quantile, rounded to the nearest day (`None` if no member crosses).
        quantiles: Vec<Option<NaiveDate>>,
        /// The mean date of the crossing members.
        mean: Option<NaiveDate>,
        /// How many members cross.
        n_crossing: usize,
        /// The share of members that never cross.
        share_never: f64,
    },
}

/// The bands of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// The series.
    pub series: AnalysisSeries,
    /// Its dates.
    pub sampling: Sampling,
    /// Per requested quantile, one value per date.
    pub quantiles: Vec<Vec<f64>>,
    /// The mean per date.
    pub mean: Vec<f64>,
    /// The first members' arrays.
    pub paths: Vec<Vec<f64>>,
}

/// The answer of an ensemble.
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleResult {
    /// The quantiles, percent, in request order.
    pub quantiles: Vec<f64>,
    /// One band per output series.
    pub bands: Vec<Band>,
    /// One distribution per summary, with its label.
    pub summaries: Vec<(String, SummaryDistribution)>,
    /// The knobs drawn as single numbers (the columns of `member_params`).
    pub member_param_names: Vec<Param>,
    /// Per member, its drawn single-number knobs (empty unless asked for).
    pub member_params: Vec<Vec<f64>>,
}

impl Ensemble {
    /// Checks `spec` against `sim`, reporting every problem with its field path.
    pub fn prepare(sim: &Simulator, spec: &EnsembleSpec) -> Result<Ensemble, InvalidSpec> {
        let mut problems = Problems::default();
        let base = super::validate_scenario(sim, &spec.base, "base", &mut problems);
        if !(1..=MAX_MEMBERS).contains(&spec.members) {
            problems.push(
                "members",
                format!("{} members; allowed 1 ..= {MAX_MEMBERS} (limit MAX_MEMBERS)", spec.members),
            );
        }
        check_quantiles(&spec.quantiles, &mut problems);
        if spec.member_paths > MAX_MEMBER_PATHS.min(spec.members) {
            problems.push(
                "member_paths",
                format!("{}; at most {MAX_MEMBER_PATHS} and at most the members", spec.member_paths),
            );
        }
        let Some(base) = base else {
            return Err(InvalidSpec(problems.0));
        };
        let f = base.forecast_length_days();
        let (vary, default_vary) = match &spec.vary {
            None => (EnsembleSpec::default_vary(&base), true),
            Some(given) => (resolve_vary(&base, given, &mut problems), false),
        };
        let vary = vary
            .into_iter()
            .map(|(param, dist)| {
                let bounds = param.bounds().expect("a numeric knob");
                let integer = param.is_integer();
                let share = acceptance(dist, bounds, integer);
                if share < MIN_ACCEPTANCE {
                    problems.push(
                        format!("vary.{param}"),
                        format!(
                            "only {:.3} % of the distribution lies in {param}'s range {}; at least {} % must \
                             (move the mean into the range or narrow the spread)",
                            share * 100.0,
                            bounds.describe(),
                            MIN_ACCEPTANCE * 100.0
                        ),
                    );
                }
                Varied { param, dist, bounds, integer }
            })
            .collect::<Vec<_>>();
        let outputs = super::prepare_output(sim, &spec.output, f, spec.resolution, &mut problems);
        let dates: usize = outputs.iter().map(|o| o.sampling.count).sum();
        let band_values = spec.members.saturating_mul(dates);
        if band_values > MAX_BAND_VALUES {
            problems.push(
                "members",
                format!(
                    "{} members x {dates} dates over the output series = {band_values} values; at most \
                     {MAX_BAND_VALUES} (limit MAX_BAND_VALUES): use fewer members, fewer series, weekly \
                     resolution or a shorter forecast",
                    spec.members
                ),
            );
        }
        let work = spec.members.saturating_mul(f);
        if work > MAX_WORK_DAYS {
            problems.push(
                "members",
                format!(
                    "{} members x {f} forecast days = {work}; at most {MAX_WORK_DAYS} (limit MAX_WORK_DAYS)",
                    spec.members
                ),
            );
        }
        let summaries = summary::prepare_all(sim, &spec.summaries, f, &mut problems);
        problems.finish(|| Ensemble {
            base,
            members: spec.members,
            seed: spec.seed,
            vary,
            default_vary,
            outputs,
            quantiles: spec.quantiles.clone(),
            summaries,
            return_member_params: spec.return_member_params,
            member_paths: spec.member_paths,
        })
    }

    /// The base scenario.
    pub fn base(&self) -> &ValidParams {
        &self.base
    }

    /// Number of members.
    pub fn members(&self) -> usize {
        self.members
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The varied knobs with their resolved distributions, in parameter order.
    pub fn vary(&self) -> Vec<(Param, Dist)> {
        self.vary.iter().map(|v| (v.param, v.dist)).collect()
    }

    /// Whether the default spread is used (no `vary` was given).
    pub fn uses_default_vary(&self) -> bool {
        self.default_vary
    }

    /// Whether each member's drawn knobs are returned.
    pub fn returns_member_params(&self) -> bool {
        self.return_member_params
    }

    /// How many members' arrays are returned.
    pub fn member_paths(&self) -> usize {
        self.member_paths
    }

    /// The output series with their dates.
    pub fn outputs(&self) -> &[SampledOutput] {
        &self.outputs
    }

    /// The labelled summaries.
    pub fn summaries(&self) -> &[(String, Summary)] {
        &self.summaries
    }

    /// The member ranges of the chunks, in order.
    pub fn chunks(&self) -> Vec<Range<usize>> {
        (0..self.members).step_by(CHUNK_MEMBERS).map(|i| i..(i + CHUNK_MEMBERS).min(self.members)).collect()
    }

    /// The knobs drawn as single numbers (walks are paths).
    fn scalar_params(&self) -> Vec<Param> {
        self.vary.iter().filter(|v| !matches!(v.dist, Dist::Walk { .. })).map(|v| v.param).collect()
    }

    /// Member `m`'s parameters and its drawn single-number knobs.
    pub fn member_params(&self, m: usize) -> Result<(ValidParams, Vec<f64>), InvalidSpec> {
        let f = self.base.forecast_length_days();
        let mut streams: Vec<Stream> =
            self.vary.iter().map(|v| Stream::new(self.seed, m as u64, v.param as u64)).collect();
        for _ in 0..MAX_MEMBER_TRIES {
            let mut changes = Vec::with_capacity(self.vary.len());
            let mut drawn = Vec::with_capacity(self.vary.len());
            for (v, stream) in self.vary.iter().zip(&mut streams) {
                if matches!(v.dist, Dist::Walk { .. }) {
                    changes.push((v.param, Knob::Series(v.walk(stream, f))));
                } else {
                    let Some(x) = v.draw(stream) else {
                        return Err(member_error(m, format!("no draw of {} fell in its range", v.param)));
                    };
                    drawn.push(x);
                    changes.push((v.param, Knob::Scalar(x)));
                }
            }
            let mut params = self.base.clone();
            if params.set(changes).is_ok() {
                return Ok((params, drawn));
            }
        }
        Err(member_error(
            m,
            format!(
                "{MAX_MEMBER_TRIES} draws in a row broke rr x qa_renew_relative_multiplier <= 1; narrow the \
                 spread of rr or of the multiplier"
            ),
        ))
    }

    /// Runs the members of `range` into `out` (reused) and keeps what the answer needs.
    pub fn run_chunk(
        &self,
        sim: &Simulator,
        range: Range<usize>,
        out: &mut SimOutput,
    ) -> Result<EnsembleChunk, InvalidSpec> {
        let n = range.len();
        let mut values: Vec<Array2<f64>> =
            self.outputs.iter().map(|o| Array2::zeros((n, o.sampling.count).f())).collect();
        let mut summaries: Vec<Vec<SummaryValue>> =
            self.summaries.iter().map(|_| Vec::with_capacity(n)).collect();
        let mut params = Vec::new();
        for (row, m) in range.clone().enumerate() {
            let (member, drawn) = self.member_params(m)?;
            sim.simulate_into(&member, out);
            for (o, matrix) in self.outputs.iter().zip(&mut values) {
                for (k, cell) in matrix.row_mut(row).iter_mut().enumerate() {
                    *cell = o.series.value(out, o.sampling.index(k));
                }
            }
            for ((_, s), column) in self.summaries.iter().zip(&mut summaries) {
                column.push(s.eval(out));
            }
            if self.return_member_params {
                params.push(drawn);
            }
        }
        Ok(EnsembleChunk { members: range, values, summaries, params })
    }

    /// Combines the chunks (all of them, in member order) into the answer.
    pub fn finish(&self, chunks: Vec<EnsembleChunk>) -> EnsembleResult {
        debug_assert!(chunks.iter().flat_map(|c| c.members.clone()).eq(0..self.members));
        let nq = self.quantiles.len();
        let mut column = Vec::with_capacity(self.members);
        let mut qs = vec![0.0; nq];
        let bands = self
            .outputs
            .iter()
            .enumerate()
            .map(|(o, output)| {
                let count = output.sampling.count;
                let mut quantiles = vec![vec![0.0; count]; nq];
                let mut mean = vec![0.0; count];
                for j in 0..count {
                    column.clear();
                    for chunk in &chunks {
                        let values = chunk.values[o].column(j);
                        column.extend_from_slice(values.as_slice().expect("column-major chunks"));
                    }
                    mean[j] = quantile::mean(&column);
                    quantile::percentiles(&mut column, &self.quantiles, &mut qs);
                    for (band, q) in quantiles.iter_mut().zip(&qs) {
                        band[j] = *q;
                    }
                }
                let paths = (0..self.member_paths)
                    .map(|m| {
                        let chunk = chunks.iter().find(|c| c.members.contains(&m)).expect("every member ran");
                        chunk.values[o].row(m - chunk.members.start).to_vec()
                    })
                    .collect();
                Band { series: output.series, sampling: output.sampling, quantiles, mean, paths }
            })
            .collect();
        let summaries = self
            .summaries
            .iter()
            .enumerate()
            .map(|(i, (label, summary))| {
                let values = chunks.iter().flat_map(|c| c.summaries[i].iter().copied());
                (label.clone(), distribution(summary, values, self.members, &self.quantiles))
            })
            .collect();
        let member_params = if self.return_member_params {
            chunks.into_iter().flat_map(|c| c.params).collect()
        } else {
            Vec::new()
        };
        EnsembleResult {
            quantiles: self.quantiles.clone(),
            bands,
            summaries,
            member_param_names: self.scalar_params(),
            member_params,
        }
    }

    /// Runs the whole ensemble on all cores (rayon's pool): for library users; a service
    /// schedules [`Ensemble::run_chunk`] itself.
    pub fn run(&self, sim: &Simulator) -> Result<EnsembleResult, InvalidSpec> {
        let chunks = self
            .chunks()
            .into_par_iter()
            .map_init(SimOutput::default, |out, range| self.run_chunk(sim, range, out))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.finish(chunks))
    }
}

fn member_error(m: usize, message: String) -> InvalidSpec {
    InvalidSpec(vec![SpecError { field: "vary".into(), message: format!("member {m}: {message}") }])
}

/// The quantiles of one summary's values over the members.
fn distribution(
    summary: &Summary,
    values: impl Iterator<Item = SummaryValue>,
    members: usize,
    qs: &[f64],
) -> SummaryDistribution {
    let mut out = vec![0.0; qs.len()];
    if summary.stat().is_date() {
        let mut days: Vec<f64> = values
            .filter_map(|v| match v {
                SummaryValue::Date(d) => d.map(|d| f64::from(chrono::Datelike::num_days_from_ce(&d))),
                SummaryValue::Number(_) => None,
            })
            .collect();
        let n_crossing = days.len();
        let to_date = |x: f64| NaiveDate::from_num_days_from_ce_opt(x.round() as i32);
        let mean = (n_crossing > 0).then(|| quantile::mean(&days)).and_then(to_date);
        let quantiles = if n_crossing == 0 {
            vec![None; qs.len()]
        } else {
            quantile::percentiles(&mut days, qs, &mut out);
            out.iter().map(|&x| to_date(x)).collect()
        };
        SummaryDistribution::Date {
            quantiles,
            mean,
            n_crossing,
            share_never: (members - n_crossing) as f64 / members as f64,
        }
    } else {
        let mut numbers: Vec<f64> = values.map(|v| v.number().unwrap_or(f64::NAN)).collect();
        let mean = quantile::mean(&numbers);
        quantile::percentiles(&mut numbers, qs, &mut out);
        SummaryDistribution::Number { quantiles: out, mean }
    }
}

fn check_quantiles(qs: &[f64], problems: &mut Problems) {
    if qs.is_empty() || qs.len() > MAX_QUANTILES {
        problems.push("quantiles", format!("{} quantiles; give 1 to {MAX_QUANTILES}", qs.len()));
    }
    for (i, q) in qs.iter().enumerate() {
        if !(0.0..=100.0).contains(q) {
            problems.push(format!("quantiles[{i}]"), format!("{q} is not a percentile in 0 ..= 100"));
        } else if qs[..i].contains(q) {
            problems.push(format!("quantiles[{i}]"), format!("{q} appears twice"));
        }
    }
}

/// Resolves the given distributions against the base (defaults, ranges), in parameter order.
fn resolve_vary(
    base: &ValidParams,
    given: &[(Param, DistSpec)],
    problems: &mut Problems,
) -> Vec<(Param, Dist)> {
    let mut vary = Vec::new();
    for &(param, spec) in given {
        let field = format!("vary.{param}");
        if !Param::SCALAR_KNOBS.contains(&param) {
            problems.push(
                field,
                format!(
                    "not a knob that can vary; knobs: {}",
                    Param::SCALAR_KNOBS.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
                ),
            );
            continue;
        }
        if vary.iter().any(|(p, _)| *p == param) {
            problems.push(field, "given twice");
            continue;
        }
        let bounds = param.bounds().expect("a numeric knob");
        let integer = param.is_integer();
        let base_value = || base.scalar(param);
        let default = |value: Option<f64>, part: &str, problems: &mut Problems| {
            value.or_else(base_value).or_else(|| {
                problems.push(
                    format!("{field}.{part}"),
                    format!("required: base.{param} is a per-day series, so there is no single value to default to"),
                );
                None
            })
        };
        let finite = |name: &str, x: f64, problems: &mut Problems| {
            let ok = x.is_finite();
            if !ok {
                problems.push(format!("{field}.{name}"), format!("{x} is not a finite number"));
            }
            ok
        };
        let in_range = |name: &str, x: f64, problems: &mut Problems| {
            let ok = bounds.contains(x) && (!integer || x.fract() == 0.0);
            if !ok {
                let whole = if integer { " (whole days)" } else { "" };
                problems.push(
                    format!("{field}.{name}"),
                    format!("{x} is outside {param}'s range {}{whole}", bounds.describe()),
                );
            }
            ok
        };
        let sd_ok = |sd: f64, problems: &mut Problems| {
            let ok = sd.is_finite() && sd >= 0.0;
            if !ok {
                problems.push(
                    format!("{field}.sd"),
                    format!("{sd}; a standard deviation is a finite number >= 0"),
                );
            }
            ok
        };
        let dist = match spec {
            DistSpec::Uniform { lo, hi } => {
                let ok = finite("lo", lo, problems) & finite("hi", hi, problems);
                let ok = ok && in_range("lo", lo, problems) & in_range("hi", hi, problems);
                if ok && lo > hi {
                    problems.push(format!("{field}.hi"), format!("{hi} is below lo {lo}"));
                }
                ok.then_some(Dist::Uniform { lo, hi })
            }
            DistSpec::Normal { mean, sd } => {
                let mean = default(mean, "mean", problems);
                let ok = sd_ok(sd, problems);
                mean.filter(|m| finite("mean", *m, problems))
                    .filter(|m| {
                        // With no spread every member takes the mean, which must itself be valid.
                        sd > 0.0 || in_range("mean", if integer { m.round() } else { *m }, problems)
                    })
                    .filter(|_| ok)
                    .map(|mean| Dist::Normal { mean, sd })
            }
            DistSpec::LogNormal { mean, sd } => {
                let mean = default(mean, "mean", problems);
                let ok = sd_ok(sd, problems);
                mean.filter(|m| finite("mean", *m, problems))
                    .filter(|m| {
                        let positive = *m > 0.0;
                        if !positive {
                            problems.push(
                                format!("{field}.mean"),
                                format!("{m}; a lognormal's mean must be > 0"),
                            );
                        }
                        positive
                            && (sd > 0.0 || in_range("mean", if integer { m.round() } else { *m }, problems))
                    })
                    .filter(|_| ok)
                    .map(|mean| Dist::LogNormal { mean, sd })
            }
            DistSpec::Walk { start, vol } => {
                if matches!(param, Param::BurnBoost | Param::SectorDurationDays) {
                    problems.push(
                        format!("{field}.dist"),
                        format!("{param} is a single number for the whole forecast; it cannot walk (use uniform, normal or lognormal)"),
                    );
                    continue;
                }
                let start = default(start, "start", problems);
                if !(vol.is_finite() && (0.0..=MAX_WALK_VOL).contains(&vol)) {
                    problems.push(
                        format!("{field}.vol"),
                        format!("{vol}; a daily volatility in 0 ..= {MAX_WALK_VOL}"),
                    );
                }
                start
                    .filter(|s| finite("start", *s, problems))
                    .filter(|s| {
                        let inside =
                            if param.is_rate() { *s > 0.0 && *s < 1.0 } else { *s > 0.0 && *s <= bounds.max };
                        if !inside {
                            let why = if param.is_rate() {
                                "a rate's walk runs in logit space and must start strictly between 0 and 1"
                                    .to_string()
                            } else {
                                format!("a geometric walk must start above 0 and at most {}", bounds.max)
                            };
                            problems.push(format!("{field}.start"), format!("{s}: {why}"));
                        }
                        inside
                    })
                    .map(|start| Dist::Walk { start, vol })
            }
        };
        if let Some(dist) = dist {
            vary.push((param, dist));
        }
    }
    vary.sort_by_key(|(p, _)| *p);
    vary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(p: Param) -> Bounds {
        p.bounds().unwrap()
    }

    #[test]
    fn truncated_draws_stay_in_range_and_integers_are_whole() {
        let v = Varied {
            param: Param::Rr,
            dist: Dist::Normal { mean: 0.95, sd: 0.2 },
            bounds: bounds(Param::Rr),
            integer: false,
        };
        let mut s = Stream::new(3, 0, 1);
        for _ in 0..10_000 {
            let x = v.draw(&mut s).unwrap();
            assert!((0.0..=1.0).contains(&x));
        }
        let d = Varied {
            param: Param::SectorDurationDays,
            dist: Dist::Uniform { lo: 360.0, hi: 362.0 },
            bounds: bounds(Param::SectorDurationDays),
            integer: true,
        };
        let mut seen = [0; 3];
        for _ in 0..3000 {
            let x = d.draw(&mut s).unwrap();
            assert_eq!(x.fract(), 0.0);
            seen[(x - 360.0) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }

    #[test]
    fn lognormal_has_the_requested_mean_and_sd_of_the_value() {
        let v = Varied {
            param: Param::Rbp,
            dist: Dist::LogNormal { mean: 4.0, sd: 1.0 },
            bounds: bounds(Param::Rbp),
            integer: false,
        };
        let mut s = Stream::new(9, 1, 0);
        let xs: Vec<f64> = (0..200_000).map(|_| v.draw(&mut s).unwrap()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
        assert!((mean - 4.0).abs() < 0.02 && (sd - 1.0).abs() < 0.02, "{mean} {sd}");
    }

    #[test]
    fn walks_start_at_start_and_stay_in_range() {
        let rate = Varied {
            param: Param::Rr,
            dist: Dist::Walk { start: 0.7, vol: 0.05 },
            bounds: bounds(Param::Rr),
            integer: false,
        };
        let mut s = Stream::new(1, 2, 3);
        let path = rate.walk(&mut s, 3650);
        assert_eq!(path[0], 0.7);
        assert!(path.iter().all(|x| (0.0..=1.0).contains(x)));
        assert!(path.windows(2).any(|w| w[0] != w[1]));
        let rbp = Varied {
            param: Param::Rbp,
            dist: Dist::Walk { start: 3.0, vol: 0.0 },
            bounds: bounds(Param::Rbp),
            integer: false,
        };
        assert_eq!(rbp.walk(&mut s, 5), vec![3.0; 5]);
    }

    #[test]
    fn acceptance_of_a_normal_mostly_outside_is_small() {
        let share = acceptance(Dist::Normal { mean: -1.0, sd: 0.3 }, bounds(Param::Rr), false);
        assert!(share < MIN_ACCEPTANCE && share > 0.0, "{share}");
        assert!(acceptance(Dist::Normal { mean: 0.5, sd: 0.1 }, bounds(Param::Rr), false) > 0.99);
        assert_eq!(acceptance(Dist::Uniform { lo: 0.0, hi: 1.0 }, bounds(Param::Rr), false), 1.0);
    }
}
