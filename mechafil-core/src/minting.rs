//! MODEL.md section 4: the baseline and block-reward minting.
//!
//! Simple minting depends only on the date; baseline minting on the cumulative capped power,
//! i.e. on the power forecast. Everything up to current_date is history and does not depend on
//! the parameters, which lets a [`crate::Simulator`] compute it once ([`MintingColumns`] over
//! the history) and continue from there per run ([`MintingColumns::extend`]).

use crate::constants::{BASELINE_ALLOC, BASELINE_STORAGE, SIMPLE_ALLOC, growth_rate, lambda};
use crate::nanmath;

/// `init_baseline * exp(GROWTH_RATE * i)` for `i` in `0..n`: the baseline, EiB.
pub(crate) fn baseline(init_baseline_eib: f64, n: usize) -> Vec<f64> {
    let g = growth_rate();
    (0..n).map(|i| init_baseline_eib * (g * i as f64).exp()).collect()
}

/// `SIMPLE_ALLOC * (1 - exp(-LAMBDA * day))` for each day number.
pub(crate) fn cum_simple_reward(days: &[f64]) -> Vec<f64> {
    let neg_lambda = -lambda();
    days.iter().map(|&t| SIMPLE_ALLOC * (1.0 - (neg_lambda * t).exp())).collect()
}

/// The power-dependent minting series, as mutable views of equal length.
pub(crate) struct MintingColumns<'a> {
    /// `min(baseline, raw-byte power)`, EiB.
    pub capped_power: &'a mut [f64],
    /// `cumsum(capped_power) + zero_cum_capped_power_eib`.
    pub cum_capped_power: &'a mut [f64],
    /// Effective network time, days.
    pub network_time: &'a mut [f64],
    /// Cumulative baseline reward, FIL.
    pub cum_baseline_reward: &'a mut [f64],
    /// Cumulative simple + baseline reward, FIL.
    pub cum_network_reward: &'a mut [f64],
}

impl MintingColumns<'_> {
    /// Fills days `from..len` from the baseline, raw-byte power and simple reward of the same
    /// days. `cum_capped_raw` is `cumsum(capped_power)` through day `from - 1` (0.0 when
    /// `from == 0`); the value through the last day is returned so a later call can continue.
    pub fn extend(
        &mut self,
        from: usize,
        mut cum_capped_raw: f64,
        zero_cum_capped_power_eib: f64,
        baseline: &[f64],
        raw_power: &[f64],
        cum_simple: &[f64],
    ) -> f64 {
        let g = growth_rate();
        let inv_g = 1.0 / g;
        let neg_lambda = -lambda();
        for i in from..self.capped_power.len() {
            let capped = nanmath::min(baseline[i], raw_power[i]);
            cum_capped_raw += capped;
            let cum_capped = cum_capped_raw + zero_cum_capped_power_eib;
            let network_time = inv_g * ((g * cum_capped) / BASELINE_STORAGE + 1.0).ln();
            let cum_baseline = BASELINE_ALLOC * (1.0 - (neg_lambda * network_time).exp());
            self.capped_power[i] = capped;
            self.cum_capped_power[i] = cum_capped;
            self.network_time[i] = network_time;
            self.cum_baseline_reward[i] = cum_baseline;
            self.cum_network_reward[i] = cum_baseline + cum_simple[i];
        }
        cum_capped_raw
    }
}

/// `day_network_reward[i] = cum[i] - cum[i-1]`, and day 0 repeats day 1. Needs two days.
pub(crate) fn day_network_reward(cum_network_reward: &[f64], out: &mut [f64]) {
    for i in 1..cum_network_reward.len() {
        out[i] = cum_network_reward[i] - cum_network_reward[i - 1];
    }
    out[0] = out[1];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_doubles_every_year() {
        let b = baseline(2.0, 366);
        assert_eq!(b[0], 2.0);
        assert!((b[365] - 4.0).abs() < 1e-12);
    }

    #[test]
    fn extending_in_two_steps_equals_one_step() {
        let n = 50;
        let base = baseline(10.0, n);
        let raw: Vec<f64> = (0..n).map(|i| 9.0 + 0.1 * i as f64).collect();
        let days: Vec<f64> = (0..n).map(|i| 700.0 + i as f64).collect();
        let simple = cum_simple_reward(&days);
        let run = |split: usize| {
            let mut cols = vec![vec![0.0; n]; 5];
            let [a, b, c, d, e] = cols.as_mut_slice() else { unreachable!() };
            let mut m = MintingColumns {
                capped_power: a,
                cum_capped_power: b,
                network_time: c,
                cum_baseline_reward: d,
                cum_network_reward: e,
            };
            // First fill only the prefix (as the cached history), then continue.
            let (mut head, carry);
            {
                let mut prefix = vec![vec![0.0; split]; 5];
                let [a2, b2, c2, d2, e2] = prefix.as_mut_slice() else { unreachable!() };
                head = MintingColumns {
                    capped_power: a2,
                    cum_capped_power: b2,
                    network_time: c2,
                    cum_baseline_reward: d2,
                    cum_network_reward: e2,
                };
                carry = head.extend(0, 0.0, 4000.0, &base, &raw, &simple);
                m.capped_power[..split].copy_from_slice(head.capped_power);
                m.cum_capped_power[..split].copy_from_slice(head.cum_capped_power);
                m.network_time[..split].copy_from_slice(head.network_time);
                m.cum_baseline_reward[..split].copy_from_slice(head.cum_baseline_reward);
                m.cum_network_reward[..split].copy_from_slice(head.cum_network_reward);
            }
            m.extend(split, carry, 4000.0, &base, &raw, &simple);
            cols
        };
        assert_eq!(run(20), run(0));
        // Capped power takes the baseline when power exceeds it.
        assert!(run(0)[0].iter().zip(&base).all(|(c, b)| c <= b));
    }

    #[test]
    fn first_day_reward_repeats_second() {
        let mut out = [0.0; 3];
        day_network_reward(&[1.0, 3.0, 6.0], &mut out);
        assert_eq!(out, [2.0, 2.0, 3.0]);
    }
}
