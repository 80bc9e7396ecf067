//! What one isolate keeps between requests: the policy cache, the feedback outbox and the
//! catalog copies (`catalog`). workerd runs an isolate's requests on one thread, interleaved at awaits,
//! so the state lives in a thread-local `RefCell` and is never borrowed across an await.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::json;
use worker::{Env, Method};

use super::config::Config;
use super::{catalog, log, now_secs, origin};
use edgeprice_core::bundle;
use edgeprice_core::engine::Engine;
use edgeprice_edge::catalog::Copy;
use edgeprice_edge::outbox::Outbox;
use edgeprice_edge::policy::{Fetched, PolicyCache, Refresh, Source};

/// KV key of the policy bundle the scheduled handler and pushes keep (binding `POLICY`).
pub const KV_BUNDLE: &str = "bundle";
/// KV key of that bundle's version (a few bytes: what isolates check often).
pub const KV_VERSION: &str = "bundle_version";
/// Most catalog entries cached per isolate (unknown SKUs included).
pub const MAX_CATALOG: usize = 10_000;

#[derive(Default)]
pub struct Isolate {
    /// `None` only when neither KV nor the built-in bundle verifies (for example expired).
    pub policy: Option<PolicyCache>,
    pub outbox: Outbox,
    /// Events this isolate handed to the feedback queue, sends the queue refused, and
    /// messages its consumer settled (acked, retried or dead-lettered).
    pub queue_sent: u64,
    pub queue_send_failures: u64,
    pub consumed: u64,
    /// SKU -> its copy (`catalog`).
    pub catalog: HashMap<String, Copy<catalog::Shared>>,
    loaded: bool,
    /// When this isolate last looked at KV's bundle version (`check_kv`).
    kv_checked_at: i64,
    /// How this isolate's feedback last went ("queue" or "memory"; `feedback::path`).
    pub feedback_path: &'static str,
    /// This isolate's name in its status reports when EDGE_NAME is not set.
    name: Option<String>,
    /// The settings, read at the isolate's first request (`config`).
    config: Option<Rc<Config>>,
    /// Whose Ed25519 verified the KV bundle this isolate's first request loaded: "webcrypto"
    /// (the runtime's, `entry.mjs`) or "wasm" (ours); for the status page.
    pub kv_signature_checked_by: Option<&'static str>,
    /// The built-in bundle, verified when the isolate started (`prepare`), until the first
    /// request takes it or a verified KV copy makes it unneeded.
    built_in: Option<Engine>,
}

thread_local! {
    static ISOLATE: RefCell<Isolate> = RefCell::new(Isolate::default());
}

/// Runs `f` on this isolate's state (never across an await).
pub fn with<R>(f: impl FnOnce(&mut Isolate) -> R) -> R {
    ISOLATE.with(|cell| f(&mut cell.borrow_mut()))
}

/// This isolate's settings, read at its first request. Vars, secrets and bindings are
/// fixed for an isolate's life (changing one deploys a new version, in new isolates), so
/// reading them again for each request (about 20 crossings into JS and the trusted keys'
/// point decompression) bought nothing. A configuration error is not kept: each request
/// reports it.
pub fn config(env: &Env) -> Result<Rc<Config>, String> {
    prepared_config().map_or_else(|| read_config(env), Ok)
}

/// The settings `prepare` read at the isolate's start, if they read.
pub fn prepared_config() -> Option<Rc<Config>> {
    with(|i| i.config.clone())
}

/// Reads and keeps the settings. Not inlined into `config`, which every request calls:
/// `prepare` reads them at the isolate's start, so a request need not compile this.
#[inline(never)]
fn read_config(env: &Env) -> Result<Rc<Config>, String> {
    let cfg = Rc::new(Config::from_env(env)?);
    with(|i| i.config = Some(cfg.clone()));
    Ok(cfg)
}

/// At the isolate's start (the module's top level, before any request): loads the
/// built-in bundle (`Engine::with_default`) and keeps it for the first request, which used
/// to do it. Cloudflare starts an isolate while the TLS handshake is still going, so work
/// done here is off a shopper's path; a KV bundle read at the first request is verified
/// there. Measured 2026-12-02 on workerd (miniflare, 25 starts of each, interleaved,
/// medians): first request 30.8 -> 25.7 ms, start 136.5 -> 136.7 ms. The cost:
/// an isolate that finds a bundle in KV loaded the built-in one for nothing (about 2 ms of
/// CPU at its start). What moves here is the work, not the compiling of code the first
/// request shares: workerd notifies V8 of memory pressure whenever it creates an isolate,
/// and V8 then drops every isolate's baseline code (`--flush-liftoff-code`; on miniflare,
/// seven of its own isolates start after ours; BENCHMARKS.md, 2026-12-03 05:41), so a
/// function run here and again by the first request is compiled twice (15 functions, the
/// allocator's mostly; with a made-up request priced here as well, 96, and the first
/// request still compiled 306 functions instead of 309: measured 2026-12-03 with V8's
/// compilation trace).
pub fn prepare(now: i64) {
    if let Ok(engine) = Engine::with_default(now) {
        with(|i| i.built_in = Some(engine));
    }
}

#[derive(serde::Deserialize, serde::Serialize)]
struct KvMeta {
    policy_version: u64,
    confirmed_at: i64,
}

/// Loads the first policy of this isolate: the KV copy if it verifies, else the built-in.
/// Returns the fields of the `policy_loaded` log line when this call loaded it, for the
/// caller to write after its answer (`log_later`): an isolate's first console line cost
/// its first request 1.5-2 ms on workerd (miniflare, 3 rounds of 9 starts). `entry.mjs`
/// reads KV itself at an isolate's first request (`load_policy`), so this reads it for
/// the scheduled and queue handlers, and for requests when the settings did not read at
/// the start.
pub async fn ensure_loaded(env: &Env, cfg: &Config) -> Option<serde_json::Value> {
    if with(|i| i.loaded) {
        return None;
    }
    let mut read = FirstRead::Unread;
    if let Ok(kv) = env.kv("POLICY") {
        match kv.get(KV_BUNDLE).bytes_with_metadata::<KvMeta>().await {
            Ok((Some(bytes), meta)) => {
                read = FirstRead::Bundle { bytes, confirmed_at: meta.map(|m| m.confirmed_at), signature_checked: false }
            }
            Ok((None, _)) => read = FirstRead::Empty,
            Err(e) => log("policy_kv_unreadable", json!({"error": e.to_string()})),
        }
    }
    load_first(read, cfg).then(policy_loaded_fields).flatten()
}

/// What an isolate's first read of KV's bundle found.
pub enum FirstRead {
    /// The bundle's bytes, when a policy refresh last confirmed it (its KV metadata), and
    /// whether the platform's Ed25519 verified its signature (`entry.mjs`, with WebCrypto,
    /// on `bundle::signing_key`'s key); if not, ours checks it.
    Bundle { bytes: Vec<u8>, confirmed_at: Option<i64>, signature_checked: bool },
    /// KV answered: no bundle.
    Empty,
    /// No `POLICY` namespace, or the read failed.
    Unread,
}

/// The first policy of this isolate from what its read of KV found (`ensure_loaded`, or
/// `entry.mjs` through `load_policy`): the KV copy if it verifies, else the built-in one.
/// Returns whether this call loaded it.
pub fn load_first(read: FirstRead, cfg: &Config) -> bool {
    let looked = !matches!(read, FirstRead::Unread);
    let from_kv = match read {
        FirstRead::Bundle { bytes, confirmed_at, signature_checked } if !with(|i| i.loaded) => {
            kv_policy(&bytes, confirmed_at, signature_checked, cfg)
                .map(|p| (p, if signature_checked { "webcrypto" } else { "wasm" }))
        }
        _ => None,
    };
    let now = now_secs();
    with(|i| {
        if i.loaded {
            return false; // another request of this isolate finished loading first
        }
        i.loaded = true;
        // KV was just read: its version check (`begin_kv_check`) is not due yet. Before, an
        // isolate's first request also started that check, a second KV read beside it.
        if looked {
            i.kv_checked_at = now;
        }
        // The bundle `prepare` verified, while it is still within its validity window (it was
        // not yet expired at start; `now` is later, so only expiry can have changed).
        let prepared = i.built_in.take().filter(|e| now < e.bundle().expires_at());
        i.kv_signature_checked_by = from_kv.as_ref().map(|(_, by)| *by);
        i.policy = from_kv.map(|(p, _)| p).or_else(|| match prepared.map_or_else(|| Engine::with_default(now), Ok) {
            Ok(engine) => Some(PolicyCache::new(engine, Source::BuiltIn, now)),
            Err(e) => {
                log("policy_builtin_rejected", json!({"code": e.code()}));
                None
            }
        });
        true
    })
}

/// The fields of the `policy_loaded` log line: the live policy's version and source.
pub fn policy_loaded_fields() -> Option<serde_json::Value> {
    with(|i| i.policy.as_ref().map(|p| json!({"policy_version": p.version(), "source": p.source})))
}

/// The policy in KV's bundle, if it verifies (else logged). Not inlined into
/// `load_first`: an isolate that finds no bundle in KV does not compile it.
#[inline(never)]
fn kv_policy(bytes: &[u8], confirmed_at: Option<i64>, signature_checked: bool, cfg: &Config) -> Option<PolicyCache> {
    let now = now_secs();
    let engine = if signature_checked {
        bundle::verify_signed_elsewhere(bytes, &cfg.keys, now, None).map(Engine::from_verified)
    } else {
        Engine::new(bytes, &cfg.keys, now)
    };
    match engine {
        Ok(engine) => Some(PolicyCache::new(engine, Source::Kv, confirmed_at.map_or(now, |t| t.min(now)))),
        Err(e) => {
            log("policy_kv_rejected", json!({"code": e.code()}));
            None
        }
    }
}

/// Whether the isolate has background work due: a policy refresh (`begin_refresh`), a look
/// at KV's bundle version (`begin_kv_check`) or a feedback flush. Marks nothing.
pub fn upkeep_due(cfg: &Config, now: i64) -> bool {
    with(|i| refresh_due(i, cfg, now) || kv_check_due(i, cfg, now) || i.outbox.due(now, cfg.flush, false))
}

fn refresh_due(i: &Isolate, cfg: &Config, now: i64) -> bool {
    !cfg.origin.is_empty() && i.policy.as_ref().is_none_or(|p| p.due(now, cfg.policy_ttl))
}

fn kv_check_due(i: &Isolate, cfg: &Config, now: i64) -> bool {
    cfg.kv_check > 0 && (now - i.kv_checked_at >= cfg.kv_check || now < i.kv_checked_at)
}

/// Whether this request should start a policy refresh (and marks it started).
pub fn begin_refresh(cfg: &Config, now: i64) -> Option<Option<String>> {
    with(|i| refresh_due(i, cfg, now).then(|| i.policy.as_mut().map(|p| p.begin(now))))
}

/// Asks the origin for a newer bundle; returns the bytes and version when one went live.
pub async fn refresh(cfg: &Config, etag: Option<String>) -> Option<(Vec<u8>, u64)> {
    let url = format!("{}/v1/policy/latest", cfg.origin);
    let auth = cfg.bearer();
    let mut headers: Vec<(&str, &str)> = vec![("Authorization", auth.as_str())];
    headers.extend(etag.as_deref().map(|e| ("If-None-Match", e)));
    let mut bytes = Vec::new();
    let fetched = match origin::send(&url, Method::Get, &headers, None, cfg.origin_timeout_ms).await {
        Ok(r) if r.status_code() == 304 => Fetched::NotModified,
        Ok(mut r) if r.status_code() == 200 => match origin::body(&mut r, cfg.origin_timeout_ms).await {
            Ok(b) => {
                bytes = b;
                Fetched::Bundle(&bytes)
            }
            Err(e) => Fetched::Failed(e),
        },
        Ok(r) => Fetched::Failed(format!("status {}", r.status_code())),
        Err(e) => Fetched::Failed(e),
    };
    let now = now_secs();
    let outcome = with(|i| match &mut i.policy {
        Some(p) => p.finish(fetched, &cfg.keys, now),
        None => match fetched {
            Fetched::Bundle(b) => match Engine::new(b, &cfg.keys, now) {
                Ok(engine) => {
                    let to = engine.policy_version();
                    i.policy = Some(PolicyCache::new(engine, Source::Origin, now));
                    Refresh::Updated { from: 0, to }
                }
                Err(e) => Refresh::Rejected(e),
            },
            Fetched::NotModified => Refresh::Unchanged,
            Fetched::Failed(reason) => Refresh::Unreachable(reason),
        },
    });
    match outcome {
        Refresh::Unchanged => None,
        Refresh::Updated { from, to } => {
            log("policy_updated", json!({"from": from, "to": to}));
            Some((bytes, to))
        }
        Refresh::Rejected(e) => {
            log("policy_rejected", json!({"code": e.code(), "message": e.to_string()}));
            None
        }
        Refresh::Unreachable(reason) => {
            log("policy_origin_unreachable", json!({"reason": reason}));
            None
        }
    }
}

/// Stores a verified bundle in KV for isolates that start later (scheduled handler).
pub async fn store_in_kv(env: &Env, bytes: &[u8], version: u64) {
    let Ok(kv) = env.kv("POLICY") else { return };
    let meta = KvMeta { policy_version: version, confirmed_at: now_secs() };
    let put = match kv.put_bytes(KV_BUNDLE, bytes).and_then(|p| p.metadata(meta)) {
        Ok(p) => p.execute().await,
        Err(e) => Err(e),
    };
    // The version key goes second: a reader that sees it finds the bundle it names.
    let put = match put {
        Ok(()) => match kv.put(KV_VERSION, version.to_string()) {
            Ok(p) => p.execute().await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match put {
        Ok(()) => log("policy_stored_in_kv", json!({"policy_version": version})),
        Err(e) => log("policy_kv_write_failed", json!({"error": e.to_string()})),
    }
}

/// Whether this request should look at KV's bundle version (every `POLICY_KV_CHECK_SECONDS`).
pub fn begin_kv_check(cfg: &Config, now: i64) -> bool {
    with(|i| {
        let due = kv_check_due(i, cfg, now);
        if due {
            i.kv_checked_at = now;
        }
        due
    })
}

/// Adopts the KV copy when it is newer than the live policy: how a pushed (or cron-stored)
/// version reaches the isolates that did not receive the push. Verified like any bundle.
pub async fn check_kv(env: &Env, cfg: &Config) {
    let Ok(kv) = env.kv("POLICY") else { return };
    let Ok(Some(text)) = kv.get(KV_VERSION).text().await else { return };
    let live = with(|i| i.policy.as_ref().map_or(0, |p| p.version()));
    if text.trim().parse::<u64>().map_or(true, |v| v <= live) {
        return;
    }
    let Ok(Some(bytes)) = kv.get(KV_BUNDLE).bytes().await else { return };
    let now = now_secs();
    let outcome = with(|i| match &mut i.policy {
        Some(p) => {
            let r = p.finish(Fetched::Bundle(&bytes), &cfg.keys, now);
            if matches!(r, Refresh::Updated { .. }) {
                p.source = Source::Kv;
            }
            r
        }
        None => Refresh::Unchanged,
    });
    match outcome {
        Refresh::Updated { from, to } => log("policy_updated", json!({"from": from, "to": to, "source": "kv"})),
        Refresh::Rejected(e) => log("policy_kv_rejected", json!({"code": e.code()})),
        _ => {}
    }
}

/// Keeps one event line in the outbox; logs events the full outbox had to give up.
pub fn queue(line: String) {
    let dropped = with(|i| {
        i.outbox.push(line, now_secs());
        i.outbox.take_dropped()
    });
    if dropped > 0 {
        log("feedback_dropped", json!({"count": dropped, "reason": "outbox_full"}));
    }
}

/// This edge's status for the origin's console, sent with each feedback upload as the
/// `Edgeprice-Edge-Status` header: its name (EDGE_NAME, else a random name per isolate),
/// live policy version, feedback path, events waiting in the outbox and failures so far.
pub fn edge_status(cfg: &Config) -> String {
    with(|i| {
        let name = match &cfg.edge_name {
            Some(n) => n.clone(),
            None => i
                .name
                .get_or_insert_with(|| format!("isolate-{:08x}", (js_sys::Math::random() * f64::from(u32::MAX)) as u32))
                .clone(),
        };
        json!({
            "edge": name,
            "policy_version": i.policy.as_ref().map(|p| p.version()),
            "feedback_path": if i.feedback_path.is_empty() { "memory" } else { i.feedback_path },
            "outbox": i.outbox.len(),
            "failures": u64::from(i.outbox.failures) + i.queue_send_failures,
        })
        .to_string()
    })
}
