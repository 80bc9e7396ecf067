//! The edge's policy: the verified engine plus the clock that decides when to ask the origin
//! for a newer bundle and how long a policy may be served without the origin confirming it.
//! Invariants: a bundle that fails verification never replaces the live one; at most one
//! refresh is in flight; past `max_stale` since the last confirmation, `engine_for` returns
//! `None` and the caller prices at reference (and says why).

use edgeprice_core::bundle::{BundleError, TrustedKeys};
use edgeprice_core::engine::Engine;

/// Where the live policy came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The bundle compiled into the worker.
    BuiltIn,
    /// The copy the scheduled handler stored in KV.
    Kv,
    /// Fetched from the origin by this isolate.
    Origin,
}

/// What a refresh attempt produced, as the adapter saw it.
#[derive(Debug)]
pub enum Fetched<'a> {
    /// 304: the origin still serves our version.
    NotModified,
    /// 200 with a body.
    Bundle(&'a [u8]),
    /// Network error, timeout or a non-2xx/304 status (a short reason, for the log).
    Failed(String),
}

/// The result of applying a refresh.
#[derive(Debug, PartialEq)]
pub enum Refresh {
    Unchanged,
    Updated {
        from: u64,
        to: u64,
    },
    /// The origin answered with a bundle the edge refuses (bad signature, older version...).
    Rejected(BundleError),
    /// The origin could not be asked.
    Unreachable(String),
}

#[derive(Debug)]
pub struct PolicyCache {
    engine: Engine,
    pub source: Source,
    /// When the origin last confirmed the live version (200 or 304), or when the live
    /// bundle was loaded (built-in or KV copy).
    pub confirmed_at: i64,
    /// When the last refresh started; refreshes are due `ttl` after it.
    pub attempted_at: Option<i64>,
    pub in_flight: bool,
    /// Refreshes that failed in a row (for backoff of retries and for the status page).
    pub failures: u32,
}

impl PolicyCache {
    pub fn new(engine: Engine, source: Source, loaded_at: i64) -> Self {
        PolicyCache { engine, source, confirmed_at: loaded_at, attempted_at: None, in_flight: false, failures: 0 }
    }

    pub fn version(&self) -> u64 {
        self.engine.policy_version()
    }

    /// Whether a refresh should start now: none in flight and `ttl` seconds since the last
    /// attempt (doubling, up to 16x, after failures in a row, so a dead origin is not hammered).
    pub fn due(&self, now: i64, ttl: i64) -> bool {
        let backoff = ttl.saturating_mul(1 << self.failures.min(4));
        !self.in_flight && self.attempted_at.is_none_or(|t| now - t >= backoff || now < t)
    }

    /// Marks a refresh as started; returns the `If-None-Match` value to send.
    pub fn begin(&mut self, now: i64) -> String {
        self.in_flight = true;
        self.attempted_at = Some(now);
        format!("\"{}\"", self.version())
    }

    /// Applies what the origin answered. A bundle is verified against `keys` and must be
    /// newer than the live one (an older one is a replay or an origin rollback, which the
    /// edge only follows when it is re-signed with a new version).
    pub fn finish(&mut self, fetched: Fetched<'_>, keys: &TrustedKeys, now: i64) -> Refresh {
        self.in_flight = false;
        let outcome = match fetched {
            Fetched::NotModified => {
                self.confirmed_at = now;
                Refresh::Unchanged
            }
            Fetched::Bundle(bytes) => {
                let from = self.version();
                match self.engine.update(bytes, keys, now) {
                    Ok(to) => {
                        self.confirmed_at = now;
                        self.source = Source::Origin;
                        Refresh::Updated { from, to }
                    }
                    // A validly signed bundle of the live version (the signature is checked
                    // before the version): the origin re-sent it without an ETag match.
                    Err(BundleError::Downgrade { found, live }) if found == live => {
                        self.confirmed_at = now;
                        Refresh::Unchanged
                    }
                    Err(e) => Refresh::Rejected(e),
                }
            }
            Fetched::Failed(reason) => Refresh::Unreachable(reason),
        };
        self.failures = match outcome {
            Refresh::Unchanged | Refresh::Updated { .. } => 0,
            _ => self.failures.saturating_add(1),
        };
        outcome
    }

    /// The engine to price with, or `None` once the policy has gone `max_stale` seconds
    /// without the origin confirming it.
    pub fn engine_for(&self, now: i64, max_stale: i64) -> Option<&Engine> {
        (now - self.confirmed_at <= max_stale).then_some(&self.engine)
    }

    /// The live engine regardless of age (for fallback decisions' policy version).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeprice_core::bundle::{DEFAULT_BUNDLE, default_keys};

    const NOW: i64 = 1_795_824_000;

    fn cache() -> PolicyCache {
        PolicyCache::new(Engine::with_default(NOW).unwrap(), Source::BuiltIn, NOW)
    }

    #[test]
    fn refresh_is_due_after_ttl_with_backoff_on_failure() {
        let keys = default_keys().unwrap();
        let mut c = cache();
        assert!(c.due(NOW, 60));
        assert_eq!(c.begin(NOW), "\"1\"");
        assert!(!c.due(NOW + 600, 60), "one refresh in flight at a time");
        assert_eq!(c.finish(Fetched::Failed("timeout".into()), &keys, NOW), Refresh::Unreachable("timeout".into()));
        assert!(!c.due(NOW + 119, 60) && c.due(NOW + 120, 60), "backoff doubles after a failure");
        c.begin(NOW + 120);
        assert!(matches!(c.finish(Fetched::Bundle(b"junk"), &keys, NOW + 120), Refresh::Rejected(_)));
        assert!(!c.due(NOW + 120 + 239, 60) && c.due(NOW + 120 + 240, 60));
        c.begin(NOW + 400);
        assert_eq!(c.finish(Fetched::NotModified, &keys, NOW + 400), Refresh::Unchanged);
        assert_eq!((c.failures, c.confirmed_at), (0, NOW + 400));
    }

    #[test]
    fn same_version_confirms_and_stale_policies_stop_pricing() {
        let keys = default_keys().unwrap();
        let mut c = cache();
        c.begin(NOW + 10);
        assert_eq!(c.finish(Fetched::Bundle(DEFAULT_BUNDLE), &keys, NOW + 10), Refresh::Unchanged);
        assert_eq!(c.confirmed_at, NOW + 10);
        assert!(c.engine_for(NOW + 10 + 3_600, 3_600).is_some());
        assert!(c.engine_for(NOW + 10 + 3_601, 3_600).is_none());
        assert_eq!(c.engine().policy_version(), 1);
    }
}
