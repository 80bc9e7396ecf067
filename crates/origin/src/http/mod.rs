//! The HTTP API under /v1 (errors in the one body shape of `errors`, with stable codes;
//! database detail never reaches the client, it is logged instead).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::errors::{error, internal, json_errors};
use crate::limits::{Bucket, Limits};
use crate::push::Pusher;
use crate::store::{Store, StoreError};

mod catalog;
mod console;
mod export;
pub mod reports;

pub use console::Edges;
use edgeprice_core::bundle::{self, BundleError, MAX_BUNDLE, TrustedKeys};
use edgeprice_core::feedback::{MAX_BODY, parse_batch};
use edgeprice_core::secret::same_secret;
pub use reports::Evaluator;

/// The API description, served at /v1/openapi.yaml.
pub const OPENAPI: &str = include_str!("../openapi.yaml");

/// Counters behind `/metrics`.
#[derive(Default)]
pub struct Metrics {
    requests: AtomicU64,
    feedback_accepted: AtomicU64,
    feedback_duplicates: AtomicU64,
    feedback_rejected: AtomicU64,
    publish_accepted: AtomicU64,
    publish_rejected: AtomicU64,
    /// Events this process stored per minute, the last hour's (the overview's ingest rate
    /// without counting table rows).
    pub ingest: console::Ingest,
}

pub struct AppState {
    /// Bundles, feedback, rollups and the catalog (seed it before serving: `seed_catalog`).
    pub store: Store,
    pub keys: TrustedKeys,
    pub admin_token: String,
    pub edge_token: String,
    /// Unix seconds; a function so that tests can fix the time.
    pub clock: fn() -> i64,
    pub metrics: Metrics,
    /// Rate limits per token and the request deadline (`limits`).
    pub limits: Limits,
    /// Edge endpoints notified of each publish and rollback (`push`); `None`: edges poll.
    pub pusher: Option<Arc<Pusher>>,
    /// Edges seen recently, from the status they send with their feedback uploads.
    pub edges: Edges,
    /// Off-policy evaluation of a candidate bundle (`edgeprice serve` passes the learner's;
    /// without one `POST /v1/reports/evaluate` answers 501).
    pub evaluator: Option<Evaluator>,
}

type Shared = Arc<AppState>;

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Admin,
    Edge,
}

/// Why a request may not proceed (401 without a known token, 403 with the wrong one, 429
/// past the token's rate, with the seconds to wait).
enum Denied {
    NoToken,
    UnknownToken,
    WrongRole,
    RateLimited(f64),
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::NoToken => error(StatusCode::UNAUTHORIZED, "unauthorized", "a bearer token is required"),
            Denied::UnknownToken => error(StatusCode::UNAUTHORIZED, "unauthorized", "unknown token"),
            Denied::WrongRole => error(StatusCode::FORBIDDEN, "forbidden", "this token may not do that"),
            Denied::RateLimited(wait) => {
                let mut r = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests for this token");
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.ceil().max(1.0) as u64));
                r
            }
        }
    }
}

fn role(state: &AppState, headers: &HeaderMap) -> Result<Role, Denied> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(Denied::NoToken)?;
    if same_secret(token.as_bytes(), state.admin_token.as_bytes()) {
        Ok(Role::Admin)
    } else if same_secret(token.as_bytes(), state.edge_token.as_bytes()) {
        Ok(Role::Edge)
    } else {
        Err(Denied::UnknownToken)
    }
}

/// Authentication (401), then the role (403), then the token's rate bucket (429): only
/// requests that would be served take a token.
fn need(state: &AppState, headers: &HeaderMap, wanted: Role) -> Result<(), Denied> {
    need_one_of(state, headers, &[wanted])
}

/// `need` where any of `roles` may proceed.
fn need_one_of(state: &AppState, headers: &HeaderMap, roles: &[Role]) -> Result<(), Denied> {
    let role = role(state, headers)?;
    if !roles.contains(&role) {
        return Err(Denied::WrongRole);
    }
    let bucket = if role == Role::Admin { Bucket::Admin } else { Bucket::Edge };
    state.limits.take(bucket, std::time::Instant::now()).map_err(Denied::RateLimited)
}

/// The client address of a connection (`serve` adds it to each of its requests).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub std::net::IpAddr);

/// Reads without a valid token (browsers and scripts on the public routes) take a token
/// from their client's bucket, or get 429 with `Retry-After`. `/healthz` is exempt (load
/// balancers poll it); edges send their token on every request, so a fleet behind a few
/// addresses is limited by the edge bucket instead.
async fn client_limit(State(s): State<Shared>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    // The public routes are all GETs; a write without a valid token is a cheap 401.
    let read = matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    if !read || req.uri().path() == "/healthz" || role(&s, req.headers()).is_ok() {
        return next.run(req).await;
    }
    let named = s.limits.client_ip_header.as_deref().and_then(|h| req.headers().get(h)).and_then(|v| v.to_str().ok());
    let client = match named {
        // X-Forwarded-For lists the client first.
        Some(v) => v.split(',').next().unwrap_or(v).trim().to_string(),
        None => req.extensions().get::<ClientAddr>().map_or_else(|| "unknown".to_string(), |c| c.0.to_string()),
    };
    match s.limits.take_client(&client, std::time::Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests from this client");
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.ceil().max(1.0) as u64));
            r
        }
    }
}

/// The request deadline: the whole request, body included, or 408.
async fn deadline(State(s): State<Shared>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(s.limits.request_deadline, next.run(req)).await {
        Ok(response) => response,
        Err(_) => error(StatusCode::REQUEST_TIMEOUT, "request_timeout", "the request took too long"),
    }
}

/// Whether a conditional header (`If-None-Match`, `If-Match`) names `tag` or `*`; `None`
/// when the header is absent. If-None-Match compares weakly (RFC 9110 13.1.2: `W/"x"`
/// matches `"x"`), If-Match strongly (a weak tag never matches). The one reading of these
/// headers for bundles and the catalog.
pub(crate) fn etag_condition(headers: &HeaderMap, name: header::HeaderName, tag: &str) -> Option<bool> {
    let weak = name == header::IF_NONE_MATCH;
    headers.get(&name).and_then(|v| v.to_str().ok()).map(|v| {
        v.split(',').map(str::trim).any(|t| t == "*" || t == tag || (weak && t.strip_prefix("W/") == Some(tag)))
    })
}

fn bundle_response(version: u64, bytes: Vec<u8>, headers: &HeaderMap) -> Response {
    let etag = format!("\"{version}\"");
    let matches = etag_condition(headers, header::IF_NONE_MATCH, &etag) == Some(true);
    let mut resp = if matches { StatusCode::NOT_MODIFIED.into_response() } else { bytes.into_response() };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.edgeprice.bundle"));
    // Edges poll; a minute of caching keeps a fleet from stampeding the origin.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60, stale-if-error=86400"));
    resp
}

async fn latest(State(s): State<Shared>, headers: HeaderMap) -> Response {
    s.metrics.requests.fetch_add(1, Ordering::Relaxed);
    match s.store.live().await {
        Ok(Some(b)) => bundle_response(b.version, b.bytes, &headers),
        // Before the first publish the edge gets the bundle built into this binary.
        Ok(None) => match bundle::inspect_unverified(bundle::DEFAULT_BUNDLE) {
            Ok((manifest, _)) => bundle_response(manifest.policy_version, bundle::DEFAULT_BUNDLE.to_vec(), &headers),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
        },
        Err(e) => internal(e),
    }
}

async fn by_version(State(s): State<Shared>, Path(version): Path<u64>, headers: HeaderMap) -> Response {
    s.metrics.requests.fetch_add(1, Ordering::Relaxed);
    match s.store.bundle(version).await {
        Ok(Some(b)) => bundle_response(b.version, b.bytes, &headers),
        Ok(None) => error(StatusCode::NOT_FOUND, "unknown_version", format!("policy version {version} does not exist")),
        Err(e) => internal(e),
    }
}

async fn publish(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    s.metrics.requests.fetch_add(1, Ordering::Relaxed);
    if let Err(denied) = need(&s, &headers, Role::Admin) {
        return denied.into_response();
    }
    let now = (s.clock)();
    let live = match s.store.max_version().await {
        Ok(v) => v,
        Err(e) => return internal(e),
    };
    let verified = match bundle::verify(&body, &s.keys, now, live) {
        Ok(b) => b,
        Err(e) => {
            s.metrics.publish_rejected.fetch_add(1, Ordering::Relaxed);
            let status =
                if matches!(e, BundleError::Downgrade { .. }) { StatusCode::CONFLICT } else { StatusCode::BAD_REQUEST };
            return error(status, e.code(), e);
        }
    };
    // The origin reads format 1, but lean edges (no TOML parser) would refuse it: a bundle
    // the fleet cannot load is not published.
    if bundle::format_of(&body).ok() != Some(bundle::FORMAT_VERSION) {
        s.metrics.publish_rejected.fetch_add(1, Ordering::Relaxed);
        let why = "format 1 loads only in edges built with tract-onnx; `edgeprice resign` signs it again in format 2";
        return error(StatusCode::BAD_REQUEST, "bundle_format_version", why);
    }
    let m = &verified.manifest();
    match s.store.publish(m.policy_version, &m.key_id, &m.created, &body, now).await {
        Ok(()) => {
            s.metrics.publish_accepted.fetch_add(1, Ordering::Relaxed);
            if let Some(p) = &s.pusher {
                p.notify(&s.store, "policy.published", m.policy_version, now);
            }
            (StatusCode::CREATED, Json(json!({"policy_version": m.policy_version, "live": true}))).into_response()
        }
        Err(StoreError::NotNewer(v)) => {
            s.metrics.publish_rejected.fetch_add(1, Ordering::Relaxed);
            error(
                StatusCode::CONFLICT,
                "bundle_downgrade",
                format!("policy version {v} is not newer than the published ones"),
            )
        }
        Err(e) => internal(e),
    }
}

#[derive(serde::Deserialize)]
struct RollbackBody {
    version: u64,
}

async fn rollback(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    s.metrics.requests.fetch_add(1, Ordering::Relaxed);
    if let Err(denied) = need(&s, &headers, Role::Admin) {
        return denied.into_response();
    }
    let Ok(req) = serde_json::from_slice::<RollbackBody>(&body) else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "body must be {\"version\": N}");
    };
    let now = (s.clock)();
    match s.store.rollback(req.version, now).await {
        Ok(()) => {
            if let Some(p) = &s.pusher {
                p.notify(&s.store, "policy.rolled_back", req.version, now);
            }
            Json(json!({"policy_version": req.version, "live": true})).into_response()
        }
        Err(StoreError::UnknownVersion(v)) => {
            error(StatusCode::NOT_FOUND, "unknown_version", format!("policy version {v} was never published"))
        }
        Err(e) => internal(e),
    }
}

async fn feedback(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    s.metrics.requests.fetch_add(1, Ordering::Relaxed);
    if let Err(denied) = need(&s, &headers, Role::Edge) {
        return denied.into_response();
    }
    let (events, rejected) = match parse_batch(&body) {
        Ok(parsed) => parsed,
        Err(m) => return error(StatusCode::BAD_REQUEST, "batch_malformed", m),
    };
    let now = (s.clock)();
    s.edges.saw(&headers, now);
    match s.store.insert_feedback(&events, now).await {
        Ok((accepted, duplicates)) => {
            s.metrics.feedback_accepted.fetch_add(accepted as u64, Ordering::Relaxed);
            s.metrics.ingest.add(now, accepted as u64);
            s.metrics.feedback_duplicates.fetch_add(duplicates as u64, Ordering::Relaxed);
            s.metrics.feedback_rejected.fetch_add(rejected.len() as u64, Ordering::Relaxed);
            Json(json!({"accepted": accepted, "duplicates": duplicates, "rejected": rejected})).into_response()
        }
        Err(e) => internal(e),
    }
}

/// The policy versions (public, like the bundles): the live one, the highest published (a
/// new publish must exceed it) and the latest 100 publish and rollback events.
async fn versions(State(s): State<Shared>) -> Response {
    s.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let (history, max) = match (s.store.history(100).await, s.store.max_version().await) {
        (Ok(h), Ok(m)) => (h, m),
        (Err(e), _) | (_, Err(e)) => return internal(e),
    };
    let events: Vec<_> =
        history.iter().map(|(kind, version, at)| json!({"kind": kind, "version": version, "at": at})).collect();
    Json(json!({"live": history.first().map(|h| h.1), "max": max, "history": events})).into_response()
}

#[derive(serde::Deserialize)]
struct DeliveriesQuery {
    limit: Option<u32>,
}

/// The latest push attempts (admin): `{"deliveries": [...]}`, newest first, at most 500.
async fn deliveries(
    State(s): State<Shared>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<DeliveriesQuery>,
) -> Response {
    s.metrics.requests.fetch_add(1, Ordering::Relaxed);
    if let Err(denied) = need(&s, &headers, Role::Admin) {
        return denied.into_response();
    }
    match s.store.deliveries(q.limit.unwrap_or(100).min(500)).await {
        Ok(list) => Json(json!({"configured": s.pusher.as_ref().map_or(0, |p| p.targets.len()), "deliveries": list}))
            .into_response(),
        Err(e) => internal(e),
    }
}

async fn healthz(State(s): State<Shared>) -> Response {
    match s.store.max_version().await {
        Ok(v) => Json(json!({"status": "ok", "max_policy_version": v})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "database unreachable")
        }
    }
}

async fn metrics(State(s): State<Shared>) -> Response {
    let m = &s.metrics;
    let live = s.store.live().await.ok().flatten().map_or(0, |b| b.version);
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let text = format!(
        "# TYPE edgeprice_http_requests_total counter\nedgeprice_http_requests_total {}\n\
         # TYPE edgeprice_feedback_events_total counter\n\
         edgeprice_feedback_events_total{{result=\"accepted\"}} {}\n\
         edgeprice_feedback_events_total{{result=\"duplicate\"}} {}\n\
         edgeprice_feedback_events_total{{result=\"rejected\"}} {}\n\
         # TYPE edgeprice_policy_publish_total counter\n\
         edgeprice_policy_publish_total{{result=\"accepted\"}} {}\n\
         edgeprice_policy_publish_total{{result=\"rejected\"}} {}\n\
         # TYPE edgeprice_policy_live_version gauge\nedgeprice_policy_live_version {live}\n",
        get(&m.requests),
        get(&m.feedback_accepted),
        get(&m.feedback_duplicates),
        get(&m.feedback_rejected),
        get(&m.publish_accepted),
        get(&m.publish_rejected),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// One log line per request: method, path, status, milliseconds. Never headers or bodies
/// (they carry tokens and shoppers' data).
async fn log_request(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    tracing::info!(%method, path, status = resp.status().as_u16(), ms = started.elapsed().as_secs_f64() * 1e3, "request");
    resp
}

/// The whole API; serve it with `axum::serve`, test it with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    let shared = Arc::new(state);
    Router::new()
        .route("/v1/policy/latest", get(latest))
        .route("/v1/policy/{version}", get(by_version))
        .route("/v1/policy", axum::routing::put(publish).get(versions).layer(DefaultBodyLimit::max(MAX_BUNDLE)))
        .route("/v1/policy/rollback", post(rollback))
        .route("/v1/push/deliveries", get(deliveries))
        .route("/v1/feedback", post(feedback).layer(DefaultBodyLimit::max(MAX_BODY)))
        .route("/v1/policy/{version}/manifest", get(console::manifest))
        .route("/v1/reports/summary", get(reports::summary))
        .route("/v1/reports/timeseries", get(reports::timeseries))
        .route("/v1/reports/prices", get(reports::prices))
        .route("/v1/reports/fairness", get(reports::fairness))
        .route("/v1/reports/overview", get(console::overview))
        .route("/v1/reports/evaluate", post(reports::evaluate).layer(DefaultBodyLimit::max(MAX_BUNDLE)))
        .route("/v1/export/decisions.csv", get(export::decisions))
        .route(
            "/v1/catalog",
            get(catalog::list).put(catalog::replace).layer(DefaultBodyLimit::max(catalog::MAX_UPLOAD)),
        )
        .route("/v1/catalog/{sku}", get(catalog::one).patch(catalog::patch))
        .route("/products/{sku}", get(catalog::product_page))
        .route("/console", get(console::page))
        .route("/console/{file}", get(console::asset))
        .route("/v1/openapi.yaml", get(|| async { ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI) }))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(axum::middleware::from_fn_with_state(shared.clone(), deadline))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), client_limit))
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(shared)
}
