//! MODEL.md section 7: per-sector economics derived from the other series.

use crate::constants::{EIB_PER_SECTOR, PIB_PER_SECTOR, YEAR_WINDOW};

/// Pledge per sector of new QA power; day 0 repeats day 1. 0/0 gives NaN as in the reference.
pub(crate) fn day_pledge_per_qap(
    day_locked_pledge: &[f64],
    day_renewed_pledge: &[f64],
    day_onboarded_qap_pib: &[f64],
    out: &mut [f64],
) {
    for i in 0..out.len() {
        out[i] = PIB_PER_SECTOR * (day_locked_pledge[i] - day_renewed_pledge[i]) / day_onboarded_qap_pib[i];
    }
    out[0] = out[1];
}

/// Block reward per sector per day.
pub(crate) fn day_rewards_per_sector(day_network_reward: &[f64], network_qap_eib: &[f64], out: &mut [f64]) {
    for ((o, &r), &qap) in out.iter_mut().zip(day_network_reward).zip(network_qap_eib) {
        *o = EIB_PER_SECTOR * r / qap;
    }
}

/// `out[k] = sum(x[k ..= k + 364])` for every full window.
///
/// A running sum (add the day entering the window, subtract the day leaving) costs O(S)
/// instead of O(365 S); its rounding error stays around 1e-14 of the window sums, far inside
/// the 1e-9 acceptance bar. It would spread a NaN or inf to every later window, so windows that
/// contain a non-finite value are summed directly, giving exactly the IEEE result.
pub(crate) fn one_year_sums(x: &[f64], out: &mut [f64]) {
    debug_assert_eq!(out.len(), x.len().saturating_sub(YEAR_WINDOW - 1));
    if out.is_empty() {
        return;
    }
    // Index of the last non-finite value at or before each window's end, tracked as we go.
    let mut last_bad: Option<usize> = x[..YEAR_WINDOW - 1].iter().rposition(|v| !v.is_finite());
    let mut running = f64::NAN;
    for k in 0..out.len() {
        let end = k + YEAR_WINDOW - 1;
        if !x[end].is_finite() {
            last_bad = Some(end);
        }
        let window = &x[k..=end];
        if last_bad.is_some_and(|b| b >= k) {
            out[k] = window.iter().sum();
            running = f64::NAN;
        } else if running.is_nan() {
            running = window.iter().sum();
            out[k] = running;
        } else {
            running += x[end] - x[k - 1];
            out[k] = running;
        }
    }
}

/// Element-wise `a / b`.
pub(crate) fn divide(a: &[f64], b: &[f64], out: &mut [f64]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = x / y;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(x: &[f64]) -> Vec<f64> {
        (0..x.len().saturating_sub(364)).map(|k| x[k..k + 365].iter().sum()).collect()
    }

    #[test]
    fn running_sum_matches_direct_sums() {
        let x: Vec<f64> = (0..2000).map(|i| 1e-4 * (1.0 + (i as f64 * 0.37).sin())).collect();
        let mut out = vec![0.0; 2000 - 364];
        one_year_sums(&x, &mut out);
        for (a, b) in out.iter().zip(direct(&x)) {
            assert!((a - b).abs() <= 1e-15, "{a} vs {b}");
        }
    }

    #[test]
    fn non_finite_values_only_affect_their_windows() {
        let mut x = vec![1.0; 1000];
        x[500] = f64::NAN;
        x[700] = f64::INFINITY;
        let mut out = vec![0.0; 1000 - 364];
        one_year_sums(&x, &mut out);
        let expected = direct(&x);
        for (k, (a, b)) in out.iter().zip(&expected).enumerate() {
            assert!(a == b || (a.is_nan() && b.is_nan()), "window {k}: {a} vs {b}");
        }
        assert_eq!(out[135], 365.0);
        assert!(out[136].is_nan());
        assert_eq!(out[600], f64::INFINITY);
    }

    #[test]
    fn short_series_have_no_windows() {
        let mut out: [f64; 0] = [];
        one_year_sums(&[1.0; 100], &mut out);
    }
}
