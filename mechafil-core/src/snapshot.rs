//! The network history a forecast starts from ([`Snapshot`]) and its consistency check.
//!
//! Field names and units are MODEL.md's ("Inputs"). A `Snapshot` that passed
//! [`Snapshot::validate`] can be simulated for any valid parameters without panicking: lengths agree
//! with the dates and every number is finite. Storage and wire formats live elsewhere
//! ([`crate::reference`] for the reference service's JSON; the API crate for its binary store).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::constants::NETWORK_START;

/// The snapshot's smoothed metrics: the defaults for `rbp`, `rr` and `fpr`
/// (medians of the last 30 days of the recent history, DATA.md).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SmoothedMetrics {
    /// Raw-byte power onboarded, PiB/day.
    pub raw_byte_power: f64,
    /// Renewal rate, 0..=1.
    pub renewal_rate: f64,
    /// FIL+ (verified deal) share of onboarding, 0..=1.
    pub filplus_rate: f64,
}

/// Historical network data: everything the model needs besides the parameters.
///
/// `H` below is the number of days from `start_date` to `current_date`, both included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// First day of the history (index 0 of the daily arrays).
    pub start_date: NaiveDate,
    /// Last day of the history: the day the forecast starts from.
    pub current_date: NaiveDate,
    /// Defaults for `rbp`, `rr`, `fpr`.
    pub smoothed: SmoothedMetrics,
    /// Network raw-byte power on `current_date`, PiB.
    pub rb_power_zero: f64,
    /// Network quality-adjusted power on `current_date`, PiB.
    pub qa_power_zero: f64,
    /// Daily raw-byte power, EiB (length H).
    pub historical_raw_power_eib: Vec<f64>,
    /// Daily quality-adjusted power, EiB (length H).
    pub historical_qa_power_eib: Vec<f64>,
    /// Raw-byte power onboarded per day, PiB (length H).
    pub historical_onboarded_rb_power_pib: Vec<f64>,
    /// QA power onboarded per day, PiB (length H).
    pub historical_onboarded_qa_power_pib: Vec<f64>,
    /// Raw-byte power renewed per day, PiB (length H).
    pub historical_renewed_rb_power_pib: Vec<f64>,
    /// QA power renewed per day, PiB (length H).
    pub historical_renewed_qa_power_pib: Vec<f64>,
    /// Scheduled raw-byte expirations of existing sectors, PiB/day; index 0 = `current_date`.
    pub rb_known_scheduled_expire_vec: Vec<f64>,
    /// Scheduled QA expirations of existing sectors, PiB/day; index 0 = `current_date`.
    pub qa_known_scheduled_expire_vec: Vec<f64>,
    /// Scheduled pledge releases, FIL/day; index 0 = `start_date`.
    pub known_scheduled_pledge_release_full_vec: Vec<f64>,
    /// Vested FIL reported for `start_date` (an integer amount).
    pub start_vested_amt: i64,
    /// Cumulative capped raw-byte power through `start_date`, EiB·days.
    pub zero_cum_capped_power_eib: f64,
    /// Baseline power on `start_date`, EiB.
    pub init_baseline_eib: f64,
    /// Circulating supply on `start_date`, FIL.
    pub circ_supply_zero: f64,
    /// Locked FIL on `start_date`.
    pub locked_fil_zero: f64,
    /// Reward-locked FIL on `start_date`, when the data provides it (else half of `locked_fil_zero`).
    pub locked_reward_zero: Option<f64>,
    /// Mean daily increase of burnt FIL over the history.
    pub daily_burnt_fil: f64,
    /// Cumulative burnt FIL per day (length H).
    pub burnt_fil_vec: Vec<f64>,
    /// Daily raw-byte renewal rate (length H - 1: `start_date` .. `current_date`, exclusive).
    pub historical_renewal_rate: Vec<f64>,
}

/// A snapshot that fails its consistency check. Every variant names the offending field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// `current_date` is before `start_date + 1`: the model needs at least two days of history.
    #[error(
        "current_date {current_date} must be at least one day after start_date {start_date} (the model needs two days of history)"
    )]
    TooShort {
        /// The snapshot's start date.
        start_date: NaiveDate,
        /// The snapshot's current date.
        current_date: NaiveDate,
    },
    /// `start_date` is before the network existed.
    #[error("start_date {start_date} is before the network start {NETWORK_START}")]
    StartBeforeNetwork {
        /// The snapshot's start date.
        start_date: NaiveDate,
    },
    /// An array's length disagrees with the dates.
    #[error("{field} has {actual} values but the dates require {expected}")]
    Length {
        /// Field name (MODEL.md's).
        field: &'static str,
        /// Length implied by start_date/current_date.
        expected: usize,
        /// Length found.
        actual: usize,
    },
    /// A number is NaN or infinite.
    #[error("{field}{} is {value}, expected a finite number", index.map(|i| format!("[{i}]")).unwrap_or_default())]
    NotFinite {
        /// Field name.
        field: &'static str,
        /// Position in the array, for array fields.
        index: Option<usize>,
        /// The offending value.
        value: f64,
    },
}

impl Snapshot {
    /// Number of history days, `H` (= `current_date - start_date + 1`, from the dates).
    pub fn history_len(&self) -> usize {
        usize::try_from((self.current_date - self.start_date).num_days() + 1).unwrap_or(0)
    }

    /// Checks that lengths agree with the dates and that every number is finite.
    ///
    /// Known-expiry and pledge-release vectors may have any length (days past their end count
    /// as zero, MODEL.md).
    pub fn validate(&self) -> Result<(), SnapshotError> {
        if self.start_date < NETWORK_START {
            return Err(SnapshotError::StartBeforeNetwork { start_date: self.start_date });
        }
        if self.current_date <= self.start_date {
            return Err(SnapshotError::TooShort {
                start_date: self.start_date,
                current_date: self.current_date,
            });
        }
        let h = self.history_len();
        for (field, values) in self.daily_arrays() {
            check_len(field, values, h)?;
        }
        check_len("historical_renewal_rate", &self.historical_renewal_rate, h - 1)?;
        for (field, value) in self.scalars() {
            check_finite(field, None, value)?;
        }
        for (field, values) in self.arrays() {
            for (i, &v) in values.iter().enumerate() {
                check_finite(field, Some(i), v)?;
            }
        }
        Ok(())
    }

    /// The arrays of length H, by name.
    fn daily_arrays(&self) -> [(&'static str, &[f64]); 7] {
        [
            ("historical_raw_power_eib", &self.historical_raw_power_eib),
            ("historical_qa_power_eib", &self.historical_qa_power_eib),
            ("historical_onboarded_rb_power_pib", &self.historical_onboarded_rb_power_pib),
            ("historical_onboarded_qa_power_pib", &self.historical_onboarded_qa_power_pib),
            ("historical_renewed_rb_power_pib", &self.historical_renewed_rb_power_pib),
            ("historical_renewed_qa_power_pib", &self.historical_renewed_qa_power_pib),
            ("burnt_fil_vec", &self.burnt_fil_vec),
        ]
    }

    /// Every array field, by name.
    fn arrays(&self) -> impl Iterator<Item = (&'static str, &[f64])> {
        self.daily_arrays().into_iter().chain([
            ("historical_renewal_rate", self.historical_renewal_rate.as_slice()),
            ("rb_known_scheduled_expire_vec", &self.rb_known_scheduled_expire_vec),
            ("qa_known_scheduled_expire_vec", &self.qa_known_scheduled_expire_vec),
            ("known_scheduled_pledge_release_full_vec", &self.known_scheduled_pledge_release_full_vec),
        ])
    }

    /// Every scalar field, by name (`start_vested_amt` is an integer and always finite).
    fn scalars(&self) -> impl Iterator<Item = (&'static str, f64)> {
        [
            ("smoothed_metrics.raw_byte_power", self.smoothed.raw_byte_power),
            ("smoothed_metrics.renewal_rate", self.smoothed.renewal_rate),
            ("smoothed_metrics.filplus_rate", self.smoothed.filplus_rate),
            ("rb_power_zero", self.rb_power_zero),
            ("qa_power_zero", self.qa_power_zero),
            ("zero_cum_capped_power_eib", self.zero_cum_capped_power_eib),
            ("init_baseline_eib", self.init_baseline_eib),
            ("circ_supply_zero", self.circ_supply_zero),
            ("locked_fil_zero", self.locked_fil_zero),
            ("daily_burnt_fil", self.daily_burnt_fil),
        ]
        .into_iter()
        .chain(self.locked_reward_zero.map(|v| ("locked_reward_zero", v)))
    }
}

fn check_len(field: &'static str, values: &[f64], expected: usize) -> Result<(), SnapshotError> {
    if values.len() == expected {
        Ok(())
    } else {
        Err(SnapshotError::Length { field, expected, actual: values.len() })
    }
}

fn check_finite(field: &'static str, index: Option<usize>, value: f64) -> Result<(), SnapshotError> {
    if value.is_finite() { Ok(()) } else { Err(SnapshotError::NotFinite { field, index, value }) }
}
