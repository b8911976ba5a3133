//! The one place that says how close is close enough.
//!
//! Series are compared with the *series-scaled* error of MODEL.md's Acceptance rule:
//! `|ours_i - expected_i| / max_j |expected_j|` over the non-null entries, with NaN/inf
//! required exactly where the expected series has `null`. Scaling by the series' largest
//! magnitude (rather than each value's own) is what the reference's cumulative sums allow:
//! a value near zero inside a large series carries the rounding of the large ones.

/// Model outputs against the oracle fixtures (MODEL.md, Acceptance).
pub const MODEL_SCALED_TOL: f64 = 1e-9;
/// Snapshot fields rebuilt from recorded Spacescope responses (DATA.md, Acceptance).
pub const PIPELINE_SCALED_TOL: f64 = 1e-12;

/// How one series differs from its expected values beyond the tolerance.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Mismatch {
    /// Different lengths.
    #[error("length {actual}, expected {expected}")]
    Length {
        /// Expected length.
        expected: usize,
        /// Actual length.
        actual: usize,
    },
    /// A finite value where `null` is expected, or the reverse.
    #[error("index {index}: {actual} where the expected value is {}", fmt_opt(*expected))]
    Null {
        /// Position.
        index: usize,
        /// Our value.
        actual: f64,
        /// The expected value (`None` = null).
        expected: Option<f64>,
    },
    /// A value too far from the expected one.
    #[error("index {index}: {actual} vs expected {expected}, scaled error {scaled_error:.3e} > {tol:.0e}")]
    Value {
        /// Position.
        index: usize,
        /// Our value.
        actual: f64,
        /// Expected value.
        expected: f64,
        /// `|actual - expected| / scale`.
        scaled_error: f64,
        /// The tolerance.
        tol: f64,
    },
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "null".to_string(), |x| x.to_string())
}

/// Compares `actual` with `expected` (`None` = null = NaN/inf expected) under the
/// series-scaled rule. Returns the worst scaled error (0 for an empty or all-null series).
pub fn compare_series(actual: &[f64], expected: &[Option<f64>], tol: f64) -> Result<f64, Mismatch> {
    if actual.len() != expected.len() {
        return Err(Mismatch::Length { expected: expected.len(), actual: actual.len() });
    }
    let scale = expected.iter().flatten().fold(0.0_f64, |m, v| m.max(v.abs()));
    let mut worst = 0.0_f64;
    for (index, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let Some(e) = e.filter(|e| e.is_finite()) else {
            if a.is_finite() {
                return Err(Mismatch::Null { index, actual: a, expected: e });
            }
            continue;
        };
        if !a.is_finite() {
            return Err(Mismatch::Null { index, actual: a, expected: Some(e) });
        }
        let diff = (a - e).abs();
        // An all-zero series must be exactly zero: scale 0 makes any difference infinite.
        let scaled_error = if diff == 0.0 { 0.0 } else { diff / scale };
        if scaled_error > tol {
            return Err(Mismatch::Value { index, actual: a, expected: e, scaled_error, tol });
        }
        worst = worst.max(scaled_error);
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_by_the_largest_value() {
        let expected = [Some(1000.0), Some(0.001)];
        // 1e-7 off on the small value is 1e-10 of the series' scale: accepted.
        assert!(compare_series(&[1000.0, 0.001 + 1e-7], &expected, 1e-9).is_ok());
        assert!(matches!(
            compare_series(&[1000.0, 0.001 + 1e-5], &expected, 1e-9),
            Err(Mismatch::Value { index: 1, .. })
        ));
    }

    #[test]
    fn nulls_must_match_exactly() {
        assert!(compare_series(&[f64::NAN, 1.0], &[None, Some(1.0)], 1e-9).is_ok());
        assert!(compare_series(&[f64::INFINITY], &[None], 1e-9).is_ok());
        assert!(matches!(compare_series(&[0.0], &[None], 1e-9), Err(Mismatch::Null { .. })));
        assert!(matches!(compare_series(&[f64::NAN], &[Some(0.0)], 1e-9), Err(Mismatch::Null { .. })));
    }

    #[test]
    fn all_zero_series_must_be_exactly_zero() {
        assert_eq!(compare_series(&[0.0, 0.0], &[Some(0.0), Some(0.0)], 1e-9), Ok(0.0));
        assert!(compare_series(&[0.0, 1e-300], &[Some(0.0), Some(0.0)], 1e-9).is_err());
    }

    #[test]
    fn lengths_must_match() {
        assert!(matches!(compare_series(&[1.0], &[], 1e-9), Err(Mismatch::Length { .. })));
    }
}
