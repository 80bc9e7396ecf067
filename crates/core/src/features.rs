//! The feature schema: how a session's aggregates become the model's input vector.
//! It travels with the model (schema.json, and later inside the bundle), and the same code
//! computes features at training and at scoring time, so the two cannot drift apart.
//! Invariant: `FEATURE_TRANSFORM_VERSION` changes whenever a transform's arithmetic does.

use serde::{Deserialize, Serialize};

use crate::session::{Categorical, Numeric, Session};

/// Version of the transforms below. A schema of another version is refused.
pub const FEATURE_TRANSFORM_VERSION: u32 = 1;

/// Categories seen fewer times than this in training share the "other" slot.
pub const MIN_CATEGORY_COUNT: usize = 20;

/// One entry of the schema; most produce one model input, `OneHot` one per vocabulary
/// value plus one "other" slot (unseen or rare values).
///
/// Cleaning rule for numeric columns, the same everywhere: a value that is NaN, infinite
/// or negative counts as 0 (nothing seen), and one above `max` (the training maximum)
/// counts as `max`, so absurd inputs never extrapolate the model.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Input {
    /// `(ln(1 + clean(x)) - mean) / std`: counts, durations, page values.
    Log1p { column: Numeric, max: f64, mean: f64, std: f64 },
    /// `(clean(x) - mean) / std`: rates and the special-day closeness.
    Linear { column: Numeric, max: f64, mean: f64, std: f64 },
    /// `1` if `clean(x) > 0`, else `0`.
    Positive { column: Numeric },
    /// `1` on weekends.
    Weekend,
    /// One slot per vocabulary value, then one "other" slot.
    OneHot { column: Categorical, vocabulary: Vec<String> },
}

impl Input {
    pub fn width(&self) -> usize {
        match self {
            Input::OneHot { vocabulary, .. } => vocabulary.len() + 1,
            _ => 1,
        }
    }

    /// Names of the model inputs this entry produces, e.g. `log1p(PageValues)`, `Month=Nov`.
    pub fn names(&self) -> Vec<String> {
        match self {
            Input::Log1p { column, .. } => vec![format!("log1p({})", column.name())],
            Input::Linear { column, .. } => vec![column.name().to_string()],
            Input::Positive { column } => vec![format!("{}>0", column.name())],
            Input::Weekend => vec!["Weekend".into()],
            Input::OneHot { column, vocabulary } => vocabulary
                .iter()
                .map(|v| format!("{}={v}", column.name()))
                .chain(std::iter::once(format!("{}=other", column.name())))
                .collect(),
        }
    }
}

/// Applies the cleaning rule documented on [`Input`].
pub fn clean(value: f64, max: f64) -> f64 {
    if !value.is_finite() || value < 0.0 { 0.0 } else { value.min(max) }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchemaError {
    #[error("feature schema is not valid JSON for this version: {0}")]
    Malformed(String),
    #[error("feature transform version {found} is not supported (this build has {supported})")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("feature schema has a non-finite or non-positive constant in {0}")]
    BadConstant(String),
    #[error("cannot fit a feature schema on zero sessions")]
    NoData,
}

impl SchemaError {
    pub fn code(&self) -> &'static str {
        match self {
            SchemaError::Malformed(_) => "schema_malformed",
            SchemaError::UnsupportedVersion { .. } => "schema_version",
            SchemaError::BadConstant(_) => "schema_bad_constant",
            SchemaError::NoData => "schema_no_data",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FeatureSchema {
    pub transform_version: u32,
    pub inputs: Vec<Input>,
}

/// The numeric columns the model reads, and how. OperatingSystems, Browser and Region are
/// deliberately left out: they say little about buying (cross-validation on the train file
/// showed a lower AUC with them) and Region is a proxy for where a shopper lives, which a
/// price should not depend on.
const LOG1P: [Numeric; 7] = {
    use Numeric::*;
    [
        Administrative,
        AdministrativeDuration,
        Informational,
        InformationalDuration,
        ProductRelated,
        ProductRelatedDuration,
        PageValues,
    ]
};
const LINEAR: [Numeric; 3] = [Numeric::BounceRates, Numeric::ExitRates, Numeric::SpecialDay];
const ONE_HOT: [Categorical; 3] = [Categorical::Month, Categorical::VisitorType, Categorical::TrafficType];

fn mean_std(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = values.clone().count().max(1) as f64;
    let mean = values.clone().sum::<f64>() / n;
    let var = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let std = var.sqrt();
    (mean, if std > 1e-9 { std } else { 1.0 })
}

impl FeatureSchema {
    /// Fits the constants (maxima, means, deviations, vocabularies) on training sessions.
    pub fn fit(sessions: &[&Session]) -> Result<Self, SchemaError> {
        if sessions.is_empty() {
            return Err(SchemaError::NoData);
        }
        let mut inputs = Vec::new();
        let max_of = |column: Numeric| sessions.iter().map(|s| clean(s.get(column), f64::MAX)).fold(0.0, f64::max);
        for column in LOG1P {
            let max = max_of(column);
            let (mean, std) = mean_std(sessions.iter().map(|s| clean(s.get(column), max).ln_1p()));
            inputs.push(Input::Log1p { column, max, mean, std });
        }
        inputs.push(Input::Positive { column: Numeric::PageValues });
        for column in LINEAR {
            let max = max_of(column);
            let (mean, std) = mean_std(sessions.iter().map(|s| clean(s.get(column), max)));
            inputs.push(Input::Linear { column, max, mean, std });
        }
        inputs.push(Input::Weekend);
        for column in ONE_HOT {
            let mut counts: Vec<(String, usize)> = Vec::new();
            for s in sessions {
                let value = s.category(column);
                match counts.iter_mut().find(|(v, _)| v == value) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((value.to_string(), 1)),
                }
            }
            let mut vocabulary: Vec<String> =
                counts.into_iter().filter(|(_, c)| *c >= MIN_CATEGORY_COUNT).map(|(v, _)| v).collect();
            vocabulary.sort();
            inputs.push(Input::OneHot { column, vocabulary });
        }
        Ok(Self { transform_version: FEATURE_TRANSFORM_VERSION, inputs })
    }

    pub fn from_json(text: &[u8]) -> Result<Self, SchemaError> {
        let schema: Self = serde_json::from_slice(text).map_err(|e| SchemaError::Malformed(e.to_string()))?;
        if schema.transform_version != FEATURE_TRANSFORM_VERSION {
            return Err(SchemaError::UnsupportedVersion {
                found: schema.transform_version,
                supported: FEATURE_TRANSFORM_VERSION,
            });
        }
        for input in &schema.inputs {
            if let Input::Log1p { max, mean, std, .. } | Input::Linear { max, mean, std, .. } = input
                && !(max.is_finite() && *max >= 0.0 && mean.is_finite() && std.is_finite() && *std > 0.0)
            {
                return Err(SchemaError::BadConstant(input.names().join(",")));
            }
        }
        Ok(schema)
    }

    pub fn to_json(&self) -> String {
        // Serializing plain data with finite floats cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Number of model inputs.
    pub fn width(&self) -> usize {
        self.inputs.iter().map(Input::width).sum()
    }

    pub fn names(&self) -> Vec<String> {
        self.inputs.iter().flat_map(Input::names).collect()
    }

    /// Appends the session's `width()` model inputs to `out`. Never fails: every value,
    /// however bad, has a defined feature.
    pub fn transform_into(&self, session: &Session, out: &mut Vec<f32>) {
        for input in &self.inputs {
            match input {
                Input::Log1p { column, max, mean, std } => {
                    out.push(((clean(session.get(*column), *max).ln_1p() - mean) / std) as f32)
                }
                Input::Linear { column, max, mean, std } => {
                    out.push(((clean(session.get(*column), *max) - mean) / std) as f32)
                }
                Input::Positive { column } => {
                    out.push(if clean(session.get(*column), f64::MAX) > 0.0 { 1.0 } else { 0.0 })
                }
                Input::Weekend => out.push(if session.weekend { 1.0 } else { 0.0 }),
                Input::OneHot { column, vocabulary } => {
                    let value = session.category(*column);
                    let hit = vocabulary.iter().position(|v| v == value);
                    for i in 0..vocabulary.len() {
                        out.push(if hit == Some(i) { 1.0 } else { 0.0 });
                    }
                    out.push(if hit.is_none() { 1.0 } else { 0.0 });
                }
            }
        }
    }

    pub fn transform(&self, session: &Session) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.width());
        self.transform_into(session, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(pages: f64, month: &str) -> Session {
        let mut s = Session {
            month: month.into(),
            visitor_type: "Returning_Visitor".into(),
            traffic_type: "2".into(),
            ..Default::default()
        };
        s.set(Numeric::ProductRelated, pages);
        s.set(Numeric::ExitRates, 0.05);
        s
    }

    fn fitted() -> FeatureSchema {
        let sessions: Vec<Session> =
            (0..40).map(|i| session(i as f64, if i % 2 == 0 { "Nov" } else { "May" })).collect();
        FeatureSchema::fit(&sessions.iter().collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn width_matches_names_and_output() {
        let schema = fitted();
        let x = schema.transform(&session(3.0, "Nov"));
        assert_eq!(x.len(), schema.width());
        assert_eq!(schema.names().len(), schema.width());
        assert!(schema.names().contains(&"Month=Nov".to_string()));
        assert!(schema.names().contains(&"Month=other".to_string()));
    }

    #[test]
    fn bad_values_are_cleaned_not_propagated() {
        let schema = fitted();
        let zero = schema.transform(&session(0.0, "Nov"));
        for bad in [f64::NAN, f64::NEG_INFINITY, -5.0] {
            assert_eq!(schema.transform(&session(bad, "Nov")), zero, "{bad}");
        }
        let top = schema.transform(&session(39.0, "Nov"));
        assert_eq!(schema.transform(&session(1e300, "Nov")), top);
        assert_eq!(schema.transform(&session(f64::INFINITY, "Nov")), zero);
        assert!(schema.transform(&session(1e300, "Nov")).iter().all(|v| v.is_finite()));
    }

    #[test]
    fn unseen_category_goes_to_other() {
        let schema = fitted();
        let names = schema.names();
        let x = schema.transform(&session(1.0, "Smarch"));
        let other = names.iter().position(|n| n == "Month=other").unwrap();
        let nov = names.iter().position(|n| n == "Month=Nov").unwrap();
        assert_eq!((x[other], x[nov]), (1.0, 0.0));
    }

    #[test]
    fn json_round_trip_and_version_check() {
        let schema = fitted();
        let back = FeatureSchema::from_json(schema.to_json().as_bytes()).unwrap();
        assert_eq!(back, schema);
        let newer = schema.to_json().replace("\"transform_version\": 1", "\"transform_version\": 2");
        assert_eq!(FeatureSchema::from_json(newer.as_bytes()).unwrap_err().code(), "schema_version");
        assert_eq!(FeatureSchema::from_json(b"{").unwrap_err().code(), "schema_malformed");
        let zero_std = schema.to_json().replacen("\"std\": ", "\"std\": -", 1);
        assert_eq!(FeatureSchema::from_json(zero_std.as_bytes()).unwrap_err().code(), "schema_bad_constant");
    }
}
