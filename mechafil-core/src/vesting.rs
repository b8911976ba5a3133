//! MODEL.md section 3: token vesting. Depends only on the dates and `start_vested_amt`, so a
//! [`crate::Simulator`] computes it once for its longest horizon and slices it per run.

use crate::constants::{FOUNDATION_AMOUNT, PL_AMOUNT};

/// The seven vesting tranches, in MODEL.md's order: (FIL, vesting period in days).
pub(crate) const TRANCHES: [(f64, f64); 7] = [
    (19_015_887.0 + 32_787_700.0, 183.0),
    (22_421_712.0 + 9_400_000.0, 365.0),
    (7_223_364.0, 730.0),
    (87_637_883.0 + 898_958.0, 1095.0),
    (9_805_053.0, 2190.0),
    (PL_AMOUNT, 2190.0),
    (FOUNDATION_AMOUNT, 2190.0),
];

#[derive(Debug, Clone)]
/// Vesting series over `days.len()` consecutive day numbers.
pub(crate) struct Vesting {
    /// Per-day vesting of each tranche.
    pub tranches: [Vec<f64>; 7],
    /// Sum of the seven, per day.
    pub total_day_vest: Vec<f64>,
    /// `cumsum(total_day_vest) + start_vested_amt`.
    pub total_vest: Vec<f64>,
}

impl Vesting {
    /// Computes vesting for the day numbers `days` (consecutive, from start_date).
    pub fn compute(days: &[f64], start_vested_amt: i64) -> Vesting {
        let tranches = TRANCHES.map(|(amount, period)| {
            let per_day = amount * (1.0 / period);
            days.iter().map(|&t| if t < period { per_day } else { 0.0 }).collect::<Vec<f64>>()
        });
        let total_day_vest: Vec<f64> =
            (0..days.len()).map(|i| tranches.iter().fold(0.0, |acc, tranche| acc + tranche[i])).collect();
        let start = start_vested_amt as f64;
        let mut cum = 0.0;
        let total_vest = total_day_vest
            .iter()
            .map(|&v| {
                cum += v;
                cum + start
            })
            .collect();
        Vesting { tranches, total_day_vest, total_vest }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tranches_stop_at_their_period() {
        let days: Vec<f64> = (180..190).map(f64::from).collect();
        let v = Vesting::compute(&days, 100);
        // The six-month tranche (183 days) vests on days 180..=182 only.
        assert_eq!(v.tranches[0][2], (19_015_887.0 + 32_787_700.0) * (1.0 / 183.0));
        assert_eq!(v.tranches[0][3], 0.0);
        assert_eq!(v.total_vest[0], v.total_day_vest[0] + 100.0);
        assert!(v.total_vest.windows(2).all(|w| w[1] >= w[0]));
    }
}
