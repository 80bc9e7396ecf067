//! Products for pricing, from the origin's live catalog, kept per isolate and in the
//! `CATALOG` KV namespace (shared by a location's isolates) with their fetch time and ETag
//! (`edgeprice_edge::catalog`): a copy younger than `CATALOG_TTL_SECONDS` is served; an
//! older one is revalidated with `If-None-Match` (a 304 renews it for another TTL); when the
//! origin fails, a copy up to `CATALOG_STALE_SECONDS` old is served (stale-if-error).
//! Without an ORIGIN, the KV namespace is the catalog itself (the merchant's entries, no
//! metadata, never expire).

use std::rc::Rc;

use serde_json::{Value, json};
use worker::{Env, Method};

use super::config::Config;
use super::state::{self, MAX_CATALOG};
use super::{log, origin};
use edgeprice_core::pricing::product::Product;
use edgeprice_edge::catalog::{Copy, Meta, Use};

/// Why a product could not be found.
pub enum CatalogError {
    Unknown,
    Unavailable(String),
}

/// KV key of a SKU's copy.
fn key(sku: &str) -> String {
    format!("product:{sku}")
}

/// A product as the isolate keeps it: shared by the requests that price it, never copied.
pub type Shared = Rc<Product>;

fn checked(sku: &str, v: Value) -> Option<Shared> {
    match Product::from_value(&v) {
        Ok(p) if p.sku == sku => Some(Rc::new(p)),
        Ok(_) | Err(_) => {
            log("catalog_product_invalid", json!({"sku": sku}));
            None
        }
    }
}

async fn from_kv(env: &Env, sku: &str) -> Option<(Copy<Shared>, String)> {
    let kv = env.kv("CATALOG").ok()?;
    match kv.get(&key(sku)).text_with_metadata::<Meta>().await {
        Ok((Some(text), meta)) => {
            let meta = meta.unwrap_or_default();
            let product = serde_json::from_str(&text).ok().and_then(|v| checked(sku, v));
            Some((Copy { product, fetched_at: meta.fetched_at, etag: meta.etag }, text))
        }
        Ok((None, _)) => None,
        Err(e) => {
            log("catalog_kv_unreadable", json!({"sku": sku, "error": e.to_string()}));
            None
        }
    }
}

async fn to_kv(env: &Env, cfg: &Config, sku: &str, text: &str, copy: &Copy<Shared>) {
    let Ok(kv) = env.kv("CATALOG") else { return };
    // KV deletes it once even a stale-if-error answer could not use it.
    let put = kv
        .put(&key(sku), text)
        .and_then(|p| p.metadata(copy.meta()))
        .map(|p| p.expiration_ttl(cfg.catalog_stale.max(60) as u64));
    if let Err(e) = match put {
        Ok(p) => p.execute().await,
        Err(e) => Err(e),
    } {
        log("catalog_kv_write_failed", json!({"sku": sku, "error": e.to_string()}));
    }
}

fn remember(sku: &str, copy: &Copy<Shared>) {
    state::with(|i| {
        if i.catalog.len() >= MAX_CATALOG {
            i.catalog.clear();
        }
        i.catalog.insert(sku.to_string(), copy.clone());
    });
}

fn serve(copy: &Copy<Shared>) -> Result<Shared, CatalogError> {
    copy.product.clone().ok_or(CatalogError::Unknown)
}

/// The answer of the isolate's fresh copy of a SKU, without I/O and without copying the
/// product; `None` when it holds none (then `product` asks KV and the origin).
pub fn fresh(cfg: &Config, sku: &str, now: i64) -> Option<Result<Shared, CatalogError>> {
    state::with(|i| {
        i.catalog.get(sku).filter(|c| c.judge(now, cfg.catalog_ttl, cfg.catalog_stale) == Use::Fresh).map(serve)
    })
}

/// The product for a SKU at `now` (see the module header).
pub async fn product(env: &Env, cfg: &Config, sku: &str, now: i64) -> Result<Shared, CatalogError> {
    if let Some(answer) = fresh(cfg, sku, now) {
        return answer;
    }
    let mut held = state::with(|i| i.catalog.get(sku).cloned());
    // The isolate's copy is old or missing: KV may hold a younger one. Its text is kept (with
    // its ETag) for renewing the KV entry after a 304, instead of reading it again.
    let mut kv_text: Option<(Option<String>, String)> = None;
    if let Some((copy, text)) = from_kv(env, sku).await {
        kv_text = Some((copy.etag.clone(), text));
        if held.as_ref().is_none_or(|h| h.fetched_at < copy.fetched_at || copy.fetched_at.is_none()) {
            remember(sku, &copy);
            if copy.judge(now, cfg.catalog_ttl, cfg.catalog_stale) == Use::Fresh {
                return serve(&copy);
            }
            held = Some(copy);
        }
    }
    if cfg.origin.is_empty() {
        return match held {
            Some(c) => serve(&c),
            None => Err(CatalogError::Unavailable("no ORIGIN and no CATALOG entry".into())),
        };
    }
    let url = format!("{}/v1/catalog/{sku}", cfg.origin);
    let auth = cfg.bearer();
    let etag =
        held.as_ref().and_then(|c| c.etag.clone()).filter(|_| held.as_ref().is_some_and(|c| c.product.is_some()));
    let mut headers = vec![("Accept", "application/json"), ("Authorization", auth.as_str())];
    if let Some(tag) = etag.as_deref() {
        headers.push(("If-None-Match", tag));
    }
    let failed = match origin::send(&url, Method::Get, &headers, None, cfg.origin_timeout_ms).await {
        Ok(r) if r.status_code() == 304 => match held {
            Some(mut copy) => {
                copy.fetched_at = Some(now);
                remember(sku, &copy);
                // Renewed in KV only when KV holds this same version (its ETag): another
                // version's text must not be marked fresh under this one's ETag.
                if let Some((_, text)) = kv_text.filter(|(etag, _)| *etag == copy.etag) {
                    to_kv(env, cfg, sku, &text, &copy).await;
                }
                return serve(&copy);
            }
            None => "304 without a copy".to_string(),
        },
        Ok(r) if r.status_code() == 404 => {
            remember(sku, &Copy { product: None, fetched_at: Some(now), etag: None });
            return Err(CatalogError::Unknown);
        }
        Ok(mut r) if r.status_code() == 200 => {
            let etag = r.headers().get("ETag").ok().flatten();
            match r.text().await {
                Ok(text) => {
                    let product = serde_json::from_str(&text).ok().and_then(|v| checked(sku, v));
                    let copy = Copy { product, fetched_at: Some(now), etag };
                    remember(sku, &copy);
                    if copy.product.is_some() {
                        to_kv(env, cfg, sku, &text, &copy).await;
                    }
                    return serve(&copy);
                }
                Err(e) => e.to_string(),
            }
        }
        Ok(r) => format!("catalog status {}", r.status_code()),
        Err(e) => e,
    };
    match held {
        Some(copy) if copy.judge(now, cfg.catalog_ttl, cfg.catalog_stale) != Use::Expired => {
            log("catalog_stale_served", json!({"sku": sku, "reason": failed, "fetched_at": copy.fetched_at}));
            serve(&copy)
        }
        _ => Err(CatalogError::Unavailable(failed)),
    }
}
