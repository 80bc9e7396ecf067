//! The edge's catalog cache, platform-free: a product copy remembers when it was fetched
//! from the origin and its ETag, wherever it is kept (the isolate, or KV shared by the
//! isolates of a location). Invariant: a copy's age always counts from the origin fetch, so
//! copying it from KV to an isolate never makes it younger, and a change at the origin
//! reaches every price within `ttl` seconds (plus the request that refreshes it) while the
//! origin answers. When it does not, a copy up to `stale` seconds old is still served.

use serde::{Deserialize, Serialize};

/// What is known of a SKU: its product JSON (`None`: the origin said it does not exist).
#[derive(Clone, Debug, PartialEq)]
pub struct Copy<P> {
    pub product: Option<P>,
    /// Unix seconds of the origin answer this copy comes from; `None` for a product put
    /// into KV by the merchant, which never expires.
    pub fetched_at: Option<i64>,
    pub etag: Option<String>,
}

/// The KV metadata of a copy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub fetched_at: Option<i64>,
    pub etag: Option<String>,
}

/// What to do with a copy at `now`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Use {
    /// Young enough: serve it.
    Fresh,
    /// Ask the origin (with the ETag); serve the copy if the origin fails.
    Revalidate,
    /// Ask the origin; the copy is too old to serve even if the origin fails.
    Expired,
}

impl<P> Copy<P> {
    pub fn judge(&self, now: i64, ttl: i64, stale: i64) -> Use {
        match self.fetched_at {
            None => Use::Fresh,
            Some(at) if now - at < ttl => Use::Fresh,
            Some(at) if now - at <= stale => Use::Revalidate,
            Some(_) => Use::Expired,
        }
    }

    pub fn meta(&self) -> Meta {
        Meta { fetched_at: self.fetched_at, etag: self.etag.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_counts_from_the_origin_fetch() {
        let copy = Copy { product: Some(()), fetched_at: Some(1_000), etag: Some("\"p3\"".into()) };
        assert_eq!(copy.judge(1_029, 30, 86_400), Use::Fresh);
        assert_eq!(copy.judge(1_030, 30, 86_400), Use::Revalidate, "at the ttl the origin is asked");
        assert_eq!(copy.judge(1_000 + 86_400, 30, 86_400), Use::Revalidate);
        assert_eq!(copy.judge(1_001 + 86_400, 30, 86_400), Use::Expired);
        assert_eq!(copy.judge(1_000, 0, 86_400), Use::Revalidate, "ttl 0: every request asks");
        let merchant = Copy::<()> { product: None, fetched_at: None, etag: None };
        assert_eq!(merchant.judge(i64::MAX, 30, 60), Use::Fresh, "a merchant's KV entry never expires");
    }
}
