//! The worker's settings, read once per isolate (`state::config`) from wrangler.toml
//! `[vars]`, secrets and bindings. Missing optional values take the defaults below; a
//! missing or short `SESSION_SECRET` is a configuration error that the worker reports on
//! every response (pricing falls back to reference prices) instead of signing cookies with
//! a weak key.

use worker::Env;

use edgeprice_core::bundle::{self, TrustedKeys};
use edgeprice_core::webhook::Secret;
use edgeprice_edge::outbox::FlushPolicy;
use edgeprice_edge::relay::Backoff;
use edgeprice_edge::visit::MIN_SECRET;

pub struct Config {
    /// Origin base URL without a trailing slash; empty: no refresh, no feedback upload.
    pub origin: String,
    pub edge_token: String,
    pub session_secret: Option<Vec<u8>>,
    pub keys: TrustedKeys,
    pub policy_ttl: i64,
    /// Seconds between looks at KV's bundle version (0: never); see `state::check_kv`.
    pub kv_check: i64,
    pub policy_max_stale: i64,
    pub catalog_ttl: i64,
    /// This edge's name in the origin's console (EDGE_NAME; default a name per isolate).
    pub edge_name: Option<String>,
    /// Oldest catalog copy served when the origin cannot be reached (stale-if-error).
    pub catalog_stale: i64,
    pub flush: FlushPolicy,
    /// Path prefixes of product pages whose last segment is the SKU.
    pub page_prefixes: Vec<String>,
    /// Milliseconds before an origin request is abandoned.
    pub origin_timeout_ms: u64,
    /// Name of the feedback queue's dead-letter queue (its batches go to KV, not the origin).
    pub dead_letter_queue: String,
    /// Delays between the queue consumer's attempts to reach the origin.
    pub retry: Backoff,
    /// The origin's policy-push secret (`POLICY_PUSH_SECRET`, `whsec_...`); `None`: no push.
    pub push_secret: Option<Secret>,
}

/// A var or secret. Kept out of line: one copy serves its ~20 call sites.
#[inline(never)]
fn text(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string()).or_else(|| env.secret(name).ok().map(|v| v.to_string()))
}

fn number(env: &Env, name: &str, default: i64, range: std::ops::RangeInclusive<i64>) -> i64 {
    text(env, name).and_then(|t| t.trim().parse::<i64>().ok()).filter(|n| range.contains(n)).unwrap_or(default)
}

/// Trusts the keys of `POLICY_PUBLIC_KEYS` (a JSON array of key files). Not inlined: most
/// workers set no such list, and its JSON reader was most of the first request's settings
/// code (V8 compiles a function whole at its first call).
#[inline(never)]
fn add_keys(keys: &mut TrustedKeys, list: &str) -> Result<(), String> {
    let parsed: Vec<serde_json::Value> =
        serde_json::from_str(list).map_err(|e| format!("POLICY_PUBLIC_KEYS is not a JSON array: {e}"))?;
    for key in parsed {
        keys.add_json(key.to_string().as_bytes()).map_err(|e| format!("POLICY_PUBLIC_KEYS: {e}"))?;
    }
    Ok(())
}

impl Config {
    /// The `Authorization` value of every request to the origin: the edge token, so that a
    /// fleet behind a few addresses is limited by the edge's bucket, not per address.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.edge_token)
    }

    /// Reads the settings; `Err` lists what is wrong with the trusted keys.
    pub fn from_env(env: &Env) -> Result<Config, String> {
        let mut keys = bundle::default_keys().map_err(|e| e.to_string())?;
        if let Some(list) = text(env, "POLICY_PUBLIC_KEYS").filter(|t| !t.trim().is_empty()) {
            add_keys(&mut keys, &list)?;
        }
        let push_secret = match text(env, "POLICY_PUSH_SECRET").filter(|t| !t.trim().is_empty()) {
            Some(t) => Some(Secret::parse(&t).map_err(|e| format!("POLICY_PUSH_SECRET: {e}"))?),
            None => None,
        };
        Ok(Config {
            origin: text(env, "ORIGIN").unwrap_or_default().trim().trim_end_matches('/').to_string(),
            edge_token: text(env, "EDGE_TOKEN").unwrap_or_default(),
            session_secret: text(env, "SESSION_SECRET").map(String::into_bytes).filter(|s| s.len() >= MIN_SECRET),
            keys,
            policy_ttl: number(env, "POLICY_TTL_SECONDS", 60, 1..=86_400),
            kv_check: number(env, "POLICY_KV_CHECK_SECONDS", 10, 0..=86_400),
            policy_max_stale: number(env, "POLICY_MAX_STALE_SECONDS", 7 * 86_400, 60..=365 * 86_400),
            catalog_ttl: number(env, "CATALOG_TTL_SECONDS", 30, 0..=86_400),
            edge_name: text(env, "EDGE_NAME")
                .map(|n| n.trim().chars().take(64).collect::<String>())
                .filter(|n| !n.is_empty()),
            catalog_stale: number(env, "CATALOG_STALE_SECONDS", 86_400, 0..=7 * 86_400),
            flush: FlushPolicy {
                batch_events: number(env, "FEEDBACK_BATCH", 100, 1..=1_000) as usize,
                max_age_seconds: number(env, "FEEDBACK_MAX_AGE_SECONDS", 5, 0..=3_600),
            },
            page_prefixes: text(env, "PAGE_PREFIXES")
                .unwrap_or_else(|| "/products/".into())
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| p.starts_with('/'))
                .collect(),
            origin_timeout_ms: number(env, "ORIGIN_TIMEOUT_MS", 3_000, 100..=30_000) as u64,
            dead_letter_queue: text(env, "FEEDBACK_DEAD_LETTER_QUEUE")
                .unwrap_or_else(|| "edgeprice-feedback-dlq".into()),
            // Queues delays a retry by at most 12 hours.
            retry: Backoff {
                base_seconds: number(env, "FEEDBACK_RETRY_BASE_SECONDS", 10, 0..=3_600) as u32,
                max_seconds: number(env, "FEEDBACK_RETRY_MAX_SECONDS", 900, 0..=43_200) as u32,
            },
            push_secret,
        })
    }
}
