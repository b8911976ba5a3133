//! [`NetworkData`]: everything the service knows about the network at one date. The model
//! inputs ([`mechafil_core::Snapshot`]) plus the history the reference discards (the 180-day
//! recent series with their dates, the daily on-chain supply), and the metadata a stored
//! snapshot carries ([`SnapshotMeta`]).

use chrono::{DateTime, NaiveDate, Utc};
use mechafil_core::Snapshot;
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

/// The recent series in the reference layout's `historical_arrays` (dates dropped).
pub fn recent_arrays(recent: &RecentHistory) -> mechafil_core::reference::RecentArrays {
    mechafil_core::reference::RecentArrays {
        raw_byte_power: recent.raw_byte_power.values.clone(),
        renewal_rate: recent.renewal_rate.values.clone(),
        filplus_rate: recent.filplus_rate.values.clone(),
    }
}
