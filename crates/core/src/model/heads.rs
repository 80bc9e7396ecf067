//! The model's contract, shared by the runtimes (tract in `model`, the fast path in `plan`)
//! and the ONNX export: the graph's names and the heads one run yields.

/// ONNX names of the graph's input and outputs (the export and the runtime share them).
pub const INPUT_NAME: &str = "features";
pub const OUTPUT_A: &str = "a";
pub const OUTPUT_B: &str = "b";
/// The optional ceiling head (a sigmoid): present in models of price-response form 2.
pub const OUTPUT_C: &str = "c";

/// Outputs of one model run for one session.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Heads {
    /// Purchase logit at the list price.
    pub a: f32,
    /// Price sensitivity (> 0): logit lost per unit of price ratio.
    pub b: f32,
    /// Ceiling in (0, 1]: the purchase probability no discount exceeds (1 for two-head models).
    pub c: f32,
}

impl Heads {
    /// Heads of a two-head model (form 1, no ceiling).
    pub fn logistic(a: f32, b: f32) -> Self {
        Heads { a, b, c: 1.0 }
    }

    /// Purchase probability at price ratio `r = price / list_price`. For `c = 1` the product
    /// is exact, so form-1 models price bit for bit as before the ceiling existed.
    pub fn purchase_probability(&self, r: f64) -> f64 {
        let z = self.a as f64 - self.b as f64 * (r - 1.0);
        self.c as f64 * (1.0 / (1.0 + (-z).exp()))
    }
}
