//! The merchant's console: its static page, script and style (compiled into the binary, no
//! CDN), and the endpoints only it needs: a policy's manifest in readable form and the
//! overview (ingest, edges seen, rollup horizon). Edges report their status in the
//! `Edgeprice-Edge-Status` header of their feedback uploads; the origin keeps the latest of
//! each in memory (at most `MAX_EDGES`), which is what "seen recently" means.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use super::{Role, Shared, need};
use crate::errors::{error, internal};
use edgeprice_core::bundle;

const PAGE: &str = include_str!("../../console/index.html");
const SCRIPT: &str = include_str!("../../console/console.js");
const STYLE: &str = include_str!("../../console/console.css");

/// Most edges remembered; the one seen longest ago goes first.
const MAX_EDGES: usize = 1000;
/// An edge is listed for an hour after its last upload.
const RECENT: i64 = 3600;

/// Events stored per minute by this process, for the last hour.
#[derive(Default)]
pub struct Ingest(Mutex<std::collections::VecDeque<(i64, u64)>>);

impl Ingest {
    pub fn add(&self, now: i64, events: u64) {
        let minute = now.div_euclid(60);
        let Ok(mut m) = self.0.lock() else { return };
        match m.back_mut() {
            Some((at, n)) if *at == minute => *n += events,
            _ => m.push_back((minute, events)),
        }
        while m.front().is_some_and(|(at, _)| *at <= minute - 60) {
            m.pop_front();
        }
    }

    /// Events stored in the last `minutes` minutes (the current one included).
    pub fn since(&self, now: i64, minutes: i64) -> u64 {
        let minute = now.div_euclid(60);
        self.0.lock().map_or(0, |m| m.iter().filter(|(at, _)| *at > minute - minutes).map(|(_, n)| n).sum())
    }
}

/// One edge's latest status.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct EdgeStatus {
    pub edge: String,
    #[serde(default)]
    pub policy_version: Option<u64>,
    #[serde(default)]
    pub feedback_path: Option<String>,
    #[serde(default)]
    pub outbox: Option<u64>,
    #[serde(default)]
    pub failures: Option<u64>,
    #[serde(default)]
    pub last_seen: i64,
}

/// The edges seen, by name.
#[derive(Default)]
pub struct Edges(Mutex<BTreeMap<String, EdgeStatus>>);

impl Edges {
    /// Records the status header of an upload, if it is there and readable (an edge's
    /// status is advice for the merchant: a bad header is ignored, never an error).
    pub fn saw(&self, headers: &HeaderMap, now: i64) {
        let Some(mut status) = headers
            .get("edgeprice-edge-status")
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 1024)
            .and_then(|v| serde_json::from_str::<EdgeStatus>(v).ok())
            .filter(|s| !s.edge.is_empty() && s.edge.len() <= 128)
        else {
            return;
        };
        status.feedback_path = status.feedback_path.filter(|p| p.len() <= 16);
        status.last_seen = now;
        let Ok(mut edges) = self.0.lock() else { return };
        if edges.len() >= MAX_EDGES && !edges.contains_key(&status.edge) {
            let oldest = edges.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                edges.remove(&k);
            }
        }
        edges.insert(status.edge.clone(), status);
    }

    /// Edges seen in the last hour, most recent first.
    pub fn recent(&self, now: i64) -> Vec<EdgeStatus> {
        let mut list: Vec<EdgeStatus> = match self.0.lock() {
            Ok(edges) => edges.values().filter(|s| now - s.last_seen <= RECENT).cloned().collect(),
            Err(_) => Vec::new(),
        };
        list.sort_by_key(|s| std::cmp::Reverse(s.last_seen));
        list
    }
}

pub async fn page() -> Response {
    let mut r = Html(PAGE).into_response();
    // The console runs only its own script and talks only to this origin.
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        ),
    );
    r
}

pub async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "console.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "console.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return error(StatusCode::NOT_FOUND, "not_found", "no such file"),
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// `GET /v1/policy/{version}/manifest` (admin): what the merchant reads of a policy.
pub async fn manifest(State(s): State<Shared>, Path(version): Path<u64>, headers: HeaderMap) -> Response {
    if let Err(denied) = need(&s, &headers, Role::Admin) {
        return denied.into_response();
    }
    let bytes = match s.store.bundle(version).await {
        Ok(Some(b)) => b.bytes,
        Ok(None) => match bundle::inspect_unverified(bundle::DEFAULT_BUNDLE) {
            Ok((m, _)) if m.policy_version == version => bundle::DEFAULT_BUNDLE.to_vec(),
            _ => {
                return error(
                    StatusCode::NOT_FOUND,
                    "unknown_version",
                    format!("policy version {version} does not exist"),
                );
            }
        },
        Err(e) => return internal(e),
    };
    // Stored bundles were verified when published; this only reads them.
    let m = match bundle::inspect_unverified(&bytes) {
        Ok((m, _)) => m,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    };
    let rules: Value = toml_to_json(&m.rules_toml);
    let summary = match edgeprice_core::pricing::rules::Rules::from_toml(&m.rules_toml) {
        Ok(r) => json!({
            "control": serde_json::to_value(r.exploration.control).unwrap_or(Value::Null),
            "epsilon": r.exploration.epsilon,
            "control_share": r.exploration.control_share,
            "cap": r.personalization.cap,
            "max_discount": r.guardrails.max_discount,
            "low_stock": r.inventory.low_stock,
            "overstock": r.inventory.overstock,
        }),
        Err(_) => Value::Null,
    };
    let metrics = m.metrics.value();
    let reissue_of = metrics.get("reissue_of").cloned().unwrap_or(Value::Null);
    Json(json!({
        "policy_version": m.policy_version,
        "key_id": m.key_id,
        "created": m.created,
        "expires": m.expires,
        "rules": rules,
        "rules_toml": m.rules_toml,
        "rules_summary": summary,
        "metrics": metrics,
        "reissue_of": reissue_of,
    }))
    .into_response()
}

fn toml_to_json(text: &str) -> Value {
    text.parse::<toml::Table>().ok().and_then(|t| serde_json::to_value(t).ok()).unwrap_or(Value::Null)
}

/// `GET /v1/reports/overview` (admin).
pub async fn overview(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(denied) = need(&s, &headers, Role::Admin) {
        return denied.into_response();
    }
    let now = (s.clock)();
    let events = match s.store.event_count().await {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    let (last_minute, last_hour) = (s.metrics.ingest.since(now, 1), s.metrics.ingest.since(now, 60));
    let (live, through, hourly) =
        match (s.store.history(1).await, s.store.rolled_through().await, s.store.hourly_sums(None).await) {
            (Ok(h), Ok(t), Ok(sums)) => (h.first().map(|e| e.1), t, sums),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return internal(e),
        };
    let decisions: u64 = hourly.iter().map(|(_, a)| a.decisions).sum();
    let purchases: u64 = hourly.iter().map(|(_, a)| a.purchases).sum();
    Json(json!({
        "live_policy_version": live,
        // Ingest counts are this process's (since it started, at most the last hour).
        "feedback": {
            "events": events,
            "decisions": decisions,
            "purchases": purchases,
            "last_minute": last_minute,
            "last_hour": last_hour,
            "per_second": last_minute as f64 / 60.0,
        },
        "edges": s.edges.recent(now),
        "rollup": {"through": through, "lag_seconds": now - through},
    }))
    .into_response()
}
