//! MODEL.md section 5: the lock target and the FIP-81 gamma (consensus-pledge weighting) per
//! simulation day.
//!
//! Two quirks of the reference are reproduced on purpose: the forecast ramp reaches 0.7 one
//! day earlier than the history formula would, and when current_date is before the activation
//! the forecast never ramps at all.

use chrono::NaiveDate;

use crate::constants::{FIP81_ACTIVATION, FIP81_GAMMA_TARGET, FIP81_RAMP_DAYS, HISTORICAL_LOCK_TARGET};

/// Fills `out` (length `H - 1 + F`) with `[0.3] * (H - 1) ++ lock_target`.
pub(crate) fn fill_lock_target(history_len: usize, forecast_lock_target: &[f64], out: &mut [f64]) {
    let (hist, forecast) = out.split_at_mut(history_len - 1);
    hist.fill(HISTORICAL_LOCK_TARGET);
    forecast.copy_from_slice(forecast_lock_target);
}

/// Fills `out` (length `H - 1 + F`) with gamma: H - 1 history days, then F forecast days.
pub(crate) fn fill_gamma(current_date: NaiveDate, history_len: usize, out: &mut [f64]) {
    let slope = (1.0 - FIP81_GAMMA_TARGET) / FIP81_RAMP_DAYS as f64;
    let a = (current_date - FIP81_ACTIVATION).num_days();
    let ramp = |h: i64| (1.0 - slope * h as f64).max(FIP81_GAMMA_TARGET);
    let n_hist = history_len - 1;
    let (hist, forecast) = out.split_at_mut(n_hist);
    for (i, g) in hist.iter_mut().enumerate() {
        let h = a - n_hist as i64 + i as i64;
        *g = if h < 0 { 1.0 } else { ramp(h) };
    }
    if a < 0 {
        forecast.fill(1.0);
        return;
    }
    let g0 = ramp(a);
    let ramp_len = (FIP81_RAMP_DAYS - a).max(0) as usize;
    let n_ramp = ramp_len.min(forecast.len());
    for (j, g) in forecast[..n_ramp].iter_mut().enumerate() {
        *g = linspace_at(g0, FIP81_GAMMA_TARGET, ramp_len, j);
    }
    forecast[n_ramp..].fill(FIP81_GAMMA_TARGET);
}

/// Element `j` of `linspace(x, y, n)`, as MODEL.md defines it.
fn linspace_at(x: f64, y: f64, n: usize, j: usize) -> f64 {
    if n == 1 {
        return x;
    }
    if j + 1 == n {
        return y;
    }
    let t = j as f64 / (n - 1) as f64;
    x * (1.0 - t) + y * t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn before_activation_everything_is_one() {
        let mut g = vec![0.0; 10 + 400];
        fill_gamma(date("2024-01-01"), 11, &mut g);
        assert!(g.iter().all(|&x| x == 1.0));
    }

    #[test]
    fn ramp_starts_at_history_value_and_ends_a_day_early() {
        // current_date = activation + 100: the forecast ramps from 1 - 0.3*100/365 to 0.7 in
        // 265 values, so day 264 of the forecast is already 0.7.
        let current = date("2025-03-01");
        assert_eq!((current - FIP81_ACTIVATION).num_days(), 100);
        let mut g = vec![0.0; 199 + 300];
        fill_gamma(current, 200, &mut g);
        let slope = 0.3 / 365.0;
        assert_eq!(g[199], 1.0 - slope * 100.0);
        assert_eq!(g[199 + 264], 0.7);
        assert!(g[199 + 263] > 0.7);
        assert!(g[199..].windows(2).all(|w| w[1] <= w[0]));
        // History: day index 198 is current_date - 1, h = 99.
        assert_eq!(g[198], 1.0 - slope * 99.0);
        assert_eq!(g[0], 1.0);
    }

    #[test]
    fn short_forecast_keeps_the_start_of_the_ramp() {
        let current = date("2025-03-01");
        let mut g = vec![0.0; 199 + 10];
        fill_gamma(current, 200, &mut g);
        assert!(g[199..].iter().all(|&x| x > 0.7 && x < 1.0));
    }

    #[test]
    fn linspace_matches_definition() {
        assert_eq!(linspace_at(1.0, 0.0, 1, 0), 1.0);
        assert_eq!(linspace_at(1.0, 0.0, 5, 2), 0.5);
        assert_eq!(linspace_at(1.0, 0.0, 5, 4), 0.0);
    }
}
