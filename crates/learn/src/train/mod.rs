//! Training the behaviour model from logged data, with 5-fold cross-validation on the
//! train file, and exporting it as fp32 and int8 ONNX (native only: candle and prost).
//! The learner sees only the logged (session, price ratio, outcome) triples the market
//! produced under the exploring logging policy, never the market's parameters.

pub mod gate;
pub mod mlp;
pub mod onnx;
pub mod report;
pub mod retrain;
pub mod round;
pub mod study;

use crate::dataset::Row;
use crate::market::{Impression, LoggingPolicy, MarketModel, simulate_log};
use edgeprice_core::features::{FeatureSchema, SchemaError};
use edgeprice_core::model::{BehaviourModel, ModelError};
use edgeprice_core::rng::SplitMix64;
use edgeprice_core::session::Session;
use mlp::{Examples, Mlp, MlpConfig};
use onnx::Precision;
pub use report::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("row {0} has no Revenue label; training needs labelled sessions")]
    Unlabelled(usize),
    #[error("training needs at least {folds} buyers and {folds} non-buyers")]
    TooFewRows { folds: usize },
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("the exported model does not load: {0}")]
    Export(#[from] ModelError),
    #[error("training failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Everything that decides the result; the same config and data give the same bytes.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TrainConfig {
    pub seed: u64,
    pub folds: usize,
    /// Simulated visits per session in the logged data.
    pub visits: u32,
    pub mlp: MlpConfig,
    #[serde(skip)]
    pub logging: LoggingPolicy,
    /// The market that decides the logged purchases (version 1 unless `--market`); the
    /// learner sees only the log it produced.
    #[serde(skip)]
    pub market: MarketModel,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            folds: 5,
            visits: 4,
            mlp: MlpConfig::default(),
            logging: LoggingPolicy::default(),
            market: MarketModel::default(),
        }
    }
}

impl TrainConfig {
    /// Epochs over all the fits `train` makes (for a progress bar).
    pub fn total_epochs(&self) -> u64 {
        ((self.folds + 1) * self.mlp.epochs) as u64
    }
}

/// What `edgeprice train` writes.
pub struct Trained {
    pub schema: FeatureSchema,
    pub fp32: Vec<u8>,
    pub int8: Vec<u8>,
    pub metrics: Metrics,
}

/// Logged examples of the given sessions, featurized with `schema`.
struct Design {
    features: Vec<f32>,
    price_ratio: Vec<f32>,
    bought: Vec<f32>,
}

fn design(schema: &FeatureSchema, sessions: &[&Session], log: &[&Impression]) -> Design {
    let rows: Vec<Vec<f32>> = sessions.iter().map(|s| schema.transform(s)).collect();
    let mut d = Design { features: Vec::new(), price_ratio: Vec::new(), bought: Vec::new() };
    for imp in log {
        d.features.extend_from_slice(&rows[imp.session]);
        d.price_ratio.push(imp.price_ratio as f32);
        d.bought.push(if imp.purchased { 1.0 } else { 0.0 });
    }
    d
}

/// Fits schema and MLP on the sessions `members` (indices into `rows`) and their log.
fn fit_on(
    rows: &[Row],
    members: &[usize],
    log: &[Impression],
    config: &TrainConfig,
    seed: u64,
    on_epoch: &mut dyn FnMut(),
) -> Result<(FeatureSchema, Mlp), TrainError> {
    let sessions: Vec<&Session> = members.iter().map(|&i| &rows[i].session).collect();
    let schema = FeatureSchema::fit(&sessions)?;
    let mut local = vec![usize::MAX; rows.len()];
    for (k, &i) in members.iter().enumerate() {
        local[i] = k;
    }
    let mine: Vec<Impression> = log
        .iter()
        .filter(|imp| local[imp.session] != usize::MAX)
        .map(|imp| Impression { session: local[imp.session], ..imp.clone() })
        .collect();
    let refs: Vec<&Impression> = mine.iter().collect();
    let d = design(&schema, &sessions, &refs);
    let examples =
        Examples { width: schema.width(), features: &d.features, price_ratio: &d.price_ratio, bought: &d.bought };
    let mlp = mlp::fit(&examples, &config.mlp, seed, on_epoch)?;
    Ok((schema, mlp))
}

/// Stratified fold of every row: buyers and non-buyers each shuffled, then dealt round-robin.
pub fn stratified_folds(labels: &[bool], folds: usize, seed: u64) -> Vec<usize> {
    let mut fold = vec![0; labels.len()];
    for class in [true, false] {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        SplitMix64::for_item(seed, 3, class as u64).shuffle(&mut members);
        for (k, i) in members.into_iter().enumerate() {
            fold[i] = k % folds;
        }
    }
    fold
}

/// Cross-validates, then trains the final model on all rows.
pub fn train(rows: &[Row], config: &TrainConfig, on_epoch: &mut dyn FnMut()) -> Result<Trained, TrainError> {
    let labels: Vec<bool> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| r.revenue.ok_or(TrainError::Unlabelled(i + 1)))
        .collect::<Result<_, _>>()?;
    let buyers = labels.iter().filter(|&&l| l).count();
    if buyers < config.folds || labels.len() - buyers < config.folds {
        return Err(TrainError::TooFewRows { folds: config.folds });
    }
    let market = &config.market;
    let pairs: Vec<(&Session, bool)> = rows.iter().zip(&labels).map(|(r, &l)| (&r.session, l)).collect();
    let log = simulate_log(market, &config.logging, &pairs, config.visits, config.seed);
    let fold = stratified_folds(&labels, config.folds, config.seed);

    let mut cv = report::CrossValidation::new(rows.len(), &config.logging.ladder);
    for k in 0..config.folds {
        let train_idx: Vec<usize> = (0..rows.len()).filter(|&i| fold[i] != k).collect();
        let (schema, mlp) = fit_on(rows, &train_idx, &log, config, config.seed.wrapping_add(k as u64 + 1), on_epoch)?;
        let fp32 = BehaviourModel::load(&onnx::export(&mlp, Precision::Fp32, ""), schema.width())?;
        let int8 = BehaviourModel::load(&onnx::export(&mlp, Precision::Int8, ""), schema.width())?;
        for i in (0..rows.len()).filter(|&i| fold[i] == k) {
            let x = schema.transform(&rows[i].session);
            cv.record(k, i, &rows[i].session, labels[i], fp32.heads(&x)?, int8.heads(&x)?, market);
        }
    }

    let all: Vec<usize> = (0..rows.len()).collect();
    let (schema, mlp) = fit_on(rows, &all, &log, config, config.seed, on_epoch)?;
    let doc = format!(
        "edgeprice behaviour model: P(buy | x, r) = {}; feature transform v{}; seed {}",
        if config.mlp.form >= 2 { "c(x) * sigmoid(a(x) - b(x) * (r - 1))" } else { "sigmoid(a(x) - b(x) * (r - 1))" },
        schema.transform_version,
        config.seed
    );
    let fp32 = onnx::export(&mlp, Precision::Fp32, &doc);
    let int8 = onnx::export(&mlp, Precision::Int8, &doc);
    // The shipped files must load in the runtime that will serve them.
    BehaviourModel::load(&fp32, schema.width())?;
    BehaviourModel::load(&int8, schema.width())?;
    let metrics = cv.finish(config, &labels, &log, &schema, fp32.len(), int8.len());
    Ok(Trained { schema, fp32, int8, metrics })
}
