//! The operator's routes of the worker: its status, the dead letters of the feedback queue
//! (edge token) and the origin's signed policy push. Shoppers' routes are in `lib.rs`.

use serde_json::{Value, json};
use worker::{Env, Headers, Request, Response};

use super::config::Config;
use super::{error, feedback, json_response, log, state};
use edgeprice_edge::query;

/// Whether the request carries the edge token (`Authorization: Bearer`); a token shorter
/// than 16 bytes is never accepted.
pub(crate) fn edge_token_ok(req: &Request, cfg: &Config) -> bool {
    token_ok(&req.headers().get("Authorization").ok().flatten().unwrap_or_default(), cfg)
}

/// Whether an `Authorization` header's value carries the edge token (`edge_token_ok`).
pub(crate) fn token_ok(authorization: &str, cfg: &Config) -> bool {
    let token = authorization.strip_prefix("Bearer ").unwrap_or("");
    cfg.edge_token.len() >= 16 && edgeprice_core::secret::same_secret(token.as_bytes(), cfg.edge_token.as_bytes())
}

/// The operator's view of dead letters (edge token): `GET` counts and shows them
/// (`?limit=`, at most 100), `POST .../replay` sends up to 100 back to the queue.
pub(crate) async fn dead_letters_route(
    req: &Request,
    env: &Env,
    cfg: &Config,
    replay: bool,
) -> worker::Result<Response> {
    let headers = Headers::new();
    if !edge_token_ok(req, cfg) {
        return error(401, "unauthorized", "this route needs the edge token", &headers);
    }
    let answer = if replay {
        feedback::replay(env).await.map(|n| json!({"replayed": n}))
    } else {
        let limit = query::param(&req.inner().url(), "limit").and_then(|v| v.parse().ok());
        feedback::letters(env, limit.unwrap_or(20).min(100)).await
    };
    match answer {
        Ok(body) => json_response(200, &body, &headers),
        Err(e) => {
            log("dead_letters_unavailable", json!({"error": e}));
            error(503, "dead_letters_unavailable", "no DEAD_LETTERS namespace or FEEDBACK queue here", &headers)
        }
    }
}

/// Largest policy-push body (a small JSON notification; the bundle is fetched, not pushed).
const MAX_PUSH_BODY: usize = 4 * 1024;

/// The origin's policy push (a signed Standard Webhooks notification): verified, then the
/// bundle is fetched from the origin and verified exactly as a polled one, made live in
/// this isolate and written to KV for the others. A push that does not verify changes
/// nothing (401 with its code).
pub(crate) async fn push_route(mut req: Request, env: &Env, cfg: &Config, now: i64) -> worker::Result<Response> {
    let headers = Headers::new();
    let Some(secret) = &cfg.push_secret else {
        return error(404, "push_not_configured", "this worker takes no pushes (POLICY_PUSH_SECRET)", &headers);
    };
    let header = |name: &str| req.headers().get(name).ok().flatten().unwrap_or_default();
    let (id, timestamp, signature) = (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    if header("Content-Length").parse::<usize>().unwrap_or(0) > MAX_PUSH_BODY {
        return error(413, "body_too_large", "a push is a small notification", &headers);
    }
    let Ok(body) = req.bytes().await else {
        return error(400, "body_unreadable", "bad push body", &headers);
    };
    if body.len() > MAX_PUSH_BODY {
        return error(413, "body_too_large", "a push is a small notification", &headers);
    }
    if let Err(e) = secret.verify(&id, &timestamp, &signature, &body, now) {
        log("policy_push_refused", json!({"code": e.code()}));
        return error(401, e.code(), "the push does not verify", &headers);
    }
    let announced = serde_json::from_slice::<Value>(&body).ok().and_then(|b| b["data"]["policy_version"].as_u64());
    // Asks the origin now, whatever the TTL (a refresh in flight may predate the publish).
    let etag = state::with(|i| i.policy.as_mut().map(|p| p.begin(now)));
    let updated = state::refresh(cfg, etag).await;
    if let Some((bytes, version)) = &updated {
        state::store_in_kv(env, bytes, *version).await;
    }
    let live = state::with(|i| i.policy.as_ref().map(|p| p.version()));
    log("policy_pushed", json!({"message_id": id, "announced": announced, "live": live, "updated": updated.is_some()}));
    json_response(200, &json!({"policy_version": live, "updated": updated.is_some()}), &headers)
}

/// Not inlined: `fetch` calls it in place (it does not wait), and inlined, its JSON would
/// be compiled into every isolate's first request.
#[inline(never)]
pub(crate) fn status_route(env: &Env) -> worker::Result<Response> {
    let path = feedback::path(env);
    let body = state::with(|i| {
        json!({
            // "queue" (durable, Cloudflare Queues) or "memory" (this isolate's outbox).
            "feedback_path": path,
            "feedback_queue_sent": i.queue_sent,
            "feedback_queue_send_failures": i.queue_send_failures,
            "feedback_consumed": i.consumed,
            "policy_version": i.policy.as_ref().map(|p| p.version()),
            "policy_source": i.policy.as_ref().map(|p| p.source),
            "policy_confirmed_at": i.policy.as_ref().map(|p| p.confirmed_at),
            "policy_refresh_failures": i.policy.as_ref().map(|p| p.failures),
            // Whose Ed25519 verified the KV bundle of the isolate's first request.
            "policy_kv_signature_checked_by": i.kv_signature_checked_by,
            "feedback_queued": i.outbox.len(),
            "feedback_sent": i.outbox.sent_total,
            "feedback_dropped": i.outbox.dropped_total,
            "feedback_failures": i.outbox.failures,
            // Linear memory of this isolate's module (grows, never shrinks): a leak shows here.
            "wasm_memory_bytes": core::arch::wasm32::memory_size(0) * 65_536,
        })
    });
    json_response(200, &body, &Headers::new())
}
