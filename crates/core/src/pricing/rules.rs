//! The shop's pricing rules, written in TOML and carried inside the signed bundle.
//! `Rules::from_toml` validates everything once, so pricing never meets a rule it cannot
//! apply: a self-contradictory or out-of-range rule set is refused with its reason.

use super::disclosure::Disclosure;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Expected profit `P(buy) * (price - cost)`.
    Profit,
    /// Expected revenue `P(buy) * price`.
    Revenue,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Guardrails {
    /// Floor = cost * (1 + min_margin).
    pub min_margin: f64,
    /// Largest discount off the reference price, as a fraction.
    pub max_discount: f64,
    #[serde(default)]
    pub allow_above_reference: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// At or below this stock: no discount at all.
    pub low_stock: Option<u64>,
    /// At or above this stock: `overstock_extra_discount` more is allowed.
    pub overstock: Option<u64>,
    #[serde(default)]
    pub overstock_extra_discount: f64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Promotion {
    pub name: String,
    /// RFC 3339, inclusive.
    pub start: String,
    /// RFC 3339, exclusive.
    pub end: String,
    /// Categories it applies to; with `tags` also empty, it applies to every product.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Products carrying one of these promotion tags.
    #[serde(default)]
    pub tags: Vec<String>,
    pub extra_discount: f64,
    #[serde(skip)]
    pub window: (i64, i64),
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Rounding {
    /// Price ending in minor units (99 makes 17.99); none keeps plain minor-unit rounding.
    pub ending: Option<i64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Personalization {
    /// A personalized price stays within +-cap (fraction) of the policy's uniform price.
    pub cap: f64,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExplorationMode {
    Epsilon,
    Softmax,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Exploration {
    pub mode: ExplorationMode,
    /// Epsilon mode: share of decisions drawn uniformly from the allowed candidates.
    #[serde(default)]
    pub epsilon: f64,
    /// Softmax mode: temperature, in units of the list price's expected objective.
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    /// Share of sessions in the A/B control group: they get one non-personalized price.
    #[serde(default)]
    pub control_share: f64,
    /// What the control group is shown (default: the policy's uniform price).
    #[serde(default)]
    pub control: ControlPrice,
}

/// The price of the A/B control group. `uniform` (the default) measures what a shop asks of
/// personalization: does it beat the best single price it could set? `list` measures it
/// against the reference price, which also counts what the uniform price alone earns.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ControlPrice {
    /// The policy's uniform price: the best allowed price on the bundle's population curve.
    #[default]
    Uniform,
    /// The product's reference (list) price.
    List,
}

fn default_temperature() -> f64 {
    0.01
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub objective: Objective,
    /// Candidate prices as ratios of the reference (list) price.
    pub ladder: Vec<f64>,
    pub guardrails: Guardrails,
    #[serde(default)]
    pub inventory: Inventory,
    #[serde(default)]
    pub promotions: Vec<Promotion>,
    #[serde(default)]
    pub rounding: Rounding,
    pub personalization: Personalization,
    pub exploration: Exploration,
    /// Disclosure texts and personalization by jurisdiction (`disclosure`); absent, the
    /// built-in table. A bundle with this section needs an engine that knows it.
    #[serde(default)]
    pub disclosure: Disclosure,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RulesError {
    #[error("rules are not valid TOML of the expected shape: {0}")]
    Malformed(String),
    #[error("rule {0} is out of range: {1}")]
    OutOfRange(&'static str, String),
    #[error("promotion {0:?}: {1}")]
    BadPromotion(String, String),
    #[error("{0}")]
    BadDisclosure(String),
}

impl RulesError {
    pub fn code(&self) -> &'static str {
        match self {
            RulesError::Malformed(_) => "rules_malformed",
            RulesError::OutOfRange(..) => "rules_out_of_range",
            RulesError::BadPromotion(..) => "rules_bad_promotion",
            RulesError::BadDisclosure(..) => "rules_bad_disclosure",
        }
    }
}

fn check(name: &'static str, ok: bool, value: impl std::fmt::Debug) -> Result<(), RulesError> {
    if ok { Ok(()) } else { Err(RulesError::OutOfRange(name, format!("{value:?}"))) }
}

fn unit(x: f64) -> bool {
    x.is_finite() && (0.0..=1.0).contains(&x)
}

/// Seconds since the Unix epoch of an RFC 3339 UTC timestamp (`2026-11-27T00:00:00Z`).
pub fn parse_time(text: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339(text).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

/// RFC 3339 UTC text of seconds since the Unix epoch (times before it print as the epoch).
pub fn format_time(t: i64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64))
        .to_string()
}

impl Rules {
    #[cfg(feature = "text-rules")]
    pub fn from_toml(text: &str) -> Result<Self, RulesError> {
        let mut rules: Rules = toml::from_str(text).map_err(|e| RulesError::Malformed(e.to_string()))?;
        rules.validate()?;
        Ok(rules)
    }

    /// The checks `from_toml` makes, for rules from any source (a format-2 bundle's compiled
    /// rules too); also computes each promotion's window.
    pub(crate) fn validate(&mut self) -> Result<(), RulesError> {
        check("ladder", !self.ladder.is_empty() && self.ladder.len() <= 64, self.ladder.len())?;
        check("ladder", self.ladder.iter().all(|r| r.is_finite() && *r > 0.0 && *r <= 2.0), &self.ladder)?;
        let g = &self.guardrails;
        check("guardrails.min_margin", g.min_margin.is_finite() && (0.0..=10.0).contains(&g.min_margin), g.min_margin)?;
        check(
            "guardrails.max_discount",
            g.max_discount.is_finite() && (0.0..0.95).contains(&g.max_discount),
            g.max_discount,
        )?;
        let below = self.ladder.iter().any(|&r| r <= 1.0 && 1.0 - r <= g.max_discount + 1e-9);
        check("ladder", below || g.allow_above_reference, "no rung within max_discount of the reference price")?;
        check(
            "inventory.overstock_extra_discount",
            unit(self.inventory.overstock_extra_discount),
            self.inventory.overstock_extra_discount,
        )?;
        if let (Some(low), Some(over)) = (self.inventory.low_stock, self.inventory.overstock) {
            check("inventory", low < over, (low, over))?;
        }
        if let Some(e) = self.rounding.ending {
            check("rounding.ending", (0..100_000).contains(&e), e)?;
        }
        check("personalization.cap", unit(self.personalization.cap), self.personalization.cap)?;
        let x = &self.exploration;
        check("exploration.epsilon", unit(x.epsilon), x.epsilon)?;
        check("exploration.control_share", unit(x.control_share) && x.control_share < 1.0, x.control_share)?;
        check("exploration.temperature", x.temperature.is_finite() && x.temperature > 0.0, x.temperature)?;
        for p in &mut self.promotions {
            let bad = |why: &str| RulesError::BadPromotion(p.name.clone(), why.into());
            let start = parse_time(&p.start).ok_or_else(|| bad("start is not an RFC 3339 time"))?;
            let end = parse_time(&p.end).ok_or_else(|| bad("end is not an RFC 3339 time"))?;
            if start >= end {
                return Err(bad("start is not before end"));
            }
            if !unit(p.extra_discount) {
                return Err(bad("extra_discount is not in [0, 1]"));
            }
            p.window = (start, end);
        }
        self.disclosure.check().map_err(RulesError::BadDisclosure)
    }

    /// Promotions active at `now` for a product of this category and these tags.
    pub fn active_promotions<'a>(
        &'a self,
        now: i64,
        category: &'a str,
        tags: &'a [String],
    ) -> impl Iterator<Item = &'a Promotion> + 'a {
        self.promotions.iter().filter(move |p| {
            let in_window = p.window.0 <= now && now < p.window.1;
            let everyone = p.categories.is_empty() && p.tags.is_empty();
            let matches = p.categories.iter().any(|c| c == category) || p.tags.iter().any(|t| tags.contains(t));
            in_window && (everyone || matches)
        })
    }
}

#[cfg(all(test, feature = "text-rules"))]
mod tests {
    use super::*;

    pub const EXAMPLE: &str = r#"
objective = "profit"
ladder = [1.0, 0.95, 0.9, 0.85, 0.8]
[guardrails]
min_margin = 0.1
max_discount = 0.2
[personalization]
cap = 0.1
[exploration]
mode = "epsilon"
epsilon = 0.1
control_share = 0.1
[[promotions]]
name = "black-friday"
start = "2026-11-27T00:00:00Z"
end = "2026-12-01T00:00:00Z"
extra_discount = 0.1
"#;

    #[test]
    fn example_parses_and_promotion_window_applies() {
        let rules = Rules::from_toml(EXAMPLE).unwrap();
        let bf = parse_time("2026-11-28T12:00:00Z").unwrap();
        assert_eq!(rules.active_promotions(bf, "shoes", &[]).count(), 1);
        assert_eq!(rules.active_promotions(bf + 10 * 86_400, "shoes", &[]).count(), 0);
    }

    #[test]
    fn contradictions_are_refused() {
        let bad = |from: &str, to: &str| Rules::from_toml(&EXAMPLE.replace(from, to)).unwrap_err().code();
        assert_eq!(bad("ladder = [1.0, 0.95, 0.9, 0.85, 0.8]", "ladder = []"), "rules_out_of_range");
        assert_eq!(bad("ladder = [1.0, 0.95, 0.9, 0.85, 0.8]", "ladder = [0.5]"), "rules_out_of_range");
        assert_eq!(bad("max_discount = 0.2", "max_discount = 1.5"), "rules_out_of_range");
        assert_eq!(bad("epsilon = 0.1", "epsilon = -0.1"), "rules_out_of_range");
        assert_eq!(bad("end = \"2026-12-01T00:00:00Z\"", "end = \"2026-11-01T00:00:00Z\""), "rules_bad_promotion");
        assert_eq!(bad("objective = \"profit\"", "objective = \"vibes\""), "rules_malformed");
        assert_eq!(bad("[guardrails]", "[guardrails]\nsurprise = 1"), "rules_malformed");
    }
}
