//! The signed policy bundle: one binary file carrying the manifest (policy version, key id,
//! validity window, feature schema, rules, page value table, population demand curve,
//! model metrics) and the int8 ONNX model, signed with Ed25519 over all of it.
//!
//! Layout (integers little-endian):
//! `"EPB1"` | format version u16 | key id length u8 | key id | manifest length u32 |
//! manifest JSON | model length u32 | model bytes | Ed25519 signature (64 bytes).
//! Invariant: nothing but the framing is read before the signature is checked.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::features::FeatureSchema;
use crate::model::BehaviourModel;
use crate::plan::Plan;
use crate::pricing::rules::{Rules, parse_time};
use base64::Engine as _;

pub const MAGIC: &[u8; 4] = b"EPB1";
pub const FORMAT_VERSION: u16 = 1;
/// Largest bundle accepted (the shipped one is about 20 KB).
pub const MAX_BUNDLE: usize = 8 << 20;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BundleError {
    #[error("bundle is truncated")]
    Truncated,
    #[error("bundle is malformed: {0}")]
    Malformed(String),
    #[error("bundle format version {0} is not supported")]
    FormatVersion(u16),
    #[error("bundle is signed with unknown key {0:?}")]
    UnknownKey(String),
    #[error("bundle signature does not verify")]
    BadSignature,
    #[error("bundle expired at {0}")]
    Expired(String),
    #[error("bundle is not valid before {0}")]
    NotYetValid(String),
    #[error("bundle policy version {found} is not newer than the live version {live}")]
    Downgrade { found: u64, live: u64 },
    #[error("bundle model does not match its feature schema: {0}")]
    ModelMismatch(String),
    #[error("bundle rules are invalid: {0}")]
    BadRules(String),
}

impl BundleError {
    pub fn code(&self) -> &'static str {
        match self {
            BundleError::Truncated => "bundle_truncated",
            BundleError::Malformed(_) => "bundle_malformed",
            BundleError::FormatVersion(_) => "bundle_format_version",
            BundleError::UnknownKey(_) => "bundle_unknown_key",
            BundleError::BadSignature => "bundle_bad_signature",
            BundleError::Expired(_) => "bundle_expired",
            BundleError::NotYetValid(_) => "bundle_not_yet_valid",
            BundleError::Downgrade { .. } => "bundle_downgrade",
            BundleError::ModelMismatch(_) => "bundle_model_mismatch",
            BundleError::BadRules(_) => "bundle_bad_rules",
        }
    }
}

/// Mean purchase probability of the training population at each price ratio: the demand
/// curve that sets the policy's uniform price.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PopulationCurve {
    pub ratios: Vec<f64>,
    pub purchase_probability: Vec<f64>,
}

impl PopulationCurve {
    /// Sorts the points by ratio and drops unpaired or non-finite ones; `verify` does this
    /// once, so that `at` (on the pricing path) need not.
    pub fn normalize(&mut self) {
        let mut pts: Vec<(f64, f64)> = self
            .ratios
            .iter()
            .copied()
            .zip(self.purchase_probability.iter().copied())
            .filter(|(r, p)| r.is_finite() && p.is_finite())
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        (self.ratios, self.purchase_probability) = pts.into_iter().unzip();
    }

    /// Linear interpolation, clamped at the ends. Expects a normalized curve.
    pub fn at(&self, r: f64) -> f64 {
        let (xs, ys) = (&self.ratios, &self.purchase_probability);
        let n = xs.len().min(ys.len());
        if n == 0 {
            return 0.0;
        }
        if r <= xs[0] {
            return ys[0];
        }
        for i in 1..n {
            if r <= xs[i] {
                let (x0, x1) = (xs[i - 1], xs[i]);
                return if x1 > x0 { ys[i - 1] + (ys[i] - ys[i - 1]) * (r - x0) / (x1 - x0) } else { ys[i] };
            }
        }
        ys[n - 1]
    }
}

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

/// A bundle that passed every check, ready to price with.
#[derive(Clone, Debug)]
pub struct VerifiedBundle {
    pub manifest: Manifest,
    pub rules: Rules,
    pub model: BehaviourModel,
    pub expires_at: i64,
}

/// Public keys trusted to sign bundles, by key id.
#[derive(Clone, Debug, Default)]
pub struct TrustedKeys {
    keys: Vec<(String, VerifyingKey)>,
}

/// A public key file: `{"key_id": "...", "public_key": "<64 hex>"}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PublicKeyFile {
    pub key_id: String,
    pub public_key: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.trim();
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl TrustedKeys {
    pub fn add(&mut self, key_id: &str, public_key: &[u8; 32]) -> Result<(), BundleError> {
        let key =
            VerifyingKey::from_bytes(public_key).map_err(|_| BundleError::Malformed("invalid public key".into()))?;
        self.keys.push((key_id.to_string(), key));
        Ok(())
    }

    /// Adds a key from its JSON key file.
    pub fn add_json(&mut self, json: &[u8]) -> Result<(), BundleError> {
        let file: PublicKeyFile = serde_json::from_slice(json).map_err(|e| BundleError::Malformed(e.to_string()))?;
        let bytes = unhex::<32>(&file.public_key)
            .ok_or_else(|| BundleError::Malformed("public key is not 64 hex digits".into()))?;
        self.add(&file.key_id, &bytes)
    }

    fn get(&self, key_id: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|(id, _)| id == key_id).map(|(_, k)| k)
    }
}

/// A signing key: 32 secret bytes and the id it signs as.
pub struct BundleSigner {
    pub key_id: String,
    key: SigningKey,
}

impl BundleSigner {
    pub fn from_secret(key_id: &str, secret: &[u8; 32]) -> Self {
        Self { key_id: key_id.to_string(), key: SigningKey::from_bytes(secret) }
    }

    /// Reads `{"key_id": "...", "secret_key": "<64 hex>"}`.
    pub fn from_json(json: &[u8]) -> Result<Self, BundleError> {
        #[derive(Deserialize)]
        struct SecretFile {
            key_id: String,
            secret_key: String,
        }
        let file: SecretFile = serde_json::from_slice(json).map_err(|e| BundleError::Malformed(e.to_string()))?;
        let secret = unhex::<32>(&file.secret_key)
            .ok_or_else(|| BundleError::Malformed("secret key is not 64 hex digits".into()))?;
        Ok(Self::from_secret(&file.key_id, &secret))
    }

    pub fn secret_json(&self) -> String {
        format!("{{\"key_id\": \"{}\", \"secret_key\": \"{}\"}}\n", self.key_id, hex(&self.key.to_bytes()))
    }

    /// The public half, as `TrustedKeys::add` takes it.
    pub fn public_bytes(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    pub fn public_file(&self) -> PublicKeyFile {
        PublicKeyFile { key_id: self.key_id.clone(), public_key: hex(self.key.verifying_key().as_bytes()) }
    }

    /// Writes and signs a bundle. The manifest's key id is set to the signer's.
    pub fn sign(&self, manifest: &Manifest, model: &[u8]) -> Result<Vec<u8>, BundleError> {
        // The fast path's plan, lowered now and kept only if the model agrees with
        // tract-onnx on the load-time test vectors (`BehaviourModel::load`). A build without
        // tract-onnx signs the plan it is given.
        #[cfg(feature = "tract")]
        let manifest = &Manifest {
            plan: BehaviourModel::load(model, manifest.schema.width())
                .ok()
                .and_then(|m| m.fast_plan().map(|p| base64::engine::general_purpose::STANDARD.encode(p.to_bytes()))),
            ..manifest.clone()
        };
        self.sign_exact(manifest, model)
    }

    /// Signs the manifest exactly as given (no plan lowered or replaced): for tests and for
    /// tools that bring their own plan.
    pub fn sign_exact(&self, manifest: &Manifest, model: &[u8]) -> Result<Vec<u8>, BundleError> {
        let mut manifest = manifest.clone();
        manifest.key_id = self.key_id.clone();
        let json = serde_json::to_vec(&manifest).map_err(|e| BundleError::Malformed(e.to_string()))?;
        self.sign_manifest_bytes(&json, model)
    }

    /// Frames and signs manifest bytes exactly as given, valid JSON or not: how tests and
    /// the fuzz targets reach the checks behind the signature.
    pub fn sign_manifest_bytes(&self, json: &[u8], model: &[u8]) -> Result<Vec<u8>, BundleError> {
        let key_id = self.key_id.as_bytes();
        let key_len = u8::try_from(key_id.len()).map_err(|_| BundleError::Malformed("key id too long".into()))?;
        let mut out = Vec::with_capacity(json.len() + model.len() + 128);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(key_len);
        out.extend_from_slice(key_id);
        for part in [json, model] {
            let len = u32::try_from(part.len()).map_err(|_| BundleError::Malformed("part too large".into()))?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(part);
        }
        let signature = self.key.sign(&out);
        out.extend_from_slice(&signature.to_bytes());
        Ok(out)
    }
}

/// Reads `n` bytes at `*at`, advancing it.
fn take<'a>(bytes: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], BundleError> {
    let end = at.checked_add(n).ok_or(BundleError::Truncated)?;
    let part = bytes.get(*at..end).ok_or(BundleError::Truncated)?;
    *at = end;
    Ok(part)
}

fn take_u32(bytes: &[u8], at: &mut usize) -> Result<usize, BundleError> {
    let b = take(bytes, at, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// Framing of a bundle, before any trust: key id, manifest bytes, model bytes, signature.
struct Frame<'a> {
    key_id: &'a str,
    signed: &'a [u8],
    manifest: &'a [u8],
    model: &'a [u8],
    signature: &'a [u8],
}

fn frame(bytes: &[u8]) -> Result<Frame<'_>, BundleError> {
    if bytes.len() > MAX_BUNDLE {
        return Err(BundleError::Malformed(format!("larger than {MAX_BUNDLE} bytes")));
    }
    let mut at = 0;
    if take(bytes, &mut at, 4)? != MAGIC {
        return Err(BundleError::Malformed("not an edgeprice bundle (bad magic)".into()));
    }
    let v = take(bytes, &mut at, 2)?;
    let version = u16::from_le_bytes([v[0], v[1]]);
    if version != FORMAT_VERSION {
        return Err(BundleError::FormatVersion(version));
    }
    let key_len = take(bytes, &mut at, 1)?[0] as usize;
    let key_id = std::str::from_utf8(take(bytes, &mut at, key_len)?)
        .map_err(|_| BundleError::Malformed("key id is not UTF-8".into()))?;
    let manifest_len = take_u32(bytes, &mut at)?;
    let manifest = take(bytes, &mut at, manifest_len)?;
    let model_len = take_u32(bytes, &mut at)?;
    let model = take(bytes, &mut at, model_len)?;
    let signed_len = at;
    let signature = take(bytes, &mut at, 64)?;
    if at != bytes.len() {
        return Err(BundleError::Malformed(format!("{} trailing bytes", bytes.len() - at)));
    }
    Ok(Frame { key_id, signed: &bytes[..signed_len], manifest, model, signature })
}

/// Verifies a bundle: framing, key, signature, then manifest, validity window at `now`
/// (Unix seconds), version against the live one, rules, and the model against the schema.
pub fn verify(
    bytes: &[u8],
    keys: &TrustedKeys,
    now: i64,
    live_version: Option<u64>,
) -> Result<VerifiedBundle, BundleError> {
    let f = frame(bytes)?;
    let key = keys.get(f.key_id).ok_or_else(|| BundleError::UnknownKey(f.key_id.chars().take(64).collect()))?;
    let sig_bytes: [u8; 64] = f.signature.try_into().map_err(|_| BundleError::Truncated)?;
    key.verify(f.signed, &Signature::from_bytes(&sig_bytes)).map_err(|_| BundleError::BadSignature)?;
    let mut manifest: Manifest =
        serde_json::from_slice(f.manifest).map_err(|e| BundleError::Malformed(e.to_string()))?;
    manifest.population_curve.normalize();
    if manifest.key_id != f.key_id {
        return Err(BundleError::Malformed("manifest key id differs from the frame's".into()));
    }
    let created =
        parse_time(&manifest.created).ok_or_else(|| BundleError::Malformed("created is not RFC 3339".into()))?;
    let expires =
        parse_time(&manifest.expires).ok_or_else(|| BundleError::Malformed("expires is not RFC 3339".into()))?;
    if now >= expires {
        return Err(BundleError::Expired(manifest.expires.clone()));
    }
    if now < created - 300 {
        return Err(BundleError::NotYetValid(manifest.created.clone()));
    }
    if let Some(live) = live_version
        && manifest.policy_version <= live
    {
        return Err(BundleError::Downgrade { found: manifest.policy_version, live });
    }
    let rules = Rules::from_toml(&manifest.rules_toml).map_err(|e| BundleError::BadRules(e.to_string()))?;
    let carried = manifest
        .plan
        .as_ref()
        .map(|text| base64::engine::general_purpose::STANDARD.decode(text).ok().and_then(|b| Plan::from_bytes(&b)));
    // A signed plan is the model (tract-onnx checked it against the ONNX when the bundle was
    // signed); a tract build still makes sure it is these ONNX bytes' lowering, and loads
    // them into tract-onnx only if a reference run is asked for. Without a plan tract runs it.
    #[cfg(feature = "tract")]
    let model = match carried {
        Some(Some(plan)) if Plan::lower(f.model).as_ref() == Some(&plan) => {
            BehaviourModel::from_plan_with_onnx(plan, f.model, manifest.schema.width())
                .map_err(|e| BundleError::ModelMismatch(e.to_string()))?
        }
        Some(_) => {
            return Err(BundleError::ModelMismatch("the bundle's fast-path plan does not match its model".into()));
        }
        None => BehaviourModel::load(f.model, manifest.schema.width())
            .map_err(|e| BundleError::ModelMismatch(e.to_string()))?,
    };
    // Without tract-onnx the signed plan is the model.
    #[cfg(not(feature = "tract"))]
    let model = match carried {
        Some(Some(plan)) => BehaviourModel::from_plan(plan, manifest.schema.width())
            .map_err(|e| BundleError::ModelMismatch(e.to_string()))?,
        Some(None) => return Err(BundleError::ModelMismatch("the bundle's fast-path plan is malformed".into())),
        None => {
            return Err(BundleError::ModelMismatch(
                "this build runs only bundles that carry a fast-path plan (no tract-onnx)".into(),
            ));
        }
    };
    Ok(VerifiedBundle { manifest, rules, model, expires_at: expires })
}

/// The manifest and sizes of a bundle whose signature is NOT checked (for `inspect`).
pub fn inspect_unverified(bytes: &[u8]) -> Result<(Manifest, usize), BundleError> {
    let f = frame(bytes)?;
    let manifest: Manifest = serde_json::from_slice(f.manifest).map_err(|e| BundleError::Malformed(e.to_string()))?;
    Ok((manifest, f.model.len()))
}

/// The bundle built from `models/`, compiled in so the first request needs no network.
pub const DEFAULT_BUNDLE: &[u8] = include_bytes!("../models/default.epb");
/// The public half of the key that signed it.
pub const DEFAULT_PUBLIC_KEY: &str = include_str!("../models/default.pub.json");

/// Trusted keys holding only the default bundle's key.
pub fn default_keys() -> Result<TrustedKeys, BundleError> {
    let mut keys = TrustedKeys::default();
    keys.add_json(DEFAULT_PUBLIC_KEY.as_bytes())?;
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_curve_interpolates_after_normalizing() {
        let mut c =
            PopulationCurve { ratios: vec![1.0, 0.8, f64::NAN, 0.9], purchase_probability: vec![0.1, 0.3, 0.5, 0.2] };
        c.normalize();
        assert_eq!(c.ratios, [0.8, 0.9, 1.0]);
        assert_eq!(c.at(0.5), 0.3);
        assert!((c.at(0.85) - 0.25).abs() < 1e-12);
        assert_eq!(c.at(1.2), 0.1);
        assert_eq!(PopulationCurve { ratios: vec![], purchase_probability: vec![] }.at(0.9), 0.0);
    }

    #[test]
    fn the_plan_decides_what_a_build_without_tract_can_run() {
        use base64::engine::general_purpose::STANDARD;
        let (manifest, _) = inspect_unverified(DEFAULT_BUNDLE).unwrap();
        let text = manifest.plan.clone().expect("the default bundle carries its plan");
        let model = frame(DEFAULT_BUNDLE).unwrap().model;
        let signer = BundleSigner::from_secret("plan-test", &[9; 32]);
        let mut keys = TrustedKeys::default();
        keys.add_json(serde_json::to_string(&signer.public_file()).unwrap().as_bytes()).unwrap();
        let now = parse_time("2026-06-01T00:00:00Z").unwrap();
        let with_plan = |plan: Option<String>| {
            let mut m = manifest.clone();
            m.plan = plan;
            signer.sign_exact(&m, model).unwrap()
        };
        let mut other = Plan::from_bytes(&STANDARD.decode(&text).unwrap()).unwrap();
        other.hidden[0].q.iter_mut().for_each(|q| *q = 0);
        let code = |b: &[u8]| verify(b, &keys, now, None).err().map(|e| e.code());
        let (no_plan, wrong_plan) = (with_plan(None), with_plan(Some(STANDARD.encode(other.to_bytes()))));
        #[cfg(feature = "tract")]
        {
            assert_eq!(code(&no_plan), None, "tract-onnx runs a model without a plan");
            assert_eq!(code(&wrong_plan), Some("bundle_model_mismatch"), "a plan must be the model's lowering");
        }
        #[cfg(not(feature = "tract"))]
        {
            assert_eq!(code(&no_plan), Some("bundle_model_mismatch"), "without tract-onnx a plan is required");
            assert_eq!(code(&wrong_plan), None, "without tract-onnx the signed plan is the model");
        }
        assert_eq!(code(&with_plan(Some("not base64!".into()))), Some("bundle_model_mismatch"));
        assert_eq!(code(&with_plan(Some(text))), None);
        let live = verify(DEFAULT_BUNDLE, &default_keys().unwrap(), now, None).unwrap();
        assert_eq!(live.model.runtime(), "int8_fast_path");
        // tract-onnx is loaded only when asked for, and then agrees with the signed plan.
        #[cfg(feature = "tract")]
        {
            live.model.check_reference().unwrap();
            let x = vec![0.3f32; live.model.width()];
            let (fast, reference) = (live.model.heads(&x).unwrap(), live.model.reference_heads(&x).unwrap());
            assert!((fast.a - reference.a).abs() < 1e-4 && (fast.b - reference.b).abs() < 1e-4);
        }
    }
}
