//! `min`/`max` that propagate NaN, as the reference's `jnp.minimum`/`jnp.maximum` do.
//!
//! Rust's `f64::max(NaN, 0.0)` returns `0.0`, which would silently turn a NaN day into a zero
//! and break agreement with the reference on where its outputs are `null`.

/// The larger of `a` and `b`, or NaN if either is NaN.
#[inline]
pub(crate) fn max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

/// The smaller of `a` and `b`, or NaN if either is NaN.
#[inline]
pub(crate) fn min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn nan_propagates() {
        assert!(super::max(f64::NAN, 0.0).is_nan());
        assert!(super::max(0.0, f64::NAN).is_nan());
        assert!(super::min(f64::NAN, 1.0).is_nan());
        assert_eq!(super::max(-1.0, 0.0), 0.0);
        assert_eq!(super::min(f64::INFINITY, 2.0), 2.0);
    }
}
