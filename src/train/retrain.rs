//! Retraining from logged feedback. The model conditions on the shown price, and the
//! logging policy chose prices from the session's features (and a hash), so P(buy | x, r)
//! is not confounded; but the greedy arm concentrates the log on a few prices per segment,
//! and a misspecified model then fits those prices at the expense of the others. The
//! correction: importance resampling. Each logged decision enters the training set with an
//! expected multiplicity proportional to 1 / propensity (capped at `max_weight`), as if
//! prices had been shown uniformly. The population demand curve that sets the uniform price
//! is estimated from the log by IPS at every price shown at least `min_support` times, and
//! from the new model's mean prediction elsewhere.

use super::TrainError;
use super::mlp::{self, Examples, MlpConfig};
use super::onnx::{self, Precision};
use crate::bundle::PopulationCurve;
use crate::features::FeatureSchema;
use crate::learn::evaluate::Logged;
use crate::model::BehaviourModel;
use crate::rng::SplitMix64;
use crate::session::Session;

#[derive(Clone, Debug, serde::Serialize)]
pub struct RetrainConfig {
    pub seed: u64,
    pub mlp: MlpConfig,
    /// Largest importance weight (1 / propensity) before capping.
    pub max_weight: f64,
    /// Shown prices with fewer logged decisions take the model's curve.
    pub min_support: usize,
}

impl Default for RetrainConfig {
    fn default() -> Self {
        Self { seed: 42, mlp: MlpConfig::default(), max_weight: 20.0, min_support: 100 }
    }
}

pub struct Retrained {
    pub schema: FeatureSchema,
    pub int8: Vec<u8>,
    pub curve: PopulationCurve,
    /// Logged decisions, and training rows after resampling.
    pub decisions: usize,
    pub training_rows: usize,
}

/// Trains on `logged` (one product, list price `list_minor`); `ladder` is the rules' ratios.
pub fn retrain(
    logged: &[Logged],
    list_minor: i64,
    ladder: &[f64],
    config: &RetrainConfig,
) -> Result<Retrained, TrainError> {
    let buyers = logged.iter().filter(|l| l.purchased).count();
    if buyers < 5 || logged.len() - buyers < 5 {
        return Err(TrainError::TooFewRows { folds: 5 });
    }
    let sessions: Vec<&Session> = logged.iter().map(|l| &l.session).collect();
    let schema = FeatureSchema::fit(&sessions)?;
    let weights: Vec<f64> = logged.iter().map(|l| (1.0 / l.propensity).min(config.max_weight)).collect();
    let mean_w = weights.iter().sum::<f64>() / weights.len() as f64;
    let mut rng = SplitMix64::new(config.seed ^ 0x0052_4554_5241_494e);
    let (mut features, mut ratio, mut bought) = (Vec::new(), Vec::new(), Vec::new());
    for (l, w) in logged.iter().zip(&weights) {
        let m = w / mean_w;
        let copies = m.floor() as usize + usize::from(rng.next_f64() < m.fract());
        let x = schema.transform(&l.session);
        for _ in 0..copies {
            features.extend_from_slice(&x);
            ratio.push((l.price_minor as f64 / list_minor as f64) as f32);
            bought.push(if l.purchased { 1.0 } else { 0.0 });
        }
    }
    let examples = Examples { width: schema.width(), features: &features, price_ratio: &ratio, bought: &bought };
    let model = mlp::fit(&examples, &config.mlp, config.seed, &mut || {})?;
    let doc = format!(
        "edgeprice behaviour model retrained from {} logged decisions (importance resampling, cap {}); seed {}",
        logged.len(),
        config.max_weight,
        config.seed
    );
    let int8 = onnx::export(&model, Precision::Int8, &doc);
    let served = BehaviourModel::load(&int8, schema.width())?;

    // Population curve: IPS where the log supports it, the model's mean elsewhere.
    let n = logged.len() as f64;
    let xs: Vec<Vec<f32>> = logged.iter().map(|l| schema.transform(&l.session)).collect();
    let heads: Vec<_> = xs.iter().filter_map(|x| served.heads(x).ok()).collect();
    let mut shown: Vec<i64> = logged.iter().map(|l| l.price_minor).collect();
    shown.sort_unstable();
    shown.dedup();
    let mut points: Vec<(f64, f64)> = Vec::new();
    for price in shown {
        let hits: Vec<&Logged> = logged.iter().filter(|l| l.price_minor == price).collect();
        if hits.len() >= config.min_support {
            let ips = hits.iter().map(|l| f64::from(u8::from(l.purchased)) / l.propensity).sum::<f64>() / n;
            points.push((price as f64 / list_minor as f64, ips.clamp(0.0, 1.0)));
        }
    }
    for &r in ladder {
        if !points.iter().any(|(x, _)| (x - r).abs() < 0.015) && !heads.is_empty() {
            let mean = heads.iter().map(|h| h.purchase_probability(r)).sum::<f64>() / heads.len() as f64;
            points.push((r, mean));
        }
    }
    let mut curve = PopulationCurve {
        ratios: points.iter().map(|p| p.0).collect(),
        purchase_probability: points.iter().map(|p| p.1).collect(),
    };
    curve.normalize();
    Ok(Retrained { schema, int8, curve, decisions: logged.len(), training_rows: ratio.len() })
}
