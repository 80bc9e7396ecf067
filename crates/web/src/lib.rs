//! JavaScript API for browsers and Node (wasm-bindgen): a thin adapter over `engine`.
//! Values cross as plain JS objects with the same snake_case fields as the CLI's JSON;
//! errors are JS `Error`s with a stable `code` property. Times are Unix seconds; when a
//! call omits `now`, the adapter reads the JS clock (the core never does).

use serde::Serialize;
use wasm_bindgen::prelude::*;

use edgeprice_core::bundle::{self, BundleError, TrustedKeys};
use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::decision::Decision;
use edgeprice_core::pricing::disclosure::Place;
use edgeprice_core::pricing::json;
use edgeprice_core::pricing::product::Product;
use edgeprice_core::tracker::{MAX_SESSION_ID, SessionTracker as Tracker};

mod objects;
mod quote;
mod tracker;

pub use quote::{PreparedProduct, Quote};
pub use tracker::SessionTracker;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Session aggregates named like the data set's columns, or page events. */
export type Session =
  | { session_id: string; features: Partial<Record<string, number | string | boolean | null>> }
  | { session_id: string; events: PageEvent[]; visitor_type?: string; traffic_type?: string | number; special_day?: number };
export interface PageEvent { page: string; seconds?: number; page_id?: string; bounce?: boolean; exit?: boolean }
export interface Product {
  sku: string; list_price: number; cost: number; currency: string;
  stock?: number; category?: string; map_price?: number; promotion_tags?: string[];
}
export interface CandidateOutcome {
  price: number; price_minor: number; purchase_probability: number | null;
  expected_profit: number | null; propensity: number;
}
export interface Decision {
  sku: string; price: number; price_minor: number; list_price: number; currency: string;
  discount: number; arm: "model" | "explore" | "control" | "fallback"; propensity: number;
  purchase_probability: number | null; expected_profit: number | null; uniform_price: number | null;
  policy_version: number; decision_id: string; reasons: string[]; personalized: boolean;
  hash_version: number; candidates: CandidateOutcome[];
  /** With a `place`: the jurisdiction whose rule applied ("default" when none matched). */
  jurisdiction?: string;
  /** With a `place`, on a personalized price: the text the shopper must be shown. */
  disclosure?: string;
}
/** Where the shopper is: ISO 3166-1 country, and region (ISO 3166-2 without the country, "NY"). */
export interface Place { country?: string; region?: string }
export interface PublicKey { key_id: string; public_key: string }
/** Median microseconds per call of each stage, timed inside the module (diagnostics). */
export interface StageTimes { features_us: number; model_us: number; rules_us: number; all_us: number; runtime: string }
"#;

#[wasm_bindgen]
extern "C" {
    /// The host's monotonic clock (browsers, Node, workerd), for `stageTimes` only.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

// Static constructors once per instance, before anything loads a model (src/ctors.rs).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen(start)]
fn run_static_constructors_once() {
    edgeprice_core::ctors::run_once();
}

fn js_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}

fn now_or(now: Option<f64>) -> i64 {
    match now {
        Some(t) if t.is_finite() => t as i64,
        _ => (js_sys::Date::now() / 1000.0) as i64,
    }
}

/// A value to JS as JSON text parsed by V8's `JSON.parse`: two crossings, where building
/// the object field by field (serde-wasm-bindgen) costs one per field. The same object:
/// `None` is `null` either way and numbers round-trip exactly through JSON text.
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    parse_js(&serde_json::to_string(value).map_err(|e| js_error("serialize", &e.to_string()))?)
}

fn parse_js(text: &str) -> Result<JsValue, JsValue> {
    js_sys::JSON::parse(text).map_err(|_| js_error("serialize", "the engine wrote JSON that JS could not read"))
}

/// A decision to JS as `to_js` would give it, its text written directly (`pricing::json`:
/// the same bytes as serde_json's, in one pass, prices printed from their digits).
fn decision_js(d: &Decision) -> Result<JsValue, JsValue> {
    parse_js(&json::decision_text(d))
}

/// Decisions to JS as an array, as `decision_js` writes each.
fn decisions_js(ds: &[Decision]) -> Result<JsValue, JsValue> {
    parse_js(&json::decisions_text(ds))
}

/// A JS value in as JSON text from V8's `JSON.stringify` (one crossing), read by serde_json.
/// What JSON cannot say is dropped as `JSON.stringify` drops it (`undefined` members,
/// functions) or becomes `null` (`NaN`); a value it cannot write at all (a BigInt, a cycle)
/// is a `bad_input` error.
fn from_js(value: JsValue, what: &str) -> Result<serde_json::Value, JsValue> {
    let text = js_sys::JSON::stringify(&value)
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(|| js_error("bad_input", &format!("{what}: not a JSON value")))?;
    serde_json::from_str(&text).map_err(|e| js_error("bad_input", &format!("{what}: {e}")))
}

/// A verified policy bundle that prices sessions.
#[wasm_bindgen]
pub struct PricingEngine {
    engine: Engine,
    keys: TrustedKeys,
    /// The feature columns' names for `price`'s JS reader (`objects::schema`).
    schema: JsValue,
}

#[wasm_bindgen]
impl PricingEngine {
    /// Verifies `bundle` against `publicKeys` (an array of `{key_id, public_key}`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        bundle: &[u8],
        #[wasm_bindgen(unchecked_param_type = "PublicKey[]")] public_keys: JsValue,
        now: Option<f64>,
    ) -> Result<PricingEngine, JsValue> {
        let list = from_js(public_keys, "publicKeys")?;
        let mut keys = TrustedKeys::default();
        for key in list.as_array().map(Vec::as_slice).unwrap_or_default() {
            keys.add_json(key.to_string().as_bytes()).map_err(|e| js_error(e.code(), &e.to_string()))?;
        }
        let engine = Engine::new(bundle, &keys, now_or(now)).map_err(|e| js_error(e.code(), &e.to_string()))?;
        Ok(PricingEngine { engine, keys, schema: objects::schema() })
    }

    /// The engine with the bundle built into this module (no network needed). Its signature
    /// was checked when the module was built; `update` takes bundles signed by its key.
    #[wasm_bindgen(js_name = withDefault)]
    pub fn with_default(now: Option<f64>) -> Result<PricingEngine, JsValue> {
        let fail = |e: BundleError| js_error(e.code(), &e.to_string());
        // The built-in key is decompressed only if an update is verified with it.
        let keys = bundle::default_keys().map_err(fail)?;
        let engine = Engine::with_default(now_or(now)).map_err(fail)?;
        Ok(PricingEngine { engine, keys, schema: objects::schema() })
    }

    /// Prices one session for one product. Throws only for a product it cannot read.
    #[wasm_bindgen(unchecked_return_type = "Decision")]
    pub fn price(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Session")] session: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Product")] product: JsValue,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let now = now_or(now);
        if let Some(answer) = self.via_objects(&session, &product, now, None) {
            return answer;
        }
        let session = from_js(session, "session").unwrap_or(serde_json::Value::Null);
        let product = from_js(product, "product")?;
        let d = self.engine.price(&session, &product, now).map_err(|e| js_error(e.code(), &e.to_string()))?;
        decision_js(&d)
    }

    /// `price` for a shopper at `place` (`{country, region}`): the rule of that
    /// jurisdiction applies, its disclosure text on a personalized price or personalization
    /// off there, as the bundle's rules say; the decision names the jurisdiction.
    #[wasm_bindgen(js_name = priceAt, unchecked_return_type = "Decision")]
    pub fn price_at(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Session")] session: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Product")] product: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Place")] place: JsValue,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let (now, place) =
            (now_or(now), Place::from_value(&from_js(place, "place").unwrap_or(serde_json::Value::Null)));
        if let Some(answer) = self.via_objects(&session, &product, now, Some(&place)) {
            return answer;
        }
        let session = from_js(session, "session").unwrap_or(serde_json::Value::Null);
        let product = from_js(product, "product")?;
        let d = self.engine.price_at(&session, &product, now, &place);
        decision_js(&d.map_err(|e| js_error(e.code(), &e.to_string()))?)
    }

    /// `price` with JSON text in and out: the session and product as JSON strings, the
    /// decision as a JSON string. Crossing the JS/wasm boundary as one string each way is
    /// cheaper than building JS objects field by field.
    #[wasm_bindgen(js_name = priceJson)]
    pub fn price_json(&self, session: &str, product: &str, now: Option<f64>) -> Result<String, JsValue> {
        let session: serde_json::Value = serde_json::from_str(session).unwrap_or(serde_json::Value::Null);
        let product: serde_json::Value =
            serde_json::from_str(product).map_err(|e| js_error("bad_input", &format!("product: {e}")))?;
        let d = self.engine.price(&session, &product, now_or(now)).map_err(|e| js_error(e.code(), &e.to_string()))?;
        Ok(json::decision_text(&d))
    }

    /// Prices many sessions for one product.
    #[wasm_bindgen(js_name = priceMany, unchecked_return_type = "Decision[]")]
    pub fn price_many(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Session[]")] sessions: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Product")] product: JsValue,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let now = now_or(now);
        let product = from_js(product, "product")?;
        let sessions = from_js(sessions, "sessions")?;
        let sessions = sessions.as_array().map(Vec::as_slice).unwrap_or_default();
        // One batched model run for all the sessions (`Engine::price_many`).
        let out = self.engine.price_many(sessions, &product, now).map_err(|e| js_error(e.code(), &e.to_string()))?;
        decisions_js(&out)
    }

    /// Swaps in a newer bundle signed by a trusted key; on failure throws an Error with a
    /// `code` (for example `bundle_bad_signature`) and keeps the current policy.
    pub fn update(&mut self, bundle: &[u8], now: Option<f64>) -> Result<f64, JsValue> {
        let v = self.engine.update(bundle, &self.keys, now_or(now)).map_err(|e| js_error(e.code(), &e.to_string()))?;
        Ok(v as f64)
    }

    #[wasm_bindgen(getter, js_name = policyVersion)]
    pub fn policy_version(&self) -> f64 {
        self.engine.policy_version() as f64
    }

    /// The live bundle's rules (parsed), population curve and validity, for display.
    #[wasm_bindgen(unchecked_return_type = "any")]
    pub fn manifest(&self) -> Result<JsValue, JsValue> {
        let b = self.engine.bundle();
        to_js(&serde_json::json!({
            "policy_version": b.manifest().policy_version,
            "key_id": b.manifest().key_id,
            "created": b.manifest().created,
            "expires": b.manifest().expires,
            "rules": b.rules(),
            "population_curve": b.manifest().population_curve,
            "metrics": b.manifest().metrics,
        }))
    }

    /// A session tracker that uses this bundle's page value table. The session id, visitor
    /// type and traffic type are what `quote` prices it as (unknown types score as `other`).
    pub fn tracker(
        &self,
        session_id: Option<String>,
        visitor_type: Option<String>,
        traffic_type: Option<String>,
    ) -> SessionTracker {
        let bounded = |t: Option<String>| t.unwrap_or_default().chars().take(MAX_SESSION_ID).collect();
        SessionTracker {
            inner: Tracker::default(),
            page_values: self.engine.bundle().manifest().page_values.clone(),
            session_id: bounded(session_id),
            visitor_type: bounded(visitor_type),
            traffic_type: bounded(traffic_type),
        }
    }

    /// Reads a product once for `quote` (throws an Error with a `code` if it is invalid).
    pub fn product(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Product")] product: JsValue,
    ) -> Result<PreparedProduct, JsValue> {
        let product =
            Product::from_value(&from_js(product, "product")?).map_err(|e| js_error(e.code(), &e.to_string()))?;
        Ok(PreparedProduct { product })
    }

    /// The fast path: prices a tracker's session for a prepared product with no JSON on
    /// either side; the `Quote`'s fields cross into JS only when read. Never throws.
    pub fn quote(&self, tracker: &SessionTracker, product: &PreparedProduct, now: Option<f64>) -> Quote {
        let now = now_or(now);
        let session = tracker.current(now);
        Quote { d: self.engine.price_session(&tracker.session_id, &session, &product.product, now) }
    }

    /// Prices one session for many products (a category page): the session is read and
    /// scored once. Throws for the first product it cannot read.
    #[wasm_bindgen(js_name = pricePage, unchecked_return_type = "Decision[]")]
    pub fn price_page(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Session")] session: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Product[]")] products: JsValue,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let now = now_or(now);
        if let Some(page) = self.page_via_objects(&session, &products, now) {
            return Ok(page);
        }
        let session = from_js(session, "session").unwrap_or(serde_json::Value::Null);
        let products = from_js(products, "products")?;
        let list = products.as_array().map(Vec::as_slice).unwrap_or_default();
        let out: Vec<Decision> = self
            .engine
            .price_products(&session, list, now)
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| js_error(e.code(), &e.to_string()))?;
        decisions_js(&out)
    }

    /// The model alone on one feature vector: `[a, b, c]` (purchase logit at list price, price
    /// sensitivity, ceiling; `c = 1` for two-head models). For comparing runtimes; throws on
    /// a vector of the wrong width.
    #[wasm_bindgen(js_name = modelHeads)]
    pub fn model_heads(&self, features: &[f32]) -> Result<Vec<f32>, JsValue> {
        let h = self.engine.bundle().model().heads(features).map_err(|e| js_error(e.code(), &e.to_string()))?;
        Ok(vec![h.a, h.b, h.c])
    }

    /// The model on many feature vectors at once, stored row after row in one array:
    /// `[a, b, c]` per row, in a `Float32Array` of `3 * rows` (each row's values exactly as
    /// `modelHeads` gives them; `NaN`s for a row whose result is not finite). One crossing
    /// for the batch. Throws when the array is not whole rows.
    #[wasm_bindgen(js_name = modelHeadsBatch)]
    pub fn model_heads_batch(&self, features: &[f32]) -> Result<Vec<f32>, JsValue> {
        let rows =
            self.engine.bundle().model().heads_batch(features).map_err(|e| js_error(e.code(), &e.to_string()))?;
        Ok(rows.iter().flat_map(|h| h.as_ref().map_or([f32::NAN; 3], |h| [h.a, h.b, h.c])).collect())
    }

    /// Where a decision's time goes on this host: `rounds` batches of 100 calls of each
    /// stage (features, model, rules) and of a whole `quote`, timed inside the module.
    #[wasm_bindgen(js_name = stageTimes, unchecked_return_type = "StageTimes")]
    pub fn stage_times(
        &self,
        tracker: &SessionTracker,
        product: &PreparedProduct,
        rounds: u32,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let now = now_or(now);
        let b = self.engine.bundle();
        let session = tracker.current(now);
        let x = b.manifest().schema.transform(&session);
        let scored = self.engine.score(&tracker.session_id, &session);
        let mut sink = 0.0;
        let mut time = |f: &mut dyn FnMut() -> f64| {
            let mut per: Vec<f64> = (0..rounds.clamp(1, 1000))
                .map(|_| {
                    let t = performance_now();
                    for _ in 0..100 {
                        sink += f();
                    }
                    (performance_now() - t) * 10.0
                })
                .collect();
            per.sort_by(f64::total_cmp);
            per[per.len() / 2]
        };
        let features = time(&mut || f64::from(b.manifest().schema.transform(&session)[0]));
        let model = time(&mut || b.model().heads(&x).map_or(0.0, |h| f64::from(h.a)));
        let rules = time(&mut || self.engine.price_scored(&scored, &product.product, now).price);
        let all = time(&mut || self.quote(tracker, product, Some(now as f64)).d.price);
        std::hint::black_box(sink);
        to_js(&serde_json::json!({
            "features_us": features, "model_us": model, "rules_us": rules, "all_us": all,
            "runtime": b.model().runtime(),
        }))
    }
}

impl PricingEngine {
    /// `price` (and `priceAt` with a place) for plain data objects: JS reads them and builds
    /// the decision without JSON text (objects.rs). `None` when JS could not read them as the
    /// JSON path would; that path then answers, with the same object.
    fn via_objects(
        &self,
        session: &JsValue,
        product: &JsValue,
        now: i64,
        place: Option<&Place>,
    ) -> Option<Result<JsValue, JsValue>> {
        let (id, session, product) = objects::read(&self.schema, session, product, now)?;
        let d = self.engine.price_session(&id, &session, &product, now);
        let d = match place {
            Some(place) => self.engine.place(d, &product, place),
            None => d,
        };
        Some(objects::write(&d).map_or_else(|| decision_js(&d), Ok))
    }

    /// `pricePage` for a plain array of plain data objects, the session scored once; `None`
    /// (the JSON path, which also throws for the first unreadable product) unless JS read
    /// the session with every product.
    fn page_via_objects(&self, session: &JsValue, products: &JsValue, now: i64) -> Option<JsValue> {
        if !objects::plain_array(products) {
            return None;
        }
        let list: &js_sys::Array = products.unchecked_ref();
        let mut read = Vec::with_capacity(list.length() as usize);
        for product in list.iter() {
            read.push(objects::read(&self.schema, session, &product, now)?);
        }
        let page = js_sys::Array::new_with_length(read.len() as u32);
        if let Some((id, s, _)) = read.first() {
            let scored = self.engine.score(id, s);
            for (i, (_, _, product)) in read.iter().enumerate() {
                let d = self.engine.price_scored(&scored, product, now);
                page.set(i as u32, objects::write(&d).or_else(|| decision_js(&d).ok())?);
            }
        }
        Some(page.into())
    }
}
