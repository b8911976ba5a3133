//! The 44 output series ([`SeriesName`]) and the buffer that holds one simulation's results
//! ([`SimOutput`]).
//!
//! All series live in one flat `Vec<f64>`, so a simulation allocates once, and a reused
//! `SimOutput` (see [`crate::Simulator::simulate_into`]) allocates nothing at all. Four daily
//! series are the same numbers under two names (`network_RBP_EIB` is `rb_total_power_eib`,
//! and so on, MODEL.md section 4); they share storage.

use std::sync::Arc;

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

/// Where a series' values live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    /// A daily series computed per run, in the output's own buffer.
    Local(usize),
    /// A daily series that does not depend on the parameters, shared by every run on the same
    /// prepared snapshot ([`SharedDaily`]).
    Shared(usize),
    /// A forecast-axis series in the output's buffer.
    Forecast(usize),
    /// A 1-year series in the output's buffer.
    OneYear(usize),
}

macro_rules! series_names {
    ($( $variant:ident = $name:literal, $axis:ident, $storage:ident($slot:expr); )*) => {
        /// One of the 44 output series, named as the reference names them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
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

            const fn storage(self) -> Storage {
                match self { $( SeriesName::$variant => Storage::$storage($slot), )* }
            }
        }
    };
}

// The four aliases of MODEL.md section 4 reuse the slot of the series they equal.
series_names! {
    Days = "days", Daily, Shared(0);
    RbTotalPowerEib = "rb_total_power_eib", Daily, Local(0);
    QaTotalPowerEib = "qa_total_power_eib", Daily, Local(1);
    RbDayOnboardedPowerPib = "rb_day_onboarded_power_pib", Daily, Local(2);
    RbDayRenewedPowerPib = "rb_day_renewed_power_pib", Daily, Local(3);
    QaDayOnboardedPowerPib = "qa_day_onboarded_power_pib", Daily, Local(4);
    QaDayRenewedPowerPib = "qa_day_renewed_power_pib", Daily, Local(5);
    FullRenewalRate = "full_renewal_rate", Daily, Local(6);
    SixMonthVestSaft = "six_month_vest_saft", Daily, Shared(1);
    OneYearVestSaft = "one_year_vest_saft", Daily, Shared(2);
    TwoYearVestSaft = "two_year_vest_saft", Daily, Shared(3);
    ThreeYearVestSaft = "three_year_vest_saft", Daily, Shared(4);
    SixYearVestSaft = "six_year_vest_saft", Daily, Shared(5);
    SixYearVestPl = "six_year_vest_pl", Daily, Shared(6);
    SixYearVestFoundation = "six_year_vest_foundation", Daily, Shared(7);
    TotalDayVest = "total_day_vest", Daily, Shared(8);
    TotalVest = "total_vest", Daily, Shared(9);
    NetworkRbpEib = "network_RBP_EIB", Daily, Local(0);
    NetworkQapEib = "network_QAP_EIB", Daily, Local(1);
    DayOnboardedPowerQapPib = "day_onboarded_power_QAP_PIB", Daily, Local(4);
    DayRenewedPowerQapPib = "day_renewed_power_QAP_PIB", Daily, Local(5);
    CumSimpleReward = "cum_simple_reward", Daily, Shared(10);
    NetworkBaselineEib = "network_baseline_EIB", Daily, Local(7);
    CappedPowerEib = "capped_power_EIB", Daily, Local(8);
    CumCappedPowerEib = "cum_capped_power_EIB", Daily, Local(9);
    NetworkTime = "network_time", Daily, Local(10);
    CumBaselineReward = "cum_baseline_reward", Daily, Local(11);
    CumNetworkReward = "cum_network_reward", Daily, Local(12);
    DayNetworkReward = "day_network_reward", Daily, Local(13);
    CircSupply = "circ_supply", Daily, Local(14);
    AvailableSupply = "available_supply", Daily, Local(15);
    NetworkGasBurn = "network_gas_burn", Daily, Local(16);
    DayLockedPledge = "day_locked_pledge", Daily, Local(17);
    DayRenewedPledge = "day_renewed_pledge", Daily, Local(18);
    NetworkLockedPledge = "network_locked_pledge", Daily, Local(19);
    NetworkLocked = "network_locked", Daily, Local(20);
    NetworkLockedReward = "network_locked_reward", Daily, Local(21);
    DisbursedReserve = "disbursed_reserve", Daily, Shared(11);
    DayPledgePerQap = "day_pledge_per_QAP", Daily, Local(22);
    DayRewardsPerSector = "day_rewards_per_sector", Daily, Local(23);
    RbSchedExpirePowerPib = "rb_sched_expire_power_pib", Forecast, Forecast(0);
    QaSchedExpirePowerPib = "qa_sched_expire_power_pib", Forecast, Forecast(1);
    OneYearReturnPerSector = "1y_return_per_sector", OneYear, OneYear(0);
    OneYearSectorRoi = "1y_sector_roi", OneYear, OneYear(1);
}

/// Distinct per-run daily series.
pub(crate) const DAILY_SLOTS: usize = 24;
/// Distinct shared (parameter-independent) daily series.
pub(crate) const SHARED_SLOTS: usize = 12;
const FORECAST_SLOTS: usize = 2;
const ONE_YEAR_SLOTS: usize = 2;

/// The parameter-independent daily series of one snapshot (day numbers, vesting, simple
/// minting, the disbursed reserve), computed once for the longest horizon and shared by every
/// output, so a run neither recomputes nor copies them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SharedDaily {
    /// Indexed by the `Shared` slots of [`SeriesName`]; each as long as the longest simulation.
    pub columns: Vec<Vec<f64>>,
}

impl SeriesName {
    /// Looks a series up by its reference name.
    pub fn from_name(name: &str) -> Option<SeriesName> {
        SeriesName::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The slot in [`SharedDaily`] of a parameter-independent series.
    pub(crate) fn shared_slot(self) -> Option<usize> {
        match self.storage() {
            Storage::Shared(slot) => Some(slot),
            _ => None,
        }
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
    /// Per-run daily slots, then forecast slots, then 1-year slots, each slot contiguous.
    pub(crate) buf: Vec<f64>,
    /// The shared daily series (longer than `n_days`; sliced on access).
    pub(crate) shared: Arc<SharedDaily>,
    /// Working vectors of the simulation, kept so a reused output allocates nothing.
    pub(crate) scratch: Scratch,
    /// `Some(use_available_supply)` when the history days of the daily series that a run copies
    /// from its prepared snapshot (power, flows, renewal rate, baseline, minting, supply) already
    /// hold those values for this layout: the last run had the computed baseline and this
    /// `use_available_supply`. A run with the same then skips the copies (about 200 kB). Cleared
    /// whenever the layout (`n_days`) or the prepared snapshot changes.
    pub(crate) history: Option<bool>,
}

/// Working memory of one simulation. Not part of the results: a clone starts empty.
#[derive(Default)]
pub(crate) struct Scratch(pub(crate) Vec<f64>);

impl Clone for Scratch {
    fn clone(&self) -> Self {
        Scratch(Vec::new())
    }
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scratch({} values)", self.0.len())
    }
}

impl SimOutput {
    /// Sizes the buffer for a simulation of `n_days` days of which `forecast_len` forecast,
    /// reusing its allocation. The caller must overwrite every element.
    pub(crate) fn reset(
        &mut self,
        start_date: NaiveDate,
        current_date: NaiveDate,
        n_days: usize,
        forecast_len: usize,
        shared: &Arc<SharedDaily>,
    ) {
        if !Arc::ptr_eq(&self.shared, shared) {
            // The stamp names no snapshot: it only holds while this one is kept (and so its
            // allocation cannot be reused by another).
            self.shared = Arc::clone(shared);
            self.history = None;
        }
        if n_days != self.n_days {
            self.history = None;
        }
        self.start_date = start_date;
        self.current_date = current_date;
        self.n_days = n_days;
        self.forecast_len = forecast_len;
        let total =
            DAILY_SLOTS * n_days + FORECAST_SLOTS * forecast_len + ONE_YEAR_SLOTS * one_year_len(n_days);
        // No clearing: the simulation writes every element, and zeroing ~1.4 MB per run
        // was a sixth of its time. Only newly grown capacity is initialised.
        self.buf.resize(total, 0.0);
    }

    /// Makes the buffers resident at their size for `n_days` and `forecast_len`, then empties
    /// them, keeping the memory: a server that keeps a few outputs this large never grows.
    pub(crate) fn reserve_resident(&mut self, n_days: usize, forecast_len: usize, scratch_len: usize) {
        let total =
            DAILY_SLOTS * n_days + FORECAST_SLOTS * forecast_len + ONE_YEAR_SLOTS * one_year_len(n_days);
        self.history = None;
        for (buf, len) in [(&mut self.buf, total), (&mut self.scratch.0, scratch_len)] {
            buf.resize(len.max(buf.len()), 0.0);
            buf.clear();
        }
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
        let (n, f, y) = (self.n_days, self.forecast_len, one_year_len(self.n_days));
        let (offset, len) = match name.storage() {
            Storage::Shared(slot) => return &self.shared.columns[slot][..n],
            Storage::Local(slot) => (slot * n, n),
            Storage::Forecast(slot) => (DAILY_SLOTS * n + slot * f, f),
            Storage::OneYear(slot) => (DAILY_SLOTS * n + FORECAST_SLOTS * f + slot * y, y),
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
        let mut local: Vec<Vec<&str>> = vec![Vec::new(); DAILY_SLOTS];
        let mut shared: Vec<Vec<&str>> = vec![Vec::new(); SHARED_SLOTS];
        for s in SeriesName::ALL {
            match s.storage() {
                Storage::Local(i) => local[i].push(s.as_str()),
                Storage::Shared(i) => shared[i].push(s.as_str()),
                Storage::Forecast(_) => assert_eq!(s.axis(), Axis::Forecast),
                Storage::OneYear(_) => assert_eq!(s.axis(), Axis::OneYear),
            }
        }
        assert!(local.iter().chain(&shared).all(|names| !names.is_empty()), "a slot is unused");
        assert!(shared.iter().all(|names| names.len() == 1));
        let aliased: Vec<_> = local.iter().filter(|names| names.len() > 1).cloned().collect();
        assert_eq!(
            aliased,
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
