//! A shopper's visit as the edge keeps it: the session aggregates in a cookie signed with
//! HMAC-SHA256, so no server-side session store is needed. Invariants: a cookie that fails
//! its MAC, does not parse, or holds out-of-range values decodes to `None` (the caller
//! starts a new session; it is never an error), and a decoded visit is always sane.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use edgeprice_core::tracker::{MAX_SESSION_ID, SessionTracker};

/// Name of the cookie.
pub const COOKIE_NAME: &str = "ep_visit";
/// Version of the cookie's encoding and MAC input; bump it when either changes.
pub const COOKIE_VERSION: u32 = 1;
/// A visit idle for longer than this starts a new session (the data set's sessions are
/// Google Analytics sessions, which end after 30 minutes of inactivity).
pub const SESSION_IDLE_SECONDS: i64 = 30 * 60;
/// How long the browser keeps the cookie; a returning visitor is known for this long.
pub const COOKIE_MAX_AGE: i64 = 365 * 86_400;
/// Longest cookie value decoded; anything longer is ignored unread.
const MAX_COOKIE: usize = 2_048;
/// Bytes of the HMAC-SHA256 tag kept in the cookie (128 bits).
const TAG_BYTES: usize = 16;
/// The shortest secret accepted for signing (bytes).
pub const MIN_SECRET: usize = 32;

/// One visit: a session id, its aggregates, and what the edge knows of the visitor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    #[serde(rename = "i")]
    pub session_id: String,
    /// Unix seconds of the session's first and latest request.
    #[serde(rename = "s")]
    pub started: i64,
    #[serde(rename = "l")]
    pub last_seen: i64,
    /// True once a previous session of this browser has ended (VisitorType).
    #[serde(rename = "r")]
    pub returning: bool,
    /// The data set's TrafficType code given by the page's script, or empty (unseen).
    #[serde(rename = "t", default)]
    pub traffic_type: String,
    #[serde(rename = "a")]
    pub tracker: SessionTracker,
}

impl Visit {
    /// A new visit with a session id the adapter drew from a secure random source.
    pub fn new(session_id: &str, now: i64, returning: bool) -> Self {
        Visit {
            session_id: session_id.chars().take(MAX_SESSION_ID).collect(),
            started: now,
            last_seen: now,
            returning,
            traffic_type: String::new(),
            tracker: SessionTracker::default(),
        }
    }

    /// The data set's VisitorType for this visit.
    pub fn visitor_type(&self) -> &'static str {
        if self.returning { "Returning_Visitor" } else { "New_Visitor" }
    }

    fn sane(&self) -> bool {
        let t = &self.tracker;
        let finite_nonneg = |x: f64| x.is_finite() && (0.0..=1e9).contains(&x);
        !self.session_id.is_empty()
            && self.session_id.len() <= MAX_SESSION_ID
            && self.traffic_type.len() <= 16
            && self.started <= self.last_seen
            && t.counts.iter().chain(&t.seconds).all(|&x| finite_nonneg(x))
            && [t.pages, t.bounces, t.exits].iter().all(|&x| finite_nonneg(x))
            && t.bounces <= t.pages
            && t.exits <= t.pages
            && finite_nonneg(t.page_value_sum)
    }
}

fn tag(secret: &[u8], payload: &str) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(format!("edgeprice-visit-v{COOKIE_VERSION}.").as_bytes());
    mac.update(payload.as_bytes());
    Some(mac)
}

/// The cookie value for a visit: `v1.<payload>.<tag>`, base64url without padding.
pub fn encode(visit: &Visit, secret: &[u8]) -> Option<String> {
    sign_json(&serde_json::to_vec(visit).ok()?, secret)
}

/// The cookie value for payload bytes exactly as given, valid JSON or not: how tests and
/// the fuzz targets reach the checks behind the MAC.
pub fn sign_json(json: &[u8], secret: &[u8]) -> Option<String> {
    let payload = URL_SAFE_NO_PAD.encode(json);
    let mac = tag(secret, &payload)?.finalize().into_bytes();
    let tag_bytes = mac.get(..TAG_BYTES)?;
    Some(format!("v{COOKIE_VERSION}.{payload}.{}", URL_SAFE_NO_PAD.encode(tag_bytes)))
}

/// The visit in a cookie value, or `None` when it was not signed with `secret`, is
/// malformed, or holds values no honest visit has. The MAC is checked in constant time
/// before the payload is parsed.
pub fn decode(value: &str, secret: &[u8]) -> Option<Visit> {
    if value.len() > MAX_COOKIE {
        return None;
    }
    let rest = value.strip_prefix(&format!("v{COOKIE_VERSION}."))?;
    let (payload, tag_text) = rest.split_once('.')?;
    let given = URL_SAFE_NO_PAD.decode(tag_text).ok()?;
    if given.len() != TAG_BYTES {
        return None;
    }
    tag(secret, payload)?.verify_truncated_left(&given).ok()?;
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let visit: Visit = serde_json::from_slice(&json).ok()?;
    visit.sane().then_some(visit)
}

/// The value of cookie `name` in a `Cookie` request header.
pub fn from_header<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').filter_map(|kv| kv.trim().split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// The visit to use for a request at `now`: the cookie's if it verifies and its session is
/// still active; a new session (same browser, so `returning`) if it verifies but went idle;
/// a brand-new visit if there is no valid cookie. `fresh_id` is called only when needed.
pub fn resume(cookie: Option<&str>, secret: &[u8], now: i64, fresh_id: impl FnOnce() -> String) -> (Visit, bool) {
    match cookie.and_then(|c| decode(c, secret)) {
        Some(v) if now - v.last_seen <= SESSION_IDLE_SECONDS && now >= v.started => {
            let mut v = v;
            v.last_seen = now.max(v.last_seen);
            (v, false)
        }
        Some(old) => {
            let mut v = Visit::new(&fresh_id(), now, true);
            v.traffic_type = old.traffic_type;
            (v, true)
        }
        None => (Visit::new(&fresh_id(), now, false), true),
    }
}

/// The `Set-Cookie` header value for a visit (HttpOnly, Secure, SameSite=Lax).
pub fn set_cookie(value: &str) -> String {
    format!("{COOKIE_NAME}={value}; Max-Age={COOKIE_MAX_AGE}; Path=/; HttpOnly; Secure; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeprice_core::tracker::PageEvent;

    #[test]
    fn a_visit_survives_a_round_trip_exactly() {
        // Found by the `cookie` fuzz target: 4.7777777777777775e54 came back one ulp off
        // (serde_json's fast float parsing); and a page value sum must be a sane amount.
        let secret = [7u8; 32];
        let mut v = Visit::new("s-1", 1_795_867_200, false);
        v.tracker.page_value_sum = 123.45678901234567;
        v.tracker.seconds = [0.1 + 0.2, 1.0 / 3.0, 95.0];
        let again = decode(&encode(&v, &secret).unwrap(), &secret);
        assert_eq!(again.as_ref(), Some(&v));
        v.tracker.page_value_sum = 4.7777777777777775e54;
        assert!(decode(&encode(&v, &secret).unwrap(), &secret).is_none(), "not a sane visit");
    }

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn visit() -> Visit {
        let mut v = Visit::new("8b0c7a8e-5f0e-4a43-9d55-1f2d1c3b4a59", 1_000, false);
        let event =
            PageEvent { page: "product".into(), seconds: Some(42.0), page_id: None, bounce: false, exit: false };
        v.tracker.record(&event, &Default::default());
        v
    }

    #[test]
    fn round_trip_and_size() {
        let text = encode(&visit(), KEY).unwrap();
        assert!(text.len() < 400, "{} bytes", text.len());
        assert_eq!(decode(&text, KEY), Some(visit()));
        assert_eq!(from_header(&format!("a=b; {COOKIE_NAME}={text}; c=d"), COOKIE_NAME), Some(text.as_str()));
    }

    #[test]
    fn every_tampering_is_rejected() {
        let text = encode(&visit(), KEY).unwrap();
        assert_eq!(decode(&text, b"another secret of thirty-two bytes!!"), None);
        let bytes = text.as_bytes();
        for i in 0..bytes.len() {
            let mut t = bytes.to_vec();
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            if let Ok(s) = std::str::from_utf8(&t) {
                assert_eq!(decode(s, KEY), None, "flip at {i}");
            }
            assert_eq!(decode(&text[..i], KEY), None, "truncated at {i}");
        }
        // A correctly signed visit with impossible values is still refused.
        let mut bad = visit();
        bad.tracker.pages = f64::INFINITY;
        assert_eq!(decode(&encode(&bad, KEY).unwrap(), KEY), None);
        assert_eq!(decode(&"v1.".repeat(5_000), KEY), None);
    }

    #[test]
    fn idle_sessions_restart_as_returning_visitors() {
        let text = encode(&visit(), KEY).unwrap();
        let (same, new) = resume(Some(&text), KEY, 1_000 + 60, || unreachable!());
        assert!(!new && same.session_id == visit().session_id && same.last_seen == 1_060);
        let (next, new) = resume(Some(&text), KEY, 1_000 + SESSION_IDLE_SECONDS + 1, || "s2".into());
        assert!(new && next.session_id == "s2" && next.returning && next.tracker.pages == 0.0);
        let (first, new) = resume(Some("garbage"), KEY, 5, || "s3".into());
        assert!(new && first.session_id == "s3" && !first.returning);
        assert_eq!(first.visitor_type(), "New_Visitor");
    }
}
