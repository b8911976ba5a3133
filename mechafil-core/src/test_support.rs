//! Helpers shared by the workspace's tests (feature `test-support`): locating the CEO's
//! read-only fixtures in `../shared/fixtures` and reading the oracle cases.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::reference::ReferenceSnapshot;
use crate::tolerance::{MODEL_SCALED_TOL, Mismatch, compare_series};
use crate::{SeriesName, SimOutput, SimParams, Snapshot};

/// The fixtures directory: `$MECHAFIL_FIXTURES`, else `shared/fixtures` beside the repository.
///
/// Returns `None` when it does not exist, so a developer without the fixtures can still run
/// the other tests; under `CI=true` a missing directory panics instead, so CI can never pass
/// by skipping the fidelity suite.
pub fn fixtures_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("MECHAFIL_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        // This crate lives at <repo>/mechafil-core; the fixtures at <repo>/../shared/fixtures.
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    };
    if dir.join("oracle").is_dir() {
        return Some(dir);
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!in_ci, "fixtures not found at {} (set MECHAFIL_FIXTURES); CI=true requires them", dir.display());
    eprintln!("SKIPPED: fixtures not found at {} (set MECHAFIL_FIXTURES)", dir.display());
    None
}

/// One oracle case (`oracle/*.json`, see `fixtures/README.md`).
#[derive(Debug, Deserialize)]
pub struct OracleCase {
    /// Case name.
    pub case: String,
    /// Snapshot file name, relative to the fixtures directory.
    pub snapshot: String,
    /// The snapshot's start date.
    pub start_date: NaiveDate,
    /// The snapshot's current date.
    pub current_date: NaiveDate,
    /// Overrides the snapshot's `locked_reward_zero` when set.
    pub locked_reward_zero: Option<f64>,
    /// The parameters (null = default).
    pub params: SimParams,
    /// The 44 expected series, `None` = null.
    pub expected: BTreeMap<String, Vec<Option<f64>>>,
}

impl OracleCase {
    /// The case's snapshot, with its `locked_reward_zero` override applied.
    pub fn snapshot(&self, fixtures: &Path) -> Snapshot {
        let mut snapshot = read_reference_snapshot(&fixtures.join(&self.snapshot), self.start_date);
        assert_eq!(snapshot.current_date, self.current_date, "{}: current_date", self.case);
        if let Some(v) = self.locked_reward_zero {
            snapshot.locked_reward_zero = Some(v);
        }
        snapshot
    }

    /// Compares every expected series with `out`; returns the worst scaled error per series.
    pub fn check(&self, out: &SimOutput) -> Result<BTreeMap<SeriesName, f64>, String> {
        let mut worst = BTreeMap::new();
        assert_eq!(self.expected.len(), 44, "{}: the fixture has 44 series", self.case);
        for (name, expected) in &self.expected {
            let series: SeriesName = name.parse().map_err(|e| format!("{}: {e}", self.case))?;
            let err = compare_series(out.series(series), expected, MODEL_SCALED_TOL)
                .map_err(|m: Mismatch| format!("{} / {name}: {m}", self.case))?;
            worst.insert(series, err);
        }
        Ok(worst)
    }
}

/// Reads every `oracle/*.json` case, sorted by file name.
pub fn oracle_cases(fixtures: &Path) -> Vec<OracleCase> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures.join("oracle"))
        .expect("read oracle dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

/// Reads a reference-format snapshot file and converts it with `start_date`.
pub fn read_reference_snapshot(path: &Path, start_date: NaiveDate) -> Snapshot {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reference: ReferenceSnapshot =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reference.to_snapshot(Some(start_date)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
