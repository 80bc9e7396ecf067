//! Abuse limits of the origin: a token bucket per role (every authorized request takes
//! one token; an empty bucket answers 429 with `Retry-After`) and a deadline on a whole
//! request, body included (a client that trickles its body gets 408 and its connection
//! back). Invariant: a bucket never holds more than its burst, and time only refills it.

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
}

/// Which token a request used.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bucket {
    Edge = 0,
    Admin = 1,
}

impl Limits {
    pub fn new(edge: Rate, admin: Rate, request_deadline: Duration) -> Self {
        Limits { edge, admin, request_deadline, buckets: Mutex::new([(edge.burst, None), (admin.burst, None)]) }
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
        if let Some(then) = *at {
            *tokens = (*tokens + now.saturating_duration_since(then).as_secs_f64() * rate.per_second).min(rate.burst);
        }
        *at = Some(now);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate.per_second.max(1e-9)).min(3600.0))
        }
    }
}

impl Default for Limits {
    /// Edge: 1,000 requests/s with bursts of 2,000 (every worker of a fleet shares the token
    /// and posts batches); admin: 10/s, bursts of 20; 30 s per request.
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
}
