//! The browser's session tracker: page events folded in wasm memory, with the identity
//! (`session_id`, visitor and traffic type) that `PricingEngine.quote` prices it as.

use std::collections::BTreeMap;

use wasm_bindgen::prelude::*;

use super::{js_error, now_or, to_js};
use edgeprice_core::session::Session;
use edgeprice_core::tracker::{PageEvent, SessionTracker as Tracker, features_json};

/// Records page events in the browser and yields the session for `price`.
#[wasm_bindgen]
pub struct SessionTracker {
    pub(super) inner: Tracker,
    pub(super) page_values: BTreeMap<String, f64>,
    pub(super) session_id: String,
    pub(super) visitor_type: String,
    pub(super) traffic_type: String,
}

impl SessionTracker {
    /// The session so far, as `quote` prices it: this tracker's visitor and traffic type.
    pub(super) fn current(&self, now: i64) -> Session {
        self.inner.session(now, &self.visitor_type, &self.traffic_type, 0.0)
    }
}

#[wasm_bindgen]
impl SessionTracker {
    /// Records one page view `{page, seconds?, page_id?, bounce?, exit?}`.
    pub fn record(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "PageEvent")] event: JsValue,
    ) -> Result<(), JsValue> {
        let event: PageEvent =
            serde_wasm_bindgen::from_value(event).map_err(|e| js_error("bad_input", &e.to_string()))?;
        self.inner.record(&event, &self.page_values);
        Ok(())
    }

    /// Number of page views recorded.
    #[wasm_bindgen(getter)]
    pub fn pages(&self) -> f64 {
        self.inner.pages
    }

    /// The session so far, in the `features` form.
    #[wasm_bindgen(unchecked_return_type = "Session")]
    pub fn session(
        &self,
        session_id: &str,
        visitor_type: &str,
        traffic_type: &str,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let now = now_or(now);
        let s = self.inner.session(now, visitor_type, traffic_type, 0.0);
        to_js(&features_json(session_id, &s))
    }
}
