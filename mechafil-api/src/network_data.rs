//! [`NetworkData`]: everything the service knows about the network at one date. The model
//! inputs ([`mechafil_core::Snapshot`]) plus the history the reference discards (the 180-day
//! recent series with their dates, the daily on-chain supply), and the metadata a stored
//! snapshot carries ([`SnapshotMeta`]).
//!
//! Also the consistency check every snapshot passes before it is stored or served
//! ([`NetworkData::validate`]), and the conversion from and to the reference service's JSON layout
//! ([`NetworkData::from_reference`], [`NetworkData::to_export`], [`ExportFile`]).

use chrono::{DateTime, Days, NaiveDate, Utc};
use mechafil_core::reference::{OfflineData, RecentArrays, ReferenceSmoothed};
use mechafil_core::{ImportError, ReferenceSnapshot, SmoothedMetrics, Snapshot, SnapshotError};
use serde::{Deserialize, Serialize};

/// A daily series with the date of its first value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatedSeries {
    /// Date of `values[0]`; value `i` is for `start_date + i`.
    pub start_date: NaiveDate,
    /// One value per day; NaN where the source divided by zero.
    pub values: Vec<f64>,
}

/// The recent history the smoothed defaults come from (DATA.md, "Recent history").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentHistory {
    /// RB power onboarded, PiB/day, `current - 180 ..= current`.
    pub raw_byte_power: DatedSeries,
    /// RB renewal rate, `current - 180 .. current`.
    pub renewal_rate: DatedSeries,
    /// FIL+ share of onboarding, over the days both deals and onboarding have.
    pub filplus_rate: DatedSeries,
}

/// Daily on-chain supply, FIL, `start_date ..= current_date` (Spacescope `circulating_supply`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupplyHistory {
    /// Date of index 0 (the snapshot's start_date).
    pub start_date: NaiveDate,
    /// Circulating FIL.
    pub circulating_fil: Vec<f64>,
    /// Locked FIL.
    pub locked_fil: Vec<f64>,
    /// Cumulative burnt FIL.
    pub burnt_fil: Vec<f64>,
    /// Cumulative mined FIL.
    pub mined_fil: Vec<f64>,
    /// Cumulative vested FIL.
    pub vested_fil: Vec<f64>,
    /// Disbursed mining reserve, FIL.
    pub reserve_disbursed_fil: Vec<f64>,
}

/// Everything known about the network at one `current_date`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkData {
    /// The model inputs.
    pub snapshot: Snapshot,
    /// The recent series behind the smoothed defaults.
    pub recent: RecentHistory,
    /// Daily supply history; `None` when the source did not carry it (reference-format imports).
    pub supply: Option<SupplyHistory>,
    /// End of the forecast window the known vectors were cut for (`current_date + W`, DATA.md):
    /// they hold no day at or after it. `None` when the source did not say (reference exports).
    #[serde(default)]
    pub end_date: Option<NaiveDate>,
}

/// Where a snapshot came from. Shown wherever a snapshot is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotSource {
    /// Fetched from the Spacescope API.
    Spacescope,
    /// Imported from a reference-format JSON file.
    Import,
    /// The synthetic demo snapshot (not real network data).
    Demo,
}

impl SnapshotSource {
    /// The lowercase name used in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotSource::Spacescope => "spacescope",
            SnapshotSource::Import => "import",
            SnapshotSource::Demo => "demo",
        }
    }
}

impl std::fmt::Display for SnapshotSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a stored snapshot is: its dates, origin and age.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// First history day.
    pub start_date: NaiveDate,
    /// Last history day; the store's key.
    pub current_date: NaiveDate,
    /// Origin.
    pub source: SnapshotSource,
    /// When it was fetched, imported or generated.
    pub fetched_at: DateTime<Utc>,
}

/// Days before `current_date` where the recent series start (DATA.md, "Recent history").
pub const RECENT_WINDOW_DAYS: u64 = 180;
/// How many of the latest recent values the smoothed defaults are the median of.
pub const SMOOTHING_VALUES: usize = 30;

/// A [`NetworkData`] that fails its consistency check, or a file that cannot become one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkDataError {
    /// The model inputs are inconsistent.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// A reference-format file cannot be converted (dates missing or conflicting).
    #[error(transparent)]
    Import(#[from] ImportError),
    /// A reference-format file has no `historical_arrays` (the recent series).
    #[error("the file has no historical_arrays (the 180-day series behind smoothed_metrics)")]
    MissingRecent,
    /// A recent series does not cover the days DATA.md gives it.
    #[error(
        "recent series {series} covers {start} + {len} days; expected {expected_start} + {expected_len} days"
    )]
    RecentDates {
        /// `raw_byte_power`, `renewal_rate` or `filplus_rate`.
        series: &'static str,
        /// Its first day.
        start: NaiveDate,
        /// Its length.
        len: usize,
        /// The first day it must have.
        expected_start: NaiveDate,
        /// The length (or, for `filplus_rate`, the longest length) it must have.
        expected_len: usize,
    },
    /// A smoothed metric is not the median of the last 30 values of its recent series.
    #[error(
        "smoothed_metrics.{metric} is {stored} but the median of the last 30 {metric} values is {median}"
    )]
    Smoothed {
        /// The metric.
        metric: &'static str,
        /// The stored value.
        stored: f64,
        /// The median of the recent series.
        median: f64,
    },
    /// The supply history disagrees with the snapshot or its own dates.
    #[error("supply history: {0}")]
    Supply(String),
    /// `end_date` is not after `current_date`.
    #[error("end_date {end_date} must be after current_date {current_date}")]
    EndDate {
        /// The end date.
        end_date: NaiveDate,
        /// The current date.
        current_date: NaiveDate,
    },
}

/// The median of the last `n` values (all of them when there are fewer), NaN when one of them
/// is NaN or there are none. For an even count, the mean of the two middle values,
/// `(a + b) / 2`, as numpy computes it.
pub fn median_of_last(values: &[f64], n: usize) -> f64 {
    let tail = &values[values.len().saturating_sub(n)..];
    if tail.is_empty() || tail.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    let mut sorted = tail.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 }
}

impl RecentHistory {
    /// The smoothed defaults these series give: the median of the last 30 values of each.
    pub fn smoothed(&self) -> SmoothedMetrics {
        SmoothedMetrics {
            raw_byte_power: median_of_last(&self.raw_byte_power.values, SMOOTHING_VALUES),
            renewal_rate: median_of_last(&self.renewal_rate.values, SMOOTHING_VALUES),
            filplus_rate: median_of_last(&self.filplus_rate.values, SMOOTHING_VALUES),
        }
    }
}

/// Equal as stored numbers: bit-identical, or both NaN.
fn same_number(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn days_after(day: NaiveDate, n: u64) -> NaiveDate {
    day.checked_add_days(Days::new(n)).expect("date within chrono's range")
}

fn days_before(day: NaiveDate, n: u64) -> NaiveDate {
    day.checked_sub_days(Days::new(n)).expect("date within chrono's range")
}

/// Hex digits of a snapshot id (64 bits of the SHA-256: collisions need ~4 billion snapshots).
pub const SNAPSHOT_ID_LEN: usize = 16;

impl NetworkData {
    /// The snapshot's id: the first [`SNAPSHOT_ID_LEN`] hex digits of the SHA-256 of its stored
    /// encoding ([`crate::store::codec`]), so it covers the model data alone (no fetch or import
    /// time): two machines that built the same data from the same Spacescope answers name it
    /// alike, and a revision of the data under the same `current_date` gets a new id.
    pub fn snapshot_id(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(crate::store::codec::encode(self));
        digest.iter().take(SNAPSHOT_ID_LEN / 2).map(|b| format!("{b:02x}")).collect()
    }

    /// The checks every snapshot passes before it is stored or served, whatever its source:
    /// the model inputs are consistent ([`Snapshot::validate`]); the recent series cover
    /// `current - 180 ..= current` (renewal rate: `..current`; FIL+ rate: may end a day early);
    /// each smoothed metric is the median of the last 30 values of its series; the supply
    /// history covers the history days and agrees with the snapshot's supply fields.
    pub fn validate(&self) -> Result<(), NetworkDataError> {
        let s = &self.snapshot;
        s.validate()?;
        let recent_start = days_before(s.current_date, RECENT_WINDOW_DAYS);
        let full = RECENT_WINDOW_DAYS as usize + 1;
        let r = &self.recent;
        for (series, values, lens) in [
            ("raw_byte_power", &r.raw_byte_power, &[full][..]),
            ("renewal_rate", &r.renewal_rate, &[full - 1][..]),
            ("filplus_rate", &r.filplus_rate, &[full, full - 1][..]),
        ] {
            if values.start_date != recent_start || !lens.contains(&values.values.len()) {
                return Err(NetworkDataError::RecentDates {
                    series,
                    start: values.start_date,
                    len: values.values.len(),
                    expected_start: recent_start,
                    expected_len: lens[0],
                });
            }
        }
        let medians = r.smoothed();
        for (metric, stored, median) in [
            ("raw_byte_power", s.smoothed.raw_byte_power, medians.raw_byte_power),
            ("renewal_rate", s.smoothed.renewal_rate, medians.renewal_rate),
            ("filplus_rate", s.smoothed.filplus_rate, medians.filplus_rate),
        ] {
            if !same_number(stored, median) {
                return Err(NetworkDataError::Smoothed { metric, stored, median });
            }
        }
        if let Some(supply) = &self.supply {
            supply.check_against(s)?;
        }
        if let Some(end_date) = self.end_date
            && end_date <= s.current_date
        {
            return Err(NetworkDataError::EndDate { end_date, current_date: s.current_date });
        }
        Ok(())
    }

    /// Converts a reference-format snapshot (no supply history). `start_date` is required when
    /// the file carries none; when both are given they must agree. The recent series start at
    /// `current - 180`, as the reference server builds them.
    pub fn from_reference(
        r: &ReferenceSnapshot,
        start_date: Option<NaiveDate>,
    ) -> Result<Self, NetworkDataError> {
        let snapshot = r.to_snapshot(start_date)?;
        let arrays = r.historical_arrays.as_ref().ok_or(NetworkDataError::MissingRecent)?;
        let recent_start = days_before(snapshot.current_date, RECENT_WINDOW_DAYS);
        let dated = |values: &Vec<f64>| DatedSeries { start_date: recent_start, values: values.clone() };
        let data = NetworkData {
            recent: RecentHistory {
                raw_byte_power: dated(&arrays.raw_byte_power),
                renewal_rate: dated(&arrays.renewal_rate),
                filplus_rate: dated(&arrays.filplus_rate),
            },
            snapshot,
            supply: None,
            end_date: r.end_date,
        };
        data.validate()?;
        Ok(data)
    }

    /// Converts an [`ExportFile`] (ours, or the reference's, which lacks the extra keys).
    pub fn from_export(file: &ExportFile, start_date: Option<NaiveDate>) -> Result<Self, NetworkDataError> {
        let mut data = Self::from_reference(&file.to_reference(), start_date)?;
        if let Some(dates) = &file.historical_arrays_start_dates {
            data.recent.raw_byte_power.start_date = dates.raw_byte_power;
            data.recent.renewal_rate.start_date = dates.renewal_rate;
            data.recent.filplus_rate.start_date = dates.filplus_rate;
        }
        data.supply = file.supply_history.clone();
        data.validate()?;
        Ok(data)
    }

    /// The reference layout with explicit dates, plus our extra keys (the recent series' first
    /// days and the supply history).
    pub fn to_export(&self) -> ExportFile {
        let r = &self.recent;
        let recent = RecentArrays {
            raw_byte_power: r.raw_byte_power.values.clone(),
            renewal_rate: r.renewal_rate.values.clone(),
            filplus_rate: r.filplus_rate.values.clone(),
        };
        let reference = ReferenceSnapshot::from_snapshot(&self.snapshot, Some(recent), self.end_date);
        ExportFile {
            start_date: reference.start_date,
            current_date: reference.current_date,
            end_date: reference.end_date,
            smoothed_metrics: reference.smoothed_metrics,
            historical_arrays: reference.historical_arrays,
            offline_data: reference.offline_data,
            historical_arrays_start_dates: Some(RecentStartDates {
                raw_byte_power: r.raw_byte_power.start_date,
                renewal_rate: r.renewal_rate.start_date,
                filplus_rate: r.filplus_rate.start_date,
            }),
            supply_history: self.supply.clone(),
        }
    }
}

impl SupplyHistory {
    /// The six series, by name.
    pub fn series(&self) -> [(&'static str, &[f64]); 6] {
        [
            ("circulating_fil", &self.circulating_fil),
            ("locked_fil", &self.locked_fil),
            ("burnt_fil", &self.burnt_fil),
            ("mined_fil", &self.mined_fil),
            ("vested_fil", &self.vested_fil),
            ("reserve_disbursed_fil", &self.reserve_disbursed_fil),
        ]
    }

    fn check_against(&self, s: &Snapshot) -> Result<(), NetworkDataError> {
        let fail = |msg: String| Err(NetworkDataError::Supply(msg));
        if self.start_date != s.start_date {
            return fail(format!("starts on {} but the snapshot on {}", self.start_date, s.start_date));
        }
        let h = s.history_len();
        for (name, values) in self.series() {
            if values.len() != h {
                return fail(format!("{name} has {} values, the history {h} days", values.len()));
            }
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return fail(format!("{name} on {} is {}", days_after(self.start_date, i as u64), values[i]));
            }
        }
        if let Some(i) = (0..h).find(|&i| !same_number(self.burnt_fil[i], s.burnt_fil_vec[i])) {
            return fail(format!("burnt_fil differs from burnt_fil_vec at index {i}"));
        }
        if !same_number(self.circulating_fil[0], s.circ_supply_zero)
            || !same_number(self.locked_fil[0], s.locked_fil_zero)
        {
            return fail(
                "circulating_fil / locked_fil on start_date differ from circ_supply_zero / locked_fil_zero"
                    .into(),
            );
        }
        if self.vested_fil[0].trunc() != s.start_vested_amt as f64 {
            return fail(format!(
                "vested_fil on start_date is {} but start_vested_amt is {}",
                self.vested_fil[0], s.start_vested_amt
            ));
        }
        Ok(())
    }
}

/// The first day of each recent series (our addition to the reference layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentStartDates {
    /// First day of `historical_arrays.raw_byte_power`.
    pub raw_byte_power: NaiveDate,
    /// First day of `historical_arrays.renewal_rate`.
    pub renewal_rate: NaiveDate,
    /// First day of `historical_arrays.filplus_rate`.
    pub filplus_rate: NaiveDate,
}

/// The file `export` writes and `import` reads: the reference service's layout (DATA.md, "Output
/// format") with explicit dates, plus `historical_arrays_start_dates` and `supply_history`. A
/// reference export (no dates, no extra keys, extra keys of its own such as `message`) reads too.
///
/// The first six fields are [`ReferenceSnapshot`]'s, repeated rather than `#[serde(flatten)]`ed:
/// flattening buffers the whole document and loses serde_json's line/column in parse errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportFile {
    /// First history day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<NaiveDate>,
    /// Last history day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_date: Option<NaiveDate>,
    /// `current_date + W`: the known vectors stop before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
    /// The smoothed defaults.
    pub smoothed_metrics: ReferenceSmoothed,
    /// The recent series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub historical_arrays: Option<RecentArrays>,
    /// The model inputs.
    pub offline_data: OfflineData,
    /// First days of the recent series (ours; absent in reference exports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub historical_arrays_start_dates: Option<RecentStartDates>,
    /// Daily supply history (ours; absent in reference exports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supply_history: Option<SupplyHistory>,
}

impl ExportFile {
    /// The reference-layout part.
    pub fn to_reference(&self) -> ReferenceSnapshot {
        ReferenceSnapshot {
            start_date: self.start_date,
            current_date: self.current_date,
            end_date: self.end_date,
            smoothed_metrics: self.smoothed_metrics,
            historical_arrays: self.historical_arrays.clone(),
            offline_data: self.offline_data.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_matches_numpy() {
        let thirty: Vec<f64> = (1..=30).map(f64::from).collect();
        assert_eq!(median_of_last(&thirty, 30), 15.5);
        let mut longer = vec![1000.0; 10];
        longer.extend(&thirty);
        assert_eq!(median_of_last(&longer, 30), 15.5);
        assert_eq!(median_of_last(&[3.0, 1.0, 2.0], 30), 2.0);
        assert!(median_of_last(&[1.0, f64::NAN], 30).is_nan());
        assert!(median_of_last(&[], 30).is_nan());
    }
}
