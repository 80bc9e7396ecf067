//! The summary report: per policy version and arm, conversion, revenue and profit per
//! decision with 95% confidence intervals (normal approximation), and the A/B difference
//! of each non-control arm against the control arm of the same policy version, saying which
//! price that control group was shown (the policy's uniform price, or the list price).

use serde::Serialize;

use super::store::ArmSums;

const Z95: f64 = 1.959_963_984_540_054;

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

impl Estimate {
    fn new(mean: f64, se: f64) -> Self {
        Self { mean, ci_low: mean - Z95 * se, ci_high: mean + Z95 * se }
    }
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ArmReport {
    pub policy_version: u64,
    pub arm: String,
    pub decisions: u64,
    pub purchases: u64,
    pub conversion: Estimate,
    pub revenue_per_decision: Estimate,
    pub profit_per_decision: Estimate,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Difference {
    pub policy_version: u64,
    pub arm: String,
    pub against: String,
    /// What the control group was shown: `uniform` (the policy's uniform price), `list`, or
    /// `unknown` when the policy's bundle is not in the store.
    pub control_price: String,
    pub conversion: Estimate,
    pub revenue_per_decision: Estimate,
    pub profit_per_decision: Estimate,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Summary {
    pub arms: Vec<ArmReport>,
    pub ab: Vec<Difference>,
}

/// Mean and variance of the mean from a count, a sum and a sum of squares.
fn mean_var(n: u64, sum: f64, sum_sq: f64) -> (f64, f64) {
    let n = n as f64;
    if n < 1.0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = sum / n;
    let var = if n > 1.0 { ((sum_sq - n * mean * mean) / (n - 1.0)).max(0.0) } else { 0.0 };
    (mean, var / n)
}

fn stats(s: &ArmSums) -> [(f64, f64); 3] {
    let buys = s.purchases as f64;
    [
        mean_var(s.decisions, buys, buys),
        mean_var(s.decisions, s.revenue, s.revenue_sq),
        mean_var(s.decisions, s.profit, s.profit_sq),
    ]
}

/// `controls` maps a policy version to its rules' control price (`uniform` or `list`).
pub fn summarize(sums: &[ArmSums], controls: &std::collections::BTreeMap<u64, String>) -> Summary {
    let arms = sums
        .iter()
        .map(|s| {
            let [c, r, p] = stats(s);
            ArmReport {
                policy_version: s.policy_version,
                arm: s.arm.clone(),
                decisions: s.decisions,
                purchases: s.purchases,
                conversion: Estimate::new(c.0, c.1.sqrt()),
                revenue_per_decision: Estimate::new(r.0, r.1.sqrt()),
                profit_per_decision: Estimate::new(p.0, p.1.sqrt()),
            }
        })
        .collect();
    let mut ab = Vec::new();
    for control in sums.iter().filter(|s| s.arm == "control") {
        let base = stats(control);
        for other in sums.iter().filter(|s| s.policy_version == control.policy_version && s.arm != "control") {
            let [c, r, p] = stats(other);
            let diff = |x: (f64, f64), y: (f64, f64)| Estimate::new(x.0 - y.0, (x.1 + y.1).sqrt());
            ab.push(Difference {
                policy_version: other.policy_version,
                arm: other.arm.clone(),
                against: "control".into(),
                control_price: controls.get(&other.policy_version).cloned().unwrap_or_else(|| "unknown".into()),
                conversion: diff(c, base[0]),
                revenue_per_decision: diff(r, base[1]),
                profit_per_decision: diff(p, base[2]),
            });
        }
    }
    Summary { arms, ab }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_match_hand_computation() {
        // 4 decisions, 2 purchases of 10 (cost 6): revenue mean 5, sample var 100/3.
        let s = ArmSums {
            policy_version: 1,
            arm: "model".into(),
            decisions: 4,
            purchases: 2,
            revenue: 20.0,
            revenue_sq: 200.0,
            profit: 8.0,
            profit_sq: 32.0,
        };
        let control = ArmSums {
            arm: "control".into(),
            purchases: 1,
            revenue: 10.0,
            revenue_sq: 100.0,
            profit: 4.0,
            profit_sq: 16.0,
            ..s.clone()
        };
        let controls = [(1, "uniform".to_string())].into_iter().collect();
        let report = summarize(&[control, s], &controls);
        assert_eq!(report.ab[0].control_price, "uniform");
        let model = &report.arms[1];
        assert_eq!(model.conversion.mean, 0.5);
        assert!((model.revenue_per_decision.ci_high - (5.0 + Z95 * (100.0f64 / 3.0 / 4.0).sqrt())).abs() < 1e-12);
        assert_eq!(report.ab.len(), 1);
        assert!((report.ab[0].profit_per_decision.mean - 1.0).abs() < 1e-12);
        assert!(report.ab[0].profit_per_decision.ci_low < 1.0 && report.ab[0].profit_per_decision.ci_high > 1.0);
    }
}
