//! The 44 output series ([`SeriesName`]) and the buffer that holds one simulation's results
//! ([`SimOutput`]).
//!
//! All series live in one flat `Vec<f64>`, so a simulation allocates once, and a reused
//! `SimOutput` (see [`crate::Simulator::simulate_into`]) allocates nothing at all. Four daily
//! series are the same numbers under two names (`network_RBP_EIB` is `rb_total_power_eib`,
//! and so on, MODEL.md section 4); they share storage.

use chrono::{Days, NaiveDate};

/// Which dates a series covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Axis {
    /// One value per simulation day, `start_date ..= current_date + F - 1` (length `S = H - 1 + F`).
    Daily,
    /// One value per forecast day, `current_date ..= current_date + F - 1` (length F).
    Forecast,
    /// One value per sector start date `start_date + k` whose 365-day window ends inside the
    /// simulation (length `S - 364`, empty when S < 365).
    OneYear,
}

macro_rules! series_names {
    ($( $variant:ident = $name:literal, $axis:ident, $slot:expr; )*) => {
        /// One of the 44 output series, named as the reference names them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(non_camel_case_types, missing_docs)]
        pub enum SeriesName { $( $variant, )* }

        impl SeriesName {
            /// All 44 series, in MODEL.md's order.
            pub const ALL: [SeriesName; 44] = [ $( SeriesName::$variant, )* ];

            /// The reference name, e.g. `"circ_supply"`, `"1y_sector_roi"`.
            pub const fn as_str(self) -> &'static str {
                match self { $( SeriesName::$variant => $name, )* }
            }

            /// The dates this series covers.
            pub const fn axis(self) -> Axis {
                match self { $( SeriesName::$variant => Axis::$axis, )* }
            }

            /// Storage slot within its axis' block.
            const fn slot(self) -> usize {
                match self { $( SeriesName::$variant => $slot, )* }
            }
        }
    };
}

// Daily slots 0..36; the four aliases reuse the slot of the series they equal.
series_names! {
    Days = "days", Daily, 0;
    RbTotalPowerEib = "rb_total_power_eib", Daily, 1;
    QaTotalPowerEib = "qa_total_power_eib", Daily, 2;
    RbDayOnboardedPowerPib = "rb_day_onboarded_power_pib", Daily, 3;
    RbDayRenewedPowerPib = "rb_day_renewed_power_pib", Daily, 4;
    QaDayOnboardedPowerPib = "qa_day_onboarded_power_pib", Daily, 5;
    QaDayRenewedPowerPib = "qa_day_renewed_power_pib", Daily, 6;
    FullRenewalRate = "full_renewal_rate", Daily, 7;
    SixMonthVestSaft = "six_month_vest_saft", Daily, 8;
    OneYearVestSaft = "one_year_vest_saft", Daily, 9;
    TwoYearVestSaft = "two_year_vest_saft", Daily, 10;
    ThreeYearVestSaft = "three_year_vest_saft", Daily, 11;
    SixYearVestSaft = "six_year_vest_saft", Daily, 12;
    SixYearVestPl = "six_year_vest_pl", Daily, 13;
    SixYearVestFoundation = "six_year_vest_foundation", Daily, 14;
    TotalDayVest = "total_day_vest", Daily, 15;
    TotalVest = "total_vest", Daily, 16;
    NetworkRbpEib = "network_RBP_EIB", Daily, 1;
    NetworkQapEib = "network_QAP_EIB", Daily, 2;
    DayOnboardedPowerQapPib = "day_onboarded_power_QAP_PIB", Daily, 5;
    DayRenewedPowerQapPib = "day_renewed_power_QAP_PIB", Daily, 6;
    CumSimpleReward = "cum_simple_reward", Daily, 17;
    NetworkBaselineEib = "network_baseline_EIB", Daily, 18;
    CappedPowerEib = "capped_power_EIB", Daily, 19;
    CumCappedPowerEib = "cum_capped_power_EIB", Daily, 20;
    NetworkTime = "network_time", Daily, 21;
    CumBaselineReward = "cum_baseline_reward", Daily, 22;
    CumNetworkReward = "cum_network_reward", Daily, 23;
    DayNetworkReward = "day_network_reward", Daily, 24;
    CircSupply = "circ_supply", Daily, 25;
    AvailableSupply = "available_supply", Daily, 26;
    NetworkGasBurn = "network_gas_burn", Daily, 27;
    DayLockedPledge = "day_locked_pledge", Daily, 28;
    DayRenewedPledge = "day_renewed_pledge", Daily, 29;
    NetworkLockedPledge = "network_locked_pledge", Daily, 30;
    NetworkLocked = "network_locked", Daily, 31;
    NetworkLockedReward = "network_locked_reward", Daily, 32;
    DisbursedReserve = "disbursed_reserve", Daily, 33;
    DayPledgePerQap = "day_pledge_per_QAP", Daily, 34;
    DayRewardsPerSector = "day_rewards_per_sector", Daily, 35;
    RbSchedExpirePowerPib = "rb_sched_expire_power_pib", Forecast, 0;
    QaSchedExpirePowerPib = "qa_sched_expire_power_pib", Forecast, 1;
    OneYearReturnPerSector = "1y_return_per_sector", OneYear, 0;
    OneYearSectorRoi = "1y_sector_roi", OneYear, 1;
}

/// Distinct storage slots per axis.
pub(crate) const DAILY_SLOTS: usize = 36;
const FORECAST_SLOTS: usize = 2;
const ONE_YEAR_SLOTS: usize = 2;

impl SeriesName {
    /// Looks a series up by its reference name.
    pub fn from_name(name: &str) -> Option<SeriesName> {
        SeriesName::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Every valid name, in MODEL.md's order.
    pub fn names() -> impl Iterator<Item = &'static str> {
        SeriesName::ALL.into_iter().map(SeriesName::as_str)
    }
}

impl std::fmt::Display for SeriesName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SeriesName {
    type Err = UnknownSeries;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SeriesName::from_name(s).ok_or_else(|| UnknownSeries(s.to_string()))
    }
}

/// A name that is not one of the 44 series.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown series {name:?}; valid names: {valid}", name = .0, valid = SeriesName::names().collect::<Vec<_>>().join(", "))]
pub struct UnknownSeries(pub String);

/// The results of one simulation: all 44 series with their dates.
#[derive(Debug, Clone, Default)]
pub struct SimOutput {
    pub(crate) start_date: NaiveDate,
    pub(crate) current_date: NaiveDate,
    /// S, the number of simulation days.
    pub(crate) n_days: usize,
    /// F, the number of forecast days.
    pub(crate) forecast_len: usize,
    /// Daily slots, then forecast slots, then 1-year slots, each slot contiguous.
    pub(crate) buf: Vec<f64>,
}

impl SimOutput {
    /// Sizes the buffer for a simulation of `n_days` days of which `forecast_len` forecast,
    /// reusing its allocation. Contents are overwritten by the simulation.
    pub(crate) fn reset(
        &mut self,
        start_date: NaiveDate,
        current_date: NaiveDate,
        n_days: usize,
        forecast_len: usize,
    ) {
        self.start_date = start_date;
        self.current_date = current_date;
        self.n_days = n_days;
        self.forecast_len = forecast_len;
        let total =
            DAILY_SLOTS * n_days + FORECAST_SLOTS * forecast_len + ONE_YEAR_SLOTS * one_year_len(n_days);
        self.buf.clear();
        self.buf.resize(total, 0.0);
    }

    /// Splits the buffer into its daily, forecast and 1-year blocks (mutable).
    pub(crate) fn blocks_mut(&mut self) -> (&mut [f64], &mut [f64], &mut [f64]) {
        let (daily, rest) = self.buf.split_at_mut(DAILY_SLOTS * self.n_days);
        let (forecast, one_year) = rest.split_at_mut(FORECAST_SLOTS * self.forecast_len);
        (daily, forecast, one_year)
    }

    /// S: the number of simulation days (`start_date ..= current_date + F - 1`).
    pub fn n_days(&self) -> usize {
        self.n_days
    }

    /// F: the number of forecast days.
    pub fn forecast_len(&self) -> usize {
        self.forecast_len
    }

    /// First history day.
    pub fn start_date(&self) -> NaiveDate {
        self.start_date
    }

    /// The day the forecast starts from.
    pub fn current_date(&self) -> NaiveDate {
        self.current_date
    }

    /// The values of `name`.
    pub fn series(&self, name: SeriesName) -> &[f64] {
        let (offset, len) = match name.axis() {
            Axis::Daily => (name.slot() * self.n_days, self.n_days),
            Axis::Forecast => {
                (DAILY_SLOTS * self.n_days + name.slot() * self.forecast_len, self.forecast_len)
            }
            Axis::OneYear => {
                let len = one_year_len(self.n_days);
                (DAILY_SLOTS * self.n_days + FORECAST_SLOTS * self.forecast_len + name.slot() * len, len)
            }
        };
        &self.buf[offset..offset + len]
    }

    /// The values of the series with reference name `name`.
    pub fn get(&self, name: &str) -> Result<&[f64], UnknownSeries> {
        Ok(self.series(name.parse()?))
    }

    /// The date of index 0 of `name`.
    pub fn first_date(&self, name: SeriesName) -> NaiveDate {
        match name.axis() {
            Axis::Daily | Axis::OneYear => self.start_date,
            Axis::Forecast => self.current_date,
        }
    }

    /// The date of index `i` of `name` (`first_date + i`).
    pub fn date_at(&self, name: SeriesName, i: usize) -> NaiveDate {
        self.first_date(name) + Days::new(i as u64)
    }

    /// Every series with its name, in MODEL.md's order.
    pub fn iter(&self) -> impl Iterator<Item = (SeriesName, &[f64])> {
        SeriesName::ALL.into_iter().map(move |name| (name, self.series(name)))
    }
}

/// Length of the 1-year series for `n_days` simulation days.
pub(crate) fn one_year_len(n_days: usize) -> usize {
    n_days.saturating_sub(crate::constants::YEAR_WINDOW - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_round_trip() {
        let names: HashSet<_> = SeriesName::names().collect();
        assert_eq!(names.len(), 44);
        for s in SeriesName::ALL {
            assert_eq!(SeriesName::from_name(s.as_str()), Some(s));
        }
        assert!(SeriesName::from_name("circ").is_none());
    }

    #[test]
    fn slots_are_dense_and_only_documented_aliases_share() {
        let mut daily: Vec<Vec<&str>> = vec![Vec::new(); DAILY_SLOTS];
        for s in SeriesName::ALL.into_iter().filter(|s| s.axis() == Axis::Daily) {
            daily[s.slot()].push(s.as_str());
        }
        let shared: Vec<_> = daily.iter().filter(|names| names.len() > 1).cloned().collect();
        assert!(daily.iter().all(|names| !names.is_empty()), "a daily slot is unused");
        assert_eq!(
            shared,
            vec![
                vec!["rb_total_power_eib", "network_RBP_EIB"],
                vec!["qa_total_power_eib", "network_QAP_EIB"],
                vec!["qa_day_onboarded_power_pib", "day_onboarded_power_QAP_PIB"],
                vec!["qa_day_renewed_power_pib", "day_renewed_power_QAP_PIB"],
            ]
        );
    }

    #[test]
    fn unknown_series_lists_valid_names() {
        let err = "nope".parse::<SeriesName>().unwrap_err().to_string();
        assert!(err.contains("circ_supply") && err.contains("1y_sector_roi"), "{err}");
    }
}
