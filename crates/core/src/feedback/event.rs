//! The feedback event types: what one event says, built in one place from a decision
//! (`DecisionEvent::of`) or a purchase (`OutcomeEvent::of`), and written in the wire form
//! (`FeedbackEvent::to_json`) that `parse_batch` reads back.

use serde::Serialize;
use serde_json::Value;

use crate::pricing::decision::{Arm, Decision};

/// One feedback event, the contract between edge, origin and learner. Its JSON (`to_json`,
/// tagged by `type`) is what the edge sends and the origin stores; `parse_batch` reads it
/// back, checking every field.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FeedbackEvent {
    Decision(DecisionEvent),
    Outcome(OutcomeEvent),
}

/// A price shown to a session, with the propensity of having shown it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecisionEvent {
    pub event_id: String,
    pub decision_id: String,
    pub session_id: String,
    pub sku: String,
    pub policy_version: u64,
    pub arm: Arm,
    /// Major units.
    pub price: f64,
    /// Unit cost at decision time (optional; reports count profit as revenue - cost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    pub propensity: f64,
    /// The session's features (`{"features": {...}}` form), what the learner replays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Value>,
    /// What the engine knew when it chose the price (the merchant's reports read it).
    #[serde(flatten)]
    pub detail: Detail,
    /// Unix seconds when it happened at the edge.
    pub time: i64,
}

/// A decision's context for reports, all optional on the wire (edges older than these
/// fields send none): the list and uniform prices beside the shown one, the purchase
/// probability the policy believed at the shown price, whether the price was personalized,
/// the reasons, and the jurisdiction with whether a disclosure was shown.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Detail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uniform_price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchase_probability: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personalized: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disclosed: Option<bool>,
}

impl Detail {
    /// The context of `decision` as the engine returned it.
    pub fn of(decision: &Decision) -> Self {
        Detail {
            list_price: Some(decision.list_price),
            uniform_price: decision.uniform_price,
            purchase_probability: decision.purchase_probability,
            personalized: Some(decision.personalized),
            reasons: Some(decision.reasons.clone()),
            jurisdiction: decision.jurisdiction.clone(),
            disclosed: decision.jurisdiction.as_ref().map(|_| decision.disclosure.is_some()),
        }
    }
}

/// An event's fields besides id, decision id, kind and time, flat (`FeedbackEvent::columns`).
pub struct Columns<'a> {
    pub session_id: Option<&'a str>,
    pub sku: Option<&'a str>,
    pub policy_version: Option<u64>,
    pub arm: Option<Arm>,
    pub price: Option<f64>,
    pub cost: Option<f64>,
    pub propensity: Option<f64>,
    pub features: Option<&'a Value>,
    pub purchased: Option<bool>,
    pub revenue: Option<f64>,
    /// A decision's report context (`None` for an outcome).
    pub detail: Option<&'a Detail>,
}

/// Whether the session of a decision bought.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutcomeEvent {
    pub event_id: String,
    pub decision_id: String,
    pub purchased: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue: Option<f64>,
    /// Decision fields an outcome may repeat (checked like a decision's when present).
    #[serde(flatten)]
    pub echo: Echo,
    pub time: i64,
}

/// The decision fields an outcome may echo; all optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Echo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arm: Option<Arm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propensity: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Value>,
}

impl DecisionEvent {
    /// The event of a decision shown to `session_id`: the one place the edge (worker) and
    /// the simulator build it. Event id `d-<decision id>`.
    pub fn of(decision: &Decision, session_id: &str, cost: Option<f64>, features: Option<Value>, time: i64) -> Self {
        DecisionEvent {
            event_id: format!("d-{}", decision.decision_id),
            decision_id: decision.decision_id.clone(),
            session_id: session_id.to_string(),
            sku: decision.sku.clone(),
            policy_version: decision.policy_version,
            arm: decision.arm,
            price: decision.price,
            cost,
            propensity: decision.propensity,
            features,
            detail: Detail::of(decision),
            time,
        }
    }
}

impl OutcomeEvent {
    /// The outcome of decision `decision_id` (event id `o-<decision id>`).
    pub fn of(decision_id: &str, session_id: &str, purchased: bool, revenue: Option<f64>, time: i64) -> Self {
        OutcomeEvent {
            event_id: format!("o-{decision_id}"),
            decision_id: decision_id.to_string(),
            purchased,
            revenue,
            echo: Echo { session_id: Some(session_id.to_string()), ..Echo::default() },
            time,
        }
    }
}

impl FeedbackEvent {
    pub fn event_id(&self) -> &str {
        match self {
            FeedbackEvent::Decision(d) => &d.event_id,
            FeedbackEvent::Outcome(o) => &o.event_id,
        }
    }

    pub fn decision_id(&self) -> &str {
        match self {
            FeedbackEvent::Decision(d) => &d.decision_id,
            FeedbackEvent::Outcome(o) => &o.decision_id,
        }
    }

    /// `decision` or `outcome`, as the wire's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            FeedbackEvent::Decision(_) => "decision",
            FeedbackEvent::Outcome(_) => "outcome",
        }
    }

    pub fn time(&self) -> i64 {
        match self {
            FeedbackEvent::Decision(d) => d.time,
            FeedbackEvent::Outcome(o) => o.time,
        }
    }

    /// Every field as one flat row (what the origin's table stores): decision fields are
    /// present for a decision, and for an outcome when it echoes them.
    pub fn columns(&self) -> Columns<'_> {
        match self {
            FeedbackEvent::Decision(d) => Columns {
                session_id: Some(&d.session_id),
                sku: Some(&d.sku),
                policy_version: Some(d.policy_version),
                arm: Some(d.arm),
                price: Some(d.price),
                cost: d.cost,
                propensity: Some(d.propensity),
                features: d.features.as_ref(),
                purchased: None,
                revenue: None,
                detail: Some(&d.detail),
            },
            FeedbackEvent::Outcome(o) => Columns {
                session_id: o.echo.session_id.as_deref(),
                sku: o.echo.sku.as_deref(),
                policy_version: o.echo.policy_version,
                arm: o.echo.arm,
                price: o.echo.price,
                cost: o.echo.cost,
                propensity: o.echo.propensity,
                features: o.echo.features.as_ref(),
                purchased: Some(o.purchased),
                revenue: o.revenue,
                detail: None,
            },
        }
    }

    /// The wire form (one JSON object).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}
