//! Feedback waiting to reach the origin: decision and outcome events as NDJSON lines,
//! sent in batches, retried with exponential backoff. Invariants: an event leaves the
//! outbox only when the origin acknowledged its batch, or when the origin refused the batch
//! as malformed, or when the outbox is full (oldest first); the last two are counted in
//! `dropped` and reported by `take_dropped` so the adapter logs them: nothing goes silently.
//! The batch goes to the origin (`begin`) or, when the queue refused a send, to the queue
//! again (`begin_lines`).

use std::collections::VecDeque;

/// Most events held; beyond it the oldest are dropped (and counted).
pub const MAX_QUEUED: usize = 20_000;
/// Largest batch body in bytes (the origin accepts 1 MiB).
pub const MAX_BATCH_BYTES: usize = 512 * 1024;
/// Longest wait between retries, seconds.
pub const MAX_BACKOFF: i64 = 300;

/// How many leading items of these byte sizes make one batch of at most `max_count` items
/// and `max_bytes` bytes: at least one (a larger single item goes alone), none of none. The
/// one batching rule of the outbox and the queue consumer (`relay`).
pub fn batch_len(sizes: impl IntoIterator<Item = usize>, max_count: usize, max_bytes: usize) -> usize {
    let (mut n, mut bytes) = (0, 0);
    for size in sizes {
        if n > 0 && (bytes + size > max_bytes || n >= max_count) {
            break;
        }
        bytes += size;
        n += 1;
    }
    n
}

/// When to send: a full batch at once, otherwise once the oldest event is this old.
#[derive(Clone, Copy, Debug)]
pub struct FlushPolicy {
    pub batch_events: usize,
    pub max_age_seconds: i64,
}

impl Default for FlushPolicy {
    fn default() -> Self {
        FlushPolicy { batch_events: 100, max_age_seconds: 5 }
    }
}

/// How the origin answered a batch, as the adapter saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// 2xx: stored (duplicates and per-event rejections included, they are final).
    Stored,
    /// 400 / 413: the origin will never take this body; retrying cannot help.
    Refused,
    /// Anything else (network error, 5xx, 401, 429...): keep it and retry later.
    Retry,
}

#[derive(Debug, Default)]
pub struct Outbox {
    queue: VecDeque<(i64, String)>,
    in_flight: usize,
    next_attempt: i64,
    /// Failed sends in a row.
    pub failures: u32,
    /// Events given up on since the last `take_dropped`.
    dropped: u64,
    /// Totals since the isolate started, for the status page.
    pub sent_total: u64,
    pub dropped_total: u64,
}

impl Outbox {
    /// Queues one event (a JSON object on one line).
    pub fn push(&mut self, line: String, now: i64) {
        if self.queue.len() >= MAX_QUEUED && self.queue.len() > self.in_flight {
            // Never drop from the batch in flight: its answer must still match it.
            self.queue.remove(self.in_flight);
            self.dropped += 1;
            self.dropped_total += 1;
        }
        self.queue.push_back((now, line));
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether a send should start now (`force`: regardless of batch size and age, as the
    /// scheduled handler does).
    pub fn due(&self, now: i64, policy: FlushPolicy, force: bool) -> bool {
        let Some((oldest, _)) = self.queue.front() else { return false };
        self.in_flight == 0
            && now >= self.next_attempt
            && (force || self.queue.len() >= policy.batch_events || now - oldest >= policy.max_age_seconds)
    }

    /// The next batch as an NDJSON body, marked in flight; `None` if nothing is due.
    pub fn begin(&mut self, now: i64, policy: FlushPolicy, force: bool) -> Option<String> {
        let limit = (policy.batch_events.max(1) * 10, MAX_BATCH_BYTES);
        let lines = self.begin_lines(now, policy, force, limit)?;
        let mut body = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            body.push_str(&line);
            body.push('\n');
        }
        Some(body)
    }

    /// The next batch as lines, at most `(count, bytes)` of them (at least one), marked in
    /// flight; `None` if nothing is due. For a queue's `sendBatch`, whose limits differ.
    pub fn begin_lines(
        &mut self,
        now: i64,
        policy: FlushPolicy,
        force: bool,
        (max_count, max_bytes): (usize, usize),
    ) -> Option<Vec<String>> {
        if !self.due(now, policy, force) {
            return None;
        }
        let n = batch_len(self.queue.iter().map(|(_, l)| l.len() + 1), max_count, max_bytes);
        self.in_flight = n;
        Some(self.queue.iter().take(n).map(|(_, l)| l.clone()).collect())
    }

    /// Applies the origin's answer to the batch in flight; returns how many events left.
    pub fn finish(&mut self, sent: Sent, now: i64) -> usize {
        let n = std::mem::take(&mut self.in_flight).min(self.queue.len());
        match sent {
            Sent::Stored | Sent::Refused => {
                self.queue.drain(..n);
                self.failures = 0;
                self.next_attempt = now;
                if sent == Sent::Refused {
                    self.dropped += n as u64;
                    self.dropped_total += n as u64;
                } else {
                    self.sent_total += n as u64;
                }
                n
            }
            Sent::Retry => {
                self.failures = self.failures.saturating_add(1);
                let backoff = (1_i64 << self.failures.min(9)).min(MAX_BACKOFF);
                self.next_attempt = now + backoff;
                0
            }
        }
    }

    /// Events given up on since the last call (the adapter logs the count).
    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }

    /// Unix seconds of the next allowed send.
    pub fn next_attempt(&self) -> i64 {
        self.next_attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: FlushPolicy = FlushPolicy { batch_events: 3, max_age_seconds: 5 };

    #[test]
    fn batches_by_size_or_age_and_keeps_order() {
        let mut o = Outbox::default();
        o.push("a".into(), 0);
        o.push("b".into(), 1);
        assert!(o.begin(2, P, false).is_none(), "neither full nor old");
        assert_eq!(o.begin(5, P, false).as_deref(), Some("a\nb\n"), "oldest is 5 s old");
        o.push("c".into(), 5);
        assert!(o.begin(5, P, true).is_none(), "one batch in flight at a time");
        assert_eq!(o.finish(Sent::Stored, 6), 2);
        assert_eq!(o.begin(6, P, true).as_deref(), Some("c\n"));
    }

    #[test]
    fn failures_back_off_and_keep_every_event() {
        let mut o = Outbox::default();
        for (i, e) in ["a", "b", "c"].iter().enumerate() {
            o.push((*e).into(), i as i64);
        }
        let mut now = 10;
        let mut waits = Vec::new();
        for _ in 0..12 {
            assert!(o.begin(now, P, false).is_some());
            assert_eq!(o.finish(Sent::Retry, now), 0);
            waits.push(o.next_attempt() - now);
            assert!(o.begin(now, P, true).is_none(), "not before the backoff");
            now = o.next_attempt();
        }
        assert_eq!(waits[..4], [2, 4, 8, 16]);
        assert_eq!(*waits.last().unwrap(), MAX_BACKOFF);
        assert_eq!(o.begin(now, P, false).as_deref(), Some("a\nb\nc\n"));
        assert_eq!(o.finish(Sent::Stored, now), 3);
        assert!(o.is_empty() && o.failures == 0 && o.take_dropped() == 0);
    }

    #[test]
    fn overflow_and_refusals_are_counted() {
        let mut o = Outbox::default();
        for i in 0..MAX_QUEUED + 7 {
            o.push(format!("{i}"), 0);
        }
        assert_eq!((o.len(), o.take_dropped()), (MAX_QUEUED, 7));
        let body = o.begin(0, P, true).unwrap();
        assert!(body.starts_with("7\n"), "the oldest went first");
        assert_eq!(o.finish(Sent::Refused, 0), 30);
        assert_eq!((o.take_dropped(), o.dropped_total), (30, 37));
    }

    #[test]
    fn a_batch_stays_under_the_byte_limit() {
        let mut o = Outbox::default();
        let line = "x".repeat(100 * 1024);
        for _ in 0..8 {
            o.push(line.clone(), 0);
        }
        let body = o.begin(0, FlushPolicy { batch_events: 100, max_age_seconds: 0 }, false).unwrap();
        assert!(body.len() <= MAX_BATCH_BYTES && body.len() > 4 * 100 * 1024);
    }
}
