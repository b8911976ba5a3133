//! Exact percentiles with numpy's default method (`"linear"`, Hyndman & Fan's 7th), bit for
//! bit: the same virtual index `(n - 1) * q / 100`, the same order statistics, and numpy's
//! two-sided interpolation (`_lerp`, which interpolates from the nearer neighbour), so a band
//! computed here equals `np.percentile(matrix, q, axis=0)` on the same numbers.
//!
//! Order statistics are found by selection (`select_nth_unstable`), ascending, each on the
//! part of the slice right of the previous one: O(n) per percentile instead of a full sort.

use std::cmp::Ordering;

/// The percentiles `qs` (each in `0..=100`) of `values`, into `out` (same length as `qs`).
/// `values` is reordered. As numpy, a NaN anywhere makes every percentile NaN; an empty slice
/// gives NaN too.
pub fn percentiles(values: &mut [f64], qs: &[f64], out: &mut [f64]) {
    debug_assert_eq!(qs.len(), out.len());
    let n = values.len();
    if n == 0 || values.iter().any(|v| v.is_nan()) {
        out.fill(f64::NAN);
        return;
    }
    let mut order: Vec<usize> = (0..qs.len()).collect();
    order.sort_by(|&a, &b| qs[a].total_cmp(&qs[b]));
    let mut select = Selector { values, start: 0 };
    for i in order {
        let virtual_index = (n - 1) as f64 * (qs[i] / 100.0);
        let previous = virtual_index.floor();
        let (lo, hi) = if virtual_index >= (n - 1) as f64 {
            (n - 1, n - 1)
        } else {
            let lo = previous.max(0.0) as usize;
            (lo, lo + 1)
        };
        let a = select.nth(lo);
        let b = select.nth(hi);
        out[i] = lerp(a, b, virtual_index - previous);
    }
}

/// numpy's `_lerp`: `a + (b - a) t`, or `b - (b - a)(1 - t)` when `t >= 0.5`.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff_b_a = b - a;
    if t >= 0.5 { b - diff_b_a * (1.0 - t) } else { a + diff_b_a * t }
}

/// Successive order statistics of one slice. They are asked for as the pairs `(lo, lo + 1)`
/// of ascending `lo`, so an index left of `start` is always one selected before (it is at its
/// sorted position), and a new one is found in the part right of the last.
struct Selector<'a> {
    values: &'a mut [f64],
    /// Every element left of `start` is no greater than any element from `start` on.
    start: usize,
}

impl Selector<'_> {
    fn nth(&mut self, k: usize) -> f64 {
        if k >= self.start {
            // No NaN here (checked by the caller), so the order is total.
            self.values[self.start..]
                .select_nth_unstable_by(k - self.start, |a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
            self.start = k + 1;
        }
        self.values[k]
    }
}

/// The mean of `values`, as a running mean in order: `m += (x - m) / k`. Deterministic (the
/// order is the members'), numerically stable, and exact when every value is the same (an
/// ensemble without spread has the single run's numbers as its mean, not `n x / n` rounded).
pub fn mean(values: &[f64]) -> f64 {
    running_mean(values.iter().copied())
}

/// [`mean`] of any sequence of values (NaN when there are none).
pub fn running_mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut m = f64::NAN;
    for (k, x) in values.into_iter().enumerate() {
        m = if k == 0 { x } else { m + (x - m) / (k + 1) as f64 };
    }
    m
}

/// The label of percentile `q`: `p` and the shortest decimal form (`p5`, `p2.5`).
pub fn label(q: f64) -> String {
    format!("p{q}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// numpy's method on a fully sorted copy: the reference the selection must equal.
    fn by_sorting(values: &[f64], q: f64) -> f64 {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let v = (n - 1) as f64 * (q / 100.0);
        let prev = v.floor();
        let (lo, hi) = if v >= (n - 1) as f64 { (n - 1, n - 1) } else { (prev as usize, prev as usize + 1) };
        lerp(sorted[lo], sorted[hi], v - prev)
    }

    #[test]
    fn known_values_as_numpy_gives_them() {
        // np.percentile([1, 2, 3, 4], [0, 25, 50, 90, 100]) == [1, 1.75, 2.5, 3.7, 4]
        let mut v = [4.0, 1.0, 3.0, 2.0];
        let mut out = [0.0; 5];
        percentiles(&mut v, &[0.0, 25.0, 50.0, 90.0, 100.0], &mut out);
        assert_eq!(out, [1.0, 1.75, 2.5, 3.7, 4.0]);
        let mut one = [7.0];
        let mut o = [0.0; 2];
        percentiles(&mut one, &[5.0, 95.0], &mut o);
        assert_eq!(o, [7.0, 7.0]);
        let mut nan = [1.0, f64::NAN, 2.0];
        percentiles(&mut nan, &[50.0], &mut o[..1]);
        assert!(o[0].is_nan());
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(label(5.0), "p5");
        assert_eq!(label(2.5), "p2.5");
        assert_eq!(label(99.9), "p99.9");
    }

    proptest! {
        #[test]
        fn selection_equals_sorting(
            values in proptest::collection::vec(-1e6..1e6f64, 1..200),
            qs in proptest::collection::vec(0.0..=100.0f64, 1..8),
        ) {
            let mut work = values.clone();
            let mut out = vec![0.0; qs.len()];
            percentiles(&mut work, &qs, &mut out);
            for (q, got) in qs.iter().zip(&out) {
                prop_assert_eq!(got.to_bits(), by_sorting(&values, *q).to_bits(), "q = {}", q);
            }
        }
    }
}
