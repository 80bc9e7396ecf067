//! Signed notifications in the Standard Webhooks form (standardwebhooks.com): the origin
//! signs each policy push, the worker verifies it before acting. The signature is
//! `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), the key the bytes of a
//! `whsec_<base64>` secret. Invariant: `verify` accepts only a matching signature whose
//! timestamp is within `TOLERANCE` of `now` (a captured push cannot be replayed later).
//! Bytes and times in, no clock read.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a push's timestamp may be from the receiver's clock, seconds.
pub const TOLERANCE: i64 = 300;

/// Why a secret or a notification was refused; each has a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the secret must be whsec_ followed by base64 of 24 to 64 bytes")]
    BadSecret,
    #[error("webhook-id, webhook-timestamp or webhook-signature is missing or malformed")]
    Malformed,
    #[error("the timestamp is more than {TOLERANCE} s from now")]
    Stale,
    #[error("no signature matches")]
    BadSignature,
}

impl WebhookError {
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::BadSecret => "push_secret_invalid",
            WebhookError::Malformed => "push_malformed",
            WebhookError::Stale => "push_stale",
            WebhookError::BadSignature => "push_bad_signature",
        }
    }
}

/// A shared signing secret (`whsec_` + base64 of its key bytes).
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn parse(text: &str) -> Result<Secret, WebhookError> {
        let key = text.trim().strip_prefix("whsec_").ok_or(WebhookError::BadSecret)?;
        let bytes = STANDARD.decode(key).map_err(|_| WebhookError::BadSecret)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(WebhookError::BadSecret);
        }
        Ok(Secret(bytes))
    }

    /// The `whsec_` form of a key (for `edgeprice push-secret`).
    pub fn encode(key: &[u8]) -> String {
        format!("whsec_{}", STANDARD.encode(key))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        // A key of any length is accepted by HMAC: new_from_slice cannot fail here.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else { return Vec::new() };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    /// The `webhook-signature` header value for this message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }

    /// Checks the three headers against the body at `now`. The signature header may list
    /// several space-separated signatures (key rotation); one matching `v1` suffices.
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), WebhookError> {
        let ts: i64 = timestamp.trim().parse().map_err(|_| WebhookError::Malformed)?;
        if id.is_empty() || id.len() > 128 || signatures.is_empty() {
            return Err(WebhookError::Malformed);
        }
        if (now - ts).abs() > TOLERANCE {
            return Err(WebhookError::Stale);
        }
        let expected = self.mac(id, ts, body);
        let matched = signatures
            .split(' ')
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|b| STANDARD.decode(b).ok())
            .any(|given| crate::secret::same_secret(&given, &expected));
        if matched { Ok(()) } else { Err(WebhookError::BadSignature) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_webhooks_example_verifies() {
        // The test vector of the Standard Webhooks reference libraries.
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let sig = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(
            secret.verify("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", &format!("v0,xx {sig}"), body, 1614265400),
            Ok(())
        );
    }

    #[test]
    fn forged_stale_and_malformed_pushes_are_refused() {
        let secret = Secret::parse(&Secret::encode(&[7; 32])).unwrap();
        let other = Secret::parse(&Secret::encode(&[8; 32])).unwrap();
        let sig = secret.sign("id-1", 1000, b"body");
        assert_eq!(secret.verify("id-1", "1000", &sig, b"body", 1000), Ok(()));
        assert_eq!(other.verify("id-1", "1000", &sig, b"body", 1000), Err(WebhookError::BadSignature));
        assert_eq!(secret.verify("id-1", "1000", &sig, b"bodx", 1000), Err(WebhookError::BadSignature));
        assert_eq!(secret.verify("id-2", "1000", &sig, b"body", 1000), Err(WebhookError::BadSignature));
        assert_eq!(secret.verify("id-1", "1000", &sig, b"body", 1000 + TOLERANCE + 1), Err(WebhookError::Stale));
        assert_eq!(secret.verify("id-1", "soon", &sig, b"body", 1000), Err(WebhookError::Malformed));
        assert_eq!(secret.verify("", "1000", &sig, b"body", 1000), Err(WebhookError::Malformed));
        assert!(Secret::parse("hunter2").is_err() && Secret::parse("whsec_c2hvcnQ=").is_err());
    }
}
