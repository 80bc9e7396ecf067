//! The engine: a verified bundle and the pricing of sessions with it. Session and product
//! JSON in, a decision out; any failure after the product is known yields the reference
//! price with arm `fallback` and the reason. An update that fails verification leaves the
//! live bundle in place.

use serde_json::Value;

use crate::bundle::{self, BundleError, TrustedKeys, VerifiedBundle};
use crate::model::Heads;
use crate::pricing::decision::{Decision, Inputs, apply_jurisdiction, decide, fallback};
use crate::pricing::disclosure::Place;
use crate::pricing::product::{Product, ProductError};
use crate::pricing::rules::Rules;
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
    /// Rules that replace the bundle's signed rules: only in `exploit_only` (the bundle's own
    /// are not copied at load, which a cold start would pay for).
    rules: Option<Box<Rules>>,
}

impl Engine {
    pub fn new(bytes: &[u8], keys: &TrustedKeys, now: i64) -> Result<Self, BundleError> {
        Ok(Self::from_verified(bundle::verify(bytes, keys, now, None)?))
    }

    /// An engine for a bundle verified elsewhere (`bundle::verify`).
    pub fn from_verified(bundle: VerifiedBundle) -> Self {
        Self { rules: None, bundle }
    }

    /// The engine with the bundle compiled into this build (`models/default.epb`), whose
    /// signature was checked when the build was made (`bundle::built_in`).
    pub fn with_default(now: i64) -> Result<Self, BundleError> {
        Ok(Self::from_verified(bundle::built_in(now)?))
    }

    /// Swaps in a newer bundle; on any error the current one stays live.
    pub fn update(&mut self, bytes: &[u8], keys: &TrustedKeys, now: i64) -> Result<u64, BundleError> {
        let next = bundle::verify(bytes, keys, now, Some(self.policy_version()))?;
        *self = Self::from_verified(next);
        Ok(self.policy_version())
    }

    /// The same policy without exploration and control: its model arm alone, for offline
    /// analysis (`simulate --greedy`). The bundle's signed rules are not changed.
    pub fn exploit_only(&self) -> Engine {
        let mut rules = self.rules().clone();
        let x = &mut rules.exploration;
        (x.mode, x.epsilon, x.control_share) = (crate::pricing::rules::ExplorationMode::Epsilon, 0.0, 0.0);
        Engine { bundle: self.bundle.clone(), rules: Some(Box::new(rules)) }
    }

    /// The rules it prices with: the bundle's signed rules, except in `exploit_only`.
    pub fn rules(&self) -> &Rules {
        self.rules.as_deref().unwrap_or(self.bundle.rules())
    }

    pub fn policy_version(&self) -> u64 {
        self.bundle.manifest().policy_version
    }

    pub fn bundle(&self) -> &VerifiedBundle {
        &self.bundle
    }

    /// Prices a session (JSON of either session form) for a product (JSON), at `now`.
    pub fn price(&self, session: &Value, product: &Value, now: i64) -> Result<Decision, PriceError> {
        Ok(self.price_read(session, &Product::from_value(product)?, now))
    }

    /// `price` for many sessions (JSON) and one product: the sessions' models run as one
    /// batch (`score_many`); each decision equals `price`'s for that session.
    pub fn price_many(&self, sessions: &[Value], product: &Value, now: i64) -> Result<Vec<Decision>, PriceError> {
        let product = Product::from_value(product)?;
        let page_values = &self.bundle.manifest().page_values;
        // A session that does not read keeps its id and the reason, for its fallback price.
        type Unread = (String, &'static str);
        let parsed: Vec<Result<(String, Session), Unread>> = sessions
            .iter()
            .map(|v| parse_session(v, now, page_values).map_err(|e| (bounded_id(v), e.code())))
            .collect();
        let ok: Vec<(String, Session)> = parsed.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
        let mut scored = self.score_many(&ok).into_iter();
        Ok(parsed
            .into_iter()
            .map(|p| match p {
                Err((id, code)) => fallback(&product, &id, self.policy_version(), now, code),
                // The scored rows are the parsed sessions, in order.
                Ok((id, s)) => match scored.next() {
                    Some(scored) => self.price_scored(&scored, &product, now),
                    None => self.price_session(&id, &s, &product, now),
                },
            })
            .collect())
    }

    /// `price` for a shopper at `place` (see `place`).
    pub fn price_at(&self, session: &Value, product: &Value, now: i64, place: &Place) -> Result<Decision, PriceError> {
        let product = Product::from_value(product)?;
        Ok(self.place(self.price_read(session, &product, now), &product, place))
    }

    /// `price` with the product already read.
    fn price_read(&self, session: &Value, product: &Product, now: i64) -> Decision {
        match parse_session(session, now, &self.bundle.manifest().page_values) {
            Ok((id, s)) => self.price_session(&id, &s, product, now),
            Err(e) => fallback(product, &bounded_id(session), self.policy_version(), now, e.code()),
        }
    }

    /// `price_products` for a shopper at `place`.
    pub fn price_products_at(
        &self,
        session: &Value,
        products: &[Value],
        now: i64,
        place: &Place,
    ) -> Vec<Result<Decision, PriceError>> {
        self.price_page(session, products, now, Some(place))
    }

    /// Applies the rule of the shopper's jurisdiction (the signed rules' `[disclosure]`) to a
    /// decision of this engine: the disclosure text on a personalized price, or the uniform
    /// or list price where the merchant turned personalization off. The decision names the
    /// jurisdiction either way.
    pub fn place(&self, d: Decision, product: &Product, place: &Place) -> Decision {
        apply_jurisdiction(d, product, &self.rules().disclosure.at(place))
    }

    /// Prices parsed inputs; never fails.
    pub fn price_session(&self, session_id: &str, session: &Session, product: &Product, now: i64) -> Decision {
        self.price_scored(&self.score(session_id, session), product, now)
    }

    /// Features and model run for one session: the part of a decision that does not depend
    /// on the product, so a category page scores the session once.
    pub fn score(&self, session_id: &str, session: &Session) -> Scored {
        let x = self.bundle.manifest().schema.transform(session);
        Scored { session_id: session_id.to_string(), heads: self.bundle.model().heads(&x).map_err(|e| e.code()) }
    }

    /// `score` for many sessions at once: their features in one matrix and one batched
    /// model run (`BehaviourModel::heads_batch`); each result equals `score`'s.
    pub fn score_many(&self, sessions: &[(String, Session)]) -> Vec<Scored> {
        let schema = &self.bundle.manifest().schema;
        let mut xs = Vec::new();
        for (_, s) in sessions {
            xs.extend(schema.transform(s));
        }
        let heads = match self.bundle.model().heads_batch(&xs) {
            Ok(rows) if rows.len() == sessions.len() => rows,
            // Rows that do not line up (a schema wider than the model): each on its own.
            _ => return sessions.iter().map(|(id, s)| self.score(id, s)).collect(),
        };
        sessions
            .iter()
            .zip(heads)
            .map(|((id, _), h)| Scored { session_id: id.clone(), heads: h.map_err(|e| e.code()) })
            .collect()
    }

    /// The rules for one product on a scored session; never fails.
    pub fn price_scored(&self, scored: &Scored, product: &Product, now: i64) -> Decision {
        let (session_id, version) = (scored.session_id.as_str(), self.policy_version());
        if now >= self.bundle.expires_at() {
            return fallback(product, session_id, version, now, "policy_expired");
        }
        let heads = match scored.heads {
            Ok(h) => h,
            Err(code) => return fallback(product, session_id, version, now, code),
        };
        let inputs = Inputs {
            session_id,
            product,
            rules: self.rules(),
            curve: &self.bundle.manifest().population_curve,
            heads,
            policy_version: version,
            now,
        };
        decide(&inputs).unwrap_or_else(|reason| fallback(product, session_id, version, now, reason))
    }

    /// Prices one session (JSON) for many products (a category page): the session is read
    /// and scored once. Each product gets its decision, or the error that product has.
    pub fn price_products(&self, session: &Value, products: &[Value], now: i64) -> Vec<Result<Decision, PriceError>> {
        self.price_page(session, products, now, None)
    }

    /// `price_products`, each decision placed when `place` is given; each product read once.
    fn price_page(
        &self,
        session: &Value,
        products: &[Value],
        now: i64,
        place: Option<&Place>,
    ) -> Vec<Result<Decision, PriceError>> {
        let scored = self.score_value(session, now);
        products.iter().map(|p| Ok(self.price_placed(&scored, &Product::from_value(p)?, now, place))).collect()
    }

    /// A category page of products already read (an edge's catalog copies, prepared once
    /// per catalog version): the session is read and scored once, each product priced (and
    /// placed when `place` is given) as `price_products` would.
    pub fn price_catalog_page(
        &self,
        session: &Value,
        products: &[&Product],
        now: i64,
        place: Option<&Place>,
    ) -> Vec<Decision> {
        let scored = self.score_value(session, now);
        products.iter().map(|p| self.price_placed(&scored, p, now, place)).collect()
    }

    /// A session (JSON) read and scored; one that does not read keeps its id and the reason.
    fn score_value(&self, session: &Value, now: i64) -> Scored {
        match parse_session(session, now, &self.bundle.manifest().page_values) {
            Ok((id, s)) => self.score(&id, &s),
            Err(e) => Scored { session_id: bounded_id(session), heads: Err(e.code()) },
        }
    }

    fn price_placed(&self, scored: &Scored, product: &Product, now: i64, place: Option<&Place>) -> Decision {
        let d = self.price_scored(scored, product, now);
        match place {
            Some(place) => self.place(d, product, place),
            None => d,
        }
    }
}

/// A session's id and model heads (or the code of why the model could not run).
#[derive(Clone, Debug)]
pub struct Scored {
    pub session_id: String,
    pub heads: Result<Heads, &'static str>,
}

/// The session id as given, bounded, so that even a rejected session's decision can be joined.
fn bounded_id(session: &Value) -> String {
    session.get("session_id").and_then(Value::as_str).unwrap_or("").chars().take(128).collect()
}
