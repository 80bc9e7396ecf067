//! The summary report: per policy version and arm, conversion, revenue and profit per
//! decision with 95% confidence intervals (normal approximation), and the A/B difference
//! of each non-control arm against the control arm of the same policy version, saying which
//! price that control group was shown (the policy's uniform price, or the list price).

use serde::Serialize;

use super::store::{ArmSums, GroupSums, PriceSums};

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
    // One observation says nothing of the spread: no interval (null on the wire).
    let var = if n > 1.0 { ((sum_sq - n * mean * mean) / (n - 1.0)).max(0.0) } else { f64::NAN };
    (mean, var / n)
}

/// A share `k / n` with its 95% Wilson score interval: inside [0, 1] and never of zero
/// width, unlike the normal approximation, which fails exactly where a price point has few
/// decisions or no purchases.
pub fn proportion(n: u64, k: u64) -> Estimate {
    if n == 0 {
        return Estimate { mean: f64::NAN, ci_low: f64::NAN, ci_high: f64::NAN };
    }
    let (n, p) = (n as f64, k as f64 / n as f64);
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Estimate { mean: p, ci_low: (centre - half).max(0.0), ci_high: (centre + half).min(1.0) }
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
            let [_, r, p] = stats(s);
            ArmReport {
                policy_version: s.policy_version,
                arm: s.arm.clone(),
                decisions: s.decisions,
                purchases: s.purchases,
                conversion: proportion(s.decisions, s.purchases),
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

/// A mean with its 95% interval from a count, a sum and a sum of squares.
pub fn estimate(n: u64, sum: f64, sum_sq: f64) -> Estimate {
    let (mean, var) = mean_var(n, sum, sum_sq);
    Estimate::new(mean, var.sqrt())
}

fn add(into: &mut ArmSums, s: &ArmSums) {
    into.decisions += s.decisions;
    into.purchases += s.purchases;
    into.revenue += s.revenue;
    into.revenue_sq += s.revenue_sq;
    into.profit += s.profit;
    into.profit_sq += s.profit_sq;
}

/// The hourly sums added up per `key` of (hour, sums): the one grouping `totals` and
/// `timeseries` share.
fn summed<K: Ord>(
    hourly: &[(i64, ArmSums)],
    key: impl Fn(i64, &ArmSums) -> K,
) -> std::collections::BTreeMap<K, ArmSums> {
    let mut by = std::collections::BTreeMap::new();
    for (hour, s) in hourly {
        let t = by.entry(key(*hour, s)).or_insert_with(|| ArmSums {
            policy_version: s.policy_version,
            arm: s.arm.clone(),
            ..ArmSums::default()
        });
        add(t, s);
    }
    by
}

/// Sums per (policy version, arm) from the hourly rollup.
pub fn totals(hourly: &[(i64, ArmSums)]) -> Vec<ArmSums> {
    summed(hourly, |_, s| (s.policy_version, s.arm.clone())).into_values().collect()
}

/// Per bucket (`bucket` seconds: 3600 or 86400), policy version and arm: the summary's
/// estimates; and per bucket and policy version, each non-control arm's profit per decision
/// minus control's, with its interval.
pub fn timeseries(hourly: &[(i64, ArmSums)], bucket: i64) -> serde_json::Value {
    let by = summed(hourly, |hour, s| (hour - hour.rem_euclid(bucket), s.policy_version, s.arm.clone()));
    let mut points = Vec::new();
    let mut uplift = Vec::new();
    for ((start, pv, arm), s) in &by {
        let [_, r, p] = stats(s);
        points.push(serde_json::json!({
            "start": start, "policy_version": pv, "arm": arm, "decisions": s.decisions, "purchases": s.purchases,
            "conversion": proportion(s.decisions, s.purchases),
            "revenue_per_decision": Estimate::new(r.0, r.1.sqrt()),
            "profit_per_decision": Estimate::new(p.0, p.1.sqrt()),
        }));
        if arm == "control" {
            continue;
        }
        if let Some(control) = by.get(&(*start, *pv, "control".to_string())) {
            let base = stats(control)[2];
            uplift.push(serde_json::json!({
                "start": start, "policy_version": pv, "arm": arm,
                "profit_per_decision": Estimate::new(p.0 - base.0, (p.1 + base.1).sqrt()),
            }));
        }
    }
    serde_json::json!({"bucket": if bucket == 86_400 { "day" } else { "hour" }, "points": points, "uplift": uplift})
}

/// Per product and arm: decisions and mean discount, and per shown price the decisions,
/// purchases, observed conversion with its interval and the mean purchase probability the
/// policy believed (`null` when the edge did not send it). Policy versions are summed.
pub fn prices(sums: &[PriceSums]) -> serde_json::Value {
    type Point = (u64, u64, u64, f64, u64, f64, Option<f64>);
    let mut by: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, std::collections::BTreeMap<i64, Point>>,
    > = Default::default();
    for p in sums {
        let e =
            by.entry(p.sku.clone()).or_default().entry(p.arm.clone()).or_default().entry(p.price_cents).or_default();
        e.0 += p.decisions;
        e.1 += p.purchases;
        e.2 += p.believed_n;
        e.3 += p.believed_sum;
        e.4 += p.discount_n;
        e.5 += p.discount_sum;
        e.6 = e.6.or(p.list_price);
    }
    let products: Vec<serde_json::Value> = by
        .into_iter()
        .map(|(sku, arms)| {
            let list_price = arms.values().flat_map(|a| a.values()).find_map(|p| p.6);
            let arms: Vec<serde_json::Value> = arms
                .into_iter()
                .map(|(arm, points)| {
                    let decisions: u64 = points.values().map(|p| p.0).sum();
                    let (dn, ds) = points.values().fold((0, 0.0), |a, p| (a.0 + p.4, a.1 + p.5));
                    let points: Vec<serde_json::Value> = points
                        .iter()
                        .rev()
                        .map(|(cents, p)| {
                            serde_json::json!({
                                "price": *cents as f64 / 100.0, "decisions": p.0, "purchases": p.1,
                                "conversion": proportion(p.0, p.1),
                                "believed": (p.2 > 0).then(|| p.3 / p.2 as f64),
                            })
                        })
                        .collect();
                    serde_json::json!({
                        "arm": arm, "decisions": decisions,
                        "mean_discount": (dn > 0).then(|| ds / dn as f64), "points": points,
                    })
                })
                .collect();
            serde_json::json!({"sku": sku, "list_price": list_price, "arms": arms})
        })
        .collect();
    serde_json::json!({"products": products})
}

/// Per categorical group: shown price relative to the policy's uniform price (mean and
/// interval), personalized share and how often the personalization cap bound; and per
/// jurisdiction the decisions and how many showed a disclosure. Policy versions are summed.
pub fn fairness(sums: &[GroupSums]) -> serde_json::Value {
    let mut by: std::collections::BTreeMap<(String, String), GroupSums> = Default::default();
    for g in sums {
        let t = by.entry((g.column.clone(), g.value.clone())).or_default();
        t.decisions += g.decisions;
        t.relative_n += g.relative_n;
        t.relative_sum += g.relative_sum;
        t.relative_sq += g.relative_sq;
        t.personalized += g.personalized;
        t.cap_binds += g.cap_binds;
        t.disclosed += g.disclosed;
    }
    let share = |k: u64, n: u64| if n == 0 { f64::NAN } else { k as f64 / n as f64 };
    let mut groups = Vec::new();
    let mut disclosure = Vec::new();
    for ((column, value), g) in by {
        if column == "jurisdiction" {
            disclosure
                .push(serde_json::json!({"jurisdiction": value, "decisions": g.decisions, "disclosed": g.disclosed}));
            continue;
        }
        groups.push(serde_json::json!({
            "column": column, "value": value, "decisions": g.decisions,
            "relative_price": estimate(g.relative_n, g.relative_sum, g.relative_sq),
            "personalized_share": share(g.personalized, g.decisions),
            "cap_binds_share": share(g.cap_binds, g.decisions),
        }));
    }
    serde_json::json!({"groups": groups, "disclosure": disclosure})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_have_wilson_intervals_inside_zero_one() {
        let none = proportion(4, 0);
        assert_eq!((none.mean, none.ci_low), (0.0, 0.0));
        assert!(none.ci_high > 0.3 && none.ci_high < 0.6, "{none:?}");
        let third = proportion(3, 1);
        assert!(third.ci_low > 0.0 && third.ci_high < 1.0, "{third:?}");
        // A textbook value: 10 of 100 gives about [0.0552, 0.1744].
        let t = proportion(100, 10);
        assert!((t.ci_low - 0.0552).abs() < 1e-3 && (t.ci_high - 0.1744).abs() < 1e-3, "{t:?}");
        assert!(estimate(1, 5.0, 25.0).ci_low.is_nan(), "one observation has no interval");
    }

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
