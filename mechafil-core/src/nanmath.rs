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

/// `max(x, 0)` propagating a NaN `x`. Written so it compiles to one `maxsd`: the supply pass
/// runs these on its day-to-day dependency chain, where the general form's NaN tests cost
/// latency.
#[inline]
pub(crate) fn max_zero(x: f64) -> f64 {
    // x86 `maxsd` semantics: (0 > x) ? 0 : x, which yields x when x is NaN.
    if 0.0 > x { 0.0 } else { x }
}

/// `min(bound, x)` propagating NaN, for a `bound` known before `x`: the NaN test of `bound`
/// is off the dependency chain through `x`, which then costs one `minsd`.
#[inline]
pub(crate) fn min_below(bound: f64, x: f64) -> f64 {
    if bound.is_nan() || bound < x { bound } else { x }
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

    #[test]
    fn fast_forms_agree_with_the_general_ones() {
        for x in [f64::NAN, -1.0, -0.0, 0.0, 2.5, f64::INFINITY, f64::NEG_INFINITY] {
            let (a, b) = (super::max_zero(x), super::max(x, 0.0));
            assert!(a == b || (a.is_nan() && b.is_nan()), "max_zero({x})");
            for bound in [1.0, f64::NAN] {
                let (a, b) = (super::min_below(bound, x), super::min(bound, x));
                assert!(a == b || (a.is_nan() && b.is_nan()), "min_below({bound}, {x})");
            }
        }
    }
}
