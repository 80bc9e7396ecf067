//! The queue consumer's decisions, platform-free. A queue delivers feedback events at least
//! once, in batches; the relay posts them to the origin as NDJSON bodies under the origin's
//! limit and, from each answer, decides per message: ack, retry later (backoff by attempt)
//! or dead-letter (the origin refused that event for good). Invariant: a message is acked
//! only after the origin answered 2xx for a body that held it and did not reject it; the
//! origin's idempotency by `event_id` absorbs the redeliveries this allows.

use crate::outbox::{MAX_BATCH_BYTES, batch_len};

/// Largest message body a queue takes (Cloudflare Queues: 128 KB per message).
pub const MAX_MESSAGE_BYTES: usize = 128_000;
/// Most messages in one `sendBatch` (Cloudflare Queues: 100 messages, 256 KB in all).
pub const MAX_SEND_BATCH: usize = 100;
pub const MAX_SEND_BATCH_BYTES: usize = 256_000;

/// Consecutive messages posted as one body: `range` indexes the consumer's batch.
#[derive(Debug, PartialEq)]
pub struct Chunk {
    pub body: String,
    pub range: std::ops::Range<usize>,
}

/// Splits event lines into NDJSON bodies of at most `MAX_BATCH_BYTES` each (a longer single
/// line gets a body of its own; the origin answers for it).
pub fn chunks(lines: &[String]) -> Vec<Chunk> {
    groups(lines, usize::MAX, MAX_BATCH_BYTES, 1)
        .into_iter()
        .map(|range| Chunk { body: lines[range.clone()].iter().map(|l| format!("{l}\n")).collect(), range })
        .collect()
}

/// Groups lines for `sendBatch` within the queue's count and byte limits (by index).
pub fn send_batches(lines: &[String]) -> Vec<std::ops::Range<usize>> {
    groups(lines, MAX_SEND_BATCH, MAX_SEND_BATCH_BYTES, 0)
}

/// Consecutive groups by `outbox::batch_len`, each line costing its length plus `sep`.
fn groups(lines: &[String], max_count: usize, max_bytes: usize, sep: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < lines.len() {
        let n = batch_len(lines[start..].iter().map(|l| l.len() + sep), max_count, max_bytes);
        out.push(start..start + n);
        start += n;
    }
    out
}

/// How the origin answered one body, as the consumer saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// 2xx: stored; `rejected` lists (index in the body, code) of events refused for good.
    Stored { rejected: Vec<(usize, String)> },
    /// 400 / 413: the origin will never take this body as it is.
    Refused(u16),
    /// Network failure, timeout, 5xx, 401, 429: try again later.
    Failed,
}

/// What to do with one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Ack,
    /// Redeliver after this many seconds.
    Retry {
        delay_seconds: u32,
    },
    /// Keep it aside, inspectable and replayable, with the reason code.
    DeadLetter {
        code: String,
    },
}

/// Retry delays: `base * 2^(attempt - 1)` seconds, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base_seconds: u32,
    pub max_seconds: u32,
}

impl Backoff {
    /// The delay before the next delivery of a message that failed its `attempts`-th time.
    pub fn delay(self, attempts: u32) -> u32 {
        let doublings = attempts.saturating_sub(1).min(20);
        self.base_seconds.saturating_mul(1 << doublings).min(self.max_seconds)
    }
}

/// The verdict for each message of a chunk of `len` messages, given their delivery
/// attempts (1 for the first delivery) and the origin's answer.
pub fn verdicts(answer: &Answer, attempts: &[u32], backoff: Backoff) -> Vec<Verdict> {
    attempts
        .iter()
        .enumerate()
        .map(|(i, &a)| match answer {
            Answer::Stored { rejected } => match rejected.iter().find(|(index, _)| *index == i) {
                Some((_, code)) => Verdict::DeadLetter { code: code.clone() },
                None => Verdict::Ack,
            },
            Answer::Refused(status) => Verdict::DeadLetter { code: format!("batch_refused_{status}") },
            Answer::Failed => Verdict::Retry { delay_seconds: backoff.delay(a) },
        })
        .collect()
}

/// Reads the origin's 2xx answer (`{"rejected": [{"index", "code"}, ...]}`); an answer it
/// cannot read counts as no rejections (the origin stored the body).
pub fn rejected_of(answer: &serde_json::Value) -> Vec<(usize, String)> {
    answer
        .get("rejected")
        .and_then(serde_json::Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|r| {
                    let index = r.get("index")?.as_u64()? as usize;
                    Some((index, r.get("code")?.as_str().unwrap_or("event_rejected").to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff { base_seconds: 5, max_seconds: 300 };

    #[test]
    fn bodies_stay_under_the_origin_limit_and_keep_order() {
        let line = "x".repeat(100 * 1024);
        let lines: Vec<String> = (0..12).map(|_| line.clone()).collect();
        let c = chunks(&lines);
        assert!(c.len() >= 3 && c.iter().all(|c| c.body.len() <= MAX_BATCH_BYTES));
        assert_eq!(c.first().map(|c| c.range.start), Some(0));
        assert!(c.windows(2).all(|w| w[0].range.end == w[1].range.start));
        assert_eq!(c.last().map(|c| c.range.end), Some(12));
        let small = chunks(&["a".into(), "b".into()]);
        assert_eq!(small, [Chunk { body: "a\nb\n".into(), range: 0..2 }]);
    }

    #[test]
    fn send_batches_respect_count_and_bytes() {
        let lines: Vec<String> = (0..250).map(|i| format!("{i}")).collect();
        let counts: Vec<usize> = send_batches(&lines).iter().map(|r| r.len()).collect();
        assert_eq!(counts, [100, 100, 50]);
        let big: Vec<String> = (0..5).map(|_| "y".repeat(100_000)).collect();
        let sizes: Vec<usize> = send_batches(&big).iter().map(|r| r.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
    }

    #[test]
    fn only_what_the_origin_stored_is_acked() {
        let stored = Answer::Stored { rejected: vec![(1, "event_bad_arm".into())] };
        assert_eq!(
            verdicts(&stored, &[1, 3, 1], B),
            [Verdict::Ack, Verdict::DeadLetter { code: "event_bad_arm".into() }, Verdict::Ack]
        );
        assert_eq!(verdicts(&Answer::Failed, &[1, 2, 4], B), [5, 10, 40].map(|d| Verdict::Retry { delay_seconds: d }));
        assert_eq!(
            verdicts(&Answer::Refused(413), &[1], B),
            [Verdict::DeadLetter { code: "batch_refused_413".into() }]
        );
        assert_eq!(B.delay(30), 300, "capped");
        assert_eq!(B.delay(0), 5);
    }

    #[test]
    fn the_origin_answer_is_read_leniently() {
        let answer =
            serde_json::json!({"accepted": 2, "rejected": [{"index": 3, "code": "event_malformed"}, {"x": 1}]});
        assert_eq!(rejected_of(&answer), [(3, "event_malformed".to_string())]);
        assert!(rejected_of(&serde_json::json!("ok")).is_empty());
    }
}
