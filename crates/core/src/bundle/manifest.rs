//! What a bundle says besides its model: policy version, key id, validity window, feature
//! schema, rules, page values, population curve, metrics and the fast-path plan. Its JSON is
//! what the signature covers, so field order and map order are fixed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::metrics::Metrics;
use crate::features::FeatureSchema;
use crate::pricing::curve::PopulationCurve;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub policy_version: u64,
    pub key_id: String,
    /// RFC 3339 UTC.
    pub created: String,
    pub expires: String,
    pub schema: FeatureSchema,
    pub rules_toml: String,
    #[serde(default)]
    /// Ordered, so that the same manifest always serializes (and signs) to the same bytes.
    pub page_values: BTreeMap<String, f64>,
    pub population_curve: PopulationCurve,
    /// Model metrics from training (free-form JSON, shown by `inspect`; `Metrics::value`).
    #[serde(default)]
    pub metrics: Metrics,
    /// The int8 fast path's plan of the model (`plan::Plan::to_bytes`; base64 in format 1's
    /// JSON), written by `sign` when the model lowers and agrees with tract-onnx; a build
    /// without tract-onnx runs the model from it. Absent in bundles signed before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "base64_text")]
    pub plan: Option<Vec<u8>>,
}

/// Format 1 carries the plan as a base64 string; a string that is not base64 is kept as
/// no bytes at all, which no plan is, so `verify` refuses it as a malformed plan.
mod base64_text {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(plan: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match plan {
            Some(bytes) => s.serialize_str(&STANDARD.encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        Ok(text.map(|t| STANDARD.decode(t).unwrap_or_default()))
    }
}
