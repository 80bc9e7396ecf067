//! Abuse limits of the origin: a token bucket per role (every authorized request takes
//! one token; an empty bucket answers 429 with `Retry-After`), a bucket per client address
//! for requests without a token (the public routes: bundles, catalog, pages), and a
//! deadline on a whole request, body included (a client that trickles its body gets 408
//! and its connection back). Invariant: a bucket never holds more than its burst, and time
//! only refills it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sustained requests per second and the burst allowed above it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

#[derive(Debug)]
pub struct Limits {
    pub edge: Rate,
    pub admin: Rate,
    pub request_deadline: Duration,
    /// Tokens left and when they were counted, for the edge and the admin token.
    buckets: Mutex<[(f64, Option<Instant>); 2]>,
    /// Requests without a token, per client address.
    pub client: Rate,
    /// The header that names the client when the origin is behind a proxy (for example
    /// `cf-connecting-ip`); without it, the connection's peer address.
    pub client_ip_header: Option<String>,
    clients: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Most client buckets kept; past it the ones that refilled to their burst are forgotten
/// (a forgotten client starts full, as it would have been).
const MAX_CLIENTS: usize = 100_000;

/// Refills a bucket of `rate` from `then` to `now`, then takes a token or says how long to wait.
fn take_from(tokens: &mut f64, then: Option<Instant>, now: Instant, rate: Rate) -> Result<(), f64> {
    if let Some(then) = then {
        *tokens = (*tokens + now.saturating_duration_since(then).as_secs_f64() * rate.per_second).min(rate.burst);
    }
    if *tokens >= 1.0 {
        *tokens -= 1.0;
        Ok(())
    } else {
        Err(((1.0 - *tokens) / rate.per_second.max(1e-9)).min(3600.0))
    }
}

/// Which token a request used.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bucket {
    Edge = 0,
    Admin = 1,
}

impl Limits {
    pub fn new(edge: Rate, admin: Rate, request_deadline: Duration) -> Self {
        Limits {
            edge,
            admin,
            request_deadline,
            buckets: Mutex::new([(edge.burst, None), (admin.burst, None)]),
            client: Rate { per_second: 20.0, burst: 60.0 },
            client_ip_header: None,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The same limits, naming clients by `header` (lower case) instead of the peer address.
    pub fn with_client_ip_header(mut self, header: Option<String>) -> Self {
        self.client_ip_header = header.map(|h| h.to_ascii_lowercase());
        self
    }

    /// The same limits with `client` as the rate per client address.
    pub fn with_client_rate(mut self, client: Rate) -> Self {
        self.client = client;
        self
    }

    /// Takes a token from the bucket of `client` (an address) at `now`.
    pub fn take_client(&self, client: &str, now: Instant) -> Result<(), f64> {
        let rate = self.client;
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(client) {
            clients.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate.per_second < rate.burst
            });
        }
        let (tokens, at) = clients.entry(client.to_string()).or_insert((rate.burst, now));
        let result = take_from(tokens, Some(*at), now, rate);
        *at = now;
        result
    }

    /// Takes a token from `bucket` at `now`; `Err` holds the seconds until one is back.
    pub fn take(&self, bucket: Bucket, now: Instant) -> Result<(), f64> {
        let rate = match bucket {
            Bucket::Edge => self.edge,
            Bucket::Admin => self.admin,
        };
        // A poisoned lock only means another request panicked mid-update; the counts stay usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = &mut buckets[bucket as usize];
        let result = take_from(tokens, *at, now, rate);
        *at = Some(now);
        result
    }
}

impl Default for Limits {
    /// Edge: 1,000 requests/s with bursts of 2,000 (every worker of a fleet shares the token
    /// and posts batches); admin: 10/s, bursts of 20; 30 s per request; a client without a
    /// token (a browser on the public routes): 20/s, bursts of 60.
    fn default() -> Self {
        Limits::new(
            Rate { per_second: 1_000.0, burst: 2_000.0 },
            Rate { per_second: 10.0, burst: 20.0 },
            Duration::from_secs(30),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_empty_and_refill() {
        let l = Limits::new(Rate { per_second: 2.0, burst: 3.0 }, Rate { per_second: 1.0, burst: 1.0 }, Duration::ZERO);
        let t = Instant::now();
        for _ in 0..3 {
            assert!(l.take(Bucket::Edge, t).is_ok());
        }
        let wait = l.take(Bucket::Edge, t).unwrap_err();
        assert!((wait - 0.5).abs() < 1e-9, "{wait}");
        assert!(l.take(Bucket::Admin, t).is_ok(), "buckets are separate");
        assert!(l.take(Bucket::Edge, t + Duration::from_millis(500)).is_ok(), "refilled by time");
        assert!(l.take(Bucket::Edge, t + Duration::from_millis(500)).is_err());
        // A long pause refills to the burst, not beyond.
        let later = t + Duration::from_secs(3600);
        assert_eq!((0..5).filter(|_| l.take(Bucket::Edge, later).is_ok()).count(), 3);
    }

    #[test]
    fn each_client_has_its_own_bucket() {
        let l = Limits::default().with_client_rate(Rate { per_second: 1.0, burst: 2.0 });
        let t = Instant::now();
        assert!(l.take_client("10.0.0.1", t).is_ok() && l.take_client("10.0.0.1", t).is_ok());
        assert!((l.take_client("10.0.0.1", t).unwrap_err() - 1.0).abs() < 1e-9);
        assert!(l.take_client("10.0.0.2", t).is_ok(), "another address is not limited by the first");
        assert!(l.take_client("10.0.0.1", t + Duration::from_secs(1)).is_ok(), "refilled");
        assert!(l.take(Bucket::Edge, t).is_ok(), "the token buckets are separate");
    }
}
