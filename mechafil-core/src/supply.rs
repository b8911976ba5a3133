//! MODEL.md section 6: pledge locking and circulating supply, one sequential pass over the
//! simulation days (each day's pledge depends on the previous day's supply).
//!
//! Reproduced on purpose (MODEL.md, "sic"): the available-supply series is seeded with the
//! circulating supply, and on day 1 the available-supply pledge base is circulating minus
//! locked while later days use circulating plus locked.

use crate::constants::{
    DISBURSED_RESERVE, GIB, PIB, PIB_PER_EIB, REWARD_LOCKED_SHARE, REWARD_RELEASE_DAYS, STORAGE_PLEDGE_DAYS,
};
use crate::nanmath::{max, min};

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
    pub disbursed_reserve: &'a mut [f64],
}

impl SupplyInputs<'_> {
    /// Runs the pass, overwriting every element of `out`.
    pub fn run(&self, out: SupplyColumns<'_>) {
        let n = out.circ_supply.len();
        let locked_reward_zero = self.locked_reward_zero.unwrap_or(self.locked_fil_zero / 2.0);
        out.network_locked.fill(0.0);
        out.network_locked_reward.fill(0.0);
        out.network_locked_pledge.fill(0.0);
        out.circ_supply.fill(0.0);
        out.available_supply.fill(0.0);
        out.day_locked_pledge.fill(0.0);
        out.day_renewed_pledge.fill(0.0);
        out.network_gas_burn.fill(0.0);
        out.disbursed_reserve.fill(DISBURSED_RESERVE);
        out.network_locked[0] = self.locked_fil_zero;
        out.network_locked_reward[0] = locked_reward_zero;
        out.network_locked_pledge[0] = self.locked_fil_zero - locked_reward_zero;
        out.circ_supply[0] = self.circ_supply_zero;
        out.available_supply[0] = self.circ_supply_zero;
        let n_burnt = self.burnt_fil_vec.len().min(n);
        out.network_gas_burn[..n_burnt].copy_from_slice(&self.burnt_fil_vec[..n_burnt]);

        let mut circ_carry = self.circ_supply_zero;
        let mut avail_carry = self.circ_supply_zero - self.locked_fil_zero;
        let pledge_per_pib = PIB / GIB;
        for d in 1..n {
            let pledge_base = if self.use_available_supply { avail_carry } else { circ_carry };
            let reward = self.day_network_reward[d];
            let qap_pib = self.network_qap_eib[d] * PIB_PER_EIB;
            let baseline_pib = self.network_baseline_eib[d] * PIB_PER_EIB;
            let lock_target = self.lock_target[d];
            let gamma = self.gamma[d];
            let rr = self.renewal_rate[d];
            let new_pledge = |added: f64| {
                let storage = STORAGE_PLEDGE_DAYS * reward * (added / qap_pib);
                let simple = max(lock_target * pledge_base * (added / qap_pib), 0.0);
                let baseline = max(lock_target * pledge_base * (added / max(qap_pib, baseline_pib)), 0.0);
                let consensus = (1.0 - gamma) * simple + gamma * baseline;
                min(added * pledge_per_pib, storage + consensus)
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
            let pledge_delta = onboard + (-(1.0 - rr) * release + max(0.0, renew - original));
            out.day_renewed_pledge[d] = max(original, renew);
            out.day_locked_pledge[d] = onboard + max(original, renew);
            let reward_delta =
                REWARD_LOCKED_SHARE * reward - out.network_locked_reward[d - 1] / REWARD_RELEASE_DAYS;
            out.network_locked_pledge[d] = out.network_locked_pledge[d - 1] + pledge_delta;
            out.network_locked_reward[d] = out.network_locked_reward[d - 1] + reward_delta;
            out.network_locked[d] = max(out.network_locked[d - 1] + pledge_delta + reward_delta, 0.0);
            if d >= self.burnt_fil_vec.len() {
                out.network_gas_burn[d] = out.network_gas_burn[d - 1] + self.daily_burn;
            }
            let circ = out.disbursed_reserve[d] + self.cum_network_reward[d] + self.total_vest[d]
                - out.network_locked[d]
                - out.network_gas_burn[d];
            let avail = circ + out.network_locked[d];
            circ_carry = max(circ, 0.0);
            avail_carry = max(avail, 0.0);
            out.circ_supply[d] = circ_carry;
            out.available_supply[d] = avail_carry;
        }
    }
}
