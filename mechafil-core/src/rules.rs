//! The rules of every simulation parameter, in one place: name, unit, meaning, kind, allowed
//! values and default. [`SimParams::validate`](crate::SimParams::validate) enforces them; the
//! API's validation, its OpenAPI document and the MCP server's argument checks are derived from
//! this table (or tested against it), so a rule is changed here and nowhere else.
//!
//! The upper bounds are not the reference's (it has none): they keep every forecast finite.
//! Past them the model overflows f64 (onboarding of 1e308 PiB/day) or stops meaning anything
//! (sectors of a hundred years), and an answer full of `null` helps nobody. Whether the bounds
//! are enough is tested at the corners of the parameter space (`tests/properties.rs`).

use crate::params::{DEFAULT_FORECAST_DAYS, MAX_FORECAST_DAYS};

/// The allowed values of a number: `min <= x` (`min < x` when `min_exclusive`) and `x <= max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Lower bound.
    pub min: f64,
    /// Whether the lower bound itself is excluded.
    pub min_exclusive: bool,
    /// Upper bound (included).
    pub max: f64,
}

impl Bounds {
    const fn closed(min: f64, max: f64) -> Bounds {
        Bounds { min, min_exclusive: false, max }
    }

    /// Whether `x` is allowed (NaN never is).
    pub fn contains(&self, x: f64) -> bool {
        let above = if self.min_exclusive { x > self.min } else { x >= self.min };
        above && x <= self.max
    }

    /// The rule in words, e.g. `0 <= x <= 1`.
    pub fn describe(&self) -> String {
        let op = if self.min_exclusive { "<" } else { "<=" };
        format!("{} {op} x <= {}", self.min, self.max)
    }
}

/// What values a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A number, or one number per forecast day.
    Knob,
    /// A number (never a series).
    Number,
    /// A whole number of days.
    Days,
    /// `true` or `false`.
    Bool,
}

/// Where a parameter's value comes from when the caller does not give it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamDefault {
    /// The snapshot's smoothed metric (the median of its last 30 days of history).
    Smoothed,
    /// A fixed number.
    Value(f64),
    /// A fixed boolean.
    Flag(bool),
    /// The length of a series parameter if one is given, else this many days.
    ForecastLength(usize),
}

/// The rules of one parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamRule {
    /// What it is.
    pub param: Param,
    /// Its unit, empty for dimensionless numbers.
    pub unit: &'static str,
    /// One sentence for documentation and schemas.
    pub description: &'static str,
    /// What values it takes.
    pub kind: ParamKind,
    /// Allowed values (`None` for booleans).
    pub bounds: Option<Bounds>,
    /// The default.
    pub default: ParamDefault,
}

macro_rules! params {
    ($( $variant:ident = $name:literal; )*) => {
        /// A simulation parameter of `/simulate` (every field but `output`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum Param { $( $variant, )* }

        impl Param {
            /// Every parameter, in documentation order.
            pub const ALL: [Param; [$( Param::$variant, )*].len()] = [ $( Param::$variant, )* ];

            /// Its name in requests, e.g. `"rbp"`.
            pub const fn name(self) -> &'static str {
                match self { $( Param::$variant => $name, )* }
            }
        }
    };
}

params! {
    Rbp = "rbp";
    Rr = "rr";
    Fpr = "fpr";
    LockTarget = "lock_target";
    ForecastLengthDays = "forecast_length_days";
    SectorDurationDays = "sector_duration_days";
    FilPlusM = "fil_plus_m";
    QaRenewRelativeMultiplier = "qa_renew_relative_multiplier";
    BurnBoost = "burn_boost";
    UseAvailableSupply = "use_available_supply";
}

/// Highest raw-byte onboarding accepted, PiB/day (today's network onboards a few PiB/day).
pub const MAX_RBP: f64 = 10_000.0;
/// Longest average sector duration accepted, days (10 years; Filecoin sectors last up to 5).
pub const MAX_SECTOR_DURATION_DAYS: usize = 3650;

const RULES: [ParamRule; Param::ALL.len()] = [
    ParamRule {
        param: Param::Rbp,
        unit: "PiB/day",
        description: "Raw-byte power onboarded per day. Default: the snapshot's 30-day median.",
        kind: ParamKind::Knob,
        bounds: Some(Bounds::closed(0.0, MAX_RBP)),
        default: ParamDefault::Smoothed,
    },
    ParamRule {
        param: Param::Rr,
        unit: "",
        description: "Sector renewal rate: the share of expiring power renewed. Default: the snapshot's 30-day median.",
        kind: ParamKind::Knob,
        bounds: Some(Bounds::closed(0.0, 1.0)),
        default: ParamDefault::Smoothed,
    },
    ParamRule {
        param: Param::Fpr,
        unit: "",
        description: "FIL+ rate: the share of onboarding that is verified deals. Default: the snapshot's 30-day median.",
        kind: ParamKind::Knob,
        bounds: Some(Bounds::closed(0.0, 1.0)),
        default: ParamDefault::Smoothed,
    },
    ParamRule {
        param: Param::LockTarget,
        unit: "",
        description: "Pledge lock target: the share of circulating supply new pledges aim to lock. Default 0.3.",
        kind: ParamKind::Knob,
        bounds: Some(Bounds::closed(0.0, 1.0)),
        default: ParamDefault::Value(crate::params::DEFAULT_LOCK_TARGET),
    },
    ParamRule {
        param: Param::ForecastLengthDays,
        unit: "days",
        description: "Forecast length F. Default: the length of a list parameter, else 3650 (10 years).",
        kind: ParamKind::Days,
        bounds: Some(Bounds::closed(1.0, MAX_FORECAST_DAYS as f64)),
        default: ParamDefault::ForecastLength(DEFAULT_FORECAST_DAYS),
    },
    ParamRule {
        param: Param::SectorDurationDays,
        unit: "days",
        description: "Average sector duration (commitment length). Default 540.",
        kind: ParamKind::Days,
        bounds: Some(Bounds::closed(1.0, MAX_SECTOR_DURATION_DAYS as f64)),
        default: ParamDefault::Value(crate::params::DEFAULT_SECTOR_DURATION_DAYS as f64),
    },
    ParamRule {
        param: Param::FilPlusM,
        unit: "",
        description: "FIL+ quality-adjusted power multiplier of verified deals. Default 10.",
        kind: ParamKind::Knob,
        bounds: Some(Bounds { min: 0.0, min_exclusive: true, max: 1000.0 }),
        default: ParamDefault::Value(crate::params::DEFAULT_FIL_PLUS_M),
    },
    ParamRule {
        param: Param::QaRenewRelativeMultiplier,
        unit: "",
        description: "Renewal rate of QA power relative to raw-byte power; rr times it (the QA renewal rate) must stay <= 1. Default 1.",
        kind: ParamKind::Knob,
        bounds: Some(Bounds::closed(0.0, 10.0)),
        default: ParamDefault::Value(crate::params::DEFAULT_QA_RENEW_RELATIVE_MULTIPLIER),
    },
    ParamRule {
        param: Param::BurnBoost,
        unit: "",
        description: "Multiplier of the daily gas burn after the history (a number, not a list). Default 1.",
        kind: ParamKind::Number,
        bounds: Some(Bounds::closed(0.0, 1000.0)),
        default: ParamDefault::Value(crate::params::DEFAULT_BURN_BOOST),
    },
    ParamRule {
        param: Param::UseAvailableSupply,
        unit: "",
        description: "Base new pledges on available instead of circulating supply. Default false.",
        kind: ParamKind::Bool,
        bounds: None,
        default: ParamDefault::Flag(false),
    },
];

impl Param {
    /// The parameters an analysis can vary, sweep, solve for or differentiate: every scalar
    /// number (the knobs, `burn_boost` and `sector_duration_days`).
    pub const SCALAR_KNOBS: [Param; 8] = [
        Param::Rbp,
        Param::Rr,
        Param::Fpr,
        Param::LockTarget,
        Param::SectorDurationDays,
        Param::FilPlusM,
        Param::QaRenewRelativeMultiplier,
        Param::BurnBoost,
    ];

    /// Looks a parameter up by its request name.
    pub fn from_name(name: &str) -> Option<Param> {
        Param::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Its rules.
    pub fn rule(self) -> &'static ParamRule {
        &RULES[self as usize]
    }

    /// Its allowed values (`None` for `use_available_supply`).
    pub fn bounds(self) -> Option<Bounds> {
        self.rule().bounds
    }

    /// Whether it takes whole numbers only.
    pub fn is_integer(self) -> bool {
        self.rule().kind == ParamKind::Days
    }

    /// Whether it is a rate in `0..=1` (random walks of rates run in logit space).
    pub fn is_rate(self) -> bool {
        self.bounds().is_some_and(|b| b.min == 0.0 && !b.min_exclusive && b.max == 1.0)
    }
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_indexed_by_param() {
        for p in Param::ALL {
            assert_eq!(p.rule().param, p);
            assert_eq!(Param::from_name(p.name()), Some(p));
        }
        assert_eq!(Param::from_name("output"), None);
    }

    #[test]
    fn bounds_describe_and_contain() {
        let unit = Param::Rr.bounds().unwrap();
        assert_eq!(unit.describe(), "0 <= x <= 1");
        assert!(
            unit.contains(0.0) && unit.contains(1.0) && !unit.contains(1.0000001) && !unit.contains(f64::NAN)
        );
        let m = Param::FilPlusM.bounds().unwrap();
        assert_eq!(m.describe(), "0 < x <= 1000");
        assert!(!m.contains(0.0) && m.contains(1e-9));
        assert!(Param::Rr.is_rate() && Param::LockTarget.is_rate() && !Param::Rbp.is_rate());
        assert!(Param::SectorDurationDays.is_integer() && !Param::BurnBoost.is_integer());
    }
}
