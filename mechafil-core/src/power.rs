//! MODEL.md section 1: the power forecast, run once for raw-byte and once for QA power.
//!
//! Expiring power is what the known schedule says plus what was onboarded or renewed one
//! sector duration earlier; a share `rr * mult` of it renews. The loop is sequential because
//! day `k` reads renewals from day `k - duration`.

/// Inputs of one power forecast (all forecast-length slices, index 0 = current_date).
pub(crate) struct PowerForecast<'a> {
    /// Network power on current_date, PiB.
    pub power_zero: f64,
    /// Known scheduled expirations, PiB/day; days past its end count as zero.
    pub known_expire: &'a [f64],
    /// Onboarding, PiB/day.
    pub onboard: &'a [f64],
    /// Renewal rate per day.
    pub renewal_rate: &'a [f64],
    /// Renewal multiplier per day (all 1.0 for raw-byte power).
    pub renew_mult: Option<&'a [f64]>,
    /// Average sector duration, days.
    pub duration: usize,
}

impl PowerForecast<'_> {
    /// Fills `sched_expire`, `renewed` and `total` (PiB), each of the forecast length.
    pub fn run(&self, sched_expire: &mut [f64], renewed: &mut [f64], total: &mut [f64]) {
        let n = self.onboard.len();
        debug_assert!(sched_expire.len() == n && renewed.len() == n && total.len() == n);
        let (mut cum_onboard, mut cum_expire, mut cum_renewed) = (0.0, 0.0, 0.0);
        for k in 0..n {
            let known = self.known_expire.get(k).copied().unwrap_or(0.0);
            let reexpire = match k.checked_sub(self.duration) {
                Some(j) => self.onboard[j] + renewed[j],
                None => 0.0,
            };
            let se = known + reexpire;
            sched_expire[k] = se;
            // MODEL.md: renewed = se * rr * mult, evaluated left to right.
            renewed[k] = match self.renew_mult {
                Some(mult) => se * self.renewal_rate[k] * mult[k],
                None => se * self.renewal_rate[k],
            };
            cum_onboard += self.onboard[k];
            cum_expire += se;
            cum_renewed += renewed[k];
            total[k] = self.power_zero + cum_onboard - cum_expire + cum_renewed;
        }
    }
}

/// Caps QA power at `fil_plus_m` times raw-byte power, day by day (NaN propagates).
pub(crate) fn cap_qa_power(qa_total: &mut [f64], rb_total: &[f64], fil_plus_m: &[f64]) {
    for ((qa, &rb), &m) in qa_total.iter_mut().zip(rb_total).zip(fil_plus_m) {
        *qa = crate::nanmath::min(*qa, m * rb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiring_power_recurs_after_one_duration() {
        // Onboard 1 PiB/day, renew half of what expires, sector life 2 days, 1 PiB known on day 0.
        let onboard = [1.0; 5];
        let rr = [0.5; 5];
        let f = PowerForecast {
            power_zero: 10.0,
            known_expire: &[1.0],
            onboard: &onboard,
            renewal_rate: &rr,
            renew_mult: None,
            duration: 2,
        };
        let (mut se, mut ren, mut tot) = ([0.0; 5], [0.0; 5], [0.0; 5]);
        f.run(&mut se, &mut ren, &mut tot);
        // se[2] = onboard[0] + renewed[0] = 1 + 0.5; se[4] = 1 + renewed[2] = 1 + 0.75.
        assert_eq!(se, [1.0, 0.0, 1.5, 1.0, 1.75]);
        assert_eq!(ren, [0.5, 0.0, 0.75, 0.5, 0.875]);
        // total = 10 + cum(onboard) - cum(se) + cum(renewed)
        assert_eq!(tot, [10.5, 11.5, 11.75, 12.25, 12.375]);
    }

    #[test]
    fn qa_is_capped_by_multiplier_times_raw() {
        let mut qa = [5.0, 50.0, f64::NAN];
        cap_qa_power(&mut qa, &[1.0, 1.0, 1.0], &[10.0, 10.0, 10.0]);
        assert_eq!(&qa[..2], &[5.0, 10.0]);
        assert!(qa[2].is_nan());
    }
}
