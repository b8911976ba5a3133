//! The analyses against independent computations on the reference snapshot
//! (`shared/fixtures/reference-snapshot-2025-09-09.json`): every statistic is recomputed here
//! from plain simulations (`Simulator::simulate`, `simulate_batch`) and a sort-based numpy
//! percentile, so a test fails when an analysis disagrees with running the model by hand.

use chrono::{Days, NaiveDate};
use mechafil_core::analysis::compare::{Compare, CompareSpec};
use mechafil_core::analysis::ensemble::{DistSpec, Ensemble, EnsembleSpec, SummaryDistribution};
use mechafil_core::analysis::sensitivity::{Method, Sensitivity, SensitivitySpec};
use mechafil_core::analysis::solve::{Solve, SolveSpec};
use mechafil_core::analysis::summary::{Stat, SummarySpec, SummaryValue};
use mechafil_core::analysis::sweep::{Sweep, SweepSpec};
use mechafil_core::analysis::{AnalysisSeries, window_sampling};
use mechafil_core::sampling::Resolution;
use mechafil_core::{Knob, Param, SeriesName, SimOutput, SimParams, Simulator};
use proptest::prelude::*;

fn simulator() -> Option<Simulator> {
    let fixtures = mechafil_core::test_support::fixtures_dir()?;
    let snapshot = mechafil_core::test_support::read_reference_snapshot(
        &fixtures.join("reference-snapshot-2025-09-09.json"),
        "2022-10-10".parse().unwrap(),
    );
    Some(Simulator::new(snapshot).unwrap())
}

fn series(name: &str) -> AnalysisSeries {
    AnalysisSeries::from_name(name).unwrap()
}

fn base(f: usize) -> SimParams {
    SimParams { forecast_length_days: Some(f), ..Default::default() }
}

/// numpy's "linear" percentile, by a full sort (the selection in the crate must equal it).
fn numpy_percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let v = (n - 1) as f64 * (q / 100.0);
    let prev = v.floor();
    let (lo, hi) = if v >= (n - 1) as f64 { (n - 1, n - 1) } else { (prev as usize, prev as usize + 1) };
    let (a, b, t) = (sorted[lo], sorted[hi], v - prev);
    if t >= 0.5 { b - (b - a) * (1.0 - t) } else { a + (b - a) * t }
}

/// The running mean `m += (x - m) / k` the analyses use (exact for identical values).
fn running_mean(xs: &[f64]) -> f64 {
    let mut m = 0.0;
    for (k, x) in xs.iter().enumerate() {
        m += (x - m) / (k + 1) as f64;
    }
    m
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn an_ensemble_without_spread_equals_one_simulation() {
    let Some(sim) = simulator() else { return };
    let spec = EnsembleSpec {
        base: base(730),
        members: 40,
        vary: Some(vec![
            (Param::Rbp, DistSpec::Uniform { lo: 3.5, hi: 3.5 }),
            (Param::Rr, DistSpec::Normal { mean: Some(0.7), sd: 0.0 }),
            (Param::Fpr, DistSpec::LogNormal { mean: Some(0.8), sd: 0.0 }),
            (Param::LockTarget, DistSpec::Walk { start: Some(0.3), vol: 0.0 }),
        ]),
        output: vec![series("circ_supply"), series("lock_ratio"), series("1y_sector_roi")],
        resolution: Resolution::Daily,
        ..Default::default()
    };
    let ensemble = Ensemble::prepare(&sim, &spec).unwrap();
    let result = ensemble.run(&sim).unwrap();
    let params = SimParams {
        rbp: Some(Knob::Scalar(3.5)),
        rr: Some(Knob::Scalar(0.7)),
        fpr: Some(Knob::Scalar(0.8)),
        lock_target: Some(Knob::Scalar(0.3)),
        ..base(730)
    };
    let out = sim.simulate(&params).unwrap();
    for band in &result.bands {
        let s = band.sampling;
        let expected: Vec<f64> = (0..s.count).map(|k| band.series.value(&out, s.index(k))).collect();
        assert!(!expected.is_empty());
        for q in band.quantiles.iter().chain([&band.mean]) {
            assert!(same_bits(q, &expected), "{}", band.series.name());
        }
    }
}

#[test]
fn bands_are_numpy_percentiles_of_the_members_run_by_hand() {
    let Some(sim) = simulator() else { return };
    let spec = EnsembleSpec {
        base: base(1000),
        members: 101,
        seed: 42,
        vary: Some(vec![
            (Param::Rbp, DistSpec::LogNormal { mean: Some(3.0), sd: 1.0 }),
            (Param::Rr, DistSpec::Uniform { lo: 0.5, hi: 0.95 }),
            (Param::SectorDurationDays, DistSpec::Normal { mean: Some(540.0), sd: 120.0 }),
        ]),
        output: vec![series("network_locked"), series("lock_ratio")],
        quantiles: vec![0.0, 2.5, 5.0, 50.0, 95.0, 100.0],
        summaries: vec![
            ("locked_end".into(), SummarySpec::new(series("network_locked"), Stat::End)),
            ("ratio_max".into(), SummarySpec::new(series("lock_ratio"), Stat::Max)),
        ],
        return_member_params: true,
        member_paths: 3,
        ..Default::default()
    };
    let ensemble = Ensemble::prepare(&sim, &spec).unwrap();
    let result = ensemble.run(&sim).unwrap();
    assert_eq!(result.member_param_names, [Param::Rbp, Param::Rr, Param::SectorDurationDays]);
    assert_eq!(result.member_params.len(), 101);
    // Re-run every member from its drawn values alone.
    let members: Vec<SimParams> = result
        .member_params
        .iter()
        .map(|v| {
            assert!(v[2].fract() == 0.0 && (1.0..=3650.0).contains(&v[2]));
            SimParams {
                rbp: Some(Knob::Scalar(v[0])),
                rr: Some(Knob::Scalar(v[1])),
                sector_duration_days: Some(v[2] as usize),
                ..base(1000)
            }
        })
        .collect();
    for band in &result.bands {
        let s = band.sampling;
        let matrix: Vec<Vec<f64>> = sim.simulate_batch(&members, |_, out| {
            let out = out.unwrap();
            (0..s.count).map(|k| band.series.value(out, s.index(k))).collect()
        });
        for (qi, q) in result.quantiles.iter().enumerate() {
            for j in 0..s.count {
                let column: Vec<f64> = matrix.iter().map(|row| row[j]).collect();
                let expected = numpy_percentile(&column, *q);
                assert_eq!(
                    band.quantiles[qi][j].to_bits(),
                    expected.to_bits(),
                    "{} q{q} date {j}",
                    band.series.name()
                );
            }
        }
        let mean0 = running_mean(&matrix.iter().map(|r| r[0]).collect::<Vec<_>>());
        assert_eq!(band.mean[0].to_bits(), mean0.to_bits());
        assert_eq!(band.paths.len(), 3);
        assert!(same_bits(&band.paths[2], &matrix[2]));
    }
    let ends: Vec<f64> = sim
        .simulate_batch(&members, |_, out| *out.unwrap().series(SeriesName::NetworkLocked).last().unwrap());
    let SummaryDistribution::Number { quantiles, mean } = &result.summaries[0].1 else { panic!() };
    assert_eq!(quantiles[3].to_bits(), numpy_percentile(&ends, 50.0).to_bits());
    assert_eq!(mean.to_bits(), running_mean(&ends).to_bits());
}

#[test]
fn the_same_seed_gives_the_same_bits_on_one_and_two_threads_and_another_seed_differs() {
    let Some(sim) = simulator() else { return };
    let spec = |seed| EnsembleSpec {
        base: base(400),
        members: 70,
        seed,
        vary: Some(vec![
            (Param::Rbp, DistSpec::Walk { start: None, vol: 0.03 }),
            (Param::Rr, DistSpec::Walk { start: Some(0.8), vol: 0.02 }),
            (Param::FilPlusM, DistSpec::Normal { mean: None, sd: 2.0 }),
        ]),
        summaries: vec![(
            "below".into(),
            SummarySpec {
                threshold: Some(0.25),
                ..SummarySpec::new(AnalysisSeries::LOCK_RATIO, Stat::FirstBelow)
            },
        )],
        ..Default::default()
    };
    let run = |threads: usize, seed: u64| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let ensemble = Ensemble::prepare(&sim, &spec(seed)).unwrap();
        pool.install(|| ensemble.run(&sim).unwrap())
    };
    let one = run(1, 7);
    let two = run(2, 7);
    assert_eq!(format!("{one:?}"), format!("{two:?}"));
    let other = run(2, 8);
    assert_ne!(format!("{one:?}"), format!("{other:?}"));
}

#[test]
fn every_sweep_cell_equals_its_own_simulation() {
    let Some(sim) = simulator() else { return };
    let summaries = vec![
        ("ratio".to_string(), SummarySpec::new(AnalysisSeries::LOCK_RATIO, Stat::End)),
        ("supply_mean".to_string(), SummarySpec::new(series("circ_supply"), Stat::Mean)),
        (
            "roi_2027".to_string(),
            SummarySpec {
                date: Some("2027-01-04".parse().unwrap()),
                ..SummarySpec::new(series("1y_sector_roi"), Stat::ValueAt)
            },
        ),
    ];
    let spec = SweepSpec {
        base: base(1500),
        axes: vec![
            (Param::Rbp, vec![1.0, 5.0, 20.0]),
            (Param::Rr, vec![0.5, 0.9]),
            (Param::SectorDurationDays, vec![360.0, 720.0]),
            (Param::QaRenewRelativeMultiplier, vec![1.0, 1.5]),
        ],
        summaries,
    };
    let sweep = Sweep::prepare(&sim, &spec).unwrap();
    let result = sweep.run(&sim);
    assert_eq!(result.shape, [3, 2, 2, 2]);
    // rr 0.9 x multiplier 1.5 breaks the joint rule: those cells are empty and counted.
    assert_eq!(result.invalid_count, 6);
    let mut cell = 0;
    for &rbp in &[1.0, 5.0, 20.0] {
        for &rr in &[0.5, 0.9] {
            for &d in &[360usize, 720] {
                for &m in &[1.0, 1.5] {
                    let params = SimParams {
                        rbp: Some(Knob::Scalar(rbp)),
                        rr: Some(Knob::Scalar(rr)),
                        sector_duration_days: Some(d),
                        qa_renew_relative_multiplier: Some(Knob::Scalar(m)),
                        ..base(1500)
                    };
                    match sim.simulate(&params) {
                        Err(_) => assert!(result.results.iter().all(|(_, v)| v[cell].is_none())),
                        Ok(out) => {
                            let lock = out.series(SeriesName::NetworkLocked);
                            let circ = out.series(SeriesName::CircSupply);
                            let end = lock.len() - 1;
                            let ratio = lock[end] / circ[end];
                            let h = sim.snapshot().history_len();
                            let window = &circ[h - 1..];
                            let mean = running_mean(window);
                            let roi_index = ("2027-01-04".parse::<NaiveDate>().unwrap()
                                - sim.snapshot().start_date)
                                .num_days();
                            let roi = out.series(SeriesName::OneYearSectorRoi)[roi_index as usize];
                            let got: Vec<f64> = result
                                .results
                                .iter()
                                .map(|(_, v)| v[cell].unwrap().number().unwrap())
                                .collect();
                            assert!(same_bits(&got, &[ratio, mean, roi]), "cell {cell}: {got:?}");
                        }
                    }
                    cell += 1;
                }
            }
        }
    }
}

#[test]
fn a_solved_knob_hits_the_target_when_simulated_again() {
    let Some(sim) = simulator() else { return };
    let summary = SummarySpec::new(AnalysisSeries::LOCK_RATIO, Stat::End);
    for (knob, target) in [(Param::Rbp, 0.25), (Param::Rr, 0.2), (Param::LockTarget, 0.3)] {
        let spec = SolveSpec {
            base: base(3650),
            knob,
            summary: summary.clone(),
            target,
            bracket: None,
            tolerance: None,
        };
        let solve = Solve::prepare(&sim, &spec).unwrap();
        let result = solve.run(&sim, &mut SimOutput::default());
        assert!(result.solved, "{knob}: {result:?}");
        assert!(result.iterations <= 40, "{knob}: {} simulations", result.iterations);
        let value = result.value.unwrap();
        let mut params = sim.validate(&base(3650)).unwrap();
        params.set_scalar(knob, value).unwrap();
        let out = {
            let mut out = SimOutput::default();
            sim.simulate_into(&params, &mut out);
            out
        };
        let lock = out.series(SeriesName::NetworkLocked);
        let circ = out.series(SeriesName::CircSupply);
        let achieved = lock[lock.len() - 1] / circ[circ.len() - 1];
        assert_eq!(achieved.to_bits(), result.achieved.unwrap().to_bits());
        assert!((achieved - target).abs() <= solve.tolerance(), "{knob}: {achieved} vs {target}");
        assert_eq!(result.residual.unwrap(), achieved - target);
    }
}

#[test]
fn an_unreachable_target_reports_the_reachable_range() {
    let Some(sim) = simulator() else { return };
    let spec = SolveSpec {
        base: base(3650),
        knob: Param::Fpr,
        summary: SummarySpec::new(AnalysisSeries::LOCK_RATIO, Stat::End),
        target: 5.0,
        bracket: None,
        tolerance: None,
    };
    let result = Solve::prepare(&sim, &spec).unwrap().run(&sim, &mut SimOutput::default());
    assert!(!result.solved);
    let (lo, hi) = result.reachable;
    assert!(lo <= hi && hi < 5.0 && lo > 0.0, "{result:?}");
    assert!(result.reason.unwrap().contains("not crossed"));
    assert_eq!(result.iterations, 9);
}

#[test]
fn whole_day_knobs_are_solved_to_the_closest_day() {
    let Some(sim) = simulator() else { return };
    let summary = SummarySpec::new(series("network_locked"), Stat::End);
    let at = |d: usize| {
        let out = sim.simulate(&SimParams { sector_duration_days: Some(d), ..base(2000) }).unwrap();
        *out.series(SeriesName::NetworkLocked).last().unwrap()
    };
    let target = (at(400) + at(401)) / 2.0 + 0.2 * (at(401) - at(400));
    let spec = SolveSpec {
        base: base(2000),
        knob: Param::SectorDurationDays,
        summary,
        target,
        bracket: Some((200.0, 1000.0)),
        tolerance: None,
    };
    let result = Solve::prepare(&sim, &spec).unwrap().run(&sim, &mut SimOutput::default());
    assert!(result.solved, "{result:?}");
    assert_eq!(result.value, Some(401.0));
}

#[test]
fn sensitivities_agree_with_two_simulations_and_the_economics() {
    let Some(sim) = simulator() else { return };
    let spec = SensitivitySpec {
        base: base(3650),
        summaries: SensitivitySpec::default_summaries(3650),
        knobs: None,
        move_pct: 10.0,
        duration_step: 1,
    };
    let analysis = Sensitivity::prepare(&sim, &spec).unwrap();
    assert_eq!(analysis.knobs().len(), 8);
    let result = analysis.run(&sim, &mut SimOutput::default());
    assert!(result.runs <= 33, "{} runs", result.runs);
    let locked_end =
        |params: &SimParams| *sim.simulate(params).unwrap().series(SeriesName::NetworkLocked).last().unwrap();
    let (_, entries) = result.results.iter().find(|(l, _)| l == "network_locked_end").unwrap();
    let rbp = entries.iter().find(|e| e.knob == Param::Rbp).unwrap();
    // More onboarding locks more FIL over ten years.
    assert!(rbp.derivative > 0.0 && rbp.up > rbp.down, "{rbp:?}");
    assert_eq!(rbp.method, Method::Central);
    assert!(!rbp.kink);
    // The same central difference, by hand, from two /simulate-like runs.
    let x = rbp.value;
    let h = 1e-3 * x;
    let by_hand = (locked_end(&SimParams { rbp: Some(Knob::Scalar(x + h)), ..base(3650) })
        - locked_end(&SimParams { rbp: Some(Knob::Scalar(x - h)), ..base(3650) }))
        / (2.0 * h);
    assert!((rbp.derivative - by_hand).abs() <= 1e-4 * by_hand.abs(), "{} vs {by_hand}", rbp.derivative);
    let up = locked_end(&SimParams { rbp: Some(Knob::Scalar(x * 1.1)), ..base(3650) });
    assert_eq!(rbp.up.to_bits(), up.to_bits());
    // The tornado ranking is by swing.
    let (_, ranking) = result.ranking.iter().find(|(l, _)| l == "network_locked_end").unwrap();
    let swing = |p: Param| {
        let e = entries.iter().find(|e| e.knob == p).unwrap();
        (e.up - e.down).abs()
    };
    assert!(ranking.windows(2).all(|w| swing(w[0]) >= swing(w[1])));
}

#[test]
fn a_kink_is_reported_not_averaged() {
    let Some(sim) = simulator() else { return };
    // QA power is capped at fil_plus_m x RB power. Without FIL+ deals the uncapped QA power
    // does not depend on fil_plus_m, so at m* = uncapped QA / RB on the last day the cap
    // starts to bind exactly: the last day's QA power has slope RB below m* and 0 above.
    let no_deals = SimParams { fpr: Some(Knob::Scalar(0.0)), ..base(1000) };
    let uncapped =
        sim.simulate(&SimParams { fil_plus_m: Some(Knob::Scalar(1000.0)), ..no_deals.clone() }).unwrap();
    let (qa, rb) =
        (uncapped.series(SeriesName::QaTotalPowerEib), uncapped.series(SeriesName::RbTotalPowerEib));
    let m_star = qa[qa.len() - 1] / rb[rb.len() - 1];
    let spec = SensitivitySpec {
        base: SimParams { fil_plus_m: Some(Knob::Scalar(m_star)), ..no_deals },
        summaries: vec![("qap".into(), SummarySpec::new(series("qa_total_power_eib"), Stat::End))],
        knobs: Some(vec![Param::FilPlusM, Param::LockTarget]),
        move_pct: 10.0,
        duration_step: 1,
    };
    let result = Sensitivity::prepare(&sim, &spec).unwrap().run(&sim, &mut SimOutput::default());
    let entries = &result.results[0].1;
    let m = entries.iter().find(|e| e.knob == Param::FilPlusM).unwrap();
    assert!(m.kink, "{m:?}");
    let (fw, bw) = (m.forward.unwrap(), m.backward.unwrap());
    assert!(fw.abs() < 1e-6 * bw.abs() && (bw - rb[rb.len() - 1]).abs() < 1e-6 * bw, "{m:?}");
    // The lock target does not touch power: a flat, smooth direction.
    let lock = entries.iter().find(|e| e.knob == Param::LockTarget).unwrap();
    assert!(!lock.kink && lock.derivative == 0.0, "{lock:?}");
}

#[test]
fn comparisons_are_differences_of_plain_runs() {
    let Some(sim) = simulator() else { return };
    let spec = CompareSpec {
        baseline: SimParams { rr: Some(Knob::Scalar(0.7)), ..base(800) },
        scenarios: vec![
            ("double".into(), SimParams { rbp: Some(Knob::Scalar(8.0)), ..Default::default() }),
            ("short".into(), SimParams { sector_duration_days: Some(360), ..Default::default() }),
        ],
        output: CompareSpec::default_output(),
        resolution: Resolution::Weekly,
        summaries: vec![(
            "below".into(),
            SummarySpec {
                threshold: Some(0.9),
                ..SummarySpec::new(AnalysisSeries::LOCK_RATIO, Stat::FirstAbove)
            },
        )],
    };
    let compare = Compare::prepare(&sim, &spec).unwrap();
    let result = compare.run(&sim, &mut SimOutput::default());
    assert_eq!(result.names, ["baseline", "double", "short"]);
    let double = sim
        .simulate(&SimParams { rr: Some(Knob::Scalar(0.7)), rbp: Some(Knob::Scalar(8.0)), ..base(800) })
        .unwrap();
    let baseline = sim.simulate(&SimParams { rr: Some(Knob::Scalar(0.7)), ..base(800) }).unwrap();
    for s in &result.series {
        let sampling = s.output.sampling;
        assert_eq!(sampling, window_sampling(&sim, s.output.series, 800, Resolution::Weekly));
        for k in 0..sampling.count {
            let i = sampling.index(k);
            let (b, d) = (s.output.series.value(&baseline, i), s.output.series.value(&double, i));
            assert_eq!(s.values[0][k].to_bits(), b.to_bits());
            assert_eq!(s.values[1][k].to_bits(), d.to_bits());
            assert_eq!(s.diff[0][k].to_bits(), (d - b).to_bits());
            let rel = s.rel_diff[0][k];
            assert!(if b == 0.0 { rel.is_nan() } else { rel.to_bits() == ((d - b) / b.abs()).to_bits() });
        }
    }
    // A lock ratio never above 0.9: no date, no difference.
    assert_eq!(result.summaries[0].values[0], SummaryValue::Date(None));
    assert_eq!(result.summaries[0].diff, [None, None]);
}

#[test]
fn specs_are_checked_naming_every_bad_field() {
    let Some(sim) = simulator() else { return };
    let spec = EnsembleSpec {
        base: SimParams { rr: Some(Knob::Scalar(1.5)), ..base(365) },
        members: 20_000,
        quantiles: vec![50.0, 50.0, 101.0],
        ..Default::default()
    };
    let err = Ensemble::prepare(&sim, &spec).unwrap_err();
    let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["base.rr", "members", "quantiles[1]", "quantiles[2]"], "{err}");
    let spec = EnsembleSpec {
        base: base(300),
        vary: Some(vec![
            (Param::Rr, DistSpec::Normal { mean: Some(-2.0), sd: 0.1 }),
            (Param::BurnBoost, DistSpec::Walk { start: None, vol: 0.1 }),
            (Param::Fpr, DistSpec::Uniform { lo: 0.9, hi: 0.2 }),
        ]),
        output: vec![series("1y_sector_roi")],
        summaries: vec![("roi".into(), SummarySpec::new(series("1y_sector_roi"), Stat::End))],
        ..Default::default()
    };
    let err = Ensemble::prepare(&sim, &spec).unwrap_err();
    let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["vary.burn_boost.dist", "vary.fpr.hi", "vary.rr", "summaries.roi"], "{err}");
    assert!(err.to_string().contains("365 days"), "{err}");
    let sweep = SweepSpec {
        base: base(3650),
        axes: vec![
            (Param::Rbp, (0..400).map(f64::from).collect()),
            (Param::Rr, (0..=300).map(|i| i as f64 / 300.0).collect()),
        ],
        summaries: SweepSpec::default_summaries(),
    };
    let err = Sweep::prepare(&sim, &sweep).unwrap_err();
    assert!(err.0.iter().any(|e| e.field == "axes" && e.message.contains("MAX_CELLS")), "{err}");
}

#[test]
fn summaries_read_their_dates() {
    let Some(sim) = simulator() else { return };
    let f = 500;
    let out = sim.simulate(&base(f)).unwrap();
    let current = sim.snapshot().current_date;
    let circ = out.series(SeriesName::CircSupply);
    let c = sim.snapshot().history_len() - 1;
    let check = |spec: SummarySpec, expected: SummaryValue| {
        let sweep = Sweep::prepare(
            &sim,
            &SweepSpec {
                base: base(f),
                axes: vec![(Param::BurnBoost, vec![1.0])],
                summaries: vec![("s".into(), spec.clone())],
            },
        )
        .unwrap();
        let got = sweep.run(&sim).results[0].1[0].unwrap();
        assert_eq!(got, expected, "{spec:?}");
    };
    let circ_s = series("circ_supply");
    check(SummarySpec::new(circ_s, Stat::End), SummaryValue::Number(circ[c + f - 1]));
    check(
        SummarySpec { date: Some(current + Days::new(10)), ..SummarySpec::new(circ_s, Stat::ValueAt) },
        SummaryValue::Number(circ[c + 10]),
    );
    // A range reaching back into the history.
    let from = current - Days::new(30);
    let to = current + Days::new(30);
    let mean = running_mean(&circ[c - 30..=c + 30]);
    check(
        SummarySpec { from: Some(from), to: Some(to), ..SummarySpec::new(circ_s, Stat::Mean) },
        SummaryValue::Number(mean),
    );
    let max = circ[c..].iter().copied().fold(f64::MIN, f64::max);
    check(SummarySpec::new(circ_s, Stat::Max), SummaryValue::Number(max));
    let threshold = circ[c + 100];
    let rising = circ[c + 100] > circ[c];
    let first =
        (c..c + f).find(|&i| if rising { circ[i] >= threshold } else { circ[i] <= threshold }).unwrap();
    let stat = if rising { Stat::FirstAbove } else { Stat::FirstBelow };
    let expected_first = (c..c + f)
        .find(|&i| if rising { circ[i] > threshold } else { circ[i] < threshold })
        .map(|i| sim.snapshot().start_date + Days::new(i as u64));
    assert!(first >= c);
    check(
        SummarySpec { threshold: Some(threshold), ..SummarySpec::new(circ_s, stat) },
        SummaryValue::Date(expected_first),
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random valid ensembles: no panic, and every band's length and dates follow its sampling.
    #[test]
    fn random_ensembles_have_consistent_shapes(
        f in 30usize..1200,
        members in 1usize..40,
        seed in any::<u64>(),
        daily in any::<bool>(),
        sd in 0.0..0.3f64,
        vol in 0.0..0.05f64,
        names in proptest::sample::subsequence(vec!["circ_supply", "lock_ratio", "1y_sector_roi", "rb_sched_expire_power_pib", "day_network_reward"], 1..4),
    ) {
        let Some(sim) = simulator() else { return Ok(()) };
        let spec = EnsembleSpec {
            base: base(f),
            members,
            seed,
            vary: Some(vec![
                (Param::Rr, DistSpec::Normal { mean: None, sd }),
                (Param::Rbp, DistSpec::Walk { start: None, vol }),
                (Param::SectorDurationDays, DistSpec::Uniform { lo: 180.0, hi: 1080.0 }),
            ]),
            output: names.iter().map(|n| series(n)).collect(),
            resolution: if daily { Resolution::Daily } else { Resolution::Weekly },
            member_paths: members.min(2),
            ..Default::default()
        };
        let ensemble = Ensemble::prepare(&sim, &spec).unwrap();
        let result = ensemble.run(&sim).unwrap();
        let (start, end) = (sim.snapshot().current_date, sim.snapshot().current_date + Days::new(f as u64 - 1));
        for band in &result.bands {
            let s = band.sampling;
            prop_assert_eq!(s, window_sampling(&sim, band.series, f, spec.resolution));
            prop_assert!(band.quantiles.iter().chain([&band.mean]).all(|q| q.len() == s.count));
            prop_assert!(band.paths.iter().all(|p| p.len() == s.count));
            if let Some(last) = s.last_date() {
                prop_assert!(s.first_date >= start && last <= end);
            }
            // Quantiles are ordered where finite.
            for j in 0..s.count {
                let column: Vec<f64> = band.quantiles.iter().map(|q| q[j]).collect();
                prop_assert!(column.windows(2).all(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Greater)), "{:?}", column);
            }
        }
    }
}

/// A random summary over a random part of a forecast of `f` days (sometimes invalid: the
/// preparation must then say so, never panic).
fn summary_strategy(f: usize) -> impl Strategy<Value = SummarySpec> {
    let names =
        vec!["circ_supply", "lock_ratio", "1y_sector_roi", "qa_sched_expire_power_pib", "day_network_reward"];
    (
        proptest::sample::select(names),
        proptest::sample::select(Stat::ALL.to_vec()),
        (-60i64..f as i64 + 30, -60i64..f as i64 + 30),
        proptest::option::of(-1e9..1e9f64),
        any::<bool>(),
    )
        .prop_map(move |(name, stat, (a, b), threshold, ranged)| {
            let current: NaiveDate = "2025-09-09".parse().unwrap();
            let day = |d: i64| current.checked_add_signed(chrono::Duration::days(d)).unwrap();
            let (lo, hi) = (a.min(b), a.max(b));
            SummarySpec {
                series: series(name),
                over: None,
                stat,
                date: (stat == Stat::ValueAt).then(|| day(lo)),
                from: (ranged && stat != Stat::ValueAt).then(|| day(lo)),
                to: (ranged && stat != Stat::ValueAt).then(|| day(hi)),
                threshold: if stat.is_date() { Some(threshold.unwrap_or(0.2)) } else { None },
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Random sweeps: no panic; every cell has one value per summary (or is an invalid
    /// combination), and a date summary's date lies in its range.
    #[test]
    fn random_sweeps_and_comparisons_are_consistent(
        f in 2usize..900,
        axes in proptest::collection::vec((0usize..8, proptest::collection::vec(0.0..1.0f64, 1..4)), 1..4),
        summary in (2usize..900).prop_flat_map(summary_strategy),
    ) {
        let Some(sim) = simulator() else { return Ok(()) };
        let axes: Vec<(Param, Vec<f64>)> = axes
            .into_iter()
            .map(|(k, unit)| {
                let p = Param::SCALAR_KNOBS[k];
                let b = p.bounds().unwrap();
                let hi = b.max.min(if p.is_rate() { 1.0 } else { 50.0 });
                let lo = if b.min_exclusive { b.min + 1e-3 } else { b.min.max(if p.is_integer() { 1.0 } else { 0.0 }) };
                let values = unit.iter().map(|u| { let v = lo + u * (hi - lo); if p.is_integer() { v.round() } else { v } }).collect();
                (p, values)
            })
            .collect();
        let spec = SweepSpec { base: base(f), axes, summaries: vec![("s".into(), summary.clone())] };
        match Sweep::prepare(&sim, &spec) {
            Err(err) => prop_assert!(!err.0.is_empty()),
            Ok(sweep) => {
                let result = sweep.run(&sim);
                let cells: usize = result.shape.iter().product();
                prop_assert_eq!(result.results[0].1.len(), cells);
                let (from, to) = sweep.summaries()[0].1.range();
                for value in result.results[0].1.iter().flatten() {
                    match value {
                        SummaryValue::Date(Some(d)) => prop_assert!(*d >= from && *d <= to),
                        SummaryValue::Date(None) => prop_assert!(summary.stat.is_date()),
                        SummaryValue::Number(_) => prop_assert!(!summary.stat.is_date()),
                    }
                }
                // The same summary across two scenarios in a comparison.
                let compare = CompareSpec {
                    baseline: base(f),
                    scenarios: vec![("other".into(), SimParams { rr: Some(Knob::Scalar(0.5)), ..Default::default() })],
                    output: vec![series("circ_supply")],
                    resolution: Resolution::Daily,
                    summaries: vec![("s".into(), summary)],
                };
                let result = Compare::prepare(&sim, &compare).unwrap().run(&sim, &mut SimOutput::default());
                prop_assert_eq!(result.series[0].values[0].len(), f);
                prop_assert_eq!(result.summaries[0].values.len(), 2);
            }
        }
    }
}
