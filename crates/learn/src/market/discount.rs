//! The needed discount of a blocked shopper in the logit family: a logistic distribution
//! truncated to (0, max]. Invariant: `quantile` inverts `cdf` (up to rounding), so draws by
//! inverse CDF follow `cdf` exactly, and `mean` is the truncated distribution's exact mean.

use super::sigmoid;

/// Logistic(location, scale) truncated to (0, max], in fractions of the list price.
/// Callers keep `location` in [0, max], `scale > 0` and `max > 0`, so the interval always
/// holds a positive share of the untruncated distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct NeededDiscount {
    pub location: f64,
    pub scale: f64,
    pub max: f64,
}

/// Numerically safe ln(1 + e^x).
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

impl NeededDiscount {
    /// Untruncated logistic CDF at `d`.
    fn logistic(&self, d: f64) -> f64 {
        sigmoid((d - self.location) / self.scale)
    }

    /// P(D <= d): 0 at and below 0, 1 at and above `max`.
    pub fn cdf(&self, d: f64) -> f64 {
        let d = d.max(0.0).min(self.max);
        let low = self.logistic(0.0);
        (self.logistic(d) - low) / (self.logistic(self.max) - low)
    }

    /// The discount at quantile `u` in (0, 1] (inverse of `cdf`), within [0, max].
    pub fn quantile(&self, u: f64) -> f64 {
        let low = self.logistic(0.0);
        let p = low + u * (self.logistic(self.max) - low);
        let d = self.location + self.scale * (p / (1.0 - p)).ln();
        d.max(0.0).min(self.max)
    }

    /// E[D] = max - (integral of the truncated CDF over (0, max)); the logistic CDF
    /// integrates to `scale * softplus((d - location) / scale)`. Above `location` when the
    /// truncation at 0 cuts the lower tail.
    pub fn mean(&self) -> f64 {
        let (mu, sc, max) = (self.location, self.scale, self.max);
        let low = self.logistic(0.0);
        let area = sc * (softplus((max - mu) / sc) - softplus(-mu / sc)) - max * low;
        max - area / (self.logistic(max) - low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_inverts_the_cdf_and_the_mean_is_exact() {
        for location in [0.0, 0.02, 0.1, 0.3, 0.5] {
            let d = NeededDiscount { location, scale: 0.03, max: 0.5 };
            for x in [0.001, 0.03, 0.1, 0.25, 0.49] {
                assert!((d.quantile(d.cdf(x)) - x).abs() < 1e-9, "location={location} x={x}");
            }
            assert_eq!(d.cdf(0.0), 0.0);
            assert_eq!(d.cdf(-1.0), 0.0);
            assert_eq!(d.cdf(0.5), 1.0);
            assert_eq!(d.cdf(2.0), 1.0);
            let n = 40_000;
            let mean = (0..n).map(|i| d.quantile((i as f64 + 0.5) / n as f64)).sum::<f64>() / n as f64;
            assert!((mean - d.mean()).abs() < 1e-5, "location={location}: {mean} vs {}", d.mean());
        }
        // With the location at 0, the truncated logistic is a half-logistic: mean 2 ln 2 scale.
        let half = NeededDiscount { location: 0.0, scale: 0.03, max: 1.0 };
        assert!((half.mean() - 2.0 * std::f64::consts::LN_2 * 0.03).abs() < 1e-9);
    }

    #[test]
    fn extreme_scales_stay_in_range() {
        for scale in [5e-324, 1e-12, 1e-3, 1.0] {
            for location in [0.0, 0.005, 0.01] {
                let d = NeededDiscount { location, scale, max: 0.01 };
                for x in [0.0, 1e-6, 0.005, 0.01] {
                    let p = d.cdf(x);
                    assert!(p.is_finite() && (0.0..=1.0).contains(&p), "scale={scale} x={x}: {p}");
                }
                for u in [1e-300, 0.5, 1.0] {
                    let q = d.quantile(u);
                    assert!(q.is_finite() && (0.0..=0.01).contains(&q), "scale={scale} u={u}: {q}");
                }
            }
        }
    }
}
