//! The origin service (native): publishes and serves signed policy bundles and stores the
//! edge's feedback. `app` builds the whole HTTP API as a router, testable without a socket;
//! `edgeprice serve` binds it. The store is SQLite or PostgreSQL (`store`); `push` notifies
//! edges of policy changes.

// The feedback wire format is platform-free: `edgeprice_core::feedback`.
pub use edgeprice_core::feedback;
pub mod config;
pub mod errors;
pub mod http;
pub mod limits;
pub mod push;
pub mod report;
pub mod serve;
pub mod store;

pub use http::reports::EvaluationInput;
pub use http::{AppState, Edges, Evaluator, app};

/// Reads a catalog file (`{"products": [...]}` or a bare array) into product JSON by SKU;
/// every product must be a valid engine product input. `edgeprice serve` seeds a fresh
/// database's catalog with it (`Store::seed_catalog`).
pub fn load_catalog(json: &[u8]) -> Result<std::collections::BTreeMap<String, serde_json::Value>, String> {
    let doc: serde_json::Value = serde_json::from_slice(json).map_err(|e| format!("catalog is not JSON: {e}"))?;
    let list = doc.get("products").unwrap_or(&doc).as_array().ok_or("catalog has no product array")?;
    let mut out = std::collections::BTreeMap::new();
    for (i, p) in list.iter().enumerate() {
        let product = edgeprice_core::pricing::product::Product::from_value(p)
            .map_err(|e| format!("catalog product {i}: {e}"))?;
        out.insert(product.sku, p.clone());
    }
    Ok(out)
}
