//! Cross-validation bookkeeping and the metrics written to `metrics.json`: ranking and
//! calibration of P(buy | r = 1) against the real labels, int8 against fp32, and how well
//! the learned price response matches the market's over the logging ladder.

use serde::Serialize;

use super::TrainConfig;
use crate::curve::{Observation, doubly_robust};
use crate::market::{Impression, MARKET_VERSION, MarketModel};
use crate::metrics::{auc, expected_calibration_error, log_loss, mean_std};
use edgeprice_core::features::{FEATURE_TRANSFORM_VERSION, FeatureSchema};
use edgeprice_core::model::Heads;
use edgeprice_core::rng::RNG_VERSION;
use edgeprice_core::session::{Numeric, Session};

/// Mean, sample standard deviation and the per-fold values of one metric.
#[derive(Serialize, Clone, Debug)]
pub struct Summary {
    pub mean: f64,
    pub std: f64,
    pub per_fold: Vec<f64>,
}

impl Summary {
    fn of(per_fold: Vec<f64>) -> Self {
        let (mean, std) = mean_std(&per_fold);
        Self { mean, std, per_fold }
    }
}

/// Mean purchase probability over a segment's held-out sessions, per ladder rung.
#[derive(Serialize, Clone, Debug)]
pub struct SegmentCurve {
    pub segment: String,
    pub sessions: usize,
    pub market: Vec<f64>,
    pub model: Vec<f64>,
    pub max_abs_error: f64,
}

#[derive(Serialize, Clone, Debug)]
pub struct PriceResponse {
    pub ladder: Vec<f64>,
    /// Mean over segments and rungs of |model - market|.
    pub mean_abs_error: f64,
    pub max_abs_error: f64,
    pub segments: Vec<SegmentCurve>,
}

#[derive(Serialize, Clone, Debug)]
pub struct CvMetrics {
    pub folds: usize,
    pub auc_fp32: Summary,
    pub auc_int8: Summary,
    /// Mean over folds of AUC(fp32) - AUC(int8).
    pub int8_auc_drop: f64,
    pub log_loss_fp32: Summary,
    /// Expected calibration error, 10 equal-width bins.
    pub ece_fp32: Summary,
    pub int8_max_abs_prob_diff: f64,
    pub int8_mean_abs_prob_diff: f64,
    /// Price response on held-out sessions: model (fp32) against the market's probability.
    pub price_response: PriceResponse,
    /// Held-out likelihood of the price response: mean log loss of every logged impression
    /// (at the price it showed) under the out-of-fold int8 model.
    pub logged_log_loss: f64,
}

#[derive(Serialize, Clone, Debug)]
pub struct Versions {
    pub feature_transform: u32,
    pub market: u32,
    pub rng: u32,
}

#[derive(Serialize, Clone, Debug)]
pub struct DataSummary {
    /// The market family and parameters that decided the logged purchases.
    pub market: serde_json::Value,
    pub sessions: usize,
    pub buyers: usize,
    pub logged_impressions: usize,
    pub logged_purchases: usize,
    pub logging_ladder: Vec<f64>,
    pub logging_propensities: Vec<f64>,
}

#[derive(Serialize, Clone, Debug)]
pub struct ModelSummary {
    pub inputs: usize,
    pub input_names: Vec<String>,
    pub parameters: usize,
    pub fp32_bytes: usize,
    pub int8_bytes: usize,
}

/// The population demand curve the bundle carries (it sets the policy's uniform price).
#[derive(Serialize, Clone, Debug)]
pub struct EvidenceCurve {
    pub ratios: Vec<f64>,
    pub purchase_probability: Vec<f64>,
    /// Logged decisions that showed each ratio.
    pub support: Vec<usize>,
    pub method: &'static str,
}

#[derive(Serialize, Clone, Debug)]
pub struct Metrics {
    pub versions: Versions,
    pub config: TrainConfig,
    pub data: DataSummary,
    pub cross_validation: CvMetrics,
    pub population_curve: EvidenceCurve,
    pub model: ModelSummary,
}

struct Segment {
    name: &'static str,
    member: fn(&Session) -> bool,
    market: Vec<f64>,
    model: Vec<f64>,
    count: usize,
}

/// A named subset of sessions.
type SegmentRule = (&'static str, fn(&Session) -> bool);

const SEGMENTS: [SegmentRule; 6] = [
    ("all", |_| true),
    ("VisitorType=Returning_Visitor", |s| s.visitor_type == "Returning_Visitor"),
    ("VisitorType=New_Visitor", |s| s.visitor_type == "New_Visitor"),
    ("VisitorType=Other", |s| s.visitor_type != "Returning_Visitor" && s.visitor_type != "New_Visitor"),
    ("PageValues>0", |s| s.get(Numeric::PageValues) > 0.0),
    ("PageValues=0", |s| s.get(Numeric::PageValues) <= 0.0),
];

/// Out-of-fold predictions, filled fold by fold.
pub struct CrossValidation {
    ladder: Vec<f64>,
    fold: Vec<usize>,
    p_fp32: Vec<f64>,
    p_int8: Vec<f64>,
    /// Out-of-fold int8 heads of every row (what the served model would say of it).
    heads: Vec<Option<Heads>>,
    segments: Vec<Segment>,
}

impl CrossValidation {
    pub fn new(rows: usize, ladder: &[f64]) -> Self {
        Self {
            ladder: ladder.to_vec(),
            fold: vec![0; rows],
            p_fp32: vec![f64::NAN; rows],
            p_int8: vec![f64::NAN; rows],
            heads: vec![None; rows],
            segments: SEGMENTS
                .iter()
                .map(|&(name, member)| Segment {
                    name,
                    member,
                    market: vec![0.0; ladder.len()],
                    model: vec![0.0; ladder.len()],
                    count: 0,
                })
                .collect(),
        }
    }

    /// Records held-out row `i` of fold `k`.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        k: usize,
        i: usize,
        s: &Session,
        bought: bool,
        fp32: Heads,
        int8: Heads,
        market: &MarketModel,
    ) {
        self.fold[i] = k;
        self.p_fp32[i] = fp32.purchase_probability(1.0);
        self.p_int8[i] = int8.purchase_probability(1.0);
        self.heads[i] = Some(int8);
        for seg in self.segments.iter_mut().filter(|seg| (seg.member)(s)) {
            seg.count += 1;
            for (j, &r) in self.ladder.iter().enumerate() {
                seg.market[j] += market.purchase_probability(s, bought, r);
                seg.model[j] += fp32.purchase_probability(r);
            }
        }
    }

    pub fn finish(
        self,
        config: &TrainConfig,
        labels: &[bool],
        log: &[Impression],
        schema: &FeatureSchema,
        fp32_bytes: usize,
        int8_bytes: usize,
    ) -> Metrics {
        let folds = config.folds;
        let pick = |k: usize, v: &[f64]| -> (Vec<f64>, Vec<bool>) {
            (0..labels.len()).filter(|&i| self.fold[i] == k).map(|i| (v[i], labels[i])).unzip()
        };
        type Score<'a> = &'a dyn Fn(&[f64], &[bool]) -> Option<f64>;
        let per_fold = |f: Score, v: &[f64]| -> Vec<f64> {
            (0..folds)
                .map(|k| {
                    let (p, y) = pick(k, v);
                    f(&p, &y).unwrap_or(f64::NAN)
                })
                .collect()
        };
        let auc32 = per_fold(&auc, &self.p_fp32);
        let auc8 = per_fold(&auc, &self.p_int8);
        let drop = auc32.iter().zip(&auc8).map(|(a, b)| a - b).sum::<f64>() / folds as f64;
        let diffs: Vec<f64> = self.p_fp32.iter().zip(&self.p_int8).map(|(a, b)| (a - b).abs()).collect();
        let mut curves = Vec::new();
        let mut errors = Vec::new();
        for seg in &self.segments {
            let n = seg.count.max(1) as f64;
            let market: Vec<f64> = seg.market.iter().map(|v| v / n).collect();
            let model: Vec<f64> = seg.model.iter().map(|v| v / n).collect();
            let errs: Vec<f64> = market.iter().zip(&model).map(|(a, b)| (a - b).abs()).collect();
            errors.extend_from_slice(&errs);
            curves.push(SegmentCurve {
                segment: seg.name.into(),
                sessions: seg.count,
                max_abs_error: errs.iter().copied().fold(0.0, f64::max),
                market,
                model,
            });
        }
        // Doubly robust on the logged impressions with cross-fitted heads: no session's
        // prediction comes from a model that saw its outcomes.
        let obs: Vec<Observation> = log
            .iter()
            .filter_map(|imp| {
                Some(Observation {
                    heads: self.heads.get(imp.session).copied().flatten()?,
                    shown_ratio: imp.price_ratio,
                    propensity: imp.propensity,
                    bought: imp.purchased,
                })
            })
            .collect();
        let logged_log_loss = obs
            .iter()
            .map(|o| {
                let p = o.heads.purchase_probability(o.shown_ratio).clamp(1e-12, 1.0 - 1e-12);
                -if o.bought { p.ln() } else { (1.0 - p).ln() }
            })
            .sum::<f64>()
            / obs.len().max(1) as f64;
        let (curve, support) = doubly_robust(&self.ladder, &obs);
        let population_curve = EvidenceCurve {
            ratios: curve.ratios,
            purchase_probability: curve.purchase_probability,
            support,
            method: "doubly robust over the logged impressions: cross-fitted int8 model + inverse-propensity residuals",
        };
        let parameters = {
            let w = schema.width();
            let [h1, h2] = config.mlp.hidden;
            let heads = if config.mlp.form >= 2 { 3 } else { 2 };
            w * h1 + h1 + h1 * h2 + h2 + heads * (h2 + 1)
        };
        Metrics {
            versions: Versions {
                feature_transform: FEATURE_TRANSFORM_VERSION,
                market: MARKET_VERSION,
                rng: RNG_VERSION,
            },
            config: config.clone(),
            data: DataSummary {
                market: config.market.describe(),
                sessions: labels.len(),
                buyers: labels.iter().filter(|&&l| l).count(),
                logged_impressions: log.len(),
                logged_purchases: log.iter().filter(|i| i.purchased).count(),
                logging_ladder: config.logging.ladder.clone(),
                logging_propensities: config.logging.propensities(),
            },
            cross_validation: CvMetrics {
                folds,
                auc_fp32: Summary::of(auc32),
                auc_int8: Summary::of(auc8),
                int8_auc_drop: drop,
                log_loss_fp32: Summary::of(per_fold(&log_loss, &self.p_fp32)),
                ece_fp32: Summary::of(per_fold(&|p, y| expected_calibration_error(p, y, 10), &self.p_fp32)),
                int8_max_abs_prob_diff: diffs.iter().copied().fold(0.0, f64::max),
                int8_mean_abs_prob_diff: diffs.iter().sum::<f64>() / diffs.len().max(1) as f64,
                logged_log_loss,
                price_response: PriceResponse {
                    ladder: self.ladder.clone(),
                    mean_abs_error: errors.iter().sum::<f64>() / errors.len().max(1) as f64,
                    max_abs_error: errors.iter().copied().fold(0.0, f64::max),
                    segments: curves,
                },
            },
            population_curve,
            model: ModelSummary {
                inputs: schema.width(),
                input_names: schema.names(),
                parameters,
                fp32_bytes,
                int8_bytes,
            },
        }
    }
}
