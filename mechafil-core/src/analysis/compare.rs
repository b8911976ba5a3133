//! Comparison: a baseline and named scenarios side by side, with each scenario's absolute and
//! relative difference from the baseline on the same dates.
//!
//! A scenario is the baseline with its own fields overriding ([`SimParams::overridden_by`]),
//! so `{"rbp": 6}` changes onboarding only; all share the baseline's forecast length, so
//! every array has the same dates.

use super::summary::{self, Summary, SummarySpec, SummaryValue};
use super::{AnalysisSeries, InvalidSpec, Problems, SampledOutput};
use crate::output::{SeriesName, SimOutput};
use crate::params::{SimParams, ValidParams};
use crate::sampling::Resolution;
use crate::simulator::Simulator;

/// Most scenarios besides the baseline.
pub const MAX_SCENARIOS: usize = 10;
/// Names a scenario cannot have: the answer uses them as keys.
pub const RESERVED_NAMES: [&str; 3] = ["baseline", "diff", "rel_diff"];

/// A comparison as a caller writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareSpec {
    /// The reference scenario.
    pub baseline: SimParams,
    /// Named scenarios, each overriding fields of the baseline.
    pub scenarios: Vec<(String, SimParams)>,
    /// The series to compare.
    pub output: Vec<AnalysisSeries>,
    /// Dates of the arrays.
    pub resolution: Resolution,
    /// Summaries to compare too.
    pub summaries: Vec<(String, SummarySpec)>,
}

impl CompareSpec {
    /// The series compared when none are named.
    pub fn default_output() -> Vec<AnalysisSeries> {
        vec![
            AnalysisSeries::LOCK_RATIO,
            AnalysisSeries::Series(SeriesName::CircSupply),
            AnalysisSeries::Series(SeriesName::NetworkLocked),
            AnalysisSeries::Series(SeriesName::QaTotalPowerEib),
            AnalysisSeries::Series(SeriesName::DayNetworkReward),
            AnalysisSeries::Series(SeriesName::OneYearSectorRoi),
        ]
    }
}

/// A comparison prepared on one simulator.
#[derive(Debug, Clone)]
pub struct Compare {
    /// `baseline` first, then the scenarios in request order.
    scenarios: Vec<(String, ValidParams)>,
    outputs: Vec<SampledOutput>,
    summaries: Vec<(String, Summary)>,
}

/// One series across the scenarios.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparedSeries {
    /// The output and its dates.
    pub output: SampledOutput,
    /// The baseline's values, then each scenario's.
    pub values: Vec<Vec<f64>>,
    /// Per scenario (not the baseline): scenario - baseline.
    pub diff: Vec<Vec<f64>>,
    /// Per scenario: (scenario - baseline) / |baseline|, NaN where the baseline is 0.
    pub rel_diff: Vec<Vec<f64>>,
}

/// One summary across the scenarios.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparedSummary {
    /// Its label.
    pub label: String,
    /// The baseline's value, then each scenario's.
    pub values: Vec<SummaryValue>,
    /// Per scenario: the difference (days, for dates; `None` when a date is missing).
    pub diff: Vec<Option<f64>>,
    /// Per scenario: the relative difference (numbers only).
    pub rel_diff: Vec<Option<f64>>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareResult {
    /// The names, `baseline` first.
    pub names: Vec<String>,
    /// One entry per output series.
    pub series: Vec<ComparedSeries>,
    /// One entry per summary.
    pub summaries: Vec<ComparedSummary>,
}

impl SimParams {
    /// These parameters with every field that `other` gives replaced by `other`'s.
    pub fn overridden_by(&self, other: &SimParams) -> SimParams {
        fn pick<T: Clone>(over: &Option<T>, base: &Option<T>) -> Option<T> {
            over.clone().or_else(|| base.clone())
        }
        SimParams {
            rbp: pick(&other.rbp, &self.rbp),
            rr: pick(&other.rr, &self.rr),
            fpr: pick(&other.fpr, &self.fpr),
            lock_target: pick(&other.lock_target, &self.lock_target),
            forecast_length_days: pick(&other.forecast_length_days, &self.forecast_length_days),
            sector_duration_days: pick(&other.sector_duration_days, &self.sector_duration_days),
            fil_plus_m: pick(&other.fil_plus_m, &self.fil_plus_m),
            qa_renew_relative_multiplier: pick(
                &other.qa_renew_relative_multiplier,
                &self.qa_renew_relative_multiplier,
            ),
            burn_boost: pick(&other.burn_boost, &self.burn_boost),
            use_available_supply: pick(&other.use_available_supply, &self.use_available_supply),
            baseline_function_eib: pick(&other.baseline_function_eib, &self.baseline_function_eib),
        }
    }
}

impl Compare {
    /// Checks `spec` against `sim`, reporting every problem with its field path.
    pub fn prepare(sim: &Simulator, spec: &CompareSpec) -> Result<Compare, InvalidSpec> {
        let mut problems = Problems::default();
        let baseline = super::validate_scenario(sim, &spec.baseline, "baseline", &mut problems);
        if spec.scenarios.is_empty() || spec.scenarios.len() > MAX_SCENARIOS {
            problems.push(
                "scenarios",
                format!(
                    "{} scenarios; give 1 to {MAX_SCENARIOS} (limit MAX_SCENARIOS)",
                    spec.scenarios.len()
                ),
            );
        }
        let mut scenarios = Vec::with_capacity(spec.scenarios.len() + 1);
        for (name, params) in &spec.scenarios {
            let field = format!("scenarios.{name}");
            super::check_name(&field, name, &mut problems);
            if RESERVED_NAMES.contains(&name.as_str()) {
                problems.push(
                    &field,
                    format!("{name:?} is reserved (the answer's keys: baseline, diff, rel_diff)"),
                );
            }
            let merged = spec.baseline.overridden_by(params);
            let Some(valid) = super::validate_scenario(sim, &merged, &field, &mut problems) else { continue };
            if let Some(base) = &baseline {
                let (f, fb) = (valid.forecast_length_days(), base.forecast_length_days());
                if f != fb {
                    problems.push(
                        format!("{field}.forecast_length_days"),
                        format!("the scenario's forecast has {f} days, the baseline's {fb}; scenarios share the baseline's"),
                    );
                }
            }
            scenarios.push((name.clone(), valid));
        }
        let Some(baseline) = baseline else {
            return Err(InvalidSpec(problems.0));
        };
        let f = baseline.forecast_length_days();
        scenarios.insert(0, ("baseline".to_string(), baseline));
        let outputs = super::prepare_output(sim, &spec.output, f, spec.resolution, &mut problems);
        let summaries = summary::prepare_all(sim, &spec.summaries, f, &mut problems);
        problems.finish(|| Compare { scenarios, outputs, summaries })
    }

    /// The scenarios, `baseline` first.
    pub fn scenarios(&self) -> &[(String, ValidParams)] {
        &self.scenarios
    }

    /// The labelled summaries.
    pub fn summaries(&self) -> &[(String, Summary)] {
        &self.summaries
    }

    /// Runs every scenario into `out` (reused).
    pub fn run(&self, sim: &Simulator, out: &mut SimOutput) -> CompareResult {
        let mut values: Vec<Vec<Vec<f64>>> =
            vec![Vec::with_capacity(self.scenarios.len()); self.outputs.len()];
        let mut summary_values: Vec<Vec<SummaryValue>> = vec![Vec::new(); self.summaries.len()];
        for (_, params) in &self.scenarios {
            sim.simulate_into(params, out);
            for (o, per_scenario) in self.outputs.iter().zip(&mut values) {
                let mut v = Vec::with_capacity(o.sampling.count);
                o.extend_from(out, &mut v);
                per_scenario.push(v);
            }
            for ((_, s), per_scenario) in self.summaries.iter().zip(&mut summary_values) {
                per_scenario.push(s.eval(out));
            }
        }
        let series = self
            .outputs
            .iter()
            .zip(values)
            .map(|(output, values)| {
                let base = &values[0];
                let diff: Vec<Vec<f64>> =
                    values[1..].iter().map(|v| v.iter().zip(base).map(|(s, b)| s - b).collect()).collect();
                let rel_diff = diff
                    .iter()
                    .map(|d| d.iter().zip(base).map(|(d, b)| relative(*d, *b)).collect())
                    .collect();
                ComparedSeries { output: output.clone(), values, diff, rel_diff }
            })
            .collect();
        let summaries = self
            .summaries
            .iter()
            .zip(summary_values)
            .map(|((label, _), values)| {
                let (diff, rel_diff) = values[1..]
                    .iter()
                    .map(|v| match (values[0], *v) {
                        (SummaryValue::Number(b), SummaryValue::Number(s)) => {
                            (Some(s - b), Some(relative(s - b, b)))
                        }
                        (SummaryValue::Date(Some(b)), SummaryValue::Date(Some(s))) => {
                            (Some((s - b).num_days() as f64), None)
                        }
                        _ => (None, None),
                    })
                    .unzip();
                ComparedSummary { label: label.clone(), values, diff, rel_diff }
            })
            .collect();
        CompareResult { names: self.scenarios.iter().map(|(n, _)| n.clone()).collect(), series, summaries }
    }
}

/// `diff / |base|`, NaN where the base is 0 or not finite.
fn relative(diff: f64, base: f64) -> f64 {
    if base == 0.0 || !base.is_finite() { f64::NAN } else { diff / base.abs() }
}
