//! Feedback batches from the edge: decision events (what was shown, with its propensity)
//! and outcome events (whether the session bought). Text in, validated events out; each
//! malformed event is reported by its index and reason and the valid rest is kept
//! (per-event results, never all-or-nothing).

use serde::Deserialize;
use serde_json::Value;

use crate::pricing::decision::Arm;

mod event;

pub use event::{Columns, DecisionEvent, Detail, Echo, FeedbackEvent, OutcomeEvent};

/// Largest feedback body accepted (413 beyond).
pub const MAX_BODY: usize = 1 << 20;
const MAX_ID: usize = 128;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    event_id: String,
    #[serde(rename = "type")]
    kind: String,
    decision_id: String,
    session_id: Option<String>,
    sku: Option<String>,
    policy_version: Option<u64>,
    arm: Option<String>,
    price: Option<f64>,
    cost: Option<f64>,
    propensity: Option<f64>,
    features: Option<Value>,
    purchased: Option<bool>,
    revenue: Option<f64>,
    list_price: Option<f64>,
    uniform_price: Option<f64>,
    purchase_probability: Option<f64>,
    personalized: Option<bool>,
    reasons: Option<Vec<String>>,
    jurisdiction: Option<String>,
    disclosed: Option<bool>,
    time: f64,
}

/// Most reasons on one decision event, and the longest reason or jurisdiction, in bytes.
const MAX_REASONS: usize = 32;
const MAX_REASON: usize = 128;

/// One rejected event of a batch.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Rejected {
    pub index: usize,
    pub code: &'static str,
    pub message: String,
}

fn id_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_ID
}

fn validate(raw: Raw) -> Result<FeedbackEvent, (&'static str, String)> {
    let bad = |code: &'static str, m: &str| Err((code, m.to_string()));
    if !id_ok(&raw.event_id) || !id_ok(&raw.decision_id) {
        return bad("event_bad_id", "event_id and decision_id must be 1 to 128 bytes");
    }
    // PostgreSQL's TEXT cannot hold U+0000: one such event would fail its whole batch there
    // (and the edge would send it again and again). Reasons and features are stored as JSON
    // text, which escapes it.
    let texts = [
        Some(&raw.event_id),
        Some(&raw.decision_id),
        raw.session_id.as_ref(),
        raw.sku.as_ref(),
        raw.jurisdiction.as_ref(),
    ];
    if texts.iter().flatten().any(|s| s.contains('\0')) {
        return bad("event_bad_text", "event_id, decision_id, session_id, sku and jurisdiction may not contain U+0000");
    }
    if !raw.time.is_finite() || raw.time < 0.0 {
        return bad("event_bad_time", "time must be Unix seconds");
    }
    enum Kind {
        Decision,
        Outcome,
    }
    let kind = match raw.kind.as_str() {
        "decision" => Kind::Decision,
        "outcome" => Kind::Outcome,
        _ => return bad("event_bad_type", "type must be decision or outcome"),
    };
    // Every field is checked when present, whatever the kind (an outcome may echo its
    // decision's fields); a decision must have them all.
    if raw.session_id.as_deref().is_some_and(|s| !id_ok(s))
        || raw.sku.as_deref().is_some_and(|s| s.is_empty() || s.len() > 256)
    {
        return bad("event_bad_id", "session_id must be 1 to 128 bytes and sku 1 to 256");
    }
    let arm = match raw.arm.as_deref().map(Arm::from_name) {
        Some(None) => return bad("event_bad_arm", "arm must be model, explore, control or fallback"),
        Some(Some(a)) => Some(a),
        None => None,
    };
    if raw.price.is_some_and(|p| !p.is_finite() || p < 0.0) {
        return bad("event_bad_price", "price must be a finite amount >= 0");
    }
    if raw.cost.is_some_and(|c| !c.is_finite() || c < 0.0) {
        return bad("event_bad_price", "cost must be a finite amount >= 0");
    }
    if raw.propensity.is_some_and(|p| !(p > 0.0 && p <= 1.0)) {
        return bad("event_bad_propensity", "propensity must be in (0, 1]");
    }
    if raw.features.as_ref().is_some_and(|f| f.to_string().len() > 16 * 1024) {
        return bad("event_too_large", "features take more than 16 KiB");
    }
    if raw.revenue.is_some_and(|r| !r.is_finite() || r < 0.0) {
        return bad("event_bad_price", "revenue must be a finite amount >= 0");
    }
    if [raw.list_price, raw.uniform_price].iter().flatten().any(|p| !p.is_finite() || *p < 0.0) {
        return bad("event_bad_price", "list_price and uniform_price must be finite amounts >= 0");
    }
    if raw.purchase_probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
        return bad("event_bad_propensity", "purchase_probability must be in [0, 1]");
    }
    let long = |s: &String| s.is_empty() || s.len() > MAX_REASON;
    if raw.reasons.as_ref().is_some_and(|r| r.len() > MAX_REASONS || r.iter().any(long))
        || raw.jurisdiction.as_ref().is_some_and(long)
    {
        return bad("event_too_large", "at most 32 reasons; a reason or jurisdiction is 1 to 128 bytes");
    }
    let time = raw.time as i64;
    match kind {
        Kind::Decision => {
            let (Some(session_id), Some(sku)) = (raw.session_id, raw.sku) else {
                return bad("event_bad_id", "a decision needs session_id and sku");
            };
            let Some(policy_version) = raw.policy_version else {
                return bad("event_missing_field", "a decision needs policy_version");
            };
            let Some(arm) = arm else {
                return bad("event_bad_arm", "arm must be model, explore, control or fallback");
            };
            let Some(price) = raw.price else {
                return bad("event_bad_price", "price must be a finite amount >= 0");
            };
            let Some(propensity) = raw.propensity else {
                return bad("event_bad_propensity", "propensity must be in (0, 1]");
            };
            Ok(FeedbackEvent::Decision(DecisionEvent {
                event_id: raw.event_id,
                decision_id: raw.decision_id,
                session_id,
                sku,
                policy_version,
                arm,
                price,
                cost: raw.cost,
                propensity,
                features: raw.features,
                detail: Detail {
                    list_price: raw.list_price,
                    uniform_price: raw.uniform_price,
                    purchase_probability: raw.purchase_probability,
                    personalized: raw.personalized,
                    reasons: raw.reasons,
                    jurisdiction: raw.jurisdiction,
                    disclosed: raw.disclosed,
                },
                time,
            }))
        }
        Kind::Outcome => {
            let Some(purchased) = raw.purchased else {
                return bad("event_missing_field", "an outcome needs purchased");
            };
            Ok(FeedbackEvent::Outcome(OutcomeEvent {
                event_id: raw.event_id,
                decision_id: raw.decision_id,
                purchased,
                revenue: raw.revenue,
                echo: Echo {
                    session_id: raw.session_id,
                    sku: raw.sku,
                    policy_version: raw.policy_version,
                    arm,
                    price: raw.price,
                    cost: raw.cost,
                    propensity: raw.propensity,
                    features: raw.features,
                },
                time,
            }))
        }
    }
}

/// Checks one event in wire form (as stored, or one item of a batch).
pub fn from_value(value: Value) -> Result<FeedbackEvent, (&'static str, String)> {
    validate(serde_json::from_value(value).map_err(|e| ("event_malformed", e.to_string()))?)
}

/// Parses a batch (a JSON array, or NDJSON: one event per line). `Err` when the body as
/// a whole cannot be read (not UTF-8, or not a JSON array while starting with `[`).
pub fn parse_batch(body: &[u8]) -> Result<(Vec<FeedbackEvent>, Vec<Rejected>), String> {
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8".to_string())?;
    // Each event is read straight into its fields from its slice of the body (no
    // intermediate `Value` tree: that was most of the origin's time per event).
    let one = |text: &str| serde_json::from_str::<Raw>(text).map_err(|e| e.to_string());
    let items: Vec<Result<Raw, String>> = if text.trim_start().starts_with('[') {
        let array: Vec<&serde_json::value::RawValue> =
            serde_json::from_str(text).map_err(|e| format!("body is not a JSON array: {e}"))?;
        array.into_iter().map(|item| one(item.get())).collect()
    } else {
        text.lines().filter(|l| !l.trim().is_empty()).map(one).collect()
    };
    let mut events = Vec::new();
    let mut rejected = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match item.map_err(|m| ("event_malformed", m)).and_then(validate) {
            Ok(e) => events.push(e),
            Err((code, message)) => rejected.push(Rejected { index, code, message }),
        }
    }
    Ok((events, rejected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_echoing_decision_fields_gets_them_checked() {
        // Found by the `feedback` fuzz target: an outcome with propensity 5.86 was stored.
        let body = br#"{"event_id": "o-1", "type": "outcome", "decision_id": "dec-1", "purchased": true, "propensity": 5.86, "time": 1}
{"event_id": "o-2", "type": "outcome", "decision_id": "dec-2", "purchased": true, "arm": "mystery", "time": 1}
{"event_id": "o-3", "type": "outcome", "decision_id": "dec-3", "purchased": false, "propensity": 0.5, "arm": "model", "time": 1}"#;
        let (events, rejected) = parse_batch(body).unwrap();
        assert_eq!(events.iter().map(|e| e.event_id()).collect::<Vec<_>>(), ["o-3"]);
        assert_eq!(
            rejected.iter().map(|r| (r.index, r.code)).collect::<Vec<_>>(),
            [(0, "event_bad_propensity"), (1, "event_bad_arm")]
        );
    }

    #[test]
    fn events_built_from_a_decision_read_back_as_themselves() {
        let engine = crate::engine::Engine::with_default(1_795_867_200).unwrap();
        let product =
            serde_json::json!({"sku": "sku-1001", "list_price": 49.99, "cost": 22.0, "currency": "USD", "stock": 120});
        let session = serde_json::json!({"session_id": "s-1", "features": {"ProductRelated": 12}});
        let d = engine.price(&session, &product, 1_795_867_200).unwrap();
        let decision = FeedbackEvent::Decision(DecisionEvent::of(&d, "s-1", Some(8.0), None, 1_795_867_200));
        let outcome =
            FeedbackEvent::Outcome(OutcomeEvent::of(&d.decision_id, "s-1", true, Some(d.price), 1_795_867_300));
        let body: Vec<String> = [&decision, &outcome].iter().map(|e| e.to_json().to_string()).collect();
        let (events, rejected) = parse_batch(body.join("\n").as_bytes()).unwrap();
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(events, [decision.clone(), outcome]);
        let FeedbackEvent::Decision(e) = &decision else { unreachable!() };
        assert_eq!((e.arm, e.event_id.as_str()), (d.arm, format!("d-{}", d.decision_id).as_str()));
        assert_eq!(decision.to_json()["arm"], d.arm.name());
    }

    #[test]
    fn batch_keeps_valid_events_and_names_bad_ones() {
        let body = br#"{"event_id":"e1","type":"decision","decision_id":"d1","session_id":"s","sku":"k","policy_version":1,"arm":"model","price":9.99,"propensity":0.9,"time":1}
{"event_id":"e2","type":"outcome","decision_id":"d1","purchased":true,"revenue":9.99,"time":2}
not json
{"event_id":"e3","type":"decision","decision_id":"d2","session_id":"s","sku":"k","policy_version":1,"arm":"model","price":9.99,"propensity":0,"time":1}
"#;
        let (events, rejected) = parse_batch(body).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            rejected.iter().map(|r| (r.index, r.code)).collect::<Vec<_>>(),
            [(2, "event_malformed"), (3, "event_bad_propensity")]
        );
        assert!(parse_batch(b"[1, 2").is_err());
        assert!(parse_batch(&[0xff, 0xfe]).is_err());
        let (events, rejected) = parse_batch(b"[]").unwrap();
        assert!(events.is_empty() && rejected.is_empty());
    }
}
