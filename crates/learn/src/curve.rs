//! The population demand curve from logged data, doubly robust: at each price ratio, the
//! mean of a model's prediction over every logged decision, corrected by the importance
//! weighted residuals of the decisions that showed that price. Unbiased when the logged
//! propensities are right, whatever the model's bias; the model only lowers the variance.
//! So one model's error cannot move the uniform price that every shopper's cap is built on.

use edgeprice_core::model::Heads;
use edgeprice_core::pricing::curve::PopulationCurve;

/// One logged decision: the model's heads for its session, the shown price ratio, the
/// probability the logging policy had of showing it, and the outcome.
#[derive(Clone, Copy, Debug)]
pub struct Observation {
    pub heads: Heads,
    pub shown_ratio: f64,
    pub propensity: f64,
    pub bought: bool,
}

/// Ratios closer than this are the same price (ratios of one list price in minor units
/// differ by far more).
const SAME_RATIO: f64 = 1e-9;

/// Doubly robust purchase probability at each of `ratios`, with the number of decisions
/// that showed it. Ratios no decision showed get the model's mean alone (support 0).
pub fn doubly_robust(ratios: &[f64], obs: &[Observation]) -> (PopulationCurve, Vec<usize>) {
    let n = obs.len().max(1) as f64;
    let mut probs = Vec::with_capacity(ratios.len());
    let mut support = Vec::with_capacity(ratios.len());
    for &r in ratios {
        let mut total = 0.0;
        let mut shown = 0;
        for o in obs {
            let m = o.heads.purchase_probability(r);
            total += m;
            if (o.shown_ratio - r).abs() < SAME_RATIO && o.propensity > 0.0 {
                shown += 1;
                total += (f64::from(u8::from(o.bought)) - m) / o.propensity;
            }
        }
        probs.push((total / n).clamp(0.0, 1.0));
        support.push(shown);
    }
    let mut curve = PopulationCurve { ratios: ratios.to_vec(), purchase_probability: probs };
    curve.normalize();
    (curve, support)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_biased_model_is_corrected_by_the_logged_outcomes() {
        // Truth: P(buy) = 0.2 at r = 1 and 0.4 at r = 0.9; the model says 0.5 everywhere.
        let model = Heads::logistic(0.0, 1e-9);
        let mut obs = Vec::new();
        for i in 0..10_000 {
            let (r, p) = if i % 2 == 0 { (1.0, 0.2) } else { (0.9, 0.4) };
            let bought = (i / 2) % 10 < (p * 10.0) as usize;
            obs.push(Observation { heads: model, shown_ratio: r, propensity: 0.5, bought });
        }
        let (curve, support) = doubly_robust(&[0.9, 1.0, 0.8], &obs);
        assert_eq!(support, vec![5_000, 5_000, 0]);
        assert!((curve.at(1.0) - 0.2).abs() < 1e-6, "{curve:?}");
        assert!((curve.at(0.9) - 0.4).abs() < 1e-6, "{curve:?}");
        assert!((curve.at(0.8) - 0.5).abs() < 1e-6, "unsupported ratio keeps the model's mean: {curve:?}");
    }
}
