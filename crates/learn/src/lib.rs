//! The learning loop's platform-free parts: replaying sessions through a policy with the
//! market deciding purchases (`simulate`), and off-policy estimates of a policy's profit
//! from logged feedback (`evaluate`). Bytes and values in, values out; the CLI reads files,
//! talks to the origin and retrains (`train::retrain`).

pub mod curve;
pub mod dataset;
pub mod evaluate;
pub mod market;
pub mod metrics;
pub mod oracle;
pub mod simulate;
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
