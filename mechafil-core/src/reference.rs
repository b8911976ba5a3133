//! The reference service's snapshot layout (`smoothed_metrics`, `historical_arrays`, `offline_data`),
//! as in `shared/fixtures/reference-snapshot-2025-09-09.json` and DATA.md's "Output format".
//!
//! These are serde types only; callers parse the bytes (e.g. with `serde_json`, `float_roundtrip`
//! enabled so every number comes back bit-exact). `null` reads as NaN and NaN/inf write as `null`,
//! as the reference does. [`ReferenceSnapshot::to_snapshot`] turns the layout into a validated
//! [`Snapshot`]; [`ReferenceSnapshot::from_snapshot`] goes back.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::snapshot::{SmoothedMetrics, Snapshot, SnapshotError};

/// A snapshot in the reference service's JSON layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceSnapshot {
    /// First history day. Absent in the reference's own exports; ours always write it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<NaiveDate>,
    /// Last history day (`start_date + H - 1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_date: Option<NaiveDate>,
    /// Last day of the longest forecast the producer allowed for (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
    /// The smoothed defaults for `rbp`, `rr`, `fpr`.
    pub smoothed_metrics: ReferenceSmoothed,
    /// The 180-day recent series the smoothed metrics come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub historical_arrays: Option<RecentArrays>,
    /// The model inputs.
    pub offline_data: OfflineData,
}

/// `smoothed_metrics`: like [`SmoothedMetrics`] but NaN-tolerant (`null` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReferenceSmoothed {
    /// PiB/day.
    #[serde(with = "nullable_f64")]
    pub raw_byte_power: f64,
    /// 0..=1.
    #[serde(with = "nullable_f64")]
    pub renewal_rate: f64,
    /// 0..=1.
    #[serde(with = "nullable_f64")]
    pub filplus_rate: f64,
}

/// `historical_arrays`: the recent series (DATA.md, "Recent history"). Values may be NaN.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RecentArrays {
    /// RB onboarding, PiB/day, days `current - 180 ..= current`.
    #[serde(with = "nullable_vec")]
    pub raw_byte_power: Vec<f64>,
    /// RB renewal rate, days `current - 180 .. current`.
    #[serde(with = "nullable_vec")]
    pub renewal_rate: Vec<f64>,
    /// FIL+ rate over the days both deals and onboarding have.
    #[serde(with = "nullable_vec")]
    pub filplus_rate: Vec<f64>,
}

/// `offline_data`: the fields of MODEL.md's snapshot table, under their reference names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // Each field is documented on `Snapshot`.
pub struct OfflineData {
    #[serde(with = "nullable_f64")]
    pub rb_power_zero: f64,
    #[serde(with = "nullable_f64")]
    pub qa_power_zero: f64,
    #[serde(with = "nullable_vec")]
    pub historical_raw_power_eib: Vec<f64>,
    #[serde(with = "nullable_vec")]
    pub historical_qa_power_eib: Vec<f64>,
    #[serde(with = "nullable_vec")]
    pub historical_onboarded_rb_power_pib: Vec<f64>,
    #[serde(with = "nullable_vec")]
    pub historical_onboarded_qa_power_pib: Vec<f64>,
    #[serde(with = "nullable_vec")]
    pub historical_renewed_qa_power_pib: Vec<f64>,
    #[serde(with = "nullable_vec")]
    pub historical_renewed_rb_power_pib: Vec<f64>,
    #[serde(with = "nullable_vec")]
    pub rb_known_scheduled_expire_vec: Vec<f64>,
    #[serde(with = "nullable_vec")]
    pub qa_known_scheduled_expire_vec: Vec<f64>,
    #[serde(with = "nullable_vec")]
    pub known_scheduled_pledge_release_full_vec: Vec<f64>,
    #[serde(with = "integral")]
    pub start_vested_amt: i64,
    #[serde(with = "nullable_f64")]
    pub zero_cum_capped_power_eib: f64,
    #[serde(with = "nullable_f64")]
    pub init_baseline_eib: f64,
    #[serde(with = "nullable_f64")]
    pub circ_supply_zero: f64,
    #[serde(with = "nullable_f64")]
    pub locked_fil_zero: f64,
    #[serde(with = "nullable_f64")]
    pub daily_burnt_fil: f64,
    #[serde(with = "nullable_vec")]
    pub burnt_fil_vec: Vec<f64>,
    #[serde(with = "nullable_vec")]
    pub historical_renewal_rate: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_reward_zero: Option<f64>,
}

/// Why a reference-format snapshot could not be turned into a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Neither the caller nor the file gives a start date.
    #[error("the snapshot has no start_date; give one (the reference export does not carry dates)")]
    MissingStartDate,
    /// The caller's start date and the file's disagree.
    #[error("start_date {given} was given but the file says {in_file}")]
    StartDateConflict {
        /// From the caller.
        given: NaiveDate,
        /// From the file.
        in_file: NaiveDate,
    },
    /// The file's current_date disagrees with start_date + history length - 1.
    #[error(
        "current_date in the file is {in_file} but start_date + {history_len} history days ends on {implied}"
    )]
    CurrentDateConflict {
        /// From the file.
        in_file: NaiveDate,
        /// Implied by start_date and the history length.
        implied: NaiveDate,
        /// Number of history days.
        history_len: usize,
    },
    /// The history is empty, so no current_date follows from it.
    #[error("historical_raw_power_eib is empty")]
    EmptyHistory,
    /// The converted snapshot is inconsistent.
    #[error(transparent)]
    Invalid(#[from] SnapshotError),
}

impl ReferenceSnapshot {
    /// Converts to a validated [`Snapshot`]. `start_date` is required when the file has none;
    /// `current_date` follows from the history length (`start_date + H - 1`).
    pub fn to_snapshot(&self, start_date: Option<NaiveDate>) -> Result<Snapshot, ImportError> {
        let start_date = match (start_date, self.start_date) {
            (Some(given), Some(in_file)) if given != in_file => {
                return Err(ImportError::StartDateConflict { given, in_file });
            }
            (Some(d), _) | (None, Some(d)) => d,
            (None, None) => return Err(ImportError::MissingStartDate),
        };
        let od = &self.offline_data;
        let h = od.historical_raw_power_eib.len();
        if h == 0 {
            return Err(ImportError::EmptyHistory);
        }
        let implied =
            start_date.checked_add_days(Days::new(h as u64 - 1)).ok_or(ImportError::EmptyHistory)?;
        if let Some(in_file) = self.current_date
            && in_file != implied
        {
            return Err(ImportError::CurrentDateConflict { in_file, implied, history_len: h });
        }
        let snapshot = Snapshot {
            start_date,
            current_date: implied,
            smoothed: SmoothedMetrics {
                raw_byte_power: self.smoothed_metrics.raw_byte_power,
                renewal_rate: self.smoothed_metrics.renewal_rate,
                filplus_rate: self.smoothed_metrics.filplus_rate,
            },
            rb_power_zero: od.rb_power_zero,
            qa_power_zero: od.qa_power_zero,
            historical_raw_power_eib: od.historical_raw_power_eib.clone(),
            historical_qa_power_eib: od.historical_qa_power_eib.clone(),
            historical_onboarded_rb_power_pib: od.historical_onboarded_rb_power_pib.clone(),
            historical_onboarded_qa_power_pib: od.historical_onboarded_qa_power_pib.clone(),
            historical_renewed_rb_power_pib: od.historical_renewed_rb_power_pib.clone(),
            historical_renewed_qa_power_pib: od.historical_renewed_qa_power_pib.clone(),
            rb_known_scheduled_expire_vec: od.rb_known_scheduled_expire_vec.clone(),
            qa_known_scheduled_expire_vec: od.qa_known_scheduled_expire_vec.clone(),
            known_scheduled_pledge_release_full_vec: od.known_scheduled_pledge_release_full_vec.clone(),
            start_vested_amt: od.start_vested_amt,
            zero_cum_capped_power_eib: od.zero_cum_capped_power_eib,
            init_baseline_eib: od.init_baseline_eib,
            circ_supply_zero: od.circ_supply_zero,
            locked_fil_zero: od.locked_fil_zero,
            locked_reward_zero: od.locked_reward_zero,
            daily_burnt_fil: od.daily_burnt_fil,
            burnt_fil_vec: od.burnt_fil_vec.clone(),
            historical_renewal_rate: od.historical_renewal_rate.clone(),
        };
        snapshot.validate()?;
        Ok(snapshot)
    }

    /// The reference layout of `snapshot`, with explicit dates. `recent` fills
    /// `historical_arrays`; `end_date` is informational (the producer's longest forecast).
    pub fn from_snapshot(
        snapshot: &Snapshot,
        recent: Option<RecentArrays>,
        end_date: Option<NaiveDate>,
    ) -> Self {
        let s = snapshot;
        ReferenceSnapshot {
            start_date: Some(s.start_date),
            current_date: Some(s.current_date),
            end_date,
            smoothed_metrics: ReferenceSmoothed {
                raw_byte_power: s.smoothed.raw_byte_power,
                renewal_rate: s.smoothed.renewal_rate,
                filplus_rate: s.smoothed.filplus_rate,
            },
            historical_arrays: recent,
            offline_data: OfflineData {
                rb_power_zero: s.rb_power_zero,
                qa_power_zero: s.qa_power_zero,
                historical_raw_power_eib: s.historical_raw_power_eib.clone(),
                historical_qa_power_eib: s.historical_qa_power_eib.clone(),
                historical_onboarded_rb_power_pib: s.historical_onboarded_rb_power_pib.clone(),
                historical_onboarded_qa_power_pib: s.historical_onboarded_qa_power_pib.clone(),
                historical_renewed_qa_power_pib: s.historical_renewed_qa_power_pib.clone(),
                historical_renewed_rb_power_pib: s.historical_renewed_rb_power_pib.clone(),
                rb_known_scheduled_expire_vec: s.rb_known_scheduled_expire_vec.clone(),
                qa_known_scheduled_expire_vec: s.qa_known_scheduled_expire_vec.clone(),
                known_scheduled_pledge_release_full_vec: s.known_scheduled_pledge_release_full_vec.clone(),
                start_vested_amt: s.start_vested_amt,
                zero_cum_capped_power_eib: s.zero_cum_capped_power_eib,
                init_baseline_eib: s.init_baseline_eib,
                circ_supply_zero: s.circ_supply_zero,
                locked_fil_zero: s.locked_fil_zero,
                daily_burnt_fil: s.daily_burnt_fil,
                burnt_fil_vec: s.burnt_fil_vec.clone(),
                historical_renewal_rate: s.historical_renewal_rate.clone(),
                locked_reward_zero: s.locked_reward_zero,
            },
        }
    }
}

/// serde for an `f64` that is `null` when NaN or infinite (the reference's convention).
pub mod nullable_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes NaN/inf as `null`.
    pub fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() { s.serialize_f64(*value) } else { s.serialize_none() }
    }

    /// Reads `null` as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// serde for a `Vec<f64>` whose NaN/inf entries are `null`.
pub mod nullable_vec {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes NaN/inf entries as `null`.
    pub fn serialize<S: Serializer>(values: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(values.len()))?;
        for v in values {
            if v.is_finite() { seq.serialize_element(v)? } else { seq.serialize_element(&None::<f64>)? }
        }
        seq.end()
    }

    /// Reads `null` entries as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let raw = Vec::<Option<f64>>::deserialize(d)?;
        Ok(raw.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    }
}

/// serde for an integer that some producers write as a float with no fraction (`295824721.0`).
mod integral {
    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(*value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        struct IntegralVisitor;
        impl Visitor<'_> for IntegralVisitor {
            type Value = i64;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: Error>(self, v: i64) -> Result<i64, E> {
                Ok(v)
            }
            fn visit_u64<E: Error>(self, v: u64) -> Result<i64, E> {
                i64::try_from(v).map_err(|_| E::custom(format!("{v} is too large")))
            }
            fn visit_f64<E: Error>(self, v: f64) -> Result<i64, E> {
                // 2^63 is exactly representable; anything at or beyond it does not fit.
                if v.fract() == 0.0 && v.abs() < 2f64.powi(63) {
                    Ok(v as i64)
                } else {
                    Err(E::custom(format!("{v} is not an integer")))
                }
            }
        }
        d.deserialize_any(IntegralVisitor)
    }
}
