//! Sensitivities: how much each knob moves each summary, as a derivative, an elasticity and
//! the summary after a ±X % move of the knob (the tornado table), ranked.
//!
//! Why central differences, not forward-mode dual numbers: the model is 44 series of plain
//! f64 loops reproduced bit for bit from the reference, and duals would mean a second,
//! generic copy of every kernel to keep identical. A central difference costs two runs per
//! knob (about 0.5 ms), has error O(h²) where the model is smooth, and, with the two one-sided
//! quotients it comes with for free, tells where it is *not* smooth: the model takes `min` and
//! `max` in several places (QA power capped at `fil_plus_m` x RB power, capped baseline power,
//! pledge floors), and across such a kink no derivative exists. Both quotients are reported,
//! and `kink` is set when they disagree (by more than [`KINK_REL`] relatively and by more
//! than rounding could explain), instead of returning their average as if it meant something.
//!
//! The step is `h = 1e-5 x max(|x|, 1)`: small enough that the O(h²) error is far below what
//! anyone reads (about 1e-10 relative for these smooth functions), large enough that the f64
//! rounding of the summaries (about 1e-15 relative) divided by `h` stays negligible. At a bound
//! of the knob's range the difference is one-sided. `sector_duration_days` moves by whole
//! days (`duration_step`, default 1).

use super::summary::{Stat, Summary, SummarySpec};
use super::{AnalysisSeries, InvalidSpec, Problems};
use crate::output::{SeriesName, SimOutput};
use crate::params::{SimParams, ValidParams};
use crate::rules::Param;
use crate::simulator::Simulator;

/// The relative finite-difference step.
pub const REL_STEP: f64 = 1e-5;
/// One-sided quotients that differ by more than this (relatively) flag a kink.
pub const KINK_REL: f64 = 1e-3;
/// The default move of the tornado table, percent.
pub const DEFAULT_MOVE_PCT: f64 = 10.0;

/// A sensitivity analysis as a caller writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SensitivitySpec {
    /// The scenario.
    pub base: SimParams,
    /// The quantities (numbers, not dates).
    pub summaries: Vec<(String, SummarySpec)>,
    /// The knobs (default: every single-number knob of the base).
    pub knobs: Option<Vec<Param>>,
    /// The tornado move, percent of the knob's value, in (0, 100).
    pub move_pct: f64,
    /// The step of `sector_duration_days`, days.
    pub duration_step: usize,
}

impl SensitivitySpec {
    /// The summaries used when none are given: at the end of the forecast, the lock ratio,
    /// circulating supply, locked FIL, the daily network reward and (for forecasts of a year
    /// or more) the 1-year sector ROI.
    pub fn default_summaries(forecast_len: usize) -> Vec<(String, SummarySpec)> {
        let end = |s| SummarySpec::new(s, Stat::End);
        let mut summaries = vec![
            ("lock_ratio_end".to_string(), end(AnalysisSeries::LOCK_RATIO)),
            ("circ_supply_end".to_string(), end(AnalysisSeries::Series(SeriesName::CircSupply))),
            ("network_locked_end".to_string(), end(AnalysisSeries::Series(SeriesName::NetworkLocked))),
            ("day_network_reward_end".to_string(), end(AnalysisSeries::Series(SeriesName::DayNetworkReward))),
        ];
        if forecast_len >= crate::constants::YEAR_WINDOW {
            summaries.push((
                "1y_sector_roi_end".to_string(),
                end(AnalysisSeries::Series(SeriesName::OneYearSectorRoi)),
            ));
        }
        summaries
    }
}

/// How a derivative was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `(f(x+h) - f(x-h)) / 2h`.
    Central,
    /// `(f(x+h) - f(x)) / h`, at the lower bound.
    Forward,
    /// `(f(x) - f(x-h)) / h`, at the upper bound.
    Backward,
}

/// The sensitivity of one summary to one knob.
#[derive(Debug, Clone, PartialEq)]
pub struct KnobSensitivity {
    /// The knob.
    pub knob: Param,
    /// Its base value.
    pub value: f64,
    /// The finite-difference step.
    pub step: f64,
    /// d summary / d knob.
    pub derivative: f64,
    /// How it was taken.
    pub method: Method,
    /// `derivative x value / summary` (NaN when the summary is 0).
    pub elasticity: f64,
    /// The forward quotient, when `x + h` is valid.
    pub forward: Option<f64>,
    /// The backward quotient, when `x - h` is valid.
    pub backward: Option<f64>,
    /// Whether the one-sided quotients disagree (a min/max kink: no derivative).
    pub kink: bool,
    /// The summary with the knob at `down_value`.
    pub down: f64,
    /// The summary with the knob at `up_value`.
    pub up: f64,
    /// `value x (1 - move_pct / 100)`, clamped to the valid range.
    pub down_value: f64,
    /// `value x (1 + move_pct / 100)`, clamped to the valid range.
    pub up_value: f64,
}

/// The answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SensitivityResult {
    /// Each summary's base value, with its label.
    pub base_values: Vec<(String, f64)>,
    /// Per summary: its label and one entry per knob (knob order).
    pub results: Vec<(String, Vec<KnobSensitivity>)>,
    /// Per summary: its label and the knobs by |up - down|, largest first.
    pub ranking: Vec<(String, Vec<Param>)>,
    /// Simulations run.
    pub runs: usize,
}

/// A sensitivity analysis prepared on one simulator.
#[derive(Debug, Clone)]
pub struct Sensitivity {
    base: ValidParams,
    knobs: Vec<Param>,
    summaries: Vec<(String, Summary)>,
    move_pct: f64,
    duration_step: usize,
}

impl Sensitivity {
    /// Checks `spec` against `sim`, reporting every problem with its field path.
    pub fn prepare(sim: &Simulator, spec: &SensitivitySpec) -> Result<Sensitivity, InvalidSpec> {
        let mut problems = Problems::default();
        let base = super::validate_scenario(sim, &spec.base, "base", &mut problems);
        if !(spec.move_pct.is_finite() && spec.move_pct > 0.0 && spec.move_pct < 100.0) {
            problems.push("move_pct", format!("{}; a move in percent, 0 < move_pct < 100", spec.move_pct));
        }
        if !(1..=365).contains(&spec.duration_step) {
            problems.push("duration_step", format!("{} days; allowed 1 ..= 365", spec.duration_step));
        }
        if spec.summaries.is_empty() {
            problems.push("summaries", "give at least one summary");
        }
        for (label, s) in &spec.summaries {
            if s.stat.is_date() {
                problems.push(
                    format!("summaries.{label}.stat"),
                    format!("{} gives a date, which has no derivative; use a number stat", s.stat.name()),
                );
            }
        }
        let Some(base) = base else {
            return Err(InvalidSpec(problems.0));
        };
        let knobs = match &spec.knobs {
            None => Param::SCALAR_KNOBS.into_iter().filter(|p| base.scalar(*p).is_some()).collect(),
            Some(given) => {
                if given.is_empty() {
                    problems.push("knobs", "an empty list; omit it for every knob");
                }
                let mut knobs = Vec::new();
                for (i, &p) in given.iter().enumerate() {
                    if !Param::SCALAR_KNOBS.contains(&p) {
                        problems.push(
                            format!("knobs[{i}]"),
                            format!(
                                "{p} has no sensitivity; knobs: {}",
                                Param::SCALAR_KNOBS.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
                            ),
                        );
                    } else if base.scalar(p).is_none() {
                        problems.push(
                            format!("knobs[{i}]"),
                            format!("base.{p} is a per-day series; a sensitivity needs a single value"),
                        );
                    } else if knobs.contains(&p) {
                        problems.push(format!("knobs[{i}]"), format!("{p} is given twice"));
                    } else {
                        knobs.push(p);
                    }
                }
                knobs
            }
        };
        let summaries =
            super::summary::prepare_all(sim, &spec.summaries, base.forecast_length_days(), &mut problems);
        problems.finish(|| Sensitivity {
            base,
            knobs,
            summaries,
            move_pct: spec.move_pct,
            duration_step: spec.duration_step,
        })
    }

    /// The base scenario.
    pub fn base(&self) -> &ValidParams {
        &self.base
    }

    /// The knobs, in parameter order.
    pub fn knobs(&self) -> &[Param] {
        &self.knobs
    }

    /// The labelled summaries.
    pub fn summaries(&self) -> &[(String, Summary)] {
        &self.summaries
    }

    /// Runs the analysis: one base run and up to four per knob, into `out`.
    pub fn run(&self, sim: &Simulator, out: &mut SimOutput) -> SensitivityResult {
        let mut runs = 0;
        let mut eval = |params: &ValidParams, out: &mut SimOutput| -> Vec<f64> {
            runs += 1;
            sim.simulate_into(params, out);
            self.summaries.iter().map(|(_, s)| s.eval_number(out).unwrap_or(f64::NAN)).collect()
        };
        let f0 = eval(&self.base, out);
        let n = self.summaries.len();
        let mut per_summary: Vec<Vec<KnobSensitivity>> = vec![Vec::with_capacity(self.knobs.len()); n];
        for &knob in &self.knobs {
            let x = self.base.scalar(knob).expect("checked to be a single number");
            let at = |v: f64| {
                let mut p = self.base.clone();
                p.set_scalar(knob, v).ok().map(|()| p)
            };
            let h = if knob.is_integer() { self.duration_step as f64 } else { REL_STEP * x.abs().max(1.0) };
            let plus = at(x + h).map(|p| (x + h, eval(&p, out)));
            let minus = at(x - h).map(|p| (x - h, eval(&p, out)));
            let p = self.move_pct / 100.0;
            let (down_value, down) = self.moved(knob, x * (1.0 - p), x, &f0, &at, &mut eval, out);
            let (up_value, up) = self.moved(knob, x * (1.0 + p), x, &f0, &at, &mut eval, out);
            for i in 0..n {
                let forward = plus.as_ref().map(|(xp, fp)| (fp[i] - f0[i]) / (xp - x));
                let backward = minus.as_ref().map(|(xm, fm)| (f0[i] - fm[i]) / (x - xm));
                let (derivative, method) = match (&plus, &minus) {
                    (Some((xp, fp)), Some((xm, fm))) => ((fp[i] - fm[i]) / (xp - xm), Method::Central),
                    (Some(_), None) => (forward.expect("plus"), Method::Forward),
                    (None, Some(_)) => (backward.expect("minus"), Method::Backward),
                    (None, None) => (f64::NAN, Method::Central),
                };
                let kink = match (forward, backward) {
                    (Some(fw), Some(bw)) => {
                        let jump = (fw - bw).abs();
                        jump > KINK_REL * fw.abs().max(bw.abs()) && jump * h > 1e-9 * f0[i].abs()
                    }
                    _ => false,
                };
                per_summary[i].push(KnobSensitivity {
                    knob,
                    value: x,
                    step: h,
                    derivative,
                    method,
                    elasticity: if f0[i] == 0.0 { f64::NAN } else { derivative * x / f0[i] },
                    forward,
                    backward,
                    kink,
                    down: down[i],
                    up: up[i],
                    down_value,
                    up_value,
                });
            }
        }
        let ranking = self
            .summaries
            .iter()
            .zip(&per_summary)
            .map(|((label, _), entries)| {
                let mut order: Vec<&KnobSensitivity> = entries.iter().collect();
                let swing = |e: &KnobSensitivity| {
                    let s = (e.up - e.down).abs();
                    if s.is_nan() { -1.0 } else { s }
                };
                order.sort_by(|a, b| swing(b).total_cmp(&swing(a)));
                (label.clone(), order.into_iter().map(|e| e.knob).collect())
            })
            .collect();
        SensitivityResult {
            base_values: self.summaries.iter().zip(&f0).map(|((label, _), v)| (label.clone(), *v)).collect(),
            results: self.summaries.iter().map(|(label, _)| label.clone()).zip(per_summary).collect(),
            ranking,
            runs,
        }
    }

    /// The summaries with the knob moved to `target` (clamped into the valid range and, for
    /// whole days, rounded); the base run's when the move lands on `x` itself.
    #[allow(clippy::too_many_arguments)]
    fn moved(
        &self,
        knob: Param,
        target: f64,
        x: f64,
        f0: &[f64],
        at: &dyn Fn(f64) -> Option<ValidParams>,
        eval: &mut dyn FnMut(&ValidParams, &mut SimOutput) -> Vec<f64>,
        out: &mut SimOutput,
    ) -> (f64, Vec<f64>) {
        let bounds = knob.bounds().expect("a numeric knob");
        let mut v = target.clamp(bounds.min, bounds.max);
        if knob.is_integer() {
            v = v.round();
        }
        if v == x {
            return (x, f0.to_vec());
        }
        // The joint rule (rr x QA multiplier <= 1) can cap an upward move below the range's
        // end: halve the move until it is valid.
        let mut step = v - x;
        for _ in 0..60 {
            if let Some(params) = at(x + step) {
                return (x + step, eval(&params, out));
            }
            step /= 2.0;
            if knob.is_integer() {
                step = step.trunc();
                if step == 0.0 {
                    break;
                }
            }
        }
        (x, f0.to_vec())
    }
}
