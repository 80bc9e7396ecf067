//! Policy pushes: after a publish or a rollback the origin notifies each configured edge
//! endpoint, so a new policy reaches shoppers in seconds instead of a polling interval.
//! Each notification is a Standard Webhooks message (`edgeprice_core::webhook`) signed with
//! the shared secret, retried with doubling delays until the endpoint answers 2xx or the
//! attempts run out; every attempt is recorded in the store (`/v1/push/deliveries`).
//! The edge verifies the signature, then fetches the bundle and verifies it like a polled
//! one: a push can make an edge look sooner, never make it accept anything else.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::store::Store;
use edgeprice_core::webhook::Secret;

/// Most attempts per endpoint and notification.
pub const MAX_ATTEMPTS: u32 = 7;
/// Deadline of one attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// What happened to one attempt to notify one endpoint.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Delivery {
    /// The notification's `webhook-id`, the same on every attempt (receivers deduplicate).
    pub message_id: String,
    pub url: String,
    /// `policy.published` or `policy.rolled_back`.
    pub event: String,
    pub policy_version: u64,
    pub attempt: u32,
    /// The endpoint's HTTP status, 0 when there was no answer.
    pub status: u16,
    pub error: Option<String>,
    pub delivered: bool,
    pub at: i64,
}

/// The configured endpoints, the secret and the retry delays.
pub struct Pusher {
    pub targets: Vec<String>,
    pub secret: Secret,
    /// Delay before the second attempt; it doubles after each failure.
    pub first_retry: Duration,
}

impl Pusher {
    /// Notifies every endpoint in the background (the admin's answer does not wait).
    pub fn notify(self: &Arc<Self>, store: &Store, event: &'static str, version: u64, now: i64) {
        for url in &self.targets {
            let (pusher, store, url) = (self.clone(), store.clone(), url.clone());
            tokio::spawn(async move { pusher.deliver(&store, &url, event, version, now).await });
        }
    }

    async fn deliver(&self, store: &Store, url: &str, event: &'static str, version: u64, now: i64) {
        let message_id = format!("msg_{version}_{}_{}", event.trim_start_matches("policy."), unique());
        let body = json!({
            "type": event,
            "timestamp": now,
            "data": {"policy_version": version},
        })
        .to_string();
        let mut delay = self.first_retry;
        for attempt in 1..=MAX_ATTEMPTS {
            let timestamp = unix_now();
            let signature = self.secret.sign(&message_id, timestamp, body.as_bytes());
            let (status, error) = post(url, &message_id, timestamp, &signature, &body).await;
            let delivered = (200..300).contains(&status);
            let record = Delivery {
                message_id: message_id.clone(),
                url: url.to_string(),
                event: event.to_string(),
                policy_version: version,
                attempt,
                status,
                error,
                delivered,
                at: timestamp,
            };
            tracing::info!(url, event, version, attempt, status, delivered, "policy push");
            if let Err(e) = store.record_delivery(&record).await {
                tracing::error!(error = %e, "recording a push delivery failed");
            }
            if delivered {
                return;
            }
            if attempt < MAX_ATTEMPTS {
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
        }
    }
}

/// One POST with the three Standard Webhooks headers: (status or 0, error).
async fn post(url: &str, id: &str, timestamp: i64, signature: &str, body: &str) -> (u16, Option<String>) {
    let (url, id, signature, body) = (url.to_string(), id.to_string(), signature.to_string(), body.to_string());
    let sent = tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(ATTEMPT_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .new_agent();
        agent
            .post(&url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", &timestamp.to_string())
            .header("webhook-signature", &signature)
            .send(body.as_bytes())
            .map(|r| r.status().as_u16())
    })
    .await;
    match sent {
        Ok(Ok(status)) => (status, None),
        Ok(Err(e)) => (0, Some(e.to_string())),
        Err(e) => (0, Some(format!("push task: {e}"))),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A process-unique suffix: nanoseconds and a counter.
fn unique() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{nanos:x}{n}")
}
