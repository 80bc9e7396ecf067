//! What a bundle says besides its model: policy version, key id, validity window, feature
//! schema, rules, page values, population curve, metrics and the fast-path plan. Its JSON is
//! what the signature covers, so field order and map order are fixed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    /// Model metrics from training (free-form JSON, shown by `inspect`).
    #[serde(default)]
    pub metrics: serde_json::Value,
    /// The int8 fast path's plan of the model (`plan::Plan::to_bytes`, base64), written by
    /// `sign` when the model lowers and agrees with tract-onnx; a build without tract-onnx
    /// runs the model from it. Absent in bundles signed before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
}
