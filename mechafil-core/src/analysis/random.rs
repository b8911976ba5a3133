//! Reproducible random draws for ensembles.
//!
//! Every (seed, member, knob) has its own stream, so a member's draws do not depend on how
//! members are split into chunks, which thread runs them, or which other knobs vary. The
//! generator is SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
//! generators", 2014): a 64-bit counter through a mixing function, with its starting point
//! hashed from the key. Normal deviates use Marsaglia's polar method; the logarithms and
//! exponentials of the draws come from the `libm` crate (musl's libm in Rust), not the
//! platform's, so the drawn values are the same bits on every machine.

/// The SplitMix64 finalizer: a bijection of u64 that mixes every input bit into every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One random stream.
#[derive(Debug, Clone)]
pub(crate) struct Stream {
    state: u64,
    spare: Option<f64>,
}

impl Stream {
    /// The stream of `knob` (any small integer naming it) of `member` under `seed`.
    pub(crate) fn new(seed: u64, member: u64, knob: u64) -> Stream {
        let key = mix(mix(seed ^ 0x6A09_E667_F3BC_C909).wrapping_add(member))
            ^ mix((knob + 1).wrapping_mul(0xBB67_AE85_84CA_A73B));
        Stream { state: key, spare: None }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// Uniform in `[0, 1)`, a multiple of 2^-53.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal.
    pub(crate) fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let factor = (-2.0 * libm::log(s) / s).sqrt();
                self.spare = Some(v * factor);
                return u * factor;
            }
        }
    }
}

/// The standard normal CDF.
pub(crate) fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// `exp` of a draw, platform-independent.
pub(crate) fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// `ln` of a draw's parameter, platform-independent.
pub(crate) fn ln(x: f64) -> f64 {
    libm::log(x)
}

/// `ln(1 + x)`, platform-independent.
pub(crate) fn ln_1p(x: f64) -> f64 {
    libm::log1p(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |seed, member, knob| {
            let mut s = Stream::new(seed, member, knob);
            (0..4).map(|_| s.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7, 3, 1), draw(7, 3, 1));
        assert_ne!(draw(7, 3, 1), draw(7, 4, 1));
        assert_ne!(draw(7, 3, 1), draw(7, 3, 2));
        assert_ne!(draw(7, 3, 1), draw(8, 3, 1));
    }

    #[test]
    fn uniform_and_normal_have_the_right_moments() {
        let mut s = Stream::new(1, 0, 0);
        let n = 200_000;
        let u: Vec<f64> = (0..n).map(|_| s.uniform()).collect();
        assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = u.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.005, "{mean}");
        let z: Vec<f64> = (0..n).map(|_| s.normal()).collect();
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.02, "{mean} {var}");
        let below = z.iter().filter(|&&x| x < -1.6448536269514722).count() as f64 / n as f64;
        assert!((below - 0.05).abs() < 0.003, "{below}");
        assert!((normal_cdf(-1.6448536269514722) - 0.05).abs() < 1e-12);
    }
}
