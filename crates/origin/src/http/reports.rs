//! The reports the console draws (admin): summary, time series, prices and fairness, all
//! read from the rollups (`store::rollup`), so they cost the same with a thousand events or
//! a million; and the off-policy estimate of an uploaded candidate bundle, computed by the
//! evaluator the binary passes in (the learner lives outside this crate).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{Role, Shared, need};
use crate::errors::{error, internal};
use crate::report;
use edgeprice_core::bundle;
use edgeprice_core::feedback::FeedbackEvent;

/// What the evaluator is given: the candidate bundle's bytes (not yet verified), the live
/// bundle's bytes, the SKU to evaluate on and its product JSON, the logged events, and `now`.
pub struct EvaluationInput<'a> {
    pub candidate: &'a [u8],
    pub live: &'a [u8],
    pub sku: &'a str,
    pub product: &'a Value,
    pub events: &'a [FeedbackEvent],
    pub now: i64,
}

/// Off-policy evaluation: `Ok` JSON as `POST /v1/reports/evaluate` answers it, or `Err((code,
/// message))` for a candidate that cannot be evaluated (an unverifiable bundle, no logged
/// decisions for the product).
pub type Evaluator = Arc<dyn Fn(EvaluationInput) -> Result<Value, (String, String)> + Send + Sync>;

#[derive(serde::Deserialize)]
pub struct ReportQuery {
    policy_version: Option<u64>,
    bucket: Option<String>,
    sku: Option<String>,
}

/// Which price each policy's control group saw, from its stored bundle's rules.
async fn controls(s: &Shared, versions: impl Iterator<Item = u64>) -> Result<BTreeMap<u64, String>, Response> {
    let mut controls = BTreeMap::new();
    for version in versions {
        if controls.contains_key(&version) {
            continue;
        }
        let stored = s.store.bundle(version).await.map_err(internal)?;
        let rules = stored
            .and_then(|b| bundle::inspect_unverified(&b.bytes).ok())
            .and_then(|(m, _)| edgeprice_core::pricing::rules::Rules::from_toml(&m.rules_toml).ok());
        if let Some(rules) = rules {
            let name = serde_json::to_value(rules.exploration.control).ok().and_then(|v| v.as_str().map(String::from));
            controls.insert(version, name.unwrap_or_default());
        }
    }
    Ok(controls)
}

pub async fn summary(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<ReportQuery>) -> Response {
    if let Err(denied) = need(&s, &headers, Role::Admin) {
        return denied.into_response();
    }
    let sums = match s.store.hourly_sums(q.policy_version).await {
        Ok(hourly) => report::totals(&hourly),
        Err(e) => return internal(e),
    };
    match controls(&s, sums.iter().map(|a| a.policy_version)).await {
        Ok(controls) => Json(report::summarize(&sums, &controls)).into_response(),
        Err(r) => r,
    }
}

pub async fn timeseries(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<ReportQuery>) -> Response {
    if let Err(denied) = need(&s, &headers, Role::Admin) {
        return denied.into_response();
    }
    let bucket = match q.bucket.as_deref().unwrap_or("hour") {
        "hour" => 3600,
        "day" => 86_400,
        other => return error(StatusCode::BAD_REQUEST, "bad_request", format!("bucket {other:?}: hour or day")),
    };
    match s.store.hourly_sums(q.policy_version).await {
        Ok(hourly) => Json(report::timeseries(&hourly, bucket)).into_response(),
        Err(e) => internal(e),
    }
}

pub async fn prices(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<ReportQuery>) -> Response {
    if let Err(denied) = need(&s, &headers, Role::Admin) {
        return denied.into_response();
    }
    match s.store.price_sums(q.policy_version).await {
        Ok(sums) => Json(report::prices(&sums)).into_response(),
        Err(e) => internal(e),
    }
}

pub async fn fairness(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<ReportQuery>) -> Response {
    if let Err(denied) = need(&s, &headers, Role::Admin) {
        return denied.into_response();
    }
    match s.store.group_sums(q.policy_version).await {
        Ok(sums) => Json(report::fairness(&sums)).into_response(),
        Err(e) => internal(e),
    }
}

/// `POST /v1/reports/evaluate?sku=` with a candidate bundle as the body: IPS, SNIPS and DR
/// estimates of its profit per session on the logged decisions of one product (`sku`, or
/// the product with the most decisions), next to the live policy's on the same decisions.
/// It reads every stored event, so it takes seconds on a large store (run on the blocking
/// pool; not a page load).
pub async fn evaluate(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<ReportQuery>,
    body: Bytes,
) -> Response {
    if let Err(denied) = need(&s, &headers, Role::Admin) {
        return denied.into_response();
    }
    let Some(evaluator) = s.evaluator.clone() else {
        return error(StatusCode::NOT_IMPLEMENTED, "not_implemented", "this origin has no evaluator");
    };
    let sku = match q.sku {
        Some(sku) => sku,
        None => match s.store.price_sums(None).await {
            Ok(sums) => {
                let mut per: BTreeMap<String, u64> = BTreeMap::new();
                for p in sums {
                    *per.entry(p.sku).or_default() += p.decisions;
                }
                match per.into_iter().max_by_key(|(_, n)| *n) {
                    Some((sku, _)) => sku,
                    None => {
                        return error(StatusCode::CONFLICT, "no_feedback", "no logged decisions to evaluate on yet");
                    }
                }
            }
            Err(e) => return internal(e),
        },
    };
    let product = match s.store.product(&sku).await {
        Ok(Some(p)) => p.doc,
        Ok(None) => return error(StatusCode::NOT_FOUND, "unknown_sku", format!("{sku} is not in the catalog")),
        Err(e) => return internal(e),
    };
    let live = match s.store.live().await {
        Ok(Some(b)) => b.bytes,
        Ok(None) => bundle::DEFAULT_BUNDLE.to_vec(),
        Err(e) => return internal(e),
    };
    let events = match s.store.feedback_events().await {
        Ok(events) => events,
        Err(e) => return internal(e),
    };
    let now = (s.clock)();
    let result = tokio::task::spawn_blocking(move || {
        evaluator(EvaluationInput { candidate: &body, live: &live, sku: &sku, product: &product, events: &events, now })
    })
    .await;
    match result {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err((code, message))) => error(StatusCode::BAD_REQUEST, &code, message),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("evaluation failed: {e}")),
    }
}
