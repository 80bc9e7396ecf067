//! Retraining from logged feedback. The model conditions on the shown price, and the
//! logging policy chose prices from the session's features (and a hash), so P(buy | x, r)
//! is not confounded; but the greedy arm concentrates the log on a few prices per segment,
//! and a misspecified model then fits those prices at the expense of the others. The
//! correction: importance resampling. Each logged decision enters the training set with an
//! expected multiplicity proportional to 1 / propensity (capped at `max_weight`), as if
//! prices had been shown uniformly. The population demand curve that sets the uniform price
//! is estimated from the log, doubly robust (`learn::curve`), at every price shown at least
//! `min_support` times, and from the new model's mean prediction at ladder rungs elsewhere.

use super::TrainError;
use super::mlp::{self, Examples, MlpConfig};
use super::onnx::{self, Precision};
use crate::curve::{Observation, doubly_robust};
use crate::evaluate::Logged;
use edgeprice_core::features::FeatureSchema;
use edgeprice_core::model::BehaviourModel;
use edgeprice_core::pricing::curve::PopulationCurve;
use edgeprice_core::rng::SplitMix64;
use edgeprice_core::session::Session;

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

/// A model fitted on logged decisions: its schema, int8 ONNX bytes and the loaded model.
pub struct Fitted {
    pub schema: FeatureSchema,
    pub int8: Vec<u8>,
    pub model: BehaviourModel,
    /// Training rows after importance resampling.
    pub rows: usize,
}

/// Fits schema and model on `logged` (list price `list_minor`), importance-resampled.
pub fn fit_logged(logged: &[Logged], list_minor: i64, config: &RetrainConfig) -> Result<Fitted, TrainError> {
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
    let mlp = mlp::fit(&examples, &config.mlp, config.seed, &mut || {})?;
    let doc = format!(
        "edgeprice behaviour model retrained from {} logged decisions (importance resampling, cap {}); seed {}",
        logged.len(),
        config.max_weight,
        config.seed
    );
    let int8 = onnx::export(&mlp, Precision::Int8, &doc);
    let model = BehaviourModel::load(&int8, schema.width())?;
    Ok(Fitted { schema, int8, model, rows: ratio.len() })
}

/// Trains on `logged` (one product, list price `list_minor`); `ladder` is the rules' ratios.
pub fn retrain(
    logged: &[Logged],
    list_minor: i64,
    ladder: &[f64],
    config: &RetrainConfig,
) -> Result<Retrained, TrainError> {
    let Fitted { schema, int8, model: served, rows } = fit_logged(logged, list_minor, config)?;
    // Population curve: doubly robust where the log supports a price, the model elsewhere.
    let list = list_minor as f64;
    let obs: Vec<Observation> = logged
        .iter()
        .filter_map(|l| {
            let heads = served.heads(&schema.transform(&l.session)).ok()?;
            Some(Observation {
                heads,
                shown_ratio: l.price_minor as f64 / list,
                propensity: l.propensity,
                bought: l.purchased,
            })
        })
        .collect();
    let mut shown: Vec<i64> = logged.iter().map(|l| l.price_minor).collect();
    shown.sort_unstable();
    shown.dedup();
    let mut ratios: Vec<f64> = shown
        .into_iter()
        .filter(|p| logged.iter().filter(|l| l.price_minor == *p).count() >= config.min_support)
        .map(|p| p as f64 / list)
        .collect();
    let unsupported: Vec<f64> =
        ladder.iter().copied().filter(|r| !ratios.iter().any(|x| (x - r).abs() < 0.015)).collect();
    ratios.extend(unsupported);
    let (curve, _) = doubly_robust(&ratios, &obs);
    Ok(Retrained { schema, int8, curve, decisions: logged.len(), training_rows: rows })
}
