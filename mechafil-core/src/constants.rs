//! Protocol and model constants, exactly as MODEL.md ("Units and constants") gives them.
//!
//! Values are written the way the reference computes them (products of f64s, not pre-folded
//! literals) so that every constant is bit-identical to the reference's.

use chrono::NaiveDate;

/// The day the Filecoin network started; "day numbers" count days since this date.
pub const NETWORK_START: NaiveDate = match NaiveDate::from_ymd_opt(2020, 10, 15) {
    Some(d) => d,
    None => panic!("valid date"),
};

/// 2^60 bytes.
pub const EXBI: f64 = 1_152_921_504_606_846_976.0;
/// 2^50 bytes.
pub const PIB: f64 = 1_125_899_906_842_624.0;
/// 2^30 bytes.
pub const GIB: f64 = 1_073_741_824.0;
/// 10^18.
pub const EXA: f64 = 1e18;
/// One sector: 32 GiB.
pub const SECTOR_SIZE: f64 = 32.0 * GIB;
/// Sectors per PiB, inverted: PiB in one sector (2^-15).
pub const PIB_PER_SECTOR: f64 = SECTOR_SIZE / PIB;
/// EiB in one sector (2^-25).
pub const EIB_PER_SECTOR: f64 = SECTOR_SIZE / EXBI;
/// PiB per EiB; the model converts between the two by multiplying or dividing by this.
pub const PIB_PER_EIB: f64 = 1024.0;

/// Total FIL supply.
pub const FIL_BASE: f64 = 2_000_000_000.0;
/// FIL allotted to storage mining.
pub const STORAGE_MINING: f64 = 0.55 * FIL_BASE;
/// Simple (time-based) minting allocation.
pub const SIMPLE_ALLOC: f64 = 0.3 * STORAGE_MINING;
/// Baseline minting allocation.
pub const BASELINE_ALLOC: f64 = 0.7 * STORAGE_MINING;
/// FIL vested to Protocol Labs over six years.
pub const PL_AMOUNT: f64 = 0.15 * FIL_BASE;
/// FIL vested to the Filecoin Foundation over six years.
pub const FOUNDATION_AMOUNT: f64 = 0.05 * FIL_BASE;
/// Disbursed mining reserve, FIL (the attoFIL integer converted to f64, times 1e-18).
pub const DISBURSED_RESERVE: f64 = 17_066_618_961_773_411_890_063_046.0 * 1e-18;

/// Reward decay per day: a six-year half-life. Not a `const` because `ln` is not const.
#[inline]
pub fn lambda() -> f64 {
    std::f64::consts::LN_2 / (6.0 * 365.0)
}

/// Baseline growth per day (doubling every year).
#[inline]
pub fn growth_rate() -> f64 {
    std::f64::consts::LN_2 / 365.0
}

/// Baseline storage b0, in EiB.
pub const BASELINE_STORAGE: f64 = 2.766213637444971 * EXA / EXBI;

/// FIP-81 (consensus-pledge gamma ramp) activation date.
pub const FIP81_ACTIVATION: NaiveDate = match NaiveDate::from_ymd_opt(2024, 11, 21) {
    Some(d) => d,
    None => panic!("valid date"),
};
/// Gamma at the end of the FIP-81 ramp.
pub const FIP81_GAMMA_TARGET: f64 = 0.7;
/// Length of the FIP-81 ramp in days.
pub const FIP81_RAMP_DAYS: i64 = 365;

/// Lock target used for every historical day (the protocol's 30%).
pub const HISTORICAL_LOCK_TARGET: f64 = 0.3;
/// Days over which reward-locked FIL is released (linear vesting of block rewards).
pub const REWARD_RELEASE_DAYS: f64 = 180.0;
/// Share of each day's block reward that is locked.
pub const REWARD_LOCKED_SHARE: f64 = 0.75;
/// Multiplier of the storage pledge (20 days of expected reward).
pub const STORAGE_PLEDGE_DAYS: f64 = 20.0;
/// Length of the 1-year return window in days.
pub const YEAR_WINDOW: usize = 365;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sector_ratios_are_exact_powers_of_two() {
        assert_eq!(PIB_PER_SECTOR, 2f64.powi(-15));
        assert_eq!(EIB_PER_SECTOR, 2f64.powi(-25));
        assert_eq!(PIB / GIB, 1_048_576.0);
    }

    #[test]
    fn disbursed_reserve_matches_reference_value() {
        // The oracle's `disbursed_reserve` series holds this value on every day.
        assert_eq!(DISBURSED_RESERVE, 17066618.96177341);
    }
}
