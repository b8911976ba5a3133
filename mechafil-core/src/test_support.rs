//! Helpers shared by the workspace's tests (feature `test-support`): locating the CEO's
//! read-only fixtures in `../shared/fixtures` and reading the oracle cases, and the small
//! excerpt of them committed in `mechafil-core/tests/fixtures` (two cases, sampled; see its
//! README), which every machine has, GitHub's CI included.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::reference::ReferenceSnapshot;
use crate::tolerance::{MODEL_SCALED_TOL, Mismatch, compare_series};
use crate::{SeriesName, SimOutput, SimParams, Snapshot};

/// The full fixtures directory: `$MECHAFIL_FIXTURES`, else `shared/fixtures` beside the
/// repository.
///
/// Returns `None` when it does not exist, so a developer without the fixtures can still run
/// the other tests; under `CI=true` a missing directory panics instead, so CI can never pass
/// by skipping the fidelity suite. `MECHAFIL_FIXTURES=excerpt` says that only the committed
/// excerpt ([`excerpt_dir`]) is available (GitHub's CI): the tests of the full set are then
/// skipped even under `CI=true`, while the excerpt's own tests run everywhere anyway.
pub fn fixtures_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("MECHAFIL_FIXTURES") {
        Some(dir) if dir == "excerpt" => {
            eprintln!(
                "SKIPPED: MECHAFIL_FIXTURES=excerpt: only the committed excerpt of the fixtures is here"
            );
            return None;
        }
        Some(dir) => PathBuf::from(dir),
        // This crate lives at <repo>/mechafil-core; the fixtures at <repo>/../shared/fixtures.
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    };
    if dir.join("oracle").is_dir() {
        return Some(dir);
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !in_ci,
        "fixtures not found at {} (set MECHAFIL_FIXTURES, or MECHAFIL_FIXTURES=excerpt where only the committed excerpt exists); CI=true requires them",
        dir.display()
    );
    eprintln!("SKIPPED: fixtures not found at {} (set MECHAFIL_FIXTURES)", dir.display());
    None
}

/// The excerpt of the oracle fixtures committed with this crate: the reference snapshot and
/// two cases with sampled expected values (`mechafil-core/tests/fixtures/README.md`).
pub fn excerpt_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The reference snapshot file: the full fixtures' when present, else the excerpt's copy (the
/// same bytes), so tests built on the reference snapshot run on every machine.
pub fn reference_snapshot_file() -> PathBuf {
    let name = "reference-snapshot-2025-09-09.json";
    match fixtures_dir() {
        Some(dir) => dir.join(name),
        None => excerpt_dir().join(name),
    }
}

/// One case of the excerpt: an oracle case whose expected series keep only some of their
/// values, as `[index, value]` pairs (every k-th, the first, the last and the largest in
/// magnitude, so the tolerance's scale is the full series').
#[derive(Debug, Deserialize)]
pub struct ExcerptCase {
    /// Case name.
    pub case: String,
    /// The full case it was cut from, e.g. `shared/fixtures/oracle/f365.json`.
    pub excerpt_of: String,
    /// Snapshot file name, relative to the excerpt directory.
    pub snapshot: String,
    /// The snapshot's start date.
    pub start_date: NaiveDate,
    /// The snapshot's current date.
    pub current_date: NaiveDate,
    /// Overrides the snapshot's `locked_reward_zero` when set.
    pub locked_reward_zero: Option<f64>,
    /// The parameters (null = default).
    pub params: SimParams,
    /// The 44 expected series, sampled: `(index, value)`, `None` = null.
    pub expected_at: BTreeMap<String, Vec<(usize, Option<f64>)>>,
}

impl ExcerptCase {
    /// The case's snapshot, with its `locked_reward_zero` override applied.
    pub fn snapshot(&self) -> Snapshot {
        let mut snapshot = read_reference_snapshot(&excerpt_dir().join(&self.snapshot), self.start_date);
        assert_eq!(snapshot.current_date, self.current_date, "{}: current_date", self.case);
        if let Some(v) = self.locked_reward_zero {
            snapshot.locked_reward_zero = Some(v);
        }
        snapshot
    }

    /// Compares every sampled value with `out` (lengths included); returns the worst scaled
    /// error per series.
    pub fn check(&self, out: &SimOutput) -> Result<BTreeMap<SeriesName, f64>, String> {
        assert_eq!(self.expected_at.len(), 44, "{}: the excerpt has 44 series", self.case);
        let mut worst = BTreeMap::new();
        for (name, samples) in &self.expected_at {
            let series: SeriesName = name.parse().map_err(|e| format!("{}: {e}", self.case))?;
            let values = out.series(series);
            let last = samples.last().map_or(0, |(i, _)| i + 1);
            if values.len() != last {
                return Err(format!(
                    "{} / {name}: {} values, the excerpt ends at index {}",
                    self.case,
                    values.len(),
                    last - 1
                ));
            }
            let actual: Vec<f64> = samples.iter().map(|(i, _)| values[*i]).collect();
            let expected: Vec<Option<f64>> = samples.iter().map(|(_, v)| *v).collect();
            let err = compare_series(&actual, &expected, MODEL_SCALED_TOL).map_err(|m: Mismatch| {
                let day = m_index(&m).map_or(String::new(), |k| format!(", series index {}", samples[k].0));
                format!("{} / {name}{day}: {m} (indices of the excerpt's samples)", self.case)
            })?;
            worst.insert(series, err);
        }
        Ok(worst)
    }
}

/// The series index a mismatch is at, when it has one.
fn m_index(m: &Mismatch) -> Option<usize> {
    match m {
        Mismatch::Value { index, .. } | Mismatch::Null { index, .. } => Some(*index),
        _ => None,
    }
}

/// Reads every case of the excerpt, sorted by file name.
pub fn excerpt_cases() -> Vec<ExcerptCase> {
    read_cases(&excerpt_dir().join("oracle"))
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
    read_cases(&fixtures.join("oracle"))
}

fn read_cases<T: serde::de::DeserializeOwned>(dir: &Path) -> Vec<T> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
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
