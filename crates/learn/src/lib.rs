//! edgeprice's offline side (native only; nothing here reaches a wasm build): the data
//! set (`dataset`), model metrics (`metrics`), the simulated market families (`market`),
//! replaying sessions through a policy (`simulate`), the feature oracle (`oracle`), the
//! doubly robust population curve (`curve`), off-policy estimates from logged feedback
//! (`evaluate`), and training, retraining, the promotion gate and seeded studies (`train`).
//! Values in, values out: the CLI reads files and talks to the origin. A market only
//! decides purchases in simulation; evaluation and retraining read logged feedback alone.

pub mod curve;
pub mod dataset;
pub mod evaluate;
pub mod market;
pub mod metrics;
pub mod oracle;
pub mod simulate;
#[cfg(feature = "train")]
pub mod train;

/// A mean with a normal-approximation 95% confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Estimate {
    pub mean: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

impl Estimate {
    /// Mean of `values` and its 95% interval (mean +- 1.96 standard errors).
    pub fn of(values: &[f64]) -> Estimate {
        let n = values.len() as f64;
        if values.is_empty() {
            return Estimate { mean: f64::NAN, ci_low: f64::NAN, ci_high: f64::NAN };
        }
        let mean = values.iter().sum::<f64>() / n;
        let var = if n > 1.0 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
        let half = Z95 * (var / n).sqrt();
        Estimate { mean, ci_low: mean - half, ci_high: mean + half }
    }

    pub fn contains(&self, x: f64) -> bool {
        self.ci_low <= x && x <= self.ci_high
    }
}
