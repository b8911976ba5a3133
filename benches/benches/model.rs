//! Criterion benchmarks of `mechafil-core` on the reference snapshot
//! (`shared/fixtures/reference-snapshot-2025-09-09.json`, located like the tests do).
//!
//! ```text
//! cargo bench -p benches --bench model
//! ```
//! Results and the machine they were measured on: `benches/README.md`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mechafil_core::test_support::{fixtures_dir, read_reference_snapshot};
use mechafil_core::{Knob, SeriesName, SimOutput, SimParams, Simulator, Snapshot};

fn reference_snapshot() -> Snapshot {
    let dir = fixtures_dir().expect("benchmarks need ../shared/fixtures (or MECHAFIL_FIXTURES)");
    read_reference_snapshot(
        &dir.join("reference-snapshot-2025-09-09.json"),
        "2022-10-10".parse().expect("date"),
    )
}

fn single_simulation(c: &mut Criterion) {
    let sim = Simulator::new(reference_snapshot()).expect("valid snapshot");
    let mut group = c.benchmark_group("simulate");
    for days in [365usize, 3650, 7300] {
        let params = sim
            .validate(&SimParams { forecast_length_days: Some(days), ..Default::default() })
            .expect("valid params");
        let mut out = SimOutput::default();
        group.bench_with_input(BenchmarkId::from_parameter(days), &params, |b, params| {
            b.iter(|| {
                sim.simulate_into(black_box(params), &mut out);
                black_box(out.series(SeriesName::CircSupply).last().copied())
            })
        });
    }
    group.finish();
}

fn prepare_snapshot(c: &mut Criterion) {
    let snapshot = reference_snapshot();
    c.bench_function("prepare_simulator", |b| {
        b.iter(|| Simulator::new(black_box(snapshot.clone())).expect("valid"))
    });
}

fn batch_of_scenarios(c: &mut Criterion) {
    let sim = Simulator::new(reference_snapshot()).expect("valid snapshot");
    // 1000 ten-year scenarios sweeping renewal rate and onboarding.
    let scenarios: Vec<SimParams> = (0..1000)
        .map(|i| SimParams {
            rr: Some(Knob::Scalar(0.4 + 0.5 * (i % 50) as f64 / 50.0)),
            rbp: Some(Knob::Scalar(1.0 + (i / 50) as f64 * 0.25)),
            ..Default::default()
        })
        .collect();
    let mut group = c.benchmark_group("batch");
    group.sample_size(10);
    group.bench_function("1000x3650d", |b| {
        b.iter(|| {
            sim.simulate_batch(black_box(&scenarios), |_, out| {
                out.map(|o| o.series(SeriesName::CircSupply).last().copied()).ok().flatten()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, single_simulation, prepare_snapshot, batch_of_scenarios);
criterion_main!(benches);
