//! `POST /v1/price`, the shop backend's pricing API (edge token): one product, a category
//! page of products, or a page by SKU from the catalog copies the isolate keeps.
//!
//! Priced in one synchronous call (`priceApi`): `entry.mjs` reads the body and answers
//! with the bytes this returns. Only a page by SKU, which may have to fetch products, goes
//! through the async `fetch` (`route`). Why: V8 compiles a wasm function at its first call,
//! and an isolate's baseline code is dropped whenever workerd creates another isolate in the
//! process (`state::prepare` says more), so a first request compiles everything it runs.
//! Through `fetch` (workers-rs's request, body, KV and response types, the future executor)
//! an isolate's first request compiled 287 functions (98 KB of wasm); with this call and
//! `loadPolicy`, 151 (76 KB, the `policy_loaded` line written after the answer included),
//! and it answered 2.1 ms sooner (41 interleaved starts on miniflare, medians over the
//! trivial worker's: 14.8 -> 12.7 ms; 2026-12-03, BENCHMARKS.md has more runs).
//! Both ways give the same answers, statuses and error codes, in the same order of checks.

use serde_json::Value;
use worker::{Env, Headers, Request, Response};

use super::config::Config;
use super::{
    BodyError, body_error, body_json, catalog, declared_length, error, error_body, json_of, json_text_response,
    now_secs, sku_ok, state,
};
use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::decision::Decision;
use edgeprice_core::pricing::disclosure::Place;
use edgeprice_core::pricing::json;

/// Largest `POST /v1/price` body: a session and up to `MAX_PAGE_PRODUCTS` products.
pub const MAX_API_BODY: usize = 128 * 1024;
/// Most products priced by one `POST /v1/price` (a category page).
const MAX_PAGE_PRODUCTS: usize = 100;
/// The message of a refused pricing request (its code says why).
fn refused(code: &str) -> &'static str {
    if code == "too_many_products" { "at most 100 products per request" } else { "cannot price this request" }
}

/// `catalog_page`'s answer, boxed as a `dyn` future so that it is not inlined.
type PageRoute<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<PageItem>, (u16, &'static str)>> + 'a>>;

/// `priceApi`'s answer. Status 0: not answered here (a page by SKU, or settings that did not
/// read at the isolate's start); `entry.mjs` then hands the request to `fetch`.
#[wasm_bindgen::prelude::wasm_bindgen]
pub struct ApiAnswer {
    pub status: u16,
    /// Whether the isolate has background work due (`state::upkeep_due`): `entry.mjs` then
    /// runs `upkeep` after the answer.
    pub upkeep: bool,
    body: Vec<u8>,
}

impl ApiAnswer {
    /// Status 0: the request is for `fetch`.
    fn for_fetch() -> Self {
        ApiAnswer { status: 0, upkeep: false, body: Vec::new() }
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
impl ApiAnswer {
    /// The JSON body (once: the answer is consumed).
    #[wasm_bindgen(js_name = intoBody)]
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }
}

/// The largest body `priceApi` reads (`entry.mjs` does not read a longer declared one).
#[wasm_bindgen::prelude::wasm_bindgen(js_name = maxApiBody)]
pub fn max_api_body() -> usize {
    MAX_API_BODY
}

/// Whether `entry.mjs` should read a `POST /v1/price` body: the request carries the edge
/// token, or the settings did not read at the start (then `fetch` answers). A body is never
/// read for a caller without the token, as `route` reads none.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = apiTokenOk)]
pub fn api_token_ok(authorization: Option<String>) -> bool {
    state::prepared_config().is_none_or(|cfg| super::operator::token_ok(authorization.as_deref().unwrap_or(""), &cfg))
}

/// Prices a `POST /v1/price` whose body `entry.mjs` read: `body` is `None` when it was not
/// read (declared longer than `maxApiBody`, or unreadable). Checks in `route`'s order: the
/// edge token, the body's size and JSON, then the pricing.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = priceApi)]
pub fn price_api(authorization: Option<String>, declared: Option<String>, body: Option<Vec<u8>>) -> ApiAnswer {
    edgeprice_core::ctors::run_once();
    let Some(cfg) = state::prepared_config() else { return ApiAnswer::for_fetch() };
    let now = now_secs();
    let refuse = |status: u16, code: &str, message: &str| ApiAnswer {
        status,
        upkeep: state::upkeep_due(&cfg, now),
        body: error_body(code, message),
    };
    if !super::operator::token_ok(authorization.as_deref().unwrap_or(""), &cfg) {
        return refuse(401, "unauthorized", "this route needs the edge token");
    }
    let read = match body {
        _ if declared_length(declared.as_deref()) > MAX_API_BODY => Err(BodyError::TooLarge),
        Some(bytes) => json_of(&bytes, MAX_API_BODY),
        None => Err(BodyError::Unreadable),
    };
    let body = match read {
        Ok(b) => b,
        Err(e) => return refuse(e.status(), e.code(), "bad pricing body"),
    };
    if body.get("skus").is_some_and(Value::is_array) && !too_many(&body) {
        return ApiAnswer::for_fetch();
    }
    match price_sent(&cfg, &body, now) {
        Ok(priced) => {
            ApiAnswer { status: 200, upkeep: state::upkeep_due(&cfg, now), body: priced.to_json().into_bytes() }
        }
        Err((status, code)) => refuse(status, code, refused(code)),
    }
}

/// Whether `products` or `skus` lists more than a page.
fn too_many(body: &Value) -> bool {
    let list = body.get("products").and_then(Value::as_array).or(body.get("skus").and_then(Value::as_array));
    list.is_some_and(|p| p.len() > MAX_PAGE_PRODUCTS)
}

/// The pricing of a body that sends its products (`product`, or `products` for a page).
fn price_sent(cfg: &Config, body: &Value, now: i64) -> Result<Priced, (u16, &'static str)> {
    if too_many(body) {
        return Err((413, "too_many_products"));
    }
    // The caller may price at another time (replays, tests); staleness is the isolate's own.
    let at = body.get("now").and_then(Value::as_i64).unwrap_or(now);
    // `place` ({"country", "region"}): the shopper's jurisdiction, whose rule then applies.
    let place = body.get("place").map(Place::from_value);
    let session = &body["session"];
    with_live_engine(cfg, now, |engine| {
        Ok(match body.get("products").and_then(Value::as_array) {
            // A category page: the session is scored once and each product gets its
            // decision or its own error code.
            Some(products) => Priced::Page {
                decisions: match &place {
                    Some(place) => engine.price_products_at(session, products, at, place),
                    None => engine.price_products(session, products, at),
                }
                .into_iter()
                .map(|r| match r {
                    Ok(d) => PageItem::Priced(Box::new(d)),
                    Err(e) => PageItem::Refused { code: e.code(), message: "cannot price this product" },
                })
                .collect(),
            },
            None => Priced::One(Box::new(
                match &place {
                    Some(place) => engine.price_at(session, &body["product"], at, place),
                    None => engine.price(session, &body["product"], at),
                }
                .map_err(|e| (400, e.code()))?,
            )),
        })
    })?
}

/// The route through `fetch`: what `priceApi` did not answer (a page by SKU), and the same
/// answers as `priceApi` for the rest.
pub(crate) async fn route(mut req: Request, env: &Env, cfg: &Config, now: i64) -> worker::Result<Response> {
    let headers = Headers::new();
    if !super::operator::edge_token_ok(&req, cfg) {
        return error(401, "unauthorized", "this route needs the edge token", &headers);
    }
    let body = match body_json(&mut req, MAX_API_BODY).await {
        Ok(b) => b,
        Err(code) => return body_error(code, "bad pricing body", &headers),
    };
    let result = match body.get("skus").and_then(Value::as_array) {
        Some(skus) if !too_many(&body) => {
            // Boxed: its own function, compiled only by isolates that price pages by SKU.
            let at = body.get("now").and_then(Value::as_i64).unwrap_or(now);
            let place = body.get("place").map(Place::from_value);
            let items: PageRoute = Box::pin(catalog_page(env, cfg, &body, skus, at, place.as_ref(), now));
            items.await.map(|decisions| Priced::Page { decisions })
        }
        _ => price_sent(cfg, &body, now),
    };
    match result {
        Ok(priced) => json_text_response(200, priced.to_json().into_bytes(), &headers),
        Err((status, code)) => error(status, code, refused(code), &headers),
    }
}

/// `f` with the live policy's engine, or 503 `no_policy` / `policy_stale` (the backend
/// pricing API refuses rather than answering a fallback price).
fn with_live_engine<R>(cfg: &Config, now: i64, f: impl FnOnce(&Engine) -> R) -> Result<R, (u16, &'static str)> {
    state::with(|i| {
        let policy = i.policy.as_ref().ok_or((503, "no_policy"))?;
        Ok(f(policy.engine_for(now, cfg.policy_max_stale).ok_or((503, "policy_stale"))?))
    })
}

/// One product's answer in a page: its decision, or why it could not be priced.
enum PageItem {
    Priced(Box<Decision>),
    Refused { code: &'static str, message: &'static str },
}

/// The pricing API's answer: one decision, or `{"decisions": [...]}` with a decision or
/// `{"code", "message"}` per product.
enum Priced {
    One(Box<Decision>),
    Page { decisions: Vec<PageItem> },
}

impl Priced {
    /// The answer's JSON, written directly (`pricing::json`: the bytes serde_json would
    /// write for the same answer, in one pass).
    fn to_json(&self) -> String {
        match self {
            Priced::One(d) => json::decision_text(d),
            Priced::Page { decisions } => {
                let mut out = String::with_capacity(16 + 512 * decisions.len());
                out.push_str("{\"decisions\":");
                json::array(&mut out, decisions, |out, item| match item {
                    PageItem::Priced(d) => json::write_decision(out, d),
                    PageItem::Refused { code, message } => {
                        out.push_str("{\"code\":");
                        json::string(out, code);
                        out.push_str(",\"message\":");
                        json::string(out, message);
                        out.push('}');
                    }
                });
                out.push('}');
                out
            }
        }
    }
}

/// A category page by SKU (`"skus"` instead of `"products"`): each product from the live
/// catalog's copy this isolate keeps (read once per catalog version, not per request), the
/// session scored once, and each decision without its candidates unless `"candidates":
/// true` (a page shows one price; the list was most of the answer's bytes).
async fn catalog_page(
    env: &Env,
    cfg: &Config,
    body: &Value,
    skus: &[Value],
    at: i64,
    place: Option<&Place>,
    now: i64,
) -> Result<Vec<PageItem>, (u16, &'static str)> {
    // Copies the isolate holds answer at once, without a future each (a page of lookup
    // futures cost more than pricing the page); the others are fetched (KV, then the
    // origin) side by side rather than one after another.
    let mut found: Vec<Option<Result<catalog::Shared, &'static str>>> = skus
        .iter()
        .map(|sku| match sku.as_str().filter(|s| sku_ok(s)) {
            None => Some(Err("bad_sku")),
            Some(sku) => catalog::fresh(cfg, sku, now).map(|r| r.map_err(|e| super::catalog_error(sku, e).1)),
        })
        .collect();
    let missing: Vec<usize> = (0..found.len()).filter(|&i| found[i].is_none()).collect();
    let fetched = futures_util::future::join_all(missing.iter().map(|&i| async move {
        let sku = skus[i].as_str().unwrap_or_default();
        super::catalog_product(env, cfg, sku, now).await.map_err(|(_, code)| code)
    }))
    .await;
    for (i, answer) in missing.into_iter().zip(fetched) {
        found[i] = Some(answer);
    }
    let found: Vec<Result<catalog::Shared, &'static str>> =
        found.into_iter().map(|f| f.unwrap_or(Err("internal"))).collect();
    let products: Vec<_> = found.iter().filter_map(|p| p.as_deref().ok()).collect();
    let keep_candidates = body.get("candidates").and_then(Value::as_bool).unwrap_or(false);
    let decisions =
        with_live_engine(cfg, now, |engine| engine.price_catalog_page(&body["session"], &products, at, place))?;
    // One decision per product found, in order.
    let mut decisions = decisions.into_iter();
    Ok(found
        .into_iter()
        .map(|p| match p.map(|_| decisions.next()) {
            Ok(Some(mut d)) => {
                if !keep_candidates {
                    d.candidates = Vec::new();
                }
                PageItem::Priced(Box::new(d))
            }
            Ok(None) => PageItem::Refused { code: "internal", message: "cannot price this product" },
            Err(code) => PageItem::Refused { code, message: "cannot price this product" },
        })
        .collect())
}
