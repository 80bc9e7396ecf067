//! The engine: a verified bundle and the pricing of sessions with it. Session and product
//! JSON in, a decision out; any failure after the product is known yields the reference
//! price with arm `fallback` and the reason. An update that fails verification leaves the
//! live bundle in place.

use serde_json::Value;

use crate::bundle::{self, BundleError, TrustedKeys, VerifiedBundle};
use crate::pricing::decision::{Decision, Inputs, decide, fallback};
use crate::pricing::product::{Product, ProductError};
use crate::session::Session;
use crate::tracker::parse_session;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PriceError {
    /// Without a valid product there is no reference price to fall back to.
    #[error(transparent)]
    Product(#[from] ProductError),
}

impl PriceError {
    pub fn code(&self) -> &'static str {
        match self {
            PriceError::Product(e) => e.code(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Engine {
    bundle: VerifiedBundle,
}

impl Engine {
    pub fn new(bytes: &[u8], keys: &TrustedKeys, now: i64) -> Result<Self, BundleError> {
        Ok(Self { bundle: bundle::verify(bytes, keys, now, None)? })
    }

    /// The engine with the bundle compiled into this build (`models/default.epb`).
    pub fn with_default(now: i64) -> Result<Self, BundleError> {
        Self::new(bundle::DEFAULT_BUNDLE, &bundle::default_keys()?, now)
    }

    /// Swaps in a newer bundle; on any error the current one stays live.
    pub fn update(&mut self, bytes: &[u8], keys: &TrustedKeys, now: i64) -> Result<u64, BundleError> {
        let next = bundle::verify(bytes, keys, now, Some(self.policy_version()))?;
        self.bundle = next;
        Ok(self.policy_version())
    }

    /// The same policy without exploration and control: its model arm alone, for offline
    /// analysis (`simulate --greedy`). The bundle's signed rules are not changed.
    pub fn exploit_only(&self) -> Engine {
        let mut bundle = self.bundle.clone();
        let x = &mut bundle.rules.exploration;
        (x.mode, x.epsilon, x.control_share) = (crate::pricing::rules::ExplorationMode::Epsilon, 0.0, 0.0);
        Engine { bundle }
    }

    pub fn policy_version(&self) -> u64 {
        self.bundle.manifest.policy_version
    }

    pub fn bundle(&self) -> &VerifiedBundle {
        &self.bundle
    }

    /// Prices a session (JSON of either session form) for a product (JSON), at `now`.
    pub fn price(&self, session: &Value, product: &Value, now: i64) -> Result<Decision, PriceError> {
        let product = Product::from_value(product.clone())?;
        match parse_session(session, now, &self.bundle.manifest.page_values) {
            Ok((id, s)) => Ok(self.price_session(&id, &s, &product, now)),
            Err(e) => {
                // The id as given, bounded, so that even a rejected session's decision can be joined.
                let id: String =
                    session.get("session_id").and_then(Value::as_str).unwrap_or("").chars().take(128).collect();
                Ok(fallback(&product, &id, self.policy_version(), now, e.code()))
            }
        }
    }

    /// Prices parsed inputs; never fails.
    pub fn price_session(&self, session_id: &str, session: &Session, product: &Product, now: i64) -> Decision {
        let version = self.policy_version();
        if now >= self.bundle.expires_at {
            return fallback(product, session_id, version, now, "policy_expired");
        }
        let x = self.bundle.manifest.schema.transform(session);
        let heads = match self.bundle.model.heads(&x) {
            Ok(h) => h,
            Err(e) => return fallback(product, session_id, version, now, e.code()),
        };
        let inputs = Inputs {
            session_id,
            product,
            rules: &self.bundle.rules,
            curve: &self.bundle.manifest.population_curve,
            heads,
            policy_version: version,
            now,
        };
        decide(&inputs).unwrap_or_else(|reason| fallback(product, session_id, version, now, reason))
    }
}
