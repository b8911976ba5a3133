//! MODEL.md section 6: pledge locking and circulating supply, one sequential pass over the
//! simulation days (each day's pledge depends on the previous day's supply).
//!
//! Reproduced on purpose (MODEL.md, "sic"): the available-supply series is seeded with the
//! circulating supply, and on day 1 the available-supply pledge base is circulating minus
//! locked while later days use circulating plus locked.

use crate::constants::{
    DISBURSED_RESERVE, GIB, PIB, PIB_PER_EIB, REWARD_LOCKED_SHARE, REWARD_RELEASE_DAYS, STORAGE_PLEDGE_DAYS,
};
use crate::nanmath::{max, max_zero, min_below};

/// Read-only inputs of the pass; daily slices have the simulation length S.
pub(crate) struct SupplyInputs<'a> {
    /// Index of current_date (`H - 1`): sector re-expirations release pledge only from there.
    pub current_idx: usize,
    pub duration: usize,
    pub use_available_supply: bool,
    pub circ_supply_zero: f64,
    pub locked_fil_zero: f64,
    pub locked_reward_zero: Option<f64>,
    /// `daily_burnt_fil * burn_boost`, added each day after the burn history.
    pub daily_burn: f64,
    pub burnt_fil_vec: &'a [f64],
    pub known_pledge_release: &'a [f64],
    pub day_network_reward: &'a [f64],
    pub cum_network_reward: &'a [f64],
    pub total_vest: &'a [f64],
    pub network_qap_eib: &'a [f64],
    pub network_baseline_eib: &'a [f64],
    pub lock_target: &'a [f64],
    pub gamma: &'a [f64],
    pub renewal_rate: &'a [f64],
    pub day_onboarded_qap_pib: &'a [f64],
    pub day_renewed_qap_pib: &'a [f64],
}

/// The series the pass writes, each of length S.
pub(crate) struct SupplyColumns<'a> {
    pub circ_supply: &'a mut [f64],
    pub available_supply: &'a mut [f64],
    pub network_gas_burn: &'a mut [f64],
    pub day_locked_pledge: &'a mut [f64],
    pub day_renewed_pledge: &'a mut [f64],
    pub network_locked_pledge: &'a mut [f64],
    pub network_locked: &'a mut [f64],
    pub network_locked_reward: &'a mut [f64],
}

/// Yesterday's values, carried from one day to the next (and, for the history days that do
/// not depend on the parameters, from a precomputed prefix to the run).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Carry {
    circ: f64,
    avail: f64,
    locked: f64,
    locked_reward: f64,
    locked_pledge: f64,
    gas_burn: f64,
}

/// The supply columns over the first days of a simulation and the carry after them.
#[derive(Debug, Clone)]
pub(crate) struct SupplyPrefix {
    /// The eight columns of [`SupplyColumns`], in its field order, each `len` days long.
    pub columns: [Vec<f64>; 8],
    /// State after the last of those days.
    pub carry: Carry,
}

impl<'a> SupplyColumns<'a> {
    /// Columns over eight vectors, in the field order.
    fn from_vecs(columns: &'a mut [Vec<f64>; 8]) -> Self {
        let [c0, c1, c2, c3, c4, c5, c6, c7] = columns;
        SupplyColumns {
            circ_supply: c0,
            available_supply: c1,
            network_gas_burn: c2,
            day_locked_pledge: c3,
            day_renewed_pledge: c4,
            network_locked_pledge: c5,
            network_locked: c6,
            network_locked_reward: c7,
        }
    }

    fn as_array(&mut self) -> [&mut [f64]; 8] {
        [
            &mut *self.circ_supply,
            &mut *self.available_supply,
            &mut *self.network_gas_burn,
            &mut *self.day_locked_pledge,
            &mut *self.day_renewed_pledge,
            &mut *self.network_locked_pledge,
            &mut *self.network_locked,
            &mut *self.network_locked_reward,
        ]
    }

    /// Writes `prefix` into the first days of the columns; returns its carry.
    pub fn copy_prefix(&mut self, prefix: &SupplyPrefix) -> Carry {
        for (dst, src) in self.as_array().into_iter().zip(&prefix.columns) {
            dst[..src.len()].copy_from_slice(src);
        }
        prefix.carry
    }
}

impl SupplyInputs<'_> {
    /// Runs the pass over every day, overwriting every element of `out`.
    pub fn run(&self, out: &mut SupplyColumns<'_>) {
        let carry = self.day_zero(out);
        self.run_from(1, carry, out);
    }

    /// Runs days `0..n` into fresh columns of length `n` and keeps them with the final carry,
    /// for a simulator to start later runs from day `n`.
    pub fn prefix(&self, n: usize) -> SupplyPrefix {
        let mut columns: [Vec<f64>; 8] = std::array::from_fn(|_| vec![0.0; n]);
        let mut out = SupplyColumns::from_vecs(&mut columns);
        let carry = self.day_zero(&mut out);
        let carry = self.run_from(1, carry, &mut out);
        SupplyPrefix { columns, carry }
    }

    /// Writes day 0 and returns the carry into day 1.
    fn day_zero(&self, out: &mut SupplyColumns<'_>) -> Carry {
        let locked_reward_zero = self.locked_reward_zero.unwrap_or(self.locked_fil_zero / 2.0);
        out.day_locked_pledge[0] = 0.0;
        out.day_renewed_pledge[0] = 0.0;
        out.network_locked[0] = self.locked_fil_zero;
        out.network_locked_reward[0] = locked_reward_zero;
        out.network_locked_pledge[0] = self.locked_fil_zero - locked_reward_zero;
        out.circ_supply[0] = self.circ_supply_zero;
        out.available_supply[0] = self.circ_supply_zero;
        out.network_gas_burn[0] = self.burnt_fil_vec[0];
        Carry {
            circ: self.circ_supply_zero,
            avail: self.circ_supply_zero - self.locked_fil_zero,
            locked: self.locked_fil_zero,
            locked_reward: locked_reward_zero,
            locked_pledge: self.locked_fil_zero - locked_reward_zero,
            gas_burn: self.burnt_fil_vec[0],
        }
    }

    /// Runs days `first..len` from `carry` (the state after day `first - 1`), overwriting those
    /// days of `out` whatever they held; returns the state after the last day.
    pub fn run_from(&self, first: usize, carry: Carry, out: &mut SupplyColumns<'_>) -> Carry {
        let n = out.circ_supply.len();
        // Yesterday's values are carried in locals rather than re-read from the output: the
        // loop is one long dependency chain from day to day, and a store-to-load round trip
        // per carried value would lengthen it.
        let Carry {
            circ: mut circ_carry,
            avail: mut avail_carry,
            mut locked,
            mut locked_reward,
            mut locked_pledge,
            mut gas_burn,
        } = carry;
        let pledge_per_pib = PIB / GIB;
        for d in first..n {
            let pledge_base = if self.use_available_supply { avail_carry } else { circ_carry };
            let reward = self.day_network_reward[d];
            let qap_pib = self.network_qap_eib[d] * PIB_PER_EIB;
            let baseline_pib = self.network_baseline_eib[d] * PIB_PER_EIB;
            let lock_target = self.lock_target[d];
            let gamma = self.gamma[d];
            let rr = self.renewal_rate[d];
            let new_pledge = |added: f64| {
                let storage = STORAGE_PLEDGE_DAYS * reward * (added / qap_pib);
                let simple = max_zero(lock_target * pledge_base * (added / qap_pib));
                let baseline = max_zero(lock_target * pledge_base * (added / max(qap_pib, baseline_pib)));
                let consensus = (1.0 - gamma) * simple + gamma * baseline;
                min_below(added * pledge_per_pib, storage + consensus)
            };

            let scheduled = self.known_pledge_release.get(d).copied().unwrap_or(0.0);
            let reexpiring = match d.checked_sub(self.duration) {
                Some(j) if j >= self.current_idx => out.day_locked_pledge[j],
                _ => 0.0,
            };
            let release = scheduled + reexpiring;
            let onboard = new_pledge(self.day_onboarded_qap_pib[d]);
            let renew = new_pledge(self.day_renewed_qap_pib[d]);
            let original = rr * release;
            let pledge_delta = onboard + (-(1.0 - rr) * release + max_zero(renew - original));
            out.day_renewed_pledge[d] = max(original, renew);
            out.day_locked_pledge[d] = onboard + max(original, renew);
            let reward_delta = REWARD_LOCKED_SHARE * reward - locked_reward / REWARD_RELEASE_DAYS;
            locked_pledge += pledge_delta;
            locked_reward += reward_delta;
            locked = max_zero(locked + pledge_delta + reward_delta);
            if d >= self.burnt_fil_vec.len() {
                gas_burn += self.daily_burn;
            } else {
                gas_burn = self.burnt_fil_vec[d];
            }
            let circ =
                DISBURSED_RESERVE + self.cum_network_reward[d] + self.total_vest[d] - locked - gas_burn;
            let avail = circ + locked;
            circ_carry = max_zero(circ);
            avail_carry = max_zero(avail);
            out.network_locked_pledge[d] = locked_pledge;
            out.network_locked_reward[d] = locked_reward;
            out.network_locked[d] = locked;
            out.network_gas_burn[d] = gas_burn;
            out.circ_supply[d] = circ_carry;
            out.available_supply[d] = avail_carry;
        }
        Carry { circ: circ_carry, avail: avail_carry, locked, locked_reward, locked_pledge, gas_burn }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A five-day toy network: constant power, rewards and flows.
    fn inputs<'a>(
        daily: &'a [f64],
        ones: &'a [f64],
        burnt: &'a [f64],
        use_available_supply: bool,
    ) -> SupplyInputs<'a> {
        SupplyInputs {
            current_idx: 2,
            duration: 1,
            use_available_supply,
            circ_supply_zero: 400.0e6,
            locked_fil_zero: 100.0e6,
            locked_reward_zero: None,
            daily_burn: 10.0,
            burnt_fil_vec: burnt,
            known_pledge_release: &[0.0, 50.0, 50.0],
            day_network_reward: daily,
            cum_network_reward: daily,
            total_vest: &[500.0e6; 5],
            network_qap_eib: ones,
            network_baseline_eib: ones,
            lock_target: &[0.3; 5],
            gamma: &[0.7; 5],
            renewal_rate: &[0.5; 5],
            day_onboarded_qap_pib: &[2.0; 5],
            day_renewed_qap_pib: &[1.0; 5],
        }
    }

    fn run(inputs: &SupplyInputs<'_>) -> [Vec<f64>; 8] {
        let mut cols: [Vec<f64>; 8] = std::array::from_fn(|_| vec![f64::NAN; 5]);
        inputs.run(&mut SupplyColumns::from_vecs(&mut cols));
        cols
    }

    #[test]
    fn day_one_follows_model_section_6() {
        let (daily, ones, burnt) = ([1000.0; 5], [1.0; 5], [5.0, 6.0]);
        let cols = run(&inputs(&daily, &ones, &burnt, false));
        let [circ, _, gas, day_locked, day_renewed, locked_pledge, locked, locked_reward] = &cols;
        // Day 1 by hand: pledge base = circulating supply of day 0; tq = bq = 1024 PiB.
        let new_pledge = |added: f64| {
            let storage = 20.0 * 1000.0 * (added / 1024.0);
            let simple: f64 = 0.3 * 400.0e6 * (added / 1024.0);
            let consensus = 0.3 * simple + 0.7 * simple;
            (added * 1_048_576.0).min(storage + consensus)
        };
        let (onboard, renew) = (new_pledge(2.0), new_pledge(1.0));
        let release = 50.0;
        let original = 0.5 * release;
        let pledge_delta = onboard + (-(0.5) * release + (renew - original).max(0.0));
        let reward_delta = 0.75 * 1000.0 - 50.0e6 / 180.0;
        assert_eq!(day_renewed[1], original.max(renew));
        assert_eq!(day_locked[1], onboard + original.max(renew));
        assert_eq!(locked_pledge[1], 50.0e6 + pledge_delta);
        assert_eq!(locked_reward[1], 50.0e6 + reward_delta);
        assert_eq!(locked[1], 100.0e6 + pledge_delta + reward_delta);
        assert_eq!(gas[1], 6.0);
        assert_eq!(circ[1], DISBURSED_RESERVE + 1000.0 + 500.0e6 - locked[1] - 6.0);
        // After the burn history the burn grows by daily_burn; releases stop after the schedule
        // but day 3 re-releases day 2's pledge (duration 1, from current_idx 2 on).
        assert_eq!(gas[2], 16.0);
        assert_eq!(gas[4], 36.0);
        assert!(locked.iter().chain(circ.iter()).all(|v| v.is_finite() && *v >= 0.0));
    }

    #[test]
    fn a_prefix_then_the_rest_equals_one_pass() {
        let (daily, ones, burnt) = ([1000.0; 5], [1.0; 5], [5.0, 6.0]);
        for avail in [false, true] {
            let inputs = inputs(&daily, &ones, &burnt, avail);
            let whole = run(&inputs);
            let prefix = inputs.prefix(2);
            let mut cols: [Vec<f64>; 8] = std::array::from_fn(|_| vec![f64::NAN; 5]);
            let mut out = SupplyColumns::from_vecs(&mut cols);
            let carry = out.copy_prefix(&prefix);
            inputs.run_from(2, carry, &mut out);
            assert_eq!(cols, whole, "use_available_supply = {avail}");
        }
    }
}
