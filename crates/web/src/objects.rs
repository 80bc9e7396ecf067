//! `price()` with plain JS objects in and out, without JSON text: JS reads the session's
//! features and the product into numbers and one string (js/objects.js), and builds the
//! decision object from numbers and one string. Invariant: the answer is the object the
//! JSON path (`JSON.stringify`, serde, `JSON.parse`) gives, key order and `-0` included;
//! any input that path might read differently is not read here (`None`: take the JSON path).

use wasm_bindgen::prelude::*;

use edgeprice_core::pricing::decision::Decision;
use edgeprice_core::pricing::product::{Product, ProductFields};
use edgeprice_core::session::{Categorical, Numeric, Session};
use edgeprice_core::tracker::{FeatureColumns, session_id_ok};

#[wasm_bindgen(module = "/js/objects.js")]
extern "C" {
    /// Fills `numbers` (layout below) and returns the texts joined by NUL, or `undefined`
    /// when the inputs are not plain data of the expected types.
    fn read_inputs(schema: &JsValue, session: &JsValue, product: &JsValue, numbers: &mut [f64]) -> Option<String>;
    /// A plain JS array (its elements are what JSON.stringify writes).
    pub fn plain_array(value: &JsValue) -> bool;
    /// The decision object from `numbers` and `texts` (layout below).
    fn decision_object(numbers: &[f64], texts: &str) -> JsValue;
}

/// The texts' separator: no text that crosses here may contain it.
const NUL: char = '\0';

// The input numbers: the numeric features in `Numeric::ALL`'s order (NaN when missing,
// null or not finite), then these.
const WEEKEND: usize = 10; // 1, 0, or NaN when not given
const LIST_PRICE: usize = 11;
const COST: usize = 12;
const STOCK: usize = 13; // NaN: none
const MAP_PRICE: usize = 14; // NaN: none
const TAGS: usize = 15; // how many promotion tags
const INPUT_NUMBERS: usize = 16;
// The input texts: session_id, the categories in `Categorical::ALL`'s order, sku, currency,
// category, then the promotion tags.

/// The column names JS reads: `[numeric names, categorical names]`, made once per engine.
pub fn schema() -> JsValue {
    fn names(list: impl Iterator<Item = &'static str>) -> js_sys::Array {
        list.map(JsValue::from_str).collect()
    }
    let numeric = names(Numeric::ALL.iter().map(|c| c.name()));
    let categorical = names(Categorical::ALL.iter().map(|c| c.name()));
    js_sys::Array::of2(&numeric, &categorical).into()
}

/// The session (id and aggregates) and the product, when JS could read both as plain data
/// and both are valid; `None` sends the call down the JSON path, which answers any input.
pub fn read(schema: &JsValue, session: &JsValue, product: &JsValue, now: i64) -> Option<(String, Session, Product)> {
    let mut n = [0f64; INPUT_NUMBERS];
    let texts = read_inputs(schema, session, product, &mut n)?;
    let mut t = texts.split(NUL).map(str::to_string);
    let id = t.next().filter(|id| session_id_ok(id))?;
    let mut columns = FeatureColumns::default();
    columns.numeric.copy_from_slice(&n[..Numeric::ALL.len()]);
    for c in columns.categories.iter_mut() {
        *c = t.next()?;
    }
    columns.weekend = (!n[WEEKEND].is_nan()).then_some(n[WEEKEND] == 1.0);
    let some = |x: f64| (!x.is_nan()).then_some(x);
    let fields = ProductFields {
        sku: t.next()?,
        currency: t.next()?,
        category: t.next()?,
        list_price: n[LIST_PRICE],
        cost: n[COST],
        // JS sent a safe integer >= 0 (or NaN): exact as u64.
        stock: some(n[STOCK]).map(|s| s as u64),
        map_price: some(n[MAP_PRICE]),
        promotion_tags: t.by_ref().take(n[TAGS] as usize).collect(),
        name: None,
    };
    if fields.promotion_tags.len() != n[TAGS] as usize || t.next().is_some() {
        return None;
    }
    let product = Product::from_fields(fields).ok()?;
    Some((id, columns.session(now), product))
}

// The output numbers, then 5 per candidate (price, price_minor, purchase_probability,
// expected_profit, propensity). A float that is not finite (or an absent one) is NaN and
// becomes null, as serde_json writes it.
const OUTPUT_NUMBERS: usize = 15;
// [price, price_minor, list_price, discount, propensity, purchase_probability,
//  expected_profit, uniform_price, policy_version, personalized, hash_version,
//  reasons, has jurisdiction, has disclosure, candidates]
// The output texts: sku, currency, arm, decision_id, the reasons, then jurisdiction and
// disclosure when present.

/// The decision as a JS object, or `None` when a text holds the separator (then the caller
/// uses the JSON path).
pub fn write(d: &Decision) -> Option<JsValue> {
    let mut pieces: Vec<&str> = Vec::with_capacity(6 + d.reasons.len());
    pieces.extend([d.sku.as_str(), d.currency.as_str(), d.arm.name(), d.decision_id.as_str()]);
    pieces.extend(d.reasons.iter().map(String::as_str));
    pieces.extend(d.jurisdiction.as_deref());
    pieces.extend(d.disclosure.as_deref());
    if pieces.iter().any(|p| p.contains(NUL)) {
        return None;
    }
    let texts = pieces.join("\0");
    let opt = |x: Option<f64>| x.unwrap_or(f64::NAN);
    let mut n = Vec::with_capacity(OUTPUT_NUMBERS + 5 * d.candidates.len());
    n.extend([
        d.price,
        d.price_minor as f64,
        d.list_price,
        d.discount,
        d.propensity,
        opt(d.purchase_probability),
        opt(d.expected_profit),
        opt(d.uniform_price),
        d.policy_version as f64,
        f64::from(u8::from(d.personalized)),
        f64::from(d.hash_version),
        d.reasons.len() as f64,
        f64::from(u8::from(d.jurisdiction.is_some())),
        f64::from(u8::from(d.disclosure.is_some())),
        d.candidates.len() as f64,
    ]);
    for c in &d.candidates {
        n.extend([c.price, c.price_minor as f64, opt(c.purchase_probability), opt(c.expected_profit), c.propensity]);
    }
    Some(decision_object(&n, &texts))
}
