//! The population demand curve a bundle carries: mean purchase probability of the training
//! population at each price ratio. It sets the policy's uniform price (`decision`).

use serde::{Deserialize, Serialize};

/// Mean purchase probability of the training population at each price ratio: the demand
/// curve that sets the policy's uniform price.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PopulationCurve {
    pub ratios: Vec<f64>,
    pub purchase_probability: Vec<f64>,
}

impl PopulationCurve {
    /// Sorts the points by ratio and drops unpaired or non-finite ones; `verify` does this
    /// once, so that `at` (on the pricing path) need not.
    pub fn normalize(&mut self) {
        let mut pts: Vec<(f64, f64)> = self
            .ratios
            .iter()
            .copied()
            .zip(self.purchase_probability.iter().copied())
            .filter(|(r, p)| r.is_finite() && p.is_finite())
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        (self.ratios, self.purchase_probability) = pts.into_iter().unzip();
    }

    /// Linear interpolation, clamped at the ends. Expects a normalized curve.
    pub fn at(&self, r: f64) -> f64 {
        let (xs, ys) = (&self.ratios, &self.purchase_probability);
        let n = xs.len().min(ys.len());
        if n == 0 {
            return 0.0;
        }
        if r <= xs[0] {
            return ys[0];
        }
        for i in 1..n {
            if r <= xs[i] {
                let (x0, x1) = (xs[i - 1], xs[i]);
                return if x1 > x0 { ys[i - 1] + (ys[i] - ys[i - 1]) * (r - x0) / (x1 - x0) } else { ys[i] };
            }
        }
        ys[n - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_curve_interpolates_after_normalizing() {
        let mut c =
            PopulationCurve { ratios: vec![1.0, 0.8, f64::NAN, 0.9], purchase_probability: vec![0.1, 0.3, 0.5, 0.2] };
        c.normalize();
        assert_eq!(c.ratios, [0.8, 0.9, 1.0]);
        assert_eq!(c.at(0.5), 0.3);
        assert!((c.at(0.85) - 0.25).abs() < 1e-12);
        assert_eq!(c.at(1.2), 0.1);
        assert_eq!(PopulationCurve { ratios: vec![], purchase_probability: vec![] }.at(0.9), 0.0);
    }
}
