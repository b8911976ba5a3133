//! Goal seeking: the value of one knob, within a bracket, that makes a summary equal a target.
//!
//! The bracket (default: the knob's whole valid range) is first scanned at [`SCAN_POINTS`]
//! evenly spaced values. The first pair of neighbours between which the summary crosses the
//! target is then narrowed with Brent's method (inverse quadratic interpolation, secant steps
//! and bisection, as in Brent's "zeroin"), which converges superlinearly on the model's smooth
//! stretches and never leaves the bracket at its kinks. The whole search runs at most
//! [`MAX_SIMULATIONS`] simulations. When the scan finds no crossing, the answer says so and
//! gives the range of values the scan reached instead of guessing.
//!
//! `sector_duration_days` takes whole days: the crossing is narrowed by bisection to two
//! neighbouring days and the closer one is the answer.

use super::summary::{Summary, SummarySpec};
use super::{InvalidSpec, Problems};
use crate::output::SimOutput;
use crate::params::{Knob, SimParams, ValidParams};
use crate::rules::Param;
use crate::simulator::Simulator;

/// Most simulations one solve runs.
pub const MAX_SIMULATIONS: usize = 40;
/// Values of the knob scanned before refining.
pub const SCAN_POINTS: usize = 9;

/// A goal seek as a caller writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SolveSpec {
    /// The scenario.
    pub base: SimParams,
    /// The knob to solve for.
    pub knob: Param,
    /// The quantity (a number, not a date).
    pub summary: SummarySpec,
    /// The value the summary must reach.
    pub target: f64,
    /// Where to look (default: the knob's valid range).
    pub bracket: Option<(f64, f64)>,
    /// Largest acceptable |achieved - target| (default 1e-9 x |target|, at least 1e-12).
    pub tolerance: Option<f64>,
}

/// A goal seek prepared on one simulator.
#[derive(Debug, Clone)]
pub struct Solve {
    base: ValidParams,
    knob: Param,
    summary: Summary,
    target: f64,
    bracket: (f64, f64),
    tolerance: f64,
}

/// The answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SolveResult {
    /// Whether `value` makes the summary equal the target within the tolerance.
    pub solved: bool,
    /// The knob value found (the closest one seen when not solved and a crossing was found).
    pub value: Option<f64>,
    /// The summary at `value`.
    pub achieved: Option<f64>,
    /// `achieved - target`.
    pub residual: Option<f64>,
    /// The smallest and largest summary seen (over the scan and refinement).
    pub reachable: (f64, f64),
    /// Simulations run.
    pub iterations: usize,
    /// Why it was not solved.
    pub reason: Option<String>,
    /// The scan: knob values and the summary at each (NaN where undefined).
    pub scan: Vec<(f64, f64)>,
}

impl Solve {
    /// Checks `spec` against `sim`, reporting every problem with its field path.
    pub fn prepare(sim: &Simulator, spec: &SolveSpec) -> Result<Solve, InvalidSpec> {
        let mut problems = Problems::default();
        let base = super::validate_scenario(sim, &spec.base, "base", &mut problems);
        let knob = spec.knob;
        if !Param::SCALAR_KNOBS.contains(&knob) {
            problems.push(
                "knob",
                format!(
                    "{knob} cannot be solved for; knobs: {}",
                    Param::SCALAR_KNOBS.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
                ),
            );
        }
        if spec.summary.stat.is_date() {
            problems.push(
                "summary.stat",
                format!(
                    "{} gives a date, which cannot be solved for; use value_at on the date instead",
                    spec.summary.stat.name()
                ),
            );
        }
        if !spec.target.is_finite() {
            problems.push("target", format!("{} is not a finite number", spec.target));
        }
        if let Some(t) = spec.tolerance.filter(|t| !(t.is_finite() && *t > 0.0)) {
            problems.push("tolerance", format!("{t}; a tolerance is a finite number > 0"));
        }
        let Some(base) = base else {
            return Err(InvalidSpec(problems.0));
        };
        let f = base.forecast_length_days();
        let summary = Summary::prepare(sim, &spec.summary, f, "summary", &mut problems);
        let bracket = if Param::SCALAR_KNOBS.contains(&knob) {
            bracket(&base, knob, spec.bracket, &mut problems)
        } else {
            None
        };
        let tolerance = spec.tolerance.unwrap_or_else(|| (1e-9 * spec.target.abs()).max(1e-12));
        match (summary, bracket) {
            (Some(summary), Some(bracket)) if problems.is_empty() => {
                Ok(Solve { base, knob, summary, target: spec.target, bracket, tolerance })
            }
            _ => Err(InvalidSpec(problems.0)),
        }
    }

    /// The base scenario.
    pub fn base(&self) -> &ValidParams {
        &self.base
    }

    /// The knob solved for.
    pub fn knob(&self) -> Param {
        self.knob
    }

    /// The target.
    pub fn target(&self) -> f64 {
        self.target
    }

    /// The bracket searched.
    pub fn bracket(&self) -> (f64, f64) {
        self.bracket
    }

    /// The tolerance on |achieved - target|.
    pub fn tolerance(&self) -> f64 {
        self.tolerance
    }

    /// The summary.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The parameters with the knob at `x`.
    pub fn params_at(&self, x: f64) -> ValidParams {
        let mut params = self.base.clone();
        params.set_scalar(self.knob, x).expect("the bracket keeps every value valid");
        params
    }

    /// Runs the search (at most [`MAX_SIMULATIONS`] simulations into `out`).
    pub fn run(&self, sim: &Simulator, out: &mut SimOutput) -> SolveResult {
        let mut search = Search { solve: self, sim, out, runs: 0, lo: f64::INFINITY, hi: f64::NEG_INFINITY };
        let (a, b) = self.bracket;
        let integer = self.knob.is_integer();
        let mut xs: Vec<f64> = (0..SCAN_POINTS)
            .map(|i| if i + 1 == SCAN_POINTS { b } else { a + (b - a) * i as f64 / (SCAN_POINTS - 1) as f64 })
            .map(|x| if integer { x.round() } else { x })
            .collect();
        xs.dedup();
        let mut scan = Vec::with_capacity(xs.len());
        for &x in &xs {
            let y = search.eval(x);
            scan.push((x, y));
            if y - self.target == 0.0 {
                return search.solved(x, y, scan);
            }
        }
        let crossing = scan.windows(2).find(|w| {
            let (fa, fb) = (w[0].1 - self.target, w[1].1 - self.target);
            fa.is_finite() && fb.is_finite() && (fa < 0.0) != (fb < 0.0)
        });
        let Some(&[(xa, ya), (xb, yb)]) = crossing else {
            let reason = format!(
                "the summary stays within [{}, {}] at the {} scanned values of {} in [{a}, {b}]; the target {} is \
                 not crossed there (widen the bracket, or the target may be unreachable)",
                search.lo,
                search.hi,
                scan.len(),
                self.knob,
                self.target
            );
            return search.unsolved(None, reason, scan);
        };
        let (x, y) = if integer {
            search.bisect_days((xa, ya), (xb, yb))
        } else {
            search.brent((xa, ya - self.target), (xb, yb - self.target))
        };
        if (y - self.target).abs() <= self.tolerance || integer {
            search.solved(x, y, scan)
        } else if y.is_nan() {
            search.unsolved(None, format!("the summary is undefined (NaN) at {} = {x}", self.knob), scan)
        } else {
            let reason = format!(
                "no value within the tolerance {} after {} simulations; the summary may jump across the target near {} = {x}",
                self.tolerance, search.runs, self.knob
            );
            search.unsolved(Some((x, y)), reason, scan)
        }
    }
}

/// The default or given bracket, checked: inside the knob's range and the joint rule.
fn bracket(
    base: &ValidParams,
    knob: Param,
    given: Option<(f64, f64)>,
    problems: &mut Problems,
) -> Option<(f64, f64)> {
    let bounds = knob.bounds().expect("a numeric knob");
    // The joint rule caps rr and the QA multiplier by each other.
    let other_max = |p: Param| base_max(base, p);
    let cap = match knob {
        Param::Rr => {
            other_max(Param::QaRenewRelativeMultiplier).map(|m| if m > 0.0 { 1.0 / m } else { f64::INFINITY })
        }
        Param::QaRenewRelativeMultiplier => {
            other_max(Param::Rr).map(|r| if r > 0.0 { 1.0 / r } else { f64::INFINITY })
        }
        _ => None,
    }
    .unwrap_or(f64::INFINITY);
    let max = bounds.max.min(cap);
    let min = if bounds.min_exclusive { bounds.min + (max - bounds.min) * 1e-9 } else { bounds.min };
    let Some((lo, hi)) = given else {
        return Some((min, if knob.is_integer() { max.floor() } else { max }));
    };
    let mut ok = true;
    for (i, x) in [lo, hi].into_iter().enumerate() {
        let field = format!("bracket[{i}]");
        if !bounds.contains(x) || (knob.is_integer() && x.fract() != 0.0) {
            let whole = if knob.is_integer() { " (whole days)" } else { "" };
            problems.push(field, format!("{x} is outside {knob}'s range {}{whole}", bounds.describe()));
            ok = false;
        } else if x > cap {
            problems.push(
                field,
                format!("{x}: rr x qa_renew_relative_multiplier must stay <= 1, so {knob} can be at most {cap} here"),
            );
            ok = false;
        }
    }
    if ok && lo >= hi {
        problems.push("bracket", format!("[{lo}, {hi}]: the first value must be below the second"));
        ok = false;
    }
    ok.then_some((lo, hi))
}

/// The largest value of a knob of `base` over the forecast.
fn base_max(base: &ValidParams, p: Param) -> Option<f64> {
    match base.scalar(p) {
        Some(v) => Some(v),
        None => {
            let f = base.forecast_length_days();
            let knob: &Knob = match p {
                Param::Rr => base.rr(),
                Param::QaRenewRelativeMultiplier => base.qa_renew_relative_multiplier(),
                _ => return None,
            };
            (0..f).map(|k| knob.at(k)).reduce(f64::max)
        }
    }
}

/// The state of one search.
struct Search<'a> {
    solve: &'a Solve,
    sim: &'a Simulator,
    out: &'a mut SimOutput,
    runs: usize,
    lo: f64,
    hi: f64,
}

impl Search<'_> {
    /// The summary with the knob at `x` (one simulation).
    fn eval(&mut self, x: f64) -> f64 {
        self.runs += 1;
        self.sim.simulate_into(&self.solve.params_at(x), self.out);
        let y = self.solve.summary.eval_number(self.out).unwrap_or(f64::NAN);
        if y.is_finite() {
            self.lo = self.lo.min(y);
            self.hi = self.hi.max(y);
        }
        y
    }

    fn budget_left(&self) -> bool {
        self.runs < MAX_SIMULATIONS
    }

    fn solved(&self, x: f64, y: f64, scan: Vec<(f64, f64)>) -> SolveResult {
        SolveResult {
            solved: true,
            value: Some(x),
            achieved: Some(y),
            residual: Some(y - self.solve.target),
            reachable: (self.lo, self.hi),
            iterations: self.runs,
            reason: None,
            scan,
        }
    }

    fn unsolved(&self, best: Option<(f64, f64)>, reason: String, scan: Vec<(f64, f64)>) -> SolveResult {
        SolveResult {
            solved: false,
            value: best.map(|b| b.0),
            achieved: best.map(|b| b.1),
            residual: best.map(|b| b.1 - self.solve.target),
            reachable: (self.lo, self.hi),
            iterations: self.runs,
            reason: Some(reason),
            scan,
        }
    }

    /// Brent's zeroin on `f(x) = summary(x) - target`, from a bracket whose ends have
    /// opposite signs; returns the best point and its summary.
    fn brent(&mut self, (mut a, mut fa): (f64, f64), (mut b, mut fb): (f64, f64)) -> (f64, f64) {
        let target = self.solve.target;
        let ftol = self.solve.tolerance;
        let xtol = 1e-13 * (self.solve.bracket.1 - self.solve.bracket.0).abs();
        let (mut c, mut fc) = (a, fa);
        let mut d = b - a;
        let mut e = d;
        loop {
            if (fb > 0.0) == (fc > 0.0) {
                (c, fc) = (a, fa);
                d = b - a;
                e = d;
            }
            if fc.abs() < fb.abs() {
                (a, fa) = (b, fb);
                (b, fb) = (c, fc);
                (c, fc) = (a, fa);
            }
            let tol1 = 2.0 * f64::EPSILON * b.abs() + 0.5 * xtol;
            let xm = 0.5 * (c - b);
            if xm.abs() <= tol1 || fb.abs() <= ftol || fb == 0.0 || !self.budget_left() {
                return (b, fb + target);
            }
            if e.abs() >= tol1 && fa.abs() > fb.abs() {
                // Interpolate: secant with two points, inverse quadratic with three.
                let s = fb / fa;
                let (mut p, mut q) = if a == c {
                    (2.0 * xm * s, 1.0 - s)
                } else {
                    let q = fa / fc;
                    let r = fb / fc;
                    (s * (2.0 * xm * q * (q - r) - (b - a) * (r - 1.0)), (q - 1.0) * (r - 1.0) * (s - 1.0))
                };
                if p > 0.0 {
                    q = -q;
                } else {
                    p = -p;
                }
                if 2.0 * p < (3.0 * xm * q - (tol1 * q).abs()).min((e * q).abs()) {
                    e = d;
                    d = p / q;
                } else {
                    d = xm;
                    e = d;
                }
            } else {
                d = xm;
                e = d;
            }
            (a, fa) = (b, fb);
            b += if d.abs() > tol1 { d } else { tol1.copysign(xm) };
            fb = self.eval(b) - target;
            if fb.is_nan() {
                return (b, f64::NAN);
            }
        }
    }

    /// Bisection over whole days between two days whose summaries straddle the target;
    /// returns the closer of the final two neighbours.
    fn bisect_days(&mut self, (mut a, mut ya): (f64, f64), (mut b, mut yb): (f64, f64)) -> (f64, f64) {
        let target = self.solve.target;
        while b - a > 1.0 && self.budget_left() {
            let m = ((a + b) / 2.0).floor();
            let ym = self.eval(m);
            if (ym - target < 0.0) == (ya - target < 0.0) {
                (a, ya) = (m, ym);
            } else {
                (b, yb) = (m, ym);
            }
        }
        if (ya - target).abs() <= (yb - target).abs() { (a, ya) } else { (b, yb) }
    }
}
