//! Session input as the edge receives it: either the data set's aggregates by name, or raw
//! page events that `SessionTracker` folds into those aggregates. Rules for bad values:
//! a missing or null numeric column is NaN (the feature schema cleans it to 0); a value of
//! the wrong JSON type is an error; event durations outside [0, 1 day] are clamped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::session::{Categorical, Numeric, Session};

/// Longest session id accepted, in bytes.
pub const MAX_SESSION_ID: usize = 128;
/// Most events folded from one session input.
pub const MAX_EVENTS: usize = 10_000;
/// Longest categorical value kept; longer ones count as unseen.
const MAX_CATEGORY: usize = 64;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionError {
    #[error("session is not a JSON object with a session_id and features or events: {0}")]
    Malformed(String),
    #[error("session_id is empty or longer than 128 bytes")]
    BadId,
    #[error("feature {0} has the wrong type")]
    WrongType(String),
    #[error("more than 10000 events")]
    TooManyEvents,
}

impl SessionError {
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::Malformed(_) => "session_malformed",
            SessionError::BadId => "session_bad_id",
            SessionError::WrongType(_) => "session_wrong_type",
            SessionError::TooManyEvents => "session_too_many_events",
        }
    }
}

/// One page view.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PageEvent {
    /// `product`, `administrative` (account, cart, help) or `informational` (about, shipping).
    pub page: String,
    #[serde(default)]
    pub seconds: Option<f64>,
    /// Key into the bundle's page value table (PageValues).
    #[serde(default)]
    pub page_id: Option<String>,
    #[serde(default)]
    pub bounce: bool,
    #[serde(default)]
    pub exit: bool,
}

/// Folds page events into the data set's aggregates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionTracker {
    pub counts: [f64; 3],
    pub seconds: [f64; 3],
    pub pages: f64,
    pub bounces: f64,
    pub exits: f64,
    pub page_value_sum: f64,
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "June", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Month name (the data set's spelling) and weekend flag of a Unix time, in UTC.
pub fn calendar(now: i64) -> (&'static str, bool) {
    let days = now.div_euclid(86_400);
    // 1970-01-01 was a Thursday; days 2 and 3 after a Thursday are Saturday and Sunday.
    let weekend = matches!(days.rem_euclid(7), 2 | 3);
    // Civil-from-days (Howard Hinnant's algorithm), month only.
    let z = days + 719_468;
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (MONTHS[(month - 1) as usize], weekend)
}

impl SessionTracker {
    pub fn record(&mut self, event: &PageEvent, page_values: &BTreeMap<String, f64>) {
        let kind = match event.page.as_str() {
            "administrative" | "account" | "cart" | "help" => 0,
            "informational" | "about" | "shipping" => 1,
            _ => 2,
        };
        let secs = event.seconds.filter(|s| s.is_finite()).unwrap_or(0.0).clamp(0.0, 86_400.0);
        self.counts[kind] += 1.0;
        self.seconds[kind] += secs;
        self.pages += 1.0;
        self.bounces += f64::from(u8::from(event.bounce));
        self.exits += f64::from(u8::from(event.exit));
        if let Some(v) = event.page_id.as_ref().and_then(|id| page_values.get(id)) {
            self.page_value_sum += v;
        }
    }

    /// The aggregates so far; `now` gives Month and Weekend.
    pub fn session(&self, now: i64, visitor_type: &str, traffic_type: &str, special_day: f64) -> Session {
        let mut s = Session::default();
        let per_page = |x: f64| if self.pages > 0.0 { x / self.pages } else { 0.0 };
        s.set(Numeric::Administrative, self.counts[0]);
        s.set(Numeric::AdministrativeDuration, self.seconds[0]);
        s.set(Numeric::Informational, self.counts[1]);
        s.set(Numeric::InformationalDuration, self.seconds[1]);
        s.set(Numeric::ProductRelated, self.counts[2]);
        s.set(Numeric::ProductRelatedDuration, self.seconds[2]);
        s.set(Numeric::BounceRates, per_page(self.bounces));
        s.set(Numeric::ExitRates, per_page(self.exits));
        s.set(Numeric::PageValues, per_page(self.page_value_sum));
        s.set(Numeric::SpecialDay, special_day);
        let (month, weekend) = calendar(now);
        s.month = month.into();
        s.weekend = weekend;
        s.visitor_type = visitor_type.chars().take(MAX_CATEGORY).collect();
        s.traffic_type = traffic_type.chars().take(MAX_CATEGORY).collect();
        s
    }
}

fn category_text(v: &Value, name: &str) -> Result<String, SessionError> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(SessionError::WrongType(name.into())),
    }
}

/// A session id as sessions accept it: 1 to `MAX_SESSION_ID` bytes.
pub fn session_id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_SESSION_ID
}

/// The features form's columns as a reader found them: numeric values NaN when missing or
/// null, categorical texts empty when missing, Weekend when given. JSON is read here; the
/// browser and Node package reads the same columns from a JS object (crates/web). One
/// definition of the form's defaults serves every reader.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FeatureColumns {
    /// In `Numeric::ALL`'s order.
    pub numeric: [f64; 10],
    /// In `Categorical::ALL`'s order, as given (`session` keeps `MAX_CATEGORY` characters).
    pub categories: [String; 6],
    pub weekend: Option<bool>,
}

impl FeatureColumns {
    /// The session: Weekend and an empty Month from `now`'s calendar.
    pub fn session(self, now: i64) -> Session {
        let mut s = Session { numeric: self.numeric, ..Session::default() };
        for (column, text) in Categorical::ALL.into_iter().zip(self.categories) {
            *s.category_mut(column) =
                if text.chars().count() > MAX_CATEGORY { text.chars().take(MAX_CATEGORY).collect() } else { text };
        }
        let (month, weekend) = calendar(now);
        s.weekend = self.weekend.unwrap_or(weekend);
        if s.month.is_empty() {
            s.month = month.into();
        }
        s
    }
}

/// Parses session JSON of either form into (session id, aggregates).
pub fn parse_session(
    value: &Value,
    now: i64,
    page_values: &BTreeMap<String, f64>,
) -> Result<(String, Session), SessionError> {
    let obj = value.as_object().ok_or_else(|| SessionError::Malformed("not an object".into()))?;
    let id = obj.get("session_id").and_then(Value::as_str).ok_or(SessionError::BadId)?;
    if !session_id_ok(id) {
        return Err(SessionError::BadId);
    }
    match obj.get("features") {
        Some(features) => Ok((id.to_string(), features_session(features, now)?)),
        None => Ok((id.to_string(), events_session(obj, now, page_values)?)),
    }
}

/// The `features` form: the aggregates given. Each form is its own function, so that a
/// worker whose callers send one form never compiles the other (V8 compiles a function
/// whole at its first call).
#[inline(never)]
fn features_session(features: &Value, now: i64) -> Result<Session, SessionError> {
    let f = features.as_object().ok_or_else(|| SessionError::Malformed("features is not an object".into()))?;
    let mut columns = FeatureColumns::default();
    for (i, column) in Numeric::ALL.into_iter().enumerate() {
        columns.numeric[i] = match f.get(column.name()) {
            None | Some(Value::Null) => f64::NAN,
            Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Some(_) => return Err(SessionError::WrongType(column.name().into())),
        };
    }
    for (i, column) in Categorical::ALL.into_iter().enumerate() {
        columns.categories[i] = category_text(f.get(column.name()).unwrap_or(&Value::Null), column.name())?;
    }
    columns.weekend = match f.get("Weekend") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(t)) if t.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(t)) if t.eq_ignore_ascii_case("false") => Some(false),
        Some(_) => return Err(SessionError::WrongType("Weekend".into())),
    };
    Ok(columns.session(now))
}

/// The `events` form: page events, folded as the tracker folds them live.
#[inline(never)]
fn events_session(
    obj: &serde_json::Map<String, Value>,
    now: i64,
    page_values: &BTreeMap<String, f64>,
) -> Result<Session, SessionError> {
    let events = obj
        .get("events")
        .and_then(Value::as_array)
        .ok_or_else(|| SessionError::Malformed("no features and no events".into()))?;
    if events.len() > MAX_EVENTS {
        return Err(SessionError::TooManyEvents);
    }
    let mut tracker = SessionTracker::default();
    for e in events {
        let event: PageEvent = PageEvent::deserialize(e).map_err(|err| SessionError::Malformed(err.to_string()))?;
        tracker.record(&event, page_values);
    }
    let text = |name: &str| category_text(obj.get(name).unwrap_or(&Value::Null), name);
    let special = obj.get("special_day").and_then(Value::as_f64).unwrap_or(0.0);
    Ok(tracker.session(now, &text("visitor_type")?, &text("traffic_type")?, special))
}

/// A session's aggregates as the `features` form of session JSON (column names as keys).
pub fn features_json(session_id: &str, s: &Session) -> Value {
    let mut f = serde_json::Map::new();
    for column in Numeric::ALL {
        let v = s.get(column);
        f.insert(column.name().into(), serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null));
    }
    for column in Categorical::ALL {
        f.insert(column.name().into(), Value::String(s.category(column).to_string()));
    }
    f.insert("Weekend".into(), Value::Bool(s.weekend));
    serde_json::json!({"session_id": session_id, "features": f})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_matches_known_dates() {
        // 2026-11-28 is a Saturday; 2026-11-27 a Friday; 2024-02-29 a Thursday.
        assert_eq!(calendar(1_795_824_000), ("Nov", true));
        assert_eq!(calendar(1_795_737_600), ("Nov", false));
        assert_eq!(calendar(1_709_164_800), ("Feb", false));
        assert_eq!(calendar(0), ("Jan", false));
    }

    #[test]
    fn events_fold_into_aggregates() {
        let values: BTreeMap<String, f64> = [("p1".to_string(), 30.0)].into();
        let json = serde_json::json!({"session_id": "s", "visitor_type": "New_Visitor", "traffic_type": 2, "events": [
            {"page": "product", "seconds": 20, "page_id": "p1"},
            {"page": "product", "seconds": -5, "page_id": "unknown"},
            {"page": "cart", "seconds": 1e12, "exit": true}
        ]});
        let (id, s) = parse_session(&json, 1_795_824_000, &values).unwrap();
        assert_eq!(id, "s");
        assert_eq!(s.get(Numeric::ProductRelated), 2.0);
        assert_eq!(s.get(Numeric::ProductRelatedDuration), 20.0);
        assert_eq!(s.get(Numeric::AdministrativeDuration), 86_400.0);
        assert_eq!(s.get(Numeric::PageValues), 10.0);
        assert!((s.get(Numeric::ExitRates) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!((s.traffic_type.as_str(), s.month.as_str(), s.weekend), ("2", "Nov", true));
    }

    #[test]
    fn bad_sessions_are_errors() {
        let v = BTreeMap::new();
        let code = |j: Value| parse_session(&j, 0, &v).unwrap_err().code();
        assert_eq!(code(serde_json::json!([1])), "session_malformed");
        assert_eq!(code(serde_json::json!({"features": {}})), "session_bad_id");
        assert_eq!(code(serde_json::json!({"session_id": "x".repeat(1 << 20), "features": {}})), "session_bad_id");
        assert_eq!(
            code(serde_json::json!({"session_id": "s", "features": {"ExitRates": "high"}})),
            "session_wrong_type"
        );
        assert_eq!(code(serde_json::json!({"session_id": "s"})), "session_malformed");
        let (_, s) =
            parse_session(&serde_json::json!({"session_id": "s", "features": {"ExitRates": null}}), 0, &v).unwrap();
        assert!(s.get(Numeric::ExitRates).is_nan());
    }
}
