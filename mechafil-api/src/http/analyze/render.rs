//! The JSON answers of `/analyze/*`, serialised straight from the core's results (no
//! intermediate JSON tree: a daily band of 20 years is hundreds of thousands of numbers), with
//! NaN and infinities as `null`, dates on every array, and the explanation of what was run.

use chrono::NaiveDate;
use mechafil_core::analysis::compare::CompareResult;
use mechafil_core::analysis::ensemble::{Band, Dist, Ensemble, EnsembleResult, SummaryDistribution};
use mechafil_core::analysis::quantile;
use mechafil_core::analysis::sensitivity::{KnobSensitivity, Method, Sensitivity, SensitivityResult};
use mechafil_core::analysis::solve::{Solve, SolveResult};
use mechafil_core::analysis::summary::{Stat, Summary, SummaryValue};
use mechafil_core::analysis::sweep::{Sweep, SweepResult};
use mechafil_core::analysis::{AnalysisSeries, SampledOutput};
use mechafil_core::{Param, ValidParams};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::super::sampling::SeriesDates;
use super::super::simulate::fmt_sig as sig;
use super::super::state::{Served, SnapshotRef};
use super::Kind;
use super::parse::Given;

/// A number, or `null` when it is NaN or infinite.
fn num(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// A list of numbers with NaN and infinities as `null`.
struct Nums<'a>(&'a [f64]);

impl Serialize for Nums<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for v in self.0 {
            seq.serialize_element(&num(*v))?;
        }
        seq.end()
    }
}

/// A summary's value: a number, a date, or `null`.
struct Value(SummaryValue);

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            SummaryValue::Number(v) => num(v).serialize(s),
            SummaryValue::Date(d) => d.serialize(s),
        }
    }
}

/// A map serialised from an iterator of entries, built on demand.
struct MapOf<F>(F);

impl<F, I, K, V> Serialize for MapOf<F>
where
    F: Fn() -> I,
    I: Iterator<Item = (K, V)>,
    K: Serialize,
    V: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (k, v) in (self.0)() {
            map.serialize_entry(&k, &v)?;
        }
        map.end()
    }
}

/// The fields every answer shares, then the analysis' own.
#[derive(Serialize)]
struct Envelope<T: Serialize> {
    version: &'static str,
    kind: &'static str,
    snapshot: SnapshotRef,
    current_date: NaiveDate,
    explanation: String,
    #[serde(flatten)]
    body: T,
}

fn to_json<T: Serialize>(served: &Served, kind: Kind, explanation: String, body: T) -> Vec<u8> {
    let envelope = Envelope {
        version: super::super::VERSION,
        kind: kind.name(),
        snapshot: served.snapshot_ref(),
        current_date: served.meta.current_date,
        explanation,
        body,
    };
    serde_json::to_vec(&envelope).expect("serialising to memory cannot fail")
}

/// A summary as the request could have written it (defaults filled in).
struct SummaryEcho<'a>(&'a Summary);

impl Serialize for SummaryEcho<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let summary = self.0;
        let mut map = s.serialize_map(None)?;
        match summary.series() {
            AnalysisSeries::Series(name) => map.serialize_entry("series", name.as_str())?,
            r if r == AnalysisSeries::LOCK_RATIO => map.serialize_entry("series", "lock_ratio")?,
            AnalysisSeries::Ratio(a, b) => {
                map.serialize_entry("series", a.as_str())?;
                map.serialize_entry("over", b.as_str())?;
            }
        }
        map.serialize_entry("stat", summary.stat().name())?;
        let (from, to) = summary.range();
        if summary.stat() == Stat::ValueAt {
            map.serialize_entry("date", &from)?;
        } else {
            map.serialize_entry("from", &from)?;
            map.serialize_entry("to", &to)?;
        }
        if let Some(t) = summary.threshold() {
            map.serialize_entry("threshold", &t)?;
        }
        map.end()
    }
}

fn summaries_echo(summaries: &[(String, Summary)]) -> impl Serialize + '_ {
    MapOf(move || summaries.iter().map(|(label, s)| (label.as_str(), SummaryEcho(s))))
}

fn series_dates(outputs: &[SampledOutput]) -> impl Serialize + '_ {
    MapOf(move || outputs.iter().map(|o| (o.series.name(), SeriesDates::from(o.sampling))))
}

fn output_names(outputs: &[SampledOutput]) -> Vec<String> {
    outputs.iter().map(|o| o.series.name()).collect()
}

/// A distribution as the request could have written it.
fn dist_echo(dist: Dist) -> serde_json::Value {
    match dist {
        Dist::Uniform { lo, hi } => serde_json::json!({"dist": "uniform", "lo": lo, "hi": hi}),
        Dist::Normal { mean, sd } => serde_json::json!({"dist": "normal", "mean": mean, "sd": sd}),
        Dist::LogNormal { mean, sd } => serde_json::json!({"dist": "lognormal", "mean": mean, "sd": sd}),
        Dist::Walk { start, vol } => serde_json::json!({"dist": "walk", "start": start, "vol": vol}),
    }
}

fn dist_words(param: Param, dist: Dist) -> String {
    match dist {
        Dist::Uniform { lo, hi } => format!("{param} uniform {}..{}", sig(lo), sig(hi)),
        Dist::Normal { mean, sd } => format!("{param} normal (mean {}, sd {})", sig(mean), sig(sd)),
        Dist::LogNormal { mean, sd } => format!("{param} lognormal (mean {}, sd {})", sig(mean), sig(sd)),
        Dist::Walk { start, vol } => {
            format!("{param} daily random walk from {} (daily volatility {})", sig(start), sig(vol))
        }
    }
}

/// The scenario in words: what was given, what came from the snapshot and the defaults.
fn scenario_words(served: &Served, params: &ValidParams, given: &Given) -> String {
    super::super::simulate::scenario_sentence(served, params, given)
}

// ---------------------------------------------------------------- ensemble

pub(super) fn ensemble(
    served: &Served,
    analysis: &Ensemble,
    given: &Given,
    result: &EnsembleResult,
) -> Vec<u8> {
    let vary = analysis.vary();
    let varied = if vary.is_empty() {
        "nothing varied (every member is the base scenario)".to_string()
    } else {
        let list = vary.iter().map(|(p, d)| dist_words(*p, *d)).collect::<Vec<_>>().join(", ");
        if analysis.uses_default_vary() {
            format!("varied (the default spread, as no vary was given): {list}")
        } else {
            format!("varied: {list}")
        }
    };
    let qs = result.quantiles.iter().map(|q| quantile::label(*q)).collect::<Vec<_>>().join(", ");
    let explanation = format!(
        "{} members, seed {}, of {}; {varied}; each knob drawn per member from its own random stream, \
         truncated to its valid range. Bands: {qs} and the mean, exact over all members (numpy's linear \
         percentile), for {} on {}.{}",
        analysis.members(),
        analysis.seed(),
        scenario_words(served, analysis.base(), given),
        output_names(analysis.outputs()).join(", "),
        resolution_words(analysis.outputs()),
        summaries_words(analysis.summaries()),
    );
    let labels: Vec<String> = result.quantiles.iter().map(|q| quantile::label(*q)).collect();
    let bands =
        MapOf(|| result.bands.iter().map(|band| (band.series.name(), BandMap { labels: &labels, band })));
    let paths = (result.bands.iter().any(|b| !b.paths.is_empty())).then_some({
        MapOf(move || {
            result
                .bands
                .iter()
                .map(|b| (b.series.name(), b.paths.iter().map(|p| Nums(p)).collect::<Vec<_>>()))
        })
    });
    let summaries = MapOf(|| {
        result.summaries.iter().map(|(label, dist)| {
            let entry: serde_json::Value = match dist {
                SummaryDistribution::Number { quantiles, mean } => {
                    let mut m = serde_json::Map::new();
                    for (l, q) in labels.iter().zip(quantiles) {
                        m.insert(l.clone(), serde_json::json!(num(*q)));
                    }
                    m.insert("mean".into(), serde_json::json!(num(*mean)));
                    serde_json::Value::Object(m)
                }
                SummaryDistribution::Date { quantiles, mean, n_crossing, share_never } => {
                    let mut m = serde_json::Map::new();
                    for (l, q) in labels.iter().zip(quantiles) {
                        m.insert(l.clone(), serde_json::json!(q));
                    }
                    m.insert("mean".into(), serde_json::json!(mean));
                    m.insert("n_crossing".into(), serde_json::json!(n_crossing));
                    m.insert("share_never".into(), serde_json::json!(share_never));
                    serde_json::Value::Object(m)
                }
            };
            (label.as_str(), entry)
        })
    });
    let names = &result.member_param_names;
    let member_params = (!result.member_params.is_empty()).then(|| {
        result
            .member_params
            .iter()
            .map(|row| MapOf(move || names.iter().map(|p| p.name()).zip(row.iter().copied())))
            .collect::<Vec<_>>()
    });
    #[derive(Serialize)]
    struct Body<I, D, B, P, S, M> {
        seed: u64,
        members: usize,
        input: I,
        series_dates: D,
        bands: B,
        #[serde(skip_serializing_if = "Option::is_none")]
        paths: Option<P>,
        summaries: S,
        #[serde(skip_serializing_if = "Option::is_none")]
        member_params: Option<Vec<M>>,
    }
    let input = serde_json::json!({
        "base": analysis.base(),
        "members": analysis.members(),
        "seed": analysis.seed(),
        "vary": analysis.vary().into_iter().map(|(p, d)| (p.name().to_string(), dist_echo(d))).collect::<serde_json::Map<_, _>>(),
        "output": output_names(analysis.outputs()),
        "quantiles": result.quantiles,
        "resolution": resolution_name(analysis.outputs()),
        "summaries": serde_json::to_value(summaries_echo(analysis.summaries())).expect("plain data"),
        "return_member_params": analysis.returns_member_params(),
        "member_paths": analysis.member_paths(),
    });
    to_json(
        served,
        Kind::Ensemble,
        explanation,
        Body {
            seed: analysis.seed(),
            members: analysis.members(),
            input,
            series_dates: series_dates(analysis.outputs()),
            bands,
            paths,
            summaries,
            member_params,
        },
    )
}

/// One series' bands: `{"p5": [...], ..., "mean": [...]}`.
struct BandMap<'a> {
    labels: &'a [String],
    band: &'a Band,
}

impl Serialize for BandMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.labels.len() + 1))?;
        for (label, values) in self.labels.iter().zip(&self.band.quantiles) {
            map.serialize_entry(label, &Nums(values))?;
        }
        map.serialize_entry("mean", &Nums(&self.band.mean))?;
        map.end()
    }
}

fn resolution_name(outputs: &[SampledOutput]) -> &'static str {
    if outputs.iter().any(|o| o.sampling.step == 7) { "weekly" } else { "daily" }
}

fn resolution_words(outputs: &[SampledOutput]) -> &'static str {
    if resolution_name(outputs) == "weekly" {
        "the forecast window's Mondays"
    } else {
        "every day of the forecast window"
    }
}

fn summaries_words(summaries: &[(String, Summary)]) -> String {
    if summaries.is_empty() {
        return String::new();
    }
    let list: Vec<String> = summaries
        .iter()
        .map(|(label, s)| {
            let (from, to) = s.range();
            match s.stat() {
                Stat::ValueAt => format!("{label} = {} on {from}", s.series().name()),
                Stat::FirstBelow | Stat::FirstAbove => format!(
                    "{label} = the first date in {from}..{to} {} is {} {}",
                    s.series().name(),
                    if s.stat() == Stat::FirstBelow { "below" } else { "above" },
                    s.threshold().map(sig).unwrap_or_default()
                ),
                stat => format!("{label} = {} of {} over {from}..{to}", stat.name(), s.series().name()),
            }
        })
        .collect();
    format!(" Summaries (on daily values): {}.", list.join("; "))
}

// ---------------------------------------------------------------- sweep

/// Nested lists of cell values, first axis outermost.
struct Nested<'a> {
    values: &'a [Option<SummaryValue>],
    shape: &'a [usize],
}

impl Serialize for Nested<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.shape[0];
        let mut seq = s.serialize_seq(Some(n))?;
        if self.shape.len() == 1 {
            for v in self.values {
                seq.serialize_element(&v.map(Value))?;
            }
        } else {
            let inner = self.values.len() / n.max(1);
            for chunk in self.values.chunks(inner.max(1)).take(n) {
                seq.serialize_element(&Nested { values: chunk, shape: &self.shape[1..] })?;
            }
        }
        seq.end()
    }
}

pub(super) fn sweep(served: &Served, analysis: &Sweep, given: &Given, result: &SweepResult) -> Vec<u8> {
    let axes_words: Vec<String> = result
        .axes
        .iter()
        .map(|(p, v)| format!("{p} ({} values, {} .. {})", v.len(), sig(v[0]), sig(v[v.len() - 1])))
        .collect();
    let invalid = if result.invalid_count > 0 {
        format!(
            " {} cells break a joint rule (rr x qa_renew_relative_multiplier <= 1) and are null.",
            result.invalid_count
        )
    } else {
        String::new()
    };
    let explanation = format!(
        "A grid of {} cells over {}, each one forecast of {}.{}{invalid}",
        analysis.cells(),
        axes_words.join(" x "),
        scenario_words(served, analysis.base(), given),
        summaries_words(analysis.summaries()),
    );
    #[derive(Serialize)]
    struct Axis<'a> {
        knob: &'static str,
        values: &'a [f64],
    }
    #[derive(Serialize)]
    struct Example<'a> {
        cell: &'a [usize],
        error: &'a str,
    }
    #[derive(Serialize)]
    struct Invalid<'a> {
        count: usize,
        examples: Vec<Example<'a>>,
    }
    #[derive(Serialize)]
    struct Body<'a, I, R> {
        input: I,
        axes: Vec<Axis<'a>>,
        shape: &'a [usize],
        cells: usize,
        results: R,
        invalid_cells: Invalid<'a>,
    }
    let input = serde_json::json!({
        "base": analysis.base(),
        "axes": result.axes.iter().map(|(p, v)| serde_json::json!({"knob": p.name(), "values": v})).collect::<Vec<_>>(),
        "summaries": serde_json::to_value(summaries_echo(analysis.summaries())).expect("plain data"),
    });
    let shape = &result.shape;
    to_json(
        served,
        Kind::Sweep,
        explanation,
        Body {
            input,
            axes: result.axes.iter().map(|(p, v)| Axis { knob: p.name(), values: v }).collect(),
            shape,
            cells: analysis.cells(),
            results: MapOf(|| {
                result.results.iter().map(|(label, values)| (label.as_str(), Nested { values, shape }))
            }),
            invalid_cells: Invalid {
                count: result.invalid_count,
                examples: result
                    .invalid_examples
                    .iter()
                    .map(|(cell, error)| Example { cell, error })
                    .collect(),
            },
        },
    )
}

// ---------------------------------------------------------------- solve

pub(super) fn solve(served: &Served, analysis: &Solve, given: &Given, result: &SolveResult) -> Vec<u8> {
    let (lo, hi) = analysis.bracket();
    let summary = analysis.summary();
    let what = summaries_words(&[("summary".to_string(), summary.clone())]);
    let outcome = if result.solved {
        format!(
            "Solved: {} = {} gives {} (target {}, residual {:.3e}) after {} simulations.",
            analysis.knob(),
            result.value.map(sig).unwrap_or_default(),
            result.achieved.map(sig).unwrap_or_default(),
            sig(analysis.target()),
            result.residual.unwrap_or(f64::NAN),
            result.iterations
        )
    } else {
        format!("Not solved: {}", result.reason.clone().unwrap_or_default())
    };
    let explanation = format!(
        "Goal seek of {} in [{}, {}] on {}.{what} {outcome}",
        analysis.knob(),
        sig(lo),
        sig(hi),
        scenario_words(served, analysis.base(), given)
    );
    #[derive(Serialize)]
    struct Body<I> {
        input: I,
        knob: &'static str,
        target: f64,
        solved: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        achieved: Option<Option<f64>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        residual: Option<Option<f64>>,
        reachable: [Option<f64>; 2],
        iterations: usize,
        bracket: [f64; 2],
        tolerance: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        scan: Vec<[Option<f64>; 2]>,
    }
    let input = serde_json::json!({
        "base": analysis.base(),
        "knob": analysis.knob().name(),
        "summary": serde_json::to_value(SummaryEcho(summary)).expect("plain data"),
        "target": analysis.target(),
        "bracket": [lo, hi],
        "tolerance": analysis.tolerance(),
    });
    to_json(
        served,
        Kind::Solve,
        explanation,
        Body {
            input,
            knob: analysis.knob().name(),
            target: analysis.target(),
            solved: result.solved,
            value: result.value,
            achieved: result.achieved.map(num),
            residual: result.residual.map(num),
            reachable: [num(result.reachable.0), num(result.reachable.1)],
            iterations: result.iterations,
            bracket: [lo, hi],
            tolerance: analysis.tolerance(),
            reason: result.reason.clone(),
            scan: result.scan.iter().map(|(x, y)| [Some(*x), num(*y)]).collect(),
        },
    )
}

// ---------------------------------------------------------------- sensitivity

pub(super) fn sensitivity(
    served: &Served,
    analysis: &Sensitivity,
    given: &Given,
    result: &SensitivityResult,
    move_pct: f64,
) -> Vec<u8> {
    let kinks: Vec<String> = result
        .results
        .iter()
        .flat_map(|(label, entries)| {
            entries.iter().filter(|e| e.kink).map(move |e| format!("{label}/{}", e.knob))
        })
        .collect();
    let kink_words = if kinks.is_empty() {
        String::new()
    } else {
        format!(
            " At {} the one-sided differences disagree (a min/max kink of the model): the derivative there is not \
             meaningful; use down/up.",
            kinks.join(", ")
        )
    };
    let explanation = format!(
        "Sensitivity of {} summaries to {} on {}: central differences (step 1e-5 x max(|value|, 1); one-sided at a \
         bound; whole days for sector_duration_days), elasticities, and each summary with the knob moved by \
         -{m}% and +{m}% (clamped to its range), ranked by swing; {} simulations.{}{kink_words}",
        result.results.len(),
        analysis.knobs().iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
        scenario_words(served, analysis.base(), given),
        result.runs,
        summaries_words(analysis.summaries()),
        m = sig(move_pct),
    );
    let entry = |e: &KnobSensitivity| {
        serde_json::json!({
            "value": e.value,
            "step": e.step,
            "derivative": num(e.derivative),
            "method": match e.method { Method::Central => "central", Method::Forward => "forward", Method::Backward => "backward" },
            "elasticity": num(e.elasticity),
            "forward": e.forward.and_then(num),
            "backward": e.backward.and_then(num),
            "kink": e.kink,
            "down": num(e.down),
            "up": num(e.up),
            "down_value": e.down_value,
            "up_value": e.up_value,
        })
    };
    let results: serde_json::Map<String, serde_json::Value> = result
        .results
        .iter()
        .map(|(label, entries)| {
            let per_knob: serde_json::Map<String, serde_json::Value> =
                entries.iter().map(|e| (e.knob.name().to_string(), entry(e))).collect();
            (label.clone(), serde_json::Value::Object(per_knob))
        })
        .collect();
    let body = serde_json::json!({
        "input": {
            "base": analysis.base(),
            "summaries": serde_json::to_value(summaries_echo(analysis.summaries())).expect("plain data"),
            "knobs": analysis.knobs().iter().map(|p| p.name()).collect::<Vec<_>>(),
            "move_pct": move_pct,
        },
        "base_values": result.base_values.iter().map(|(l, v)| (l.clone(), serde_json::json!(num(*v)))).collect::<serde_json::Map<_, _>>(),
        "results": results,
        "ranking": result.ranking.iter().map(|(l, knobs)| (l.clone(), serde_json::json!(knobs.iter().map(|p| p.name()).collect::<Vec<_>>()))).collect::<serde_json::Map<_, _>>(),
        "runs": result.runs,
    });
    to_json(served, Kind::Sensitivity, explanation, body)
}

// ---------------------------------------------------------------- compare

pub(super) fn compare(
    served: &Served,
    analysis: &mechafil_core::analysis::compare::Compare,
    given: &[(String, Given)],
    result: &CompareResult,
) -> Vec<u8> {
    let scenarios = analysis.scenarios();
    let (_, baseline) = &scenarios[0];
    let changes: Vec<String> = given[1..]
        .iter()
        .map(|(name, g)| {
            let fields = if g.is_empty() { "nothing".to_string() } else { g.join(", ") };
            format!("{name} changes {fields}")
        })
        .collect();
    let outputs: Vec<SampledOutput> = result.series.iter().map(|s| s.output.clone()).collect();
    let explanation = format!(
        "Comparison of {} scenarios with the baseline, {}; each scenario is the baseline with its own fields \
         ({}). Arrays: {} on {}; diff = scenario - baseline, rel_diff = diff / |baseline|.{}",
        scenarios.len() - 1,
        scenario_words(served, baseline, &given[0].1),
        changes.join("; "),
        output_names(&outputs).join(", "),
        resolution_words(&outputs),
        summaries_words(analysis.summaries()),
    );
    let names = &result.names;
    let series = MapOf(|| {
        result.series.iter().map(move |s| {
            let values = MapOf(move || {
                names.iter().zip(&s.values).map(|(n, v)| (n.as_str(), Entry::Values(Nums(v)))).chain([
                    ("diff", Entry::PerScenario(&names[1..], &s.diff)),
                    ("rel_diff", Entry::PerScenario(&names[1..], &s.rel_diff)),
                ])
            });
            (s.output.series.name(), values)
        })
    });
    let summaries = MapOf(|| {
        result.summaries.iter().map(move |s| {
            let mut m = serde_json::Map::new();
            for (n, v) in names.iter().zip(&s.values) {
                m.insert(n.clone(), serde_json::to_value(Value(*v)).expect("plain data"));
            }
            let diffs = |xs: &[Option<f64>]| {
                names[1..]
                    .iter()
                    .zip(xs)
                    .map(|(n, d)| (n.clone(), serde_json::json!(d.and_then(num))))
                    .collect::<serde_json::Map<_, _>>()
            };
            m.insert("diff".into(), serde_json::Value::Object(diffs(&s.diff)));
            m.insert("rel_diff".into(), serde_json::Value::Object(diffs(&s.rel_diff)));
            (s.label.as_str(), serde_json::Value::Object(m))
        })
    });
    #[derive(Serialize)]
    struct Body<I, SC, D, S, SU> {
        input: I,
        scenarios: SC,
        series_dates: D,
        series: S,
        #[serde(skip_serializing_if = "Option::is_none")]
        summaries: Option<SU>,
    }
    let input = serde_json::json!({
        "output": output_names(&outputs),
        "resolution": resolution_name(&outputs),
        "summaries": serde_json::to_value(summaries_echo(analysis.summaries())).expect("plain data"),
    });
    to_json(
        served,
        Kind::Compare,
        explanation,
        Body {
            input,
            scenarios: MapOf(|| scenarios.iter().map(|(n, p)| (n.as_str(), p))),
            series_dates: series_dates(&outputs),
            series,
            summaries: (!result.summaries.is_empty()).then_some(summaries),
        },
    )
}

/// A compared series' entry: one scenario's values, or `diff` / `rel_diff` by scenario.
enum Entry<'a> {
    Values(Nums<'a>),
    PerScenario(&'a [String], &'a [Vec<f64>]),
}

impl Serialize for Entry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Entry::Values(values) => values.serialize(s),
            Entry::PerScenario(names, values) => {
                let mut map = s.serialize_map(Some(names.len()))?;
                for (n, v) in names.iter().zip(values.iter()) {
                    map.serialize_entry(n, &Nums(v))?;
                }
                map.end()
            }
        }
    }
}
