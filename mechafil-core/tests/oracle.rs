//! Fidelity suite: every case in `shared/fixtures/oracle/` (outputs of the reference
//! mechafil-jax model), all 44 series, under MODEL.md's Acceptance rule.
//!
//! Deliberate differences from the reference: none in the model. (The reference *service*'s
//! alignment defects, MODEL.md "Not to reproduce", concern the API and are not in these cases.)

use mechafil_core::Simulator;
use mechafil_core::test_support::{fixtures_dir, oracle_cases};

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
