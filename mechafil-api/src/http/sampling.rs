//! Which entries of a daily series a response carries: all of them (`/…/full`) or the real
//! Mondays inside a window (weekly endpoints), each with its first date.
//!
//! The reference service counted "every 7th value from start_date" on arrays that do not
//! start on start_date, so its samples were not Mondays (MODEL.md, "Not to reproduce").
//! Here every series is sampled by its own dates.

use chrono::NaiveDate;
use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

pub use mechafil_core::sampling::{Sampling, first_monday_on_or_after};

/// The selected entries of a series, serialised as a JSON list with NaN/inf as `null`.
pub struct SampledSeries<'a> {
    /// The whole series.
    pub values: &'a [f64],
    /// Which entries.
    pub sampling: Sampling,
}

impl Serialize for SampledSeries<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.sampling.count))?;
        for v in self.sampling.iter(self.values) {
            if v.is_finite() {
                seq.serialize_element(&v)?;
            } else {
                seq.serialize_element(&None::<f64>)?;
            }
        }
        seq.end()
    }
}

/// Dates of one returned series.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesDates {
    /// Date of the first entry (`null` when there are none).
    pub start_date: Option<NaiveDate>,
    /// Date of the last entry (`null` when there are none).
    pub end_date: Option<NaiveDate>,
    /// Number of entries.
    pub n_entries: usize,
    /// Days between entries.
    pub timestep_days: usize,
}

impl From<Sampling> for SeriesDates {
    fn from(s: Sampling) -> Self {
        SeriesDates {
            start_date: (s.count > 0).then_some(s.first_date),
            end_date: s.last_date(),
            n_entries: s.count,
            timestep_days: s.step,
        }
    }
}
