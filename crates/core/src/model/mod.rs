//! The behaviour model at scoring time: ONNX bytes in, the two heads out, run by the int8
//! fast path (`plan`) when the model lowers and agrees with tract-onnx, else by tract-onnx.
//! Builds without the `tract` feature (the lean builds) run only fast-path plans.
//! `P(buy | x, r) = c(x) * sigmoid(a(x) - b(x) * (r - 1))` with `b(x) > 0` and a ceiling
//! `c(x)` in (0, 1] (a share of shoppers no discount wins; models without the `c` output
//! have `c = 1`), so one run prices every candidate and demand always falls as price rises.
//! Invariant: a loaded model takes exactly `width` f32 inputs and yields finite heads.

use std::sync::Arc;

#[cfg(feature = "tract")]
use tract_onnx::prelude::*;

pub mod heads;
mod kernel;
pub mod plan;

pub use heads::{Heads, INPUT_NAME, OUTPUT_A, OUTPUT_B, OUTPUT_C};
use plan::Plan;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The bytes are not an ONNX model tract can load and optimize.
    #[error("model cannot be loaded: {0}")]
    Invalid(String),
    /// The model loads but its inputs or outputs are not what the feature schema says.
    #[error("model does not match the feature schema: {0}")]
    SchemaMismatch(String),
    #[error("feature vector has {found} values, the model takes {expected}")]
    WrongWidth { expected: usize, found: usize },
    #[error("model run failed: {0}")]
    Run(String),
    #[error("model produced a non-finite output")]
    NonFinite,
}

impl ModelError {
    pub fn code(&self) -> &'static str {
        match self {
            ModelError::Invalid(_) => "model_invalid",
            ModelError::SchemaMismatch(_) => "model_schema_mismatch",
            ModelError::WrongWidth { .. } => "model_wrong_width",
            ModelError::Run(_) => "model_run_failed",
            ModelError::NonFinite => "model_non_finite",
        }
    }
}

/// A loaded, optimized model with batch size 1 (each session scored on its own, so a
/// score never depends on other rows).
#[derive(Clone)]
pub struct BehaviourModel {
    #[cfg(feature = "tract")]
    plan: Option<Arc<TypedRunnableModel>>,
    /// ONNX bytes of a model built from a signed plan: tract-onnx loads them on first use
    /// of `reference_heads` (not at load, which would cost a cold start tens of ms).
    #[cfg(feature = "tract")]
    lazy: Option<Arc<LazyReference>>,
    /// The int8 fast path (`crate::model::plan`), kept only when it agrees with tract-onnx on the
    /// load-time test vectors; tract runs the model otherwise.
    fast: Option<Arc<Plan>>,
    width: usize,
    /// The tract-onnx model has the ceiling output `c`.
    #[cfg(feature = "tract")]
    ceiling: bool,
}

/// ONNX bytes and, once loaded, the tract-onnx model made from them.
#[cfg(feature = "tract")]
type LazyReference = (Vec<u8>, std::sync::OnceLock<Result<BehaviourModel, ModelError>>);

#[cfg(feature = "tract")]
/// Test vectors of the load-time check: zeros and seeded draws of the standardized range.
fn test_vectors(width: usize) -> Vec<Vec<f32>> {
    let mut rng = crate::rng::SplitMix64::new(0x6661_7374);
    let mut out = vec![vec![0.0; width]];
    for k in 0..15 {
        let spread = 0.5 + k as f64 * 0.25;
        out.push((0..width).map(|_| (rng.next_normal() * spread) as f32).collect());
    }
    out
}

/// Largest relative difference of the heads the fast path may show against tract-onnx.
#[cfg(feature = "tract")]
pub const FAST_PATH_TOLERANCE: f32 = 1e-4;

impl std::fmt::Debug for BehaviourModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BehaviourModel").field("width", &self.width).finish()
    }
}

#[cfg(feature = "tract")]
fn invalid(e: impl std::fmt::Display) -> ModelError {
    ModelError::Invalid(format!("{e:#}"))
}

/// Checks `plan` against tract-onnx (`reference`) on the load-time test vectors: an error
/// names the first vector's heads that differ by more than `FAST_PATH_TOLERANCE`. A vector
/// on which tract-onnx's own output overflows (its Softplus is `ln(1 + e^z)`, infinite past
/// z = 88 in f32; the fast path uses the overflow-free form) cannot be judged and is
/// skipped, but at least `MIN_CHECKED` vectors must be.
#[cfg(feature = "tract")]
fn check_plan(plan: &Plan, reference: &BehaviourModel) -> Result<(), ModelError> {
    let mut checked = 0;
    for x in test_vectors(reference.width) {
        let t = match reference.reference_heads(&x) {
            Err(ModelError::NonFinite) => continue,
            other => other?,
        };
        let f = plan.heads(&x).ok_or(ModelError::NonFinite)?;
        if [(f.a, t.a), (f.b, t.b), (f.c, t.c)]
            .iter()
            .any(|(u, v)| (u - v).abs() > FAST_PATH_TOLERANCE * v.abs().max(1.0))
        {
            return Err(ModelError::SchemaMismatch(format!("fast path {f:?} differs from tract-onnx {t:?}")));
        }
        checked += 1;
    }
    if checked < MIN_CHECKED {
        return Err(ModelError::NonFinite);
    }
    Ok(())
}

/// Load-time test vectors the fast path must be checked on (of 16).
#[cfg(feature = "tract")]
const MIN_CHECKED: usize = 12;

impl BehaviourModel {
    /// A model run from a fast-path plan alone (the lean build's only way to run a model).
    pub fn from_plan(plan: Plan, width: usize) -> Result<Self, ModelError> {
        if plan.width() != width {
            return Err(ModelError::SchemaMismatch(format!("plan takes {} inputs, schema has {width}", plan.width())));
        }
        Ok(Self {
            #[cfg(feature = "tract")]
            plan: None,
            #[cfg(feature = "tract")]
            lazy: None,
            fast: Some(Arc::new(plan)),
            width,
            #[cfg(feature = "tract")]
            ceiling: false,
        })
    }

    /// A model served by a signed plan whose ONNX tract-onnx loads only when a reference
    /// run is asked for. The caller has checked that `plan` is the lowering of `onnx`.
    #[cfg(feature = "tract")]
    pub fn from_plan_with_onnx(plan: Plan, onnx: &[u8], width: usize) -> Result<Self, ModelError> {
        let mut model = Self::from_plan(plan, width)?;
        model.lazy = Some(Arc::new((onnx.to_vec(), std::sync::OnceLock::new())));
        Ok(model)
    }

    /// Loads the model into tract-onnx (if not yet) and checks the plan against it on the
    /// load-time test vectors: what `load` does eagerly, for a model built from a plan.
    #[cfg(feature = "tract")]
    pub fn check_reference(&self) -> Result<(), ModelError> {
        self.fast.as_ref().map_or(Ok(()), |fast| check_plan(fast, self))
    }

    #[cfg(not(feature = "tract"))]
    pub fn load(_onnx: &[u8], _width: usize) -> Result<Self, ModelError> {
        Err(ModelError::Invalid("this build has no tract-onnx: it runs models from a bundle's fast-path plan".into()))
    }

    /// Loads ONNX bytes into tract-onnx and checks them against the schema's input width;
    /// keeps the fast-path plan when the model lowers and the plan passes `check_plan`.
    #[cfg(feature = "tract")]
    pub fn load(onnx: &[u8], width: usize) -> Result<Self, ModelError> {
        let mut reader = onnx;
        let model = tract_onnx::onnx().model_for_read(&mut reader).map_err(invalid)?;
        let inputs = model.input_outlets().map_err(invalid)?.len();
        let outputs = model.output_outlets().map_err(invalid)?.len();
        if inputs != 1 || !(outputs == 2 || outputs == 3) {
            return Err(ModelError::SchemaMismatch(format!(
                "expected 1 input and 2 or 3 outputs, found {inputs} and {outputs}"
            )));
        }
        let names: Vec<String> = model
            .output_outlets()
            .map_err(invalid)?
            .iter()
            .map(|o| model.outlet_label(*o).unwrap_or(&model.node(o.node).name).to_string())
            .collect();
        if names != [OUTPUT_A, OUTPUT_B] && names != [OUTPUT_A, OUTPUT_B, OUTPUT_C] {
            return Err(ModelError::SchemaMismatch(format!("outputs are {names:?}, expected [a, b] or [a, b, c]")));
        }
        // Fixing the input to [1, width] makes any width mismatch fail shape inference here.
        let typed = model
            .with_input_fact(0, f32::fact([1, width]).into())
            .and_then(|m| m.into_optimized())
            .map_err(|e| ModelError::SchemaMismatch(format!("{e:#}")))?;
        for output in typed.output_outlets().map_err(invalid)? {
            let fact = typed.outlet_fact(*output).map_err(invalid)?;
            let shape = fact.shape.as_concrete().map(|s| s.to_vec());
            if fact.datum_type != f32::datum_type() || shape.as_deref() != Some(&[1, 1]) {
                return Err(ModelError::SchemaMismatch(format!("output fact {fact:?}, expected f32 [1, 1]")));
            }
        }
        let plan = typed.into_runnable().map_err(invalid)?;
        let reference = Self { plan: Some(plan), lazy: None, fast: None, width, ceiling: outputs == 3 };
        let fast = Plan::lower(onnx).filter(|p| p.width() == width && check_plan(p, &reference).is_ok());
        Ok(Self { fast: fast.map(Arc::new), ..reference })
    }

    /// The fast-path plan serving `heads`, when the model lowered and passed the check.
    pub fn fast_plan(&self) -> Option<&Plan> {
        self.fast.as_deref()
    }

    /// Which runtime serves `heads`: `"int8_fast_path"` or `"tract_onnx"`.
    pub fn runtime(&self) -> &'static str {
        if self.fast.is_some() { "int8_fast_path" } else { "tract_onnx" }
    }

    /// The heads as tract-onnx computes them, whatever serves `heads` (for checks).
    #[cfg(feature = "tract")]
    pub fn reference_heads(&self, features: &[f32]) -> Result<Heads, ModelError> {
        if let Some(lazy) = &self.lazy {
            let (onnx, cell) = lazy.as_ref();
            let loaded = cell.get_or_init(|| Self::load(onnx, self.width)).as_ref().map_err(Clone::clone)?;
            return loaded.tract_heads(features);
        }
        self.tract_heads(features)
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Runs the model on one feature vector.
    pub fn heads(&self, features: &[f32]) -> Result<Heads, ModelError> {
        if features.len() != self.width {
            return Err(ModelError::WrongWidth { expected: self.width, found: features.len() });
        }
        if let Some(fast) = &self.fast {
            return fast.heads(features).ok_or(ModelError::NonFinite);
        }
        #[cfg(not(feature = "tract"))]
        return Err(ModelError::Run("no model runtime in this build".into()));
        #[cfg(feature = "tract")]
        self.tract_heads(features)
    }

    /// Runs the model on `features.len() / width()` vectors stored row after row: each
    /// row's heads exactly as `heads` gives them (the fast path shares one scratch buffer
    /// across the batch; tract runs row by row).
    pub fn heads_batch(&self, features: &[f32]) -> Result<Vec<Result<Heads, ModelError>>, ModelError> {
        if self.width == 0 || !features.len().is_multiple_of(self.width) {
            return Err(ModelError::WrongWidth { expected: self.width, found: features.len() % self.width.max(1) });
        }
        if let Some(fast) = &self.fast {
            let rows = fast
                .heads_batch(features)
                .ok_or(ModelError::WrongWidth { expected: self.width, found: fast.width() })?;
            return Ok(rows.into_iter().map(|h| h.ok_or(ModelError::NonFinite)).collect());
        }
        Ok(features.chunks_exact(self.width).map(|x| self.heads(x)).collect())
    }

    #[cfg(feature = "tract")]
    fn tract_heads(&self, features: &[f32]) -> Result<Heads, ModelError> {
        let plan = self.plan.as_ref().ok_or_else(|| ModelError::Run("no tract-onnx plan".into()))?;
        let input = Tensor::from_shape(&[1, self.width], features).map_err(|e| ModelError::Run(e.to_string()))?;
        let out = plan.run(tvec!(input.into())).map_err(|e| ModelError::Run(e.to_string()))?;
        let scalar = |i: usize| -> Result<f32, ModelError> {
            let view = out
                .get(i)
                .ok_or_else(|| ModelError::Run(format!("missing output {i}")))?
                .to_plain_array_view::<f32>()
                .map_err(|e| ModelError::Run(e.to_string()))?;
            view.iter().next().copied().ok_or_else(|| ModelError::Run(format!("empty output {i}")))
        };
        let c = if self.ceiling { scalar(2)? } else { 1.0 };
        let heads = Heads { a: scalar(0)?, b: scalar(1)?, c };
        if !(heads.a.is_finite() && heads.b.is_finite() && heads.c.is_finite()) {
            return Err(ModelError::NonFinite);
        }
        Ok(heads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_rejected_with_a_code() {
        assert_eq!(BehaviourModel::load(b"not an onnx model", 4).unwrap_err().code(), "model_invalid");
        assert_eq!(BehaviourModel::load(&[], 4).unwrap_err().code(), "model_invalid");
    }

    #[test]
    fn probability_is_monotone_in_price() {
        let h = Heads::logistic(-1.0, 3.0);
        assert!((h.purchase_probability(1.0) - 1.0 / (1.0 + 1f64.exp())).abs() < 1e-12);
        assert!(h.purchase_probability(0.8) > h.purchase_probability(0.9));
    }
}
