//! Units, kinds and meanings of the 44 output series, as the MCP tools report them.
//!
//! `mechafil-core` owns the names ([`SeriesName`]) and their date axes; this module adds what a
//! reader of a forecast needs to say a number correctly: its unit (power totals in EiB, daily
//! power flows in PiB/day, token amounts in FIL) and its kind (a stock is a level on a date, a
//! flow an amount per day, a cumulative series a running total whose daily increase
//! [`daily_rate`] computes). The table is an exhaustive `match`, so a series added to the core
//! fails to compile here until it is described. `context.md` repeats the table in prose; a test
//! in [`crate::context`] keeps the two in step.

use mechafil_core::{Axis, SeriesName};
use serde::Serialize;

/// What kind of quantity a series is, which decides how to read and combine its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A day number (days since the network start, 2020-10-15).
    Index,
    /// A level on the given date (power, supply, locked FIL).
    Stock,
    /// An amount per day on the given date (onboarding, rewards, vesting).
    Flow,
    /// A running total since the network start; its increase between two dates is the flow.
    Cumulative,
    /// A dimensionless ratio or rate.
    Ratio,
}

impl Kind {
    /// The lower-case name used in tool results and in `context.md`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Index => "index",
            Kind::Stock => "stock",
            Kind::Flow => "flow",
            Kind::Cumulative => "cumulative",
            Kind::Ratio => "ratio",
        }
    }
}

/// How one series is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesInfo {
    /// The unit of each value, e.g. `"FIL"`, `"PiB/day"`.
    pub unit: &'static str,
    /// Stock, flow, cumulative, ratio or index.
    pub kind: Kind,
    /// One line on what the series is.
    pub meaning: &'static str,
}

const FIL: &str = "FIL";
const FIL_PER_DAY: &str = "FIL/day";
const EIB: &str = "EiB";
const PIB_PER_DAY: &str = "PiB/day";

const fn info(unit: &'static str, kind: Kind, meaning: &'static str) -> SeriesInfo {
    SeriesInfo { unit, kind, meaning }
}

/// The unit, kind and meaning of `name`.
pub const fn series_info(name: SeriesName) -> SeriesInfo {
    use Kind::*;
    use SeriesName::*;
    match name {
        Days => info("day number", Index, "days since the network start (2020-10-15)"),
        RbTotalPowerEib | NetworkRbpEib => info(EIB, Stock, "network raw-byte power"),
        QaTotalPowerEib | NetworkQapEib => info(EIB, Stock, "network quality-adjusted power"),
        RbDayOnboardedPowerPib => info(PIB_PER_DAY, Flow, "raw-byte power onboarded per day"),
        RbDayRenewedPowerPib => info(PIB_PER_DAY, Flow, "raw-byte power renewed per day"),
        QaDayOnboardedPowerPib | DayOnboardedPowerQapPib => {
            info(PIB_PER_DAY, Flow, "quality-adjusted power onboarded per day")
        }
        QaDayRenewedPowerPib | DayRenewedPowerQapPib => {
            info(PIB_PER_DAY, Flow, "quality-adjusted power renewed per day")
        }
        FullRenewalRate => info("fraction", Ratio, "share of expiring raw-byte power that is renewed"),
        SixMonthVestSaft => info(FIL_PER_DAY, Flow, "daily vesting of the 6-month SAFT tranche"),
        OneYearVestSaft => info(FIL_PER_DAY, Flow, "daily vesting of the 1-year SAFT tranche"),
        TwoYearVestSaft => info(FIL_PER_DAY, Flow, "daily vesting of the 2-year SAFT tranche"),
        ThreeYearVestSaft => info(FIL_PER_DAY, Flow, "daily vesting of the 3-year SAFT tranche"),
        SixYearVestSaft => info(FIL_PER_DAY, Flow, "daily vesting of the 6-year SAFT tranche"),
        SixYearVestPl => info(FIL_PER_DAY, Flow, "daily vesting of Protocol Labs' 6-year tranche"),
        SixYearVestFoundation => {
            info(FIL_PER_DAY, Flow, "daily vesting of the Filecoin Foundation's 6-year tranche")
        }
        TotalDayVest => info(FIL_PER_DAY, Flow, "FIL vested per day, all tranches"),
        TotalVest => info(FIL, Cumulative, "FIL vested so far"),
        CumSimpleReward => info(FIL, Cumulative, "simple (exponential-decay) block rewards minted so far"),
        NetworkBaselineEib => info(EIB, Stock, "baseline power target"),
        CappedPowerEib => info(EIB, Stock, "raw-byte power capped at the baseline"),
        CumCappedPowerEib => info("EiB·day", Cumulative, "capped power summed over days"),
        NetworkTime => info("days", Stock, "effective network time of baseline minting"),
        CumBaselineReward => info(FIL, Cumulative, "baseline block rewards minted so far"),
        CumNetworkReward => info(FIL, Cumulative, "all block rewards minted so far"),
        DayNetworkReward => info(FIL_PER_DAY, Flow, "block rewards minted per day"),
        CircSupply => info(FIL, Stock, "circulating supply"),
        AvailableSupply => info(FIL, Stock, "available supply (circulating plus locked)"),
        NetworkGasBurn => info(FIL, Cumulative, "FIL burnt so far"),
        DayLockedPledge => info(FIL_PER_DAY, Flow, "pledge newly locked per day (onboarding and renewals)"),
        DayRenewedPledge => info(FIL_PER_DAY, Flow, "pledge locked per day for renewed sectors"),
        NetworkLockedPledge => info(FIL, Stock, "FIL locked as sector pledge"),
        NetworkLocked => info(FIL, Stock, "total locked FIL (pledge and vesting rewards)"),
        NetworkLockedReward => info(FIL, Stock, "block rewards locked while they vest (180 days)"),
        DisbursedReserve => info(FIL, Stock, "FIL disbursed from the mining reserve (constant)"),
        DayPledgePerQap => info("FIL/sector", Ratio, "pledge for one new 32 GiB QA sector"),
        DayRewardsPerSector => info("FIL/day per sector", Ratio, "daily reward of one 32 GiB QA sector"),
        RbSchedExpirePowerPib => info(PIB_PER_DAY, Flow, "raw-byte power scheduled to expire per day"),
        QaSchedExpirePowerPib => {
            info(PIB_PER_DAY, Flow, "quality-adjusted power scheduled to expire per day")
        }
        OneYearReturnPerSector => {
            info("FIL/sector", Ratio, "rewards of one 32 GiB QA sector over the year starting on its date")
        }
        OneYearSectorRoi => info("fraction", Ratio, "1-year return of a sector divided by its pledge"),
    }
}

/// Which dates a series' index counts from, in the words the tools use.
pub const fn axis_description(axis: Axis) -> &'static str {
    match axis {
        Axis::Daily => "simulation dates",
        Axis::Forecast => "forecast dates",
        Axis::OneYear => "sector start dates (the 365 days from each date must end inside the window)",
    }
}

/// The unit of the daily rate of a cumulative series (its unit per day).
pub fn daily_rate_unit(name: SeriesName) -> String {
    match series_info(name).unit {
        "EiB·day" => EIB.to_string(),
        unit => format!("{unit}/day"),
    }
}

/// The key under which a cumulative series' daily rate is returned: `<name>_daily_rate`.
pub fn daily_rate_key(name: SeriesName) -> String {
    format!("{}_daily_rate", name.as_str())
}

/// The average increase per day of a cumulative series sampled every `step_days` days.
///
/// Entry `i` is `(values[i] - values[i-1]) / step_days`: the mean daily flow over the
/// `step_days` days that end on sample `i`'s date. Entry 0 has no earlier sample and is `None`,
/// as is any entry next to a missing value. The result has the same length and dates as the
/// input, so the index-to-date rule of the series applies unchanged.
pub fn daily_rate(values: &[Option<f64>], step_days: u32) -> Vec<Option<f64>> {
    let step = f64::from(step_days.max(1));
    let mut rates = Vec::with_capacity(values.len());
    rates.extend(values.first().map(|_| None));
    rates.extend(values.windows(2).map(|pair| match (pair[0], pair[1]) {
        (Some(before), Some(after)) => Some((after - before) / step),
        _ => None,
    }));
    rates
}

/// Series returned when a `simulate` call names none: the usual questions in five series of
/// about 10,000 characters each for a 10-year weekly forecast.
pub const DEFAULT_METRICS: [SeriesName; 5] = [
    SeriesName::CircSupply,
    SeriesName::NetworkLocked,
    SeriesName::NetworkQapEib,
    SeriesName::DayNetworkReward,
    SeriesName::OneYearSectorRoi,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_units_follow_the_api_conventions() {
        // Totals are EiB, daily flows PiB/day: the reference's docs once said EiB/day.
        for name in SeriesName::ALL {
            let info = series_info(name);
            let lower = name.as_str().to_ascii_lowercase();
            if lower.ends_with("_eib") && !lower.starts_with("cum_") {
                assert_eq!(info.unit, EIB, "{name}");
            }
            if lower.ends_with("_pib") {
                assert_eq!(info.unit, PIB_PER_DAY, "{name}");
            }
            assert!(!info.unit.contains("EiB/day"), "{name}: {}", info.unit);
        }
    }

    #[test]
    fn cumulative_series_are_the_running_totals() {
        let cumulative: Vec<&str> = SeriesName::ALL
            .into_iter()
            .filter(|name| series_info(*name).kind == Kind::Cumulative)
            .map(SeriesName::as_str)
            .collect();
        assert_eq!(
            cumulative,
            [
                "total_vest",
                "cum_simple_reward",
                "cum_capped_power_EIB",
                "cum_baseline_reward",
                "cum_network_reward",
                "network_gas_burn"
            ]
        );
        assert_eq!(daily_rate_unit(SeriesName::CumNetworkReward), "FIL/day");
        assert_eq!(daily_rate_unit(SeriesName::CumCappedPowerEib), "EiB");
        assert_eq!(daily_rate_key(SeriesName::TotalVest), "total_vest_daily_rate");
    }

    #[test]
    fn daily_rate_is_the_backward_difference_per_day() {
        let weekly = [Some(0.0), Some(70.0), None, Some(210.0), Some(217.0)];
        assert_eq!(daily_rate(&weekly, 7), [None, Some(10.0), None, None, Some(1.0)]);
        assert_eq!(daily_rate(&[Some(5.0)], 7), [None]);
        assert!(daily_rate(&[], 7).is_empty());
        assert_eq!(daily_rate(&[Some(1.0), Some(4.0)], 1), [None, Some(3.0)]);
    }
}
