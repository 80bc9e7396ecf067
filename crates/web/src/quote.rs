//! The fast path's JS types: a product read once (`PreparedProduct`) and a decision whose
//! fields cross into JS only when read (`Quote`).

use wasm_bindgen::prelude::*;

use super::decision_js;
use edgeprice_core::pricing::decision::Decision;
use edgeprice_core::pricing::product::Product;

/// A product read and checked once (`PricingEngine.product`).
#[wasm_bindgen]
pub struct PreparedProduct {
    pub(super) product: Product,
}

#[wasm_bindgen]
impl PreparedProduct {
    #[wasm_bindgen(getter)]
    pub fn sku(&self) -> String {
        self.product.sku.clone()
    }
}

/// One decision from `quote`; each getter copies one field into JS.
#[wasm_bindgen]
pub struct Quote {
    pub(super) d: Decision,
}

#[wasm_bindgen]
impl Quote {
    #[wasm_bindgen(getter)]
    pub fn price(&self) -> f64 {
        self.d.price
    }
    #[wasm_bindgen(getter, js_name = priceMinor)]
    pub fn price_minor(&self) -> f64 {
        self.d.price_minor as f64
    }
    #[wasm_bindgen(getter)]
    pub fn propensity(&self) -> f64 {
        self.d.propensity
    }
    /// `model`, `explore`, `control` or `fallback`.
    #[wasm_bindgen(getter)]
    pub fn arm(&self) -> String {
        self.d.arm.name().to_string()
    }
    #[wasm_bindgen(getter, js_name = decisionId)]
    pub fn decision_id(&self) -> String {
        self.d.decision_id.clone()
    }
    #[wasm_bindgen(getter)]
    pub fn personalized(&self) -> bool {
        self.d.personalized
    }
    #[wasm_bindgen(getter)]
    pub fn reasons(&self) -> Vec<String> {
        self.d.reasons.clone()
    }
    /// The whole decision as `price` returns it.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "Decision")]
    pub fn to_json(&self) -> Result<JsValue, JsValue> {
        decision_js(&self.d)
    }
}
