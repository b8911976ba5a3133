//! Simulation parameters: what a caller may ask for ([`SimParams`]) and the validated form the
//! model runs on ([`ValidParams`]).
//!
//! Validation happens once, in [`SimParams::validate`], and reports every problem at once, each
//! naming the parameter, what was wrong and what is allowed, by the rules of [`crate::rules`].
//! Downstream code never re-checks.

use serde::{Deserialize, Serialize};

use crate::rules::Param;
use crate::snapshot::Snapshot;

/// Longest forecast accepted, in days (20 years).
///
/// Why 20 years: it is twice the reference service's default horizon and past every vesting
/// tranche and the FIP-81 ramp, while bounding memory: one simulation holds
/// 36 daily series of `H - 1 + F` values plus four shorter ones, about 3 MB at this limit
/// with today's ~3 years of history, and a prepared [`crate::Simulator`] caches its
/// parameter-independent series for this horizon once (under 1 MB).
pub const MAX_FORECAST_DAYS: usize = 7300;
/// Forecast length when none is given and no series parameter implies one.
pub const DEFAULT_FORECAST_DAYS: usize = 3650;
/// Average sector duration when none is given, days.
pub const DEFAULT_SECTOR_DURATION_DAYS: usize = 540;
/// Lock target when none is given.
pub const DEFAULT_LOCK_TARGET: f64 = 0.3;
/// FIL+ QA multiplier when none is given.
pub const DEFAULT_FIL_PLUS_M: f64 = 10.0;
/// QA renewal multiplier when none is given.
pub const DEFAULT_QA_RENEW_RELATIVE_MULTIPLIER: f64 = 1.0;
/// Burn multiplier when none is given.
pub const DEFAULT_BURN_BOOST: f64 = 1.0;

/// A parameter that is either one value for the whole forecast or one value per forecast day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Knob {
    /// The same value every day.
    Scalar(f64),
    /// One value per forecast day (length `forecast_length_days`).
    Series(Vec<f64>),
}

impl Knob {
    /// The value on forecast day `k` (a series must have been validated to cover `k`).
    #[inline]
    pub fn at(&self, k: usize) -> f64 {
        match self {
            Knob::Scalar(v) => *v,
            Knob::Series(values) => values[k],
        }
    }

    /// Writes the value of every forecast day into `out` (its length is the forecast length).
    pub fn fill(&self, out: &mut [f64]) {
        match self {
            Knob::Scalar(v) => out.fill(*v),
            Knob::Series(values) => out.copy_from_slice(&values[..out.len()]),
        }
    }

    /// The series length, or `None` for a scalar.
    pub fn series_len(&self) -> Option<usize> {
        match self {
            Knob::Scalar(_) => None,
            Knob::Series(values) => Some(values.len()),
        }
    }
}

impl From<f64> for Knob {
    fn from(v: f64) -> Self {
        Knob::Scalar(v)
    }
}

impl From<Vec<f64>> for Knob {
    fn from(v: Vec<f64>) -> Self {
        Knob::Series(v)
    }
}

/// What a caller asks for. Every field is optional; `None` means the documented default.
///
/// ```
/// use mechafil_core::{Knob, SimParams};
/// let params = SimParams {
///     forecast_length_days: Some(365),
///     rr: Some(Knob::Scalar(0.6)),
///     ..SimParams::default()
/// };
/// assert_eq!(params.lock_target, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimParams {
    /// Raw-byte onboarding, PiB/day, 0..=10000. Default: the snapshot's smoothed value.
    pub rbp: Option<Knob>,
    /// Renewal rate, 0..=1. Default: the snapshot's smoothed value.
    pub rr: Option<Knob>,
    /// FIL+ rate, 0..=1. Default: the snapshot's smoothed value.
    pub fpr: Option<Knob>,
    /// Lock target, 0..=1. Default 0.3.
    pub lock_target: Option<Knob>,
    /// Forecast length F in days, 1..=[`MAX_FORECAST_DAYS`]. Default: the length of the series
    /// parameters if any are given, else 3650.
    #[serde(deserialize_with = "day_count::deserialize")]
    pub forecast_length_days: Option<usize>,
    /// Average sector duration in days, 1..=3650. Default 540.
    #[serde(deserialize_with = "day_count::deserialize")]
    pub sector_duration_days: Option<usize>,
    /// FIL+ QA multiplier, in (0, 1000]. Default 10.
    pub fil_plus_m: Option<Knob>,
    /// Multiplier of the renewal rate for QA power, 0..=10, with `rr` times it <= 1. Default 1.
    pub qa_renew_relative_multiplier: Option<Knob>,
    /// Multiplier of the daily gas burn after the history, 0..=1000. Default 1.
    pub burn_boost: Option<f64>,
    /// Base new pledges on available rather than circulating supply. Default false.
    pub use_available_supply: Option<bool>,
    /// Replaces the computed baseline: EiB per simulation day (length `H - 1 + F`), >= 0.
    pub baseline_function_eib: Option<Vec<f64>>,
}

/// Parameters that passed validation against one snapshot: every series has length F and
/// every value is in range. Serializes to the values actually used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidParams {
    pub(crate) rbp: Knob,
    pub(crate) rr: Knob,
    pub(crate) fpr: Knob,
    pub(crate) lock_target: Knob,
    pub(crate) forecast_length_days: usize,
    pub(crate) sector_duration_days: usize,
    pub(crate) fil_plus_m: Knob,
    pub(crate) qa_renew_relative_multiplier: Knob,
    pub(crate) burn_boost: f64,
    pub(crate) use_available_supply: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) baseline_function_eib: Option<Vec<f64>>,
}

#[allow(missing_docs)] // Accessors mirror the documented fields of `SimParams`.
impl ValidParams {
    pub fn rbp(&self) -> &Knob {
        &self.rbp
    }
    pub fn rr(&self) -> &Knob {
        &self.rr
    }
    pub fn fpr(&self) -> &Knob {
        &self.fpr
    }
    pub fn lock_target(&self) -> &Knob {
        &self.lock_target
    }
    pub fn forecast_length_days(&self) -> usize {
        self.forecast_length_days
    }
    pub fn sector_duration_days(&self) -> usize {
        self.sector_duration_days
    }
    pub fn fil_plus_m(&self) -> &Knob {
        &self.fil_plus_m
    }
    pub fn qa_renew_relative_multiplier(&self) -> &Knob {
        &self.qa_renew_relative_multiplier
    }
    pub fn burn_boost(&self) -> f64 {
        self.burn_boost
    }
    pub fn use_available_supply(&self) -> bool {
        self.use_available_supply
    }
    pub fn baseline_function_eib(&self) -> Option<&[f64]> {
        self.baseline_function_eib.as_deref()
    }
}

impl ValidParams {
    /// The value of a single-number parameter (one of [`Param::SCALAR_KNOBS`]), or `None`
    /// when it is a per-day series (or not a number).
    pub fn scalar(&self, param: Param) -> Option<f64> {
        match param {
            Param::SectorDurationDays => Some(self.sector_duration_days as f64),
            Param::BurnBoost => Some(self.burn_boost),
            Param::ForecastLengthDays => Some(self.forecast_length_days as f64),
            Param::UseAvailableSupply => None,
            knob => match self.knob(knob)? {
                Knob::Scalar(v) => Some(*v),
                Knob::Series(_) => None,
            },
        }
    }

    fn knob(&self, param: Param) -> Option<&Knob> {
        Some(match param {
            Param::Rbp => &self.rbp,
            Param::Rr => &self.rr,
            Param::Fpr => &self.fpr,
            Param::LockTarget => &self.lock_target,
            Param::FilPlusM => &self.fil_plus_m,
            Param::QaRenewRelativeMultiplier => &self.qa_renew_relative_multiplier,
            _ => return None,
        })
    }

    fn knob_mut(&mut self, param: Param) -> Option<&mut Knob> {
        Some(match param {
            Param::Rbp => &mut self.rbp,
            Param::Rr => &mut self.rr,
            Param::Fpr => &mut self.fpr,
            Param::LockTarget => &mut self.lock_target,
            Param::FilPlusM => &mut self.fil_plus_m,
            Param::QaRenewRelativeMultiplier => &mut self.qa_renew_relative_multiplier,
            _ => return None,
        })
    }

    /// Sets a single-number parameter (one of [`Param::SCALAR_KNOBS`]) to `value`, checked by
    /// its rules (whole days for `sector_duration_days`) and the joint rule of `rr` and
    /// `qa_renew_relative_multiplier`; on error nothing changes. See [`ValidParams::set`].
    ///
    /// ```
    /// # fn demo(sim: &mechafil_core::Simulator) -> Result<(), Box<dyn std::error::Error>> {
    /// use mechafil_core::{Param, SimParams};
    /// let mut params = sim.validate(&SimParams::default())?;
    /// params.set_scalar(Param::Rr, 0.6)?;
    /// assert!(params.set_scalar(Param::Rr, 1.5).is_err());
    /// # Ok(()) }
    /// ```
    pub fn set_scalar(&mut self, param: Param, value: f64) -> Result<(), InvalidParams> {
        self.set(vec![(param, Knob::Scalar(value))])
    }

    /// Sets several parameters at once: scalars for any of [`Param::SCALAR_KNOBS`], per-day
    /// series (of the forecast length) for the six knobs. Each value is checked by its rules and
    /// the result by the joint rule (`rr` x `qa_renew_relative_multiplier` <= 1), so changing
    /// both together is judged on the final pair. On error nothing changes.
    pub fn set(&mut self, changes: Vec<(Param, Knob)>) -> Result<(), InvalidParams> {
        let mut check = Checker { errors: Vec::new() };
        let f = self.forecast_length_days;
        for (param, knob) in &changes {
            match (param, knob) {
                (Param::SectorDurationDays, Knob::Scalar(value)) => {
                    if value.fract() != 0.0 || !value.is_finite() || *value < 0.0 {
                        check.push(*param, ParamProblem::NotWholeDays { value: *value });
                    } else {
                        check.days(*param, *value as usize);
                    }
                }
                (Param::BurnBoost, Knob::Scalar(value)) => {
                    check.value(*param, None, *value);
                }
                (knob_param, knob) if self.knob(*knob_param).is_some() => {
                    check.knob(*knob_param, knob, f, "forecast_length_days");
                }
                (other, _) => check.push(*other, ParamProblem::NotAScalarKnob),
            }
        }
        if check.errors.is_empty() {
            let changed = |p: Param| changes.iter().rev().find(|(q, _)| *q == p).map(|(_, k)| k);
            let rr = changed(Param::Rr).unwrap_or(&self.rr);
            let mult =
                changed(Param::QaRenewRelativeMultiplier).unwrap_or(&self.qa_renew_relative_multiplier);
            check.qa_renewal_rate(rr, mult, f);
        }
        check.finish()?;
        for (param, knob) in changes {
            match (param, knob) {
                (Param::SectorDurationDays, Knob::Scalar(v)) => self.sector_duration_days = v as usize,
                (Param::BurnBoost, Knob::Scalar(v)) => self.burn_boost = v,
                (p, knob) => *self.knob_mut(p).expect("checked above") = knob,
            }
        }
        Ok(())
    }
}

/// One problem with one parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{param}: {problem}")]
pub struct ParamError {
    /// The parameter's name (`rbp`, `forecast_length_days`, ...).
    pub param: &'static str,
    /// What is wrong with it.
    pub problem: ParamProblem,
}

/// What is wrong with a parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamProblem {
    /// NaN or infinite.
    #[error("{} is {value}; it must be a finite number", at(*index))]
    NotFinite {
        /// Series position, for series.
        index: Option<usize>,
        /// The value.
        value: f64,
    },
    /// A value outside the allowed range.
    #[error("{} is {value}; allowed: {allowed}", at(*index))]
    OutOfRange {
        /// Series position, for series.
        index: Option<usize>,
        /// The value (integers are shown exactly).
        value: f64,
        /// The allowed range, e.g. `0 <= x <= 1`.
        allowed: String,
    },
    /// An integer parameter outside its range.
    #[error("{value} is not allowed; allowed: {allowed}")]
    IntOutOfRange {
        /// The value.
        value: usize,
        /// The allowed range.
        allowed: String,
    },
    /// A series whose length is not the forecast length.
    #[error("the series has {actual} values but must have {expected} ({reason})")]
    WrongLength {
        /// Required length.
        expected: usize,
        /// Given length.
        actual: usize,
        /// Where the required length comes from.
        reason: String,
    },
    /// The snapshot's default for this parameter is unusable.
    #[error("the snapshot's default {value} is not usable ({allowed}); give this parameter explicitly")]
    BadDefault {
        /// The snapshot's value.
        value: f64,
        /// The allowed range.
        allowed: String,
    },
    /// A fractional or negative number of days.
    #[error("{value} is not a whole number of days")]
    NotWholeDays {
        /// The value.
        value: f64,
    },
    /// Not a parameter that takes a single number.
    #[error("not a parameter that can be set to a number here")]
    NotAScalarKnob,
    /// `rr * qa_renew_relative_multiplier` (the QA renewal rate) above 1.
    #[error(
        "{}rr {rr} times qa_renew_relative_multiplier {multiplier} is {product}, a QA renewal rate above 1 \
         (renewed QA power would grow without bound); keep the product <= 1",
        at_day(*index)
    )]
    QaRenewalAboveOne {
        /// Forecast day, when either is a series.
        index: Option<usize>,
        /// The renewal rate that day.
        rr: f64,
        /// The multiplier that day.
        multiplier: f64,
        /// Their product.
        product: f64,
    },
}

fn at_day(index: Option<usize>) -> String {
    index.map(|i| format!("on forecast day {i}, ")).unwrap_or_default()
}

fn at(index: Option<usize>) -> String {
    match index {
        Some(i) => format!("value [{i}]"),
        None => "the value".to_string(),
    }
}

/// Every problem found in one [`SimParams`]; never empty.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid parameters: {}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct InvalidParams {
    /// The problems, in parameter order.
    pub errors: Vec<ParamError>,
}

/// Accumulates problems while validating.
struct Checker {
    errors: Vec<ParamError>,
}

impl Checker {
    fn push(&mut self, param: Param, problem: ParamProblem) {
        self.errors.push(ParamError { param: param.name(), problem });
    }

    /// Checks one value against `param`'s bounds; returns whether it was fine.
    fn value(&mut self, param: Param, index: Option<usize>, value: f64) -> bool {
        let bounds = param.bounds().expect("a numeric parameter");
        if !value.is_finite() {
            self.push(param, ParamProblem::NotFinite { index, value });
            false
        } else if !bounds.contains(value) {
            self.push(param, ParamProblem::OutOfRange { index, value, allowed: bounds.describe() });
            false
        } else {
            true
        }
    }

    /// Checks a series' values, reporting at most the first bad one (a 7300-value series full
    /// of NaN should give one clear message, not thousands).
    fn series(&mut self, param: Param, values: &[f64]) -> bool {
        values.iter().enumerate().all(|(i, &v)| self.value(param, Some(i), v))
    }

    /// Checks a knob; returns whether it was fine.
    fn knob(&mut self, param: Param, knob: &Knob, forecast_len: usize, reason: &str) -> bool {
        match knob {
            Knob::Scalar(v) => self.value(param, None, *v),
            Knob::Series(values) if values.len() != forecast_len => {
                self.push(
                    param,
                    ParamProblem::WrongLength {
                        expected: forecast_len,
                        actual: values.len(),
                        reason: reason.to_string(),
                    },
                );
                false
            }
            Knob::Series(values) => self.series(param, values),
        }
    }

    /// A whole number of days within `param`'s bounds.
    fn days(&mut self, param: Param, value: usize) -> bool {
        let bounds = param.bounds().expect("a numeric parameter");
        let ok = bounds.contains(value as f64);
        if !ok {
            self.push(
                param,
                ParamProblem::IntOutOfRange {
                    value,
                    allowed: format!("{} <= days <= {}", bounds.min, bounds.max),
                },
            );
        }
        ok
    }
}

impl SimParams {
    /// The knobs that may be series, with their names, in documentation order.
    fn knobs(&self) -> [(Param, Option<&Knob>); 6] {
        [
            (Param::Rbp, self.rbp.as_ref()),
            (Param::Rr, self.rr.as_ref()),
            (Param::Fpr, self.fpr.as_ref()),
            (Param::LockTarget, self.lock_target.as_ref()),
            (Param::FilPlusM, self.fil_plus_m.as_ref()),
            (Param::QaRenewRelativeMultiplier, self.qa_renew_relative_multiplier.as_ref()),
        ]
    }

    /// The forecast length these parameters imply, and why: explicit, else the length of the
    /// first series parameter, else the default.
    pub fn implied_forecast_len(&self) -> (usize, String) {
        if let Some(f) = self.forecast_length_days {
            return (f, "forecast_length_days".to_string());
        }
        for (param, knob) in self.knobs() {
            if let Some(len) = knob.and_then(Knob::series_len) {
                return (len, format!("the length of {param}, as forecast_length_days is not given"));
            }
        }
        (DEFAULT_FORECAST_DAYS, "the default forecast_length_days".to_string())
    }

    /// Validates against `snapshot` (whose smoothed metrics are the rbp/rr/fpr defaults),
    /// following the rules of [`crate::rules`].
    pub fn validate(&self, snapshot: &Snapshot) -> Result<ValidParams, InvalidParams> {
        let mut check = Checker { errors: Vec::new() };
        let (forecast_len, reason) = self.implied_forecast_len();
        let forecast_ok = check.days(Param::ForecastLengthDays, forecast_len);
        let duration = self.sector_duration_days.unwrap_or(DEFAULT_SECTOR_DURATION_DAYS);
        check.days(Param::SectorDurationDays, duration);
        let mut knobs_ok = [true; 6];
        if forecast_ok {
            for ((param, knob), ok) in self.knobs().into_iter().zip(&mut knobs_ok) {
                if let Some(knob) = knob {
                    *ok = check.knob(param, knob, forecast_len, &reason);
                }
            }
        }
        let smoothed = snapshot.smoothed;
        let mut default = |param: Param, value: f64| {
            let bounds = param.bounds().expect("a numeric parameter");
            if !(value.is_finite() && bounds.contains(value)) {
                check.push(param, ParamProblem::BadDefault { value, allowed: bounds.describe() });
            }
            Knob::Scalar(value)
        };
        let rbp = self.rbp.clone().unwrap_or_else(|| default(Param::Rbp, smoothed.raw_byte_power));
        let rr = self.rr.clone().unwrap_or_else(|| default(Param::Rr, smoothed.renewal_rate));
        let fpr = self.fpr.clone().unwrap_or_else(|| default(Param::Fpr, smoothed.filplus_rate));
        let qa_renew_relative_multiplier = self
            .qa_renew_relative_multiplier
            .clone()
            .unwrap_or(Knob::Scalar(DEFAULT_QA_RENEW_RELATIVE_MULTIPLIER));
        // The QA renewal rate is rr times the multiplier: above 1, renewals of renewals grow
        // geometrically (by that factor every sector duration) until f64 overflows.
        let [_, rr_ok, .., mult_ok] = knobs_ok;
        if forecast_ok && rr_ok && mult_ok {
            check.qa_renewal_rate(&rr, &qa_renew_relative_multiplier, forecast_len);
        }
        let burn_boost = self.burn_boost.unwrap_or(DEFAULT_BURN_BOOST);
        check.value(Param::BurnBoost, None, burn_boost);
        if let Some(baseline) = &self.baseline_function_eib {
            let n_days = snapshot.history_len() - 1 + forecast_len;
            if !forecast_ok {
                // The required length is unknown; the forecast length error says why.
            } else if baseline.len() != n_days {
                check.errors.push(ParamError {
                    param: "baseline_function_eib",
                    problem: ParamProblem::WrongLength {
                        expected: n_days,
                        actual: baseline.len(),
                        reason: format!(
                            "one value per simulation day: {} history days - 1 + forecast length {forecast_len}",
                            snapshot.history_len()
                        ),
                    },
                });
            } else if let Some((index, &value)) =
                baseline.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v >= 0.0))
            {
                let problem = if value.is_finite() {
                    ParamProblem::OutOfRange { index: Some(index), value, allowed: "x >= 0".to_string() }
                } else {
                    ParamProblem::NotFinite { index: Some(index), value }
                };
                check.errors.push(ParamError { param: "baseline_function_eib", problem });
            }
        }
        if !check.errors.is_empty() {
            return Err(InvalidParams { errors: check.errors });
        }
        Ok(ValidParams {
            rbp,
            rr,
            fpr,
            lock_target: self.lock_target.clone().unwrap_or(Knob::Scalar(DEFAULT_LOCK_TARGET)),
            forecast_length_days: forecast_len,
            sector_duration_days: duration,
            fil_plus_m: self.fil_plus_m.clone().unwrap_or(Knob::Scalar(DEFAULT_FIL_PLUS_M)),
            qa_renew_relative_multiplier,
            burn_boost,
            use_available_supply: self.use_available_supply.unwrap_or(false),
            baseline_function_eib: self.baseline_function_eib.clone(),
        })
    }
}

impl Checker {
    fn finish(self) -> Result<(), InvalidParams> {
        if self.errors.is_empty() { Ok(()) } else { Err(InvalidParams { errors: self.errors }) }
    }

    /// `rr[k] * qa_renew_relative_multiplier[k] <= 1` on every forecast day (first violation).
    fn qa_renewal_rate(&mut self, rr: &Knob, mult: &Knob, forecast_len: usize) {
        let bad = (0..forecast_len).map(|k| (k, rr.at(k) * mult.at(k))).find(|&(_, q)| q > 1.0);
        if let Some((k, q)) = bad {
            let index = matches!((rr, mult), (Knob::Series(_), _) | (_, Knob::Series(_))).then_some(k);
            self.push(
                Param::QaRenewRelativeMultiplier,
                ParamProblem::QaRenewalAboveOne { index, rr: rr.at(k), multiplier: mult.at(k), product: q },
            );
        }
    }
}

/// serde for a day count that producers may write as `365` or `365.0`.
mod day_count {
    use serde::Deserializer;
    use serde::de::{Error, Visitor};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        struct CountVisitor;
        impl<'de> Visitor<'de> for CountVisitor {
            type Value = Option<usize>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a whole number of days or null")
            }
            fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                d.deserialize_any(self)
            }
            fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
                usize::try_from(v).map(Some).map_err(|_| E::custom(format!("{v} days is too many")))
            }
            fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
                usize::try_from(v)
                    .map(Some)
                    .map_err(|_| E::custom(format!("{v} is negative; expected a whole number of days")))
            }
            fn visit_f64<E: Error>(self, v: f64) -> Result<Self::Value, E> {
                if v.fract() == 0.0 && (0.0..=1e15).contains(&v) {
                    Ok(Some(v as usize))
                } else {
                    Err(E::custom(format!("{v} is not a whole non-negative number of days")))
                }
            }
        }
        d.deserialize_option(CountVisitor)
    }
}
