//! Fidelity suite: every case in `shared/fixtures/oracle/` (outputs of the reference
//! mechafil-jax model), all 44 series, under MODEL.md's Acceptance rule; and the committed
//! excerpt of two of them (`tests/fixtures`), which runs on every machine, GitHub's CI included.
//!
//! Deliberate differences from the reference: none in the model. (The reference *service*'s
//! alignment defects, MODEL.md "Not to reproduce", concern the API and are not in these cases.)

use mechafil_core::Simulator;
use mechafil_core::test_support::{excerpt_cases, fixtures_dir, oracle_cases};

#[test]
fn every_oracle_case_matches_the_reference() {
    let Some(fixtures) = fixtures_dir() else { return };
    let cases = oracle_cases(&fixtures);
    assert!(cases.len() >= 7, "expected the 7 oracle cases, found {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let sim = Simulator::new(case.snapshot(&fixtures)).expect("valid snapshot");
        let out = sim.simulate(&case.params).unwrap_or_else(|e| panic!("{}: {e}", case.case));
        match case.check(&out) {
            Ok(worst) => {
                let (series, err) = worst.iter().max_by(|a, b| a.1.total_cmp(b.1)).expect("44 series");
                println!("{:<22} worst scaled error {err:.3e} ({series})", case.case);
            }
            Err(msg) => failures.push(msg),
        }
    }
    assert!(failures.is_empty(), "oracle mismatches:\n{}", failures.join("\n"));
}

#[test]
fn the_free_function_agrees_with_the_prepared_simulator() {
    let Some(fixtures) = fixtures_dir() else { return };
    for case in oracle_cases(&fixtures) {
        let snapshot = case.snapshot(&fixtures);
        let direct = mechafil_core::simulate(&snapshot, &case.params).expect("simulate");
        let prepared = Simulator::new(snapshot).unwrap().simulate(&case.params).unwrap();
        for (name, values) in direct.iter() {
            let other = prepared.series(name);
            assert!(
                values.iter().zip(other).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{} / {name}: the free function and Simulator differ",
                case.case
            );
        }
    }
}

#[test]
fn the_committed_excerpt_matches_the_reference() {
    let cases = excerpt_cases();
    assert_eq!(cases.len(), 2, "the excerpt holds two cases");
    for case in &cases {
        let sim = Simulator::new(case.snapshot()).expect("valid snapshot");
        let out = sim.simulate(&case.params).unwrap_or_else(|e| panic!("{}: {e}", case.case));
        let worst = case.check(&out).unwrap_or_else(|msg| panic!("excerpt mismatch: {msg}"));
        let (series, err) = worst.iter().max_by(|a, b| a.1.total_cmp(b.1)).expect("44 series");
        println!("excerpt {:<16} worst scaled error {err:.3e} ({series})", case.case);
    }
}

#[test]
fn the_excerpt_is_cut_from_the_full_fixtures() {
    let Some(fixtures) = fixtures_dir() else { return };
    let full = oracle_cases(&fixtures);
    for excerpt in excerpt_cases() {
        let source = full.iter().find(|c| c.case == excerpt.case).expect("the case is in the full set");
        assert_eq!(excerpt.excerpt_of, format!("shared/fixtures/oracle/{}.json", excerpt.case));
        assert_eq!(excerpt.params, source.params, "{}", excerpt.case);
        assert_eq!((excerpt.start_date, excerpt.current_date), (source.start_date, source.current_date));
        for (name, samples) in &excerpt.expected_at {
            let values = &source.expected[name];
            assert_eq!(samples.last().map(|(i, _)| i + 1), Some(values.len()), "{} / {name}", excerpt.case);
            for (i, value) in samples {
                assert_eq!(
                    value.map(f64::to_bits),
                    values[*i].map(f64::to_bits),
                    "{} / {name}[{i}]",
                    excerpt.case
                );
            }
        }
    }
    let ours =
        std::fs::read(mechafil_core::test_support::excerpt_dir().join("reference-snapshot-2025-09-09.json"))
            .unwrap();
    let theirs = std::fs::read(fixtures.join("reference-snapshot-2025-09-09.json")).unwrap();
    assert!(ours == theirs, "the excerpt's snapshot is a byte-for-byte copy");
}
