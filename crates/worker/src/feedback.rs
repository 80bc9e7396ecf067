//! Feedback from the edge to the origin. With a `FEEDBACK` queue binding each shown decision
//! and purchase is sent to the queue before its response leaves (Cloudflare keeps it
//! durably; an isolate that dies afterwards loses nothing), and the consumer (`on_batch`)
//! posts batches to the origin, acking a message only once the origin stored it. Without the
//! binding, or while the queue refuses sends (rate limit, overload), events wait in the
//! isolate's outbox and are retried with backoff. Dead letters (refused by the origin for
//! good, or out of retries) are kept in KV `DEAD_LETTERS`, listed and replayed by the
//! operator: nothing is dropped without a count and a log line.

use serde_json::{Value, json};
use wasm_bindgen::JsValue;
use worker::worker_sys::{Message, MessageBatch};
use worker::{BatchMessageBuilder, Env, MessageBuilder, Method, Queue, QueueContentType};

use super::config::Config;
use super::{log, now_secs, origin, state};
use edgeprice_core::feedback::FeedbackEvent;
use edgeprice_edge::outbox::Sent;
use edgeprice_edge::relay::{self, Answer, MAX_MESSAGE_BYTES, MAX_SEND_BATCH, MAX_SEND_BATCH_BYTES, Verdict};

/// The queue producer binding.
pub const QUEUE: &str = "FEEDBACK";
/// The KV namespace of dead letters (key `dl:<message id>`, value the event line).
pub const DEAD_LETTERS: &str = "DEAD_LETTERS";
const DEAD_PREFIX: &str = "dl:";

/// Which path feedback takes in this isolate, for the status page.
pub fn path(env: &Env) -> &'static str {
    if env.queue(QUEUE).is_ok() { "queue" } else { "memory" }
}

/// Records one event: into the queue when bound (awaited, so a shown decision is durable
/// before it is shown), else or on a refused send into the outbox.
pub async fn record(env: &Env, event: FeedbackEvent) {
    let line = event.to_json().to_string();
    let path = path(env);
    state::with(|i| i.feedback_path = path);
    if let Ok(queue) = env.queue(QUEUE) {
        if line.len() > MAX_MESSAGE_BYTES {
            // Past the queue's message limit: the outbox posts it to the origin directly.
            log("feedback_message_too_large", json!({"bytes": line.len()}));
        } else {
            match send(&queue, std::slice::from_ref(&line)).await {
                Ok(()) => return state::with(|i| i.queue_sent += 1),
                Err(e) => {
                    state::with(|i| i.queue_send_failures += 1);
                    log("feedback_queue_send_failed", json!({"reason": e, "fallback": "outbox"}));
                }
            }
        }
    }
    state::queue(line);
}

async fn send(queue: &Queue, lines: &[String]) -> Result<(), String> {
    let messages = lines.iter().map(|l| MessageBuilder::new(l.clone()).content_type(QueueContentType::Text).build());
    let batch = BatchMessageBuilder::new().messages(messages).build();
    queue.send_batch(batch).await.map_err(|e| e.to_string())
}

/// Sends due outbox batches: to the queue when bound, else to the origin (all queued events
/// when `force`, as the scheduled handler does).
pub async fn flush(env: &Env, cfg: &Config, force: bool) {
    let queue = env.queue(QUEUE).ok();
    if queue.is_none() && cfg.origin.is_empty() {
        return;
    }
    // Bounded: a full outbox drains over several runs rather than holding one invocation.
    for _ in 0..20 {
        let sent = match &queue {
            Some(q) => {
                let limit = (MAX_SEND_BATCH, MAX_SEND_BATCH_BYTES);
                let Some(lines) = state::with(|i| i.outbox.begin_lines(now_secs(), cfg.flush, force, limit)) else {
                    return;
                };
                if lines.iter().any(|l| l.len() > MAX_MESSAGE_BYTES) {
                    // Too large for a queue message: this batch goes to the origin directly.
                    upload(cfg, lines.iter().map(|l| format!("{l}\n")).collect()).await
                } else {
                    match send(q, &lines).await {
                        Ok(()) => Sent::Stored,
                        Err(e) => {
                            log("feedback_queue_send_failed", json!({"reason": e, "queued": lines.len()}));
                            Sent::Retry
                        }
                    }
                }
            }
            None => {
                let Some(body) = state::with(|i| i.outbox.begin(now_secs(), cfg.flush, force)) else { return };
                upload(cfg, body).await
            }
        };
        let (left, dropped, queued, next) = state::with(|i| {
            let left = i.outbox.finish(sent, now_secs());
            (left, i.outbox.take_dropped(), i.outbox.len(), i.outbox.next_attempt())
        });
        if dropped > 0 {
            log("feedback_dropped", json!({"count": dropped}));
        }
        if sent == Sent::Retry {
            log("feedback_retry_scheduled", json!({"queued": queued, "next_attempt": next}));
            return;
        }
        if left == 0 || queued == 0 {
            return;
        }
    }
}

/// Posts one NDJSON body to the origin's `/v1/feedback`.
async fn post(cfg: &Config, body: String) -> Answer {
    let url = format!("{}/v1/feedback", cfg.origin);
    let auth = cfg.bearer();
    let status = state::edge_status(cfg);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/x-ndjson"),
        ("Edgeprice-Edge-Status", status.as_str()),
    ];
    match origin::send(&url, Method::Post, &headers, Some(body), cfg.origin_timeout_ms * 3).await {
        Ok(mut r) if (200..300).contains(&r.status_code()) => {
            let answer = r.json::<Value>().await.unwrap_or(Value::Null);
            let rejected = relay::rejected_of(&answer);
            if let Some((index, code)) = rejected.first() {
                log(
                    "feedback_events_rejected",
                    json!({"count": rejected.len(), "first": {"index": index, "code": code}}),
                );
            }
            Answer::Stored { rejected }
        }
        Ok(r) if matches!(r.status_code(), 400 | 413) => {
            log("feedback_batch_refused", json!({"status": r.status_code()}));
            Answer::Refused(r.status_code())
        }
        Ok(r) => {
            log("feedback_upload_failed", json!({"status": r.status_code()}));
            Answer::Failed
        }
        Err(e) => {
            log("feedback_upload_failed", json!({"reason": e}));
            Answer::Failed
        }
    }
}

/// The outbox's upload: the origin's answer as the outbox counts it.
async fn upload(cfg: &Config, body: String) -> Sent {
    match post(cfg, body).await {
        Answer::Stored { .. } => Sent::Stored,
        Answer::Refused(_) => Sent::Refused,
        Answer::Failed => Sent::Retry,
    }
}

/// One delivered message: its id, attempt number (1 first, 0 unknown) and event line.
#[derive(Clone)]
struct Delivered {
    message: Message,
    id: String,
    attempts: u32,
    line: Option<String>,
}

fn delivered(value: JsValue) -> Delivered {
    let message = Message::from(value);
    let id = message.id().map(String::from).unwrap_or_default();
    let attempts = js_sys::Reflect::get(&message, &"attempts".into()).ok().and_then(|a| a.as_f64()).unwrap_or(1.0);
    // A line is one JSON object (what `record` sends); anything else is dead-lettered.
    let line = message
        .body()
        .ok()
        .and_then(|b| b.as_string())
        .filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v.is_object()));
    Delivered { message, id, attempts: attempts.clamp(1.0, 1e6) as u32, line }
}

/// The queue consumer: the feedback queue's batches go to the origin, the dead-letter
/// queue's into KV. Never fails as a whole: each message is acked or retried.
pub async fn on_batch(batch: &MessageBatch, env: &Env) {
    state::with(|i| i.feedback_path = "queue");
    let messages: Vec<Delivered> = batch.messages().map(|a| a.iter().map(delivered).collect()).unwrap_or_default();
    let cfg = match state::config(env) {
        Ok(c) => c,
        Err(message) => {
            log("config_invalid", json!({"message": message}));
            return messages.iter().for_each(|m| retry(m, 60));
        }
    };
    let queue = batch.queue().map(String::from).unwrap_or_default();
    if queue == cfg.dead_letter_queue {
        for m in &messages {
            // Its attempts on the feedback queue are not carried over: recorded as unknown.
            settle(
                env,
                &Delivered { attempts: 0, ..m.clone() },
                Verdict::DeadLetter { code: "retries_exhausted".into() },
            )
            .await;
        }
        return;
    }
    let mut good = Vec::new();
    for m in &messages {
        match &m.line {
            Some(_) => good.push(m),
            None => settle(env, m, Verdict::DeadLetter { code: "message_malformed".into() }).await,
        }
    }
    let lines: Vec<String> = good.iter().filter_map(|m| m.line.clone()).collect();
    for chunk in relay::chunks(&lines) {
        let part = &good[chunk.range.clone()];
        let answer = if cfg.origin.is_empty() { Answer::Failed } else { post(&cfg, chunk.body).await };
        let attempts: Vec<u32> = part.iter().map(|m| m.attempts).collect();
        for (m, verdict) in part.iter().zip(relay::verdicts(&answer, &attempts, cfg.retry)) {
            settle(env, m, verdict).await;
        }
    }
    state::with(|i| i.consumed += messages.len() as u64);
}

fn retry(m: &Delivered, delay_seconds: u32) {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"delaySeconds".into(), &JsValue::from(delay_seconds));
    if m.message.retry(options.into()).is_err() {
        log("feedback_retry_failed", json!({"message_id": m.id}));
    }
}

async fn settle(env: &Env, m: &Delivered, verdict: Verdict) {
    match verdict {
        Verdict::Ack => {
            let _ = m.message.ack();
        }
        Verdict::Retry { delay_seconds } => retry(m, delay_seconds),
        Verdict::DeadLetter { code } => {
            // Acked only once the letter is stored; otherwise the queue keeps it.
            // The event line read on delivery; a message that is not one is kept as its text,
            // or its JSON when it is not text.
            let body = m.line.clone().unwrap_or_else(|| match m.message.body() {
                Ok(b) => {
                    b.as_string().unwrap_or_else(|| js_sys::JSON::stringify(&b).map(String::from).unwrap_or_default())
                }
                Err(_) => String::new(),
            });
            match keep_letter(env, &m.id, &body, &code, m.attempts).await {
                Ok(()) => {
                    log("feedback_dead_lettered", json!({"message_id": m.id, "code": code, "attempts": m.attempts}));
                    let _ = m.message.ack();
                }
                Err(e) => {
                    log("feedback_dead_letter_unstored", json!({"message_id": m.id, "error": e}));
                    retry(m, 60);
                }
            }
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct LetterMeta {
    code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts: Option<u32>,
    at: i64,
}

async fn keep_letter(env: &Env, id: &str, body: &str, code: &str, attempts: u32) -> Result<(), String> {
    let kv = env.kv(DEAD_LETTERS).map_err(|e| e.to_string())?;
    let meta = LetterMeta { code: code.into(), attempts: (attempts > 0).then_some(attempts), at: now_secs() };
    let key = format!("{DEAD_PREFIX}{id}");
    kv.put(&key, body)
        .and_then(|p| p.metadata(meta))
        .map_err(|e| e.to_string())?
        .execute()
        .await
        .map_err(|e| e.to_string())
}

/// Dead letters: how many there are and the first `limit` with their events.
pub async fn letters(env: &Env, limit: usize) -> Result<Value, String> {
    let kv = env.kv(DEAD_LETTERS).map_err(|e| e.to_string())?;
    let mut count = 0;
    let mut shown = Vec::new();
    let mut cursor = None;
    // At most 100 pages of 1,000 keys: a count past that is reported as a lower bound.
    for _ in 0..100 {
        let mut list = kv.list().prefix(DEAD_PREFIX.into());
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list.execute().await.map_err(|e| e.to_string())?;
        count += page.keys.len();
        for key in page.keys {
            if shown.len() < limit {
                let event = kv.get(&key.name).text().await.map_err(|e| e.to_string())?;
                let event: Value = event.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null);
                shown.push(json!({"id": &key.name[DEAD_PREFIX.len()..], "meta": key.metadata, "event": event}));
            }
        }
        match page.cursor {
            Some(c) if !page.list_complete => cursor = Some(c),
            _ => return Ok(json!({"count": count, "complete": true, "letters": shown})),
        }
    }
    Ok(json!({"count": count, "complete": false, "letters": shown}))
}

/// Sends up to 100 dead letters back to the feedback queue and deletes them once sent.
pub async fn replay(env: &Env) -> Result<usize, String> {
    let queue = env.queue(QUEUE).map_err(|_| "no FEEDBACK queue binding".to_string())?;
    let kv = env.kv(DEAD_LETTERS).map_err(|e| e.to_string())?;
    let page =
        kv.list().prefix(DEAD_PREFIX.into()).limit(MAX_SEND_BATCH as u64).execute().await.map_err(|e| e.to_string())?;
    let mut keys = Vec::new();
    let mut lines = Vec::new();
    for key in page.keys {
        if let Some(line) = kv.get(&key.name).text().await.map_err(|e| e.to_string())? {
            keys.push(key.name);
            lines.push(line);
        }
    }
    for range in relay::send_batches(&lines) {
        send(&queue, &lines[range.clone()]).await?;
        for key in &keys[range] {
            kv.delete(key).await.map_err(|e| e.to_string())?;
        }
    }
    Ok(keys.len())
}
