//! The Cloudflare Worker (workers-rs): a thin adapter that prices product pages on workerd
//! with the platform-free engine and `edge` modules. Shoppers' routes here: `GET
//! /price?sku=` (decision JSON), `GET <PAGE_PREFIXES><sku>` (the origin's page with the
//! price rewritten in), `POST /events` (page events into the session cookie), `POST
//! /purchase` (an outcome for upload), `POST /v1/price` (backend pricing with the edge
//! token, in `api`: one product or a category page, priced in one synchronous call from
//! `entry.mjs`); the operator's routes (status, dead letters, the origin's
//! policy push) are in `operator`. The scheduled handler refreshes the policy into KV and
//! flushes feedback; the queue handler relays feedback (`feedback`). Nothing here panics on
//! input; errors reach clients as `{code, message}` without internal detail.

mod api;
mod catalog;
mod config;
mod feedback;
mod operator;
mod origin;
mod page;
mod state;

use serde_json::{Value, json};
use worker::{Context, Env, Headers, Method, Request, Response, ScheduleContext, ScheduledEvent, event};

use config::Config;
use edgeprice_core::feedback::{DecisionEvent, FeedbackEvent, OutcomeEvent};
use edgeprice_core::pricing::decision::{Decision, fallback};
use edgeprice_core::pricing::disclosure::Place;
use edgeprice_core::pricing::json;
use edgeprice_core::tracker::{MAX_EVENTS, PageEvent, features_json};
use edgeprice_edge::query;
use edgeprice_edge::visit::{self, COOKIE_NAME, Visit};

/// A route's answer, as a boxed future (`fetch` says why).
type Route<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = worker::Result<Response>> + 'a>>;

/// Largest request body read (events, purchases).
const MAX_BODY: usize = 16 * 1024;
/// Most page events folded from one `POST /events`.
const MAX_EVENTS_PER_POST: usize = 100;

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crypto, js_name = randomUUID)]
    fn random_uuid() -> String;
}

/// Called once by `entry.mjs` at the module's top level, when the isolate starts
/// (`state::prepare` says why), with the bindings `cloudflare:workers` exports there: the
/// settings are read then too (`state::config`), not in the first request. A setting that
/// does not read is not kept: every request still reports it.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = prepare)]
pub fn prepare_isolate(env: Option<Env>) {
    state::prepare(now_secs());
    if let Some(env) = env {
        let _ = state::config(&env);
    }
}

/// Unix seconds from the runtime's clock (workerd advances it at I/O).
pub(crate) fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// One JSON log line (never tokens, cookies or bodies).
pub(crate) fn log(event: &str, fields: Value) {
    let mut line = json!({"event": event, "time": now_secs()});
    if let (Some(l), Value::Object(f)) = (line.as_object_mut(), fields) {
        l.extend(f);
    }
    worker::console_log!("{line}");
}

/// The isolate's first policy, from the read of KV's bundle `entry.mjs` made at its first
/// request (`looked`: the read answered; `bytes`: the bundle, if KV had one; `error`: why
/// the read failed; `signature_checked`: WebCrypto verified the bundle's signature with
/// `bundleSigningKey`'s key); `state::load_first` says which policy goes live. Returns
/// whether this call loaded it: `entry.mjs` then calls `logPolicyLoaded` after the answer
/// (`ensure_loaded` says why). Loads nothing when the settings did not read at the isolate's start: `fetch`
/// then loads the policy and reports the settings.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = loadPolicy)]
pub fn load_policy(
    bytes: Option<Vec<u8>>,
    confirmed_at: Option<f64>,
    looked: bool,
    error: Option<String>,
    signature_checked: bool,
) -> bool {
    edgeprice_core::ctors::run_once();
    let Some(cfg) = state::prepared_config() else { return false };
    if let Some(e) = error {
        log("policy_kv_unreadable", json!({"error": e}));
    }
    let read = match bytes {
        Some(bytes) => {
            state::FirstRead::Bundle { bytes, confirmed_at: confirmed_at.map(|t| t as i64), signature_checked }
        }
        None if looked => state::FirstRead::Empty,
        None => state::FirstRead::Unread,
    };
    state::load_first(read, &cfg)
}

/// The trusted key (32 bytes) that must have signed KV's bundle `bytes`, for `entry.mjs` to
/// check the signature with WebCrypto before `loadPolicy` (`bundle::signing_key` says why):
/// a pushed bundle's first request then compiles and runs no curve arithmetic in wasm.
/// `None` when the bundle does not frame or names no trusted key (`loadPolicy`'s own check
/// then reports it), or the settings did not read at the isolate's start.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = bundleSigningKey)]
pub fn bundle_signing_key(bytes: &[u8]) -> Option<Vec<u8>> {
    let cfg = state::prepared_config()?;
    edgeprice_core::bundle::signing_key(bytes, &cfg.keys).ok().map(|key| key.to_vec())
}

/// Writes the `policy_loaded` line of the live policy (after `loadPolicy` loaded it).
#[wasm_bindgen::prelude::wasm_bindgen(js_name = logPolicyLoaded)]
pub fn log_policy_loaded() {
    if let Some(fields) = state::policy_loaded_fields() {
        log("policy_loaded", fields);
    }
}

/// The isolate's background work that requests start when it is due (`state::upkeep_due`):
/// the policy refresh from the origin, the look at KV's bundle version, the feedback
/// flush. `fetch` starts them itself; `entry.mjs` calls this after a `priceApi` answer.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = upkeep)]
pub async fn upkeep_event(env: Env) {
    edgeprice_core::ctors::run_once();
    let Ok(cfg) = state::config(&env) else { return };
    let now = now_secs();
    let refresh = async {
        if let Some(etag) = state::begin_refresh(&cfg, now) {
            state::refresh(&cfg, etag).await;
        }
    };
    let kv = async {
        if state::begin_kv_check(&cfg, now) {
            state::check_kv(&env, &cfg).await;
        }
    };
    let flush = async {
        if state::with(|i| i.outbox.due(now, cfg.flush, false)) {
            feedback::flush(&env, &cfg, false).await;
        }
    };
    futures_util::future::join3(refresh, kv, flush).await;
}

/// `log`, once the runtime has had a turn (a zero timer): after the answer of the request
/// that called it, not on its way.
async fn log_later(event: &'static str, fields: Value) {
    worker::Delay::from(std::time::Duration::ZERO).await;
    log(event, fields);
}

fn json_response(status: u16, body: &impl serde::Serialize, headers: &Headers) -> worker::Result<Response> {
    let text = serde_json::to_vec(body).map_err(|e| worker::Error::RustError(e.to_string()))?;
    json_text_response(status, text, headers)
}

/// A response whose body is JSON text already written (decisions: `pricing::json`).
fn json_text_response(status: u16, text: Vec<u8>, headers: &Headers) -> worker::Result<Response> {
    headers.set("Content-Type", "application/json")?;
    headers.set("Cache-Control", "private, no-store")?;
    Ok(Response::builder().with_status(status).with_headers(headers.clone()).fixed(text))
}

fn error(status: u16, code: &str, message: &str, headers: &Headers) -> worker::Result<Response> {
    json_text_response(status, error_body(code, message), headers)
}

/// The one error body on the wire: `{"code", "message"}`.
fn error_body(code: &str, message: &str) -> Vec<u8> {
    let mut out = String::with_capacity(32 + code.len() + message.len());
    out.push_str("{\"code\":");
    json::string(&mut out, code);
    out.push_str(",\"message\":");
    json::string(&mut out, message);
    out.push('}');
    out.into_bytes()
}

/// SKUs the worker accepts in paths and queries (they go into URLs and a CSS selector).
fn sku_ok(sku: &str) -> bool {
    !sku.is_empty() && sku.len() <= 64 && sku.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// The visit of this request and the headers that carry its cookie back.
fn visit_of(req: &Request, cfg: &Config, now: i64) -> (Visit, Headers) {
    let headers = Headers::new();
    let Some(secret) = &cfg.session_secret else {
        return (Visit::new(&random_uuid(), now, false), headers);
    };
    let cookie_header = req.headers().get("Cookie").ok().flatten().unwrap_or_default();
    let (visit, _) = visit::resume(visit::from_header(&cookie_header, COOKIE_NAME), secret, now, random_uuid);
    (visit, headers)
}

/// Writes the (updated) visit into the response's `Set-Cookie`.
fn save_visit(visit: &Visit, cfg: &Config, headers: &Headers) {
    if let Some(value) = cfg.session_secret.as_deref().and_then(|s| visit::encode(visit, s)) {
        let _ = headers.append("Set-Cookie", &visit::set_cookie(&value));
    }
}

/// Where the shopper is, from the runtime's `request.cf` (country, region code); unknown
/// outside Cloudflare's network, which prices as the default jurisdiction.
fn place_of(req: &Request) -> Place {
    req.cf().map_or_else(Place::default, |cf| {
        Place::from_value(&json!({"country": cf.country(), "region": cf.region_code()}))
    })
}

/// The decision's disclosure and jurisdiction as response headers.
fn disclosure_headers(d: &Decision, headers: &Headers) -> worker::Result<()> {
    if let Some(j) = &d.jurisdiction {
        headers.set("Edgeprice-Jurisdiction", j)?;
    }
    if let Some(text) = &d.disclosure {
        headers.set("Edgeprice-Disclosure", &page::header_text(text))?;
    }
    Ok(())
}

/// Prices `sku` for the visit at `place` and records the decision for upload.
/// The catalog's product for `sku`, or the status and code a shopper's request gets (an
/// unavailable catalog is logged with its reason, which the answer does not carry).
async fn catalog_product(env: &Env, cfg: &Config, sku: &str, now: i64) -> Result<catalog::Shared, (u16, &'static str)> {
    catalog::product(env, cfg, sku, now).await.map_err(|e| catalog_error(sku, e))
}

/// A catalog lookup's failure as the answer's status and code (logged when unavailable).
fn catalog_error(sku: &str, e: catalog::CatalogError) -> (u16, &'static str) {
    match e {
        catalog::CatalogError::Unknown => (404, "unknown_sku"),
        catalog::CatalogError::Unavailable(reason) => {
            log("catalog_unavailable", json!({"sku": sku, "reason": reason}));
            (503, "catalog_unavailable")
        }
    }
}

async fn decide(
    env: &Env,
    cfg: &Config,
    visit: &Visit,
    sku: &str,
    now: i64,
    place: &Place,
) -> Result<Decision, (u16, &'static str)> {
    let product = catalog_product(env, cfg, sku, now).await?;
    let session = visit.tracker.session(now, visit.visitor_type(), &visit.traffic_type, 0.0);
    let id = visit.session_id.as_str();
    let decision = state::with(|i| match (&i.policy, &cfg.session_secret) {
        (_, None) => fallback(&product, id, 0, now, "session_secret_missing"),
        (None, _) => fallback(&product, id, 0, now, "no_policy"),
        (Some(p), _) => match p.engine_for(now, cfg.policy_max_stale) {
            Some(engine) => engine.place(engine.price_session(id, &session, &product, now), &product, place),
            None => fallback(&product, id, p.version(), now, "policy_stale"),
        },
    });
    if decision.reasons.iter().any(|r| r == "fallback:policy_stale" || r == "fallback:no_policy") {
        log("pricing_fallback", json!({"reason": decision.reasons, "policy_version": decision.policy_version}));
    }
    let features = features_json(id, &session).get("features").cloned();
    let cost = Some(product.currency.to_major(product.cost));
    feedback::record(env, FeedbackEvent::Decision(DecisionEvent::of(&decision, id, cost, features, now))).await;
    Ok(decision)
}

async fn price_route(req: &Request, env: &Env, cfg: &Config, now: i64) -> worker::Result<Response> {
    let (visit, headers) = visit_of(req, cfg, now);
    let sku = query::param(&req.inner().url(), "sku").unwrap_or_default();
    if !sku_ok(&sku) {
        return error(400, "bad_sku", "sku must be 1 to 64 letters, digits, '-', '_' or '.'", &headers);
    }
    save_visit(&visit, cfg, &headers);
    match decide(env, cfg, &visit, &sku, now, &place_of(req)).await {
        Ok(d) => {
            disclosure_headers(&d, &headers)?;
            json_text_response(200, json::decision_text(&d).into_bytes(), &headers)
        }
        Err((status, code)) => error(status, code, "no price for this sku", &headers),
    }
}

async fn page_route(req: &Request, env: &Env, cfg: &Config, sku: &str, now: i64) -> worker::Result<Response> {
    let (visit, headers) = visit_of(req, cfg, now);
    let url = format!("{}{}", cfg.origin, req.path());
    let auth = cfg.bearer();
    let headers_out = [("Accept", "text/html"), ("Authorization", auth.as_str())];
    let page = match origin::send(&url, Method::Get, &headers_out, None, cfg.origin_timeout_ms).await {
        Ok(p) => p,
        Err(reason) => {
            log("page_origin_unreachable", json!({"reason": reason}));
            return Response::error("The shop is unavailable right now.", 502);
        }
    };
    let html = page.headers().get("Content-Type")?.is_some_and(|t| t.starts_with("text/html"));
    if page.status_code() != 200 || !html {
        return Ok(page); // not a page we price: as the origin sent it
    }
    // Decided only for a page that will show it, so every logged decision was shown.
    let Ok(decision) = decide(env, cfg, &visit, sku, now, &place_of(req)).await else {
        return Ok(page); // no price for this SKU: the origin's own price stays
    };
    for (name, value) in page.headers().entries() {
        if !matches!(name.as_str(), "content-length" | "cache-control" | "etag" | "last-modified") {
            headers.append(&name, &value)?;
        }
    }
    headers.set("Cache-Control", "private, no-store")?;
    save_visit(&visit, cfg, &headers);
    disclosure_headers(&decision, &headers)?;
    page::rewrite(page, &decision, headers).map_err(worker::Error::from)
}

/// Why `body_json` refused a request body; its code and status are fixed per kind.
#[derive(Clone, Copy, Debug, PartialEq)]
enum BodyError {
    TooLarge,
    Unreadable,
    Malformed,
}

impl BodyError {
    fn code(self) -> &'static str {
        match self {
            BodyError::TooLarge => "body_too_large",
            BodyError::Unreadable => "body_unreadable",
            BodyError::Malformed => "body_malformed",
        }
    }

    fn status(self) -> u16 {
        if self == BodyError::TooLarge { 413 } else { 400 }
    }
}

/// The error answer for a body `body_json` refused.
fn body_error(e: BodyError, what: &str, headers: &Headers) -> worker::Result<Response> {
    error(e.status(), e.code(), what, headers)
}

async fn body_json(req: &mut Request, max: usize) -> Result<Value, BodyError> {
    if declared_length(req.headers().get("Content-Length").ok().flatten().as_deref()) > max {
        return Err(BodyError::TooLarge);
    }
    let bytes = req.bytes().await.map_err(|_| BodyError::Unreadable)?;
    json_of(&bytes, max)
}

/// A `Content-Length` value as a number of bytes (absent or not a number: 0, so the
/// read body's own length decides).
fn declared_length(value: Option<&str>) -> usize {
    value.and_then(|l| l.parse::<usize>().ok()).unwrap_or(0)
}

/// A body read whole: at most `max` bytes of JSON.
fn json_of(bytes: &[u8], max: usize) -> Result<Value, BodyError> {
    if bytes.len() > max {
        return Err(BodyError::TooLarge);
    }
    serde_json::from_slice(bytes).map_err(|_| BodyError::Malformed)
}

async fn events_route(mut req: Request, cfg: &Config, now: i64) -> worker::Result<Response> {
    let (mut visit, headers) = visit_of(&req, cfg, now);
    let body = match body_json(&mut req, MAX_BODY).await {
        Ok(b) => b,
        Err(code) => return body_error(code, "bad events body", &headers),
    };
    let list = match &body {
        Value::Array(a) => a.clone(),
        Value::Object(o) if o.contains_key("events") => o["events"].as_array().cloned().unwrap_or_default(),
        Value::Object(_) => vec![body.clone()],
        _ => Vec::new(),
    };
    if list.len() > MAX_EVENTS_PER_POST || visit.tracker.pages + list.len() as f64 > MAX_EVENTS as f64 {
        return error(413, "too_many_events", "too many events", &headers);
    }
    let events: Result<Vec<PageEvent>, _> = list.into_iter().map(serde_json::from_value).collect();
    let Ok(events) = events else {
        return error(400, "event_malformed", "events are {page, seconds?, page_id?, bounce?, exit?}", &headers);
    };
    if let Some(t) =
        body.get("traffic_type").and_then(|t| t.as_u64().map(|n| n.to_string()).or(t.as_str().map(String::from)))
        && t.len() <= 16
    {
        visit.traffic_type = t;
    }
    let page_values = state::with(|i| i.policy.as_ref().map(|p| p.engine().bundle().manifest().page_values.clone()))
        .unwrap_or_default();
    for e in &events {
        visit.tracker.record(e, &page_values);
    }
    save_visit(&visit, cfg, &headers);
    json_response(200, &json!({"recorded": events.len(), "pages": visit.tracker.pages}), &headers)
}

async fn purchase_route(mut req: Request, env: &Env, cfg: &Config, now: i64) -> worker::Result<Response> {
    let (visit, headers) = visit_of(&req, cfg, now);
    let body = match body_json(&mut req, MAX_BODY).await {
        Ok(b) => b,
        Err(code) => {
            return body_error(code, "bad purchase body", &headers);
        }
    };
    let decision_id = body.get("decision_id").and_then(Value::as_str).unwrap_or("");
    let revenue = body.get("revenue").and_then(Value::as_f64);
    if decision_id.is_empty() || decision_id.len() > 64 || !decision_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return error(400, "bad_decision_id", "decision_id is the id of a decision this site showed", &headers);
    }
    if !revenue.is_some_and(|r| r.is_finite() && (0.0..=1e9).contains(&r)) {
        return error(400, "bad_revenue", "revenue must be a finite amount >= 0", &headers);
    }
    let outcome = OutcomeEvent::of(decision_id, &visit.session_id, true, revenue, now);
    feedback::record(env, FeedbackEvent::Outcome(outcome)).await;
    json_response(202, &json!({"queued": true}), &headers)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    edgeprice_core::ctors::run_once();
    let cfg = match state::config(&env) {
        Ok(c) => c,
        Err(message) => {
            log("config_invalid", json!({"message": message}));
            return error(500, "config_invalid", "the pricing worker is misconfigured", &Headers::new());
        }
    };
    if let Some(fields) = state::ensure_loaded(&env, &cfg).await {
        ctx.wait_until(log_later("policy_loaded", fields));
    }
    let now = now_secs();
    if let Some(etag) = state::begin_refresh(&cfg, now) {
        let cfg = cfg.clone();
        ctx.wait_until(async move {
            state::refresh(&cfg, etag).await;
        });
    }
    if state::begin_kv_check(&cfg, now) {
        let (env, cfg) = (env.clone(), cfg.clone());
        ctx.wait_until(async move {
            state::check_kv(&env, &cfg).await;
        });
    }
    let path = req.path();
    let page_sku = cfg.page_prefixes.iter().find_map(|p| path.strip_prefix(p.as_str())).map(str::to_string);
    // Each route is its own boxed future: V8 compiles a wasm function whole at its first
    // call, and with the routes inlined into this one the first request of an isolate
    // compiled all of them (a 24.8 KB function; 1.2 ms of workerd's baseline compiler).
    let route: Route = match (req.method(), path.as_str(), page_sku) {
        (Method::Get, "/price", _) => Box::pin(price_route(&req, &env, &cfg, now)),
        (Method::Post, "/events", _) => Box::pin(events_route(req, &cfg, now)),
        (Method::Post, "/purchase", _) => Box::pin(purchase_route(req, &env, &cfg, now)),
        (Method::Post, "/v1/price", _) => Box::pin(api::route(req, &env, &cfg, now)),
        (Method::Get, "/_edgeprice/status", _) => Box::pin(std::future::ready(operator::status_route(&env))),
        (Method::Get, "/_edgeprice/dead-letters", _) => Box::pin(operator::dead_letters_route(&req, &env, &cfg, false)),
        (Method::Post, "/_edgeprice/dead-letters/replay", _) => {
            Box::pin(operator::dead_letters_route(&req, &env, &cfg, true))
        }
        (Method::Post, "/_edgeprice/push", _) => Box::pin(operator::push_route(req, &env, &cfg, now)),
        (Method::Get, _, Some(sku)) if sku_ok(&sku) => {
            let (req, env, cfg) = (&req, &env, &cfg);
            Box::pin(async move { page_route(req, env, cfg, &sku, now).await })
        }
        _ => Box::pin(std::future::ready(error(404, "not_found", "no such route", &Headers::new()))),
    };
    let response = route.await;
    if state::with(|i| i.outbox.due(now_secs(), cfg.flush, false)) {
        let env = env.clone();
        ctx.wait_until(async move {
            feedback::flush(&env, &cfg, false).await;
        });
    }
    response
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    edgeprice_core::ctors::run_once();
    let cfg = match state::config(&env) {
        Ok(c) => c,
        Err(message) => return log("config_invalid", json!({"message": message})),
    };
    if let Some(fields) = state::ensure_loaded(&env, &cfg).await {
        log("policy_loaded", fields);
    }
    let now = now_secs();
    // The cron refresh ignores the TTL (it is the TTL) but not a refresh already in flight.
    let etag = state::with(|i| match &mut i.policy {
        Some(p) if p.in_flight => None,
        Some(p) => Some(Some(p.begin(now))),
        None => Some(None),
    });
    if let Some(etag) = etag
        && !cfg.origin.is_empty()
        && let Some((bytes, version)) = state::refresh(&cfg, etag).await
    {
        state::store_in_kv(&env, &bytes, version).await;
    }
    feedback::flush(&env, &cfg, true).await;
}

/// The queue consumer: workerd calls `queue` with each batch of the feedback queue and of
/// its dead-letter queue. Written against worker-sys's `MessageBatch` rather than
/// `#[event(queue)]`: that macro's messages hide `attempts`, which the backoff needs, and it
/// aborts the module when the handler returns an error; this one settles every message.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = queue)]
pub async fn queue_event(batch: worker::worker_sys::MessageBatch, env: Env) {
    edgeprice_core::ctors::run_once();
    feedback::on_batch(&batch, &env).await;
}
