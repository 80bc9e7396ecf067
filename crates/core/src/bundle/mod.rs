//! The signed policy bundle: one binary file carrying the manifest (policy version, key id,
//! validity window, feature schema, rules, page value table, population demand curve,
//! model metrics) and the int8 ONNX model, signed with Ed25519 over all of it.
//!
//! Layout (integers little-endian):
//! `"EPB1"` | format version u16 | key id length u8 | key id | manifest length u32 |
//! manifest | model length u32 | model bytes | Ed25519 signature (64 bytes).
//! The manifest is JSON with the rules as TOML text in format 1, and binary with the rules
//! compiled in format 2 (`binary`), which is what `BundleSigner` writes since December
//! 2026: loading one parses neither JSON nor TOML. Both formats verify.
//! Invariant: nothing but the framing is read before the signature is checked.

mod binary;
mod digits;
mod draft;
mod keys;
mod manifest;
mod metrics;
mod signer;
mod wire;

use ed25519_dalek::{Signature, Verifier};

pub use draft::{Draft, reissue};
pub use keys::{PublicKeyFile, TrustedKeys};
pub use manifest::Manifest;
pub use metrics::Metrics;
pub use signer::BundleSigner;

use crate::model::BehaviourModel;
use crate::model::plan::Plan;
use crate::pricing::rules::{Rules, parse_time};

pub const MAGIC: &[u8; 4] = b"EPB1";
/// The format `BundleSigner` writes (binary manifest, compiled rules).
pub const FORMAT_VERSION: u16 = 2;
/// The first format (JSON manifest, rules as TOML text), still read.
pub const FORMAT_JSON: u16 = 1;
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

/// A bundle that passed every check, ready to price with. Only `verify` builds one (and
/// `built_in` and `verify_signed_elsewhere`, whose signatures were checked elsewhere) and
/// nothing changes it afterwards (private fields, read through the accessors), so holding
/// one means holding what a trusted key signed.
#[derive(Clone, Debug)]
pub struct VerifiedBundle {
    manifest: Manifest,
    rules: Rules,
    model: BehaviourModel,
    expires_at: i64,
}

impl VerifiedBundle {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The signed rules, parsed.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn model(&self) -> &BehaviourModel {
        &self.model
    }

    /// Unix seconds after which the bundle no longer prices.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
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
    version: u16,
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
    if version != FORMAT_VERSION && !(cfg!(feature = "text-rules") && version == FORMAT_JSON) {
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
    Ok(Frame { version, key_id, signed: &bytes[..signed_len], manifest, model, signature })
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
    let key = keys.get(f.key_id).ok_or_else(|| unknown_key(f.key_id))??;
    let sig_bytes: [u8; 64] = f.signature.try_into().map_err(|_| BundleError::Truncated)?;
    key.verify(f.signed, &Signature::from_bytes(&sig_bytes)).map_err(|_| BundleError::BadSignature)?;
    accept(&f, now, live_version)
}

/// The trusted public key that must have signed `bytes`, for a caller that checks the
/// signature with an Ed25519 of its platform (a worker's WebCrypto, native code) rather than
/// ours (curve arithmetic in wasm, compiled and run by V8's baseline tier on an isolate's
/// first request), and then calls `verify_signed_elsewhere`. The signature is the bundle's
/// last 64 bytes, over every byte before them (`frame`). `UnknownKey` or a framing error
/// when there is no such key; `verify` reports the same errors.
pub fn signing_key(bytes: &[u8], keys: &TrustedKeys) -> Result<[u8; 32], BundleError> {
    frame_key(&frame(bytes)?, keys)
}

/// The bytes of the trusted key a frame names.
fn frame_key(f: &Frame, keys: &TrustedKeys) -> Result<[u8; 32], BundleError> {
    keys.bytes(f.key_id).ok_or_else(|| unknown_key(f.key_id))
}

/// `UnknownKey` for a key id read from a bundle (at most 64 characters of it).
fn unknown_key(key_id: &str) -> BundleError {
    BundleError::UnknownKey(key_id.chars().take(64).collect())
}

/// `verify` without our own signature check, for a caller whose platform's Ed25519 verified
/// the signature: with `signing_key(bytes, keys)`, of the last 64 bytes, over the bytes
/// before them. Everything after the signature is checked as `verify` checks it. Only that
/// verification's success may lead here; any other outcome goes through `verify`, which
/// then gives the error.
pub fn verify_signed_elsewhere(
    bytes: &[u8],
    keys: &TrustedKeys,
    now: i64,
    live_version: Option<u64>,
) -> Result<VerifiedBundle, BundleError> {
    let f = frame(bytes)?;
    frame_key(&f, keys)?;
    accept(&f, now, live_version)
}

/// The bundle compiled into this build (`DEFAULT_BUNDLE`), checked as `verify` checks a
/// bundle except for its signature, which `build.rs` checked against the built-in key when
/// this crate was built: the bytes and the key are one artefact, so checking it again at run
/// time would prove nothing and cost a cold start the SHA-512 and curve arithmetic, run by
/// V8's baseline compiler (2.1 ms of a 12.7 ms Node start, BENCHMARKS.md "Issue 18"). A
/// bundle from anywhere else goes through `verify`.
pub fn built_in(now: i64) -> Result<VerifiedBundle, BundleError> {
    let f = frame(DEFAULT_BUNDLE)?;
    if f.key_id != DEFAULT_KEY_ID {
        return Err(unknown_key(f.key_id));
    }
    accept(&f, now, None)
}

/// What `verify` checks after the signature: the manifest and its key id, the validity
/// window at `now`, the version against the live one, the rules and the model.
fn accept(f: &Frame, now: i64, live_version: Option<u64>) -> Result<VerifiedBundle, BundleError> {
    let (mut manifest, rules) = read_manifest(f)?;
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
    let carried = manifest.plan.as_deref().map(Plan::from_bytes);
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

/// The manifest and rules of a framed bundle, in its format. Format 2's compiled rules are
/// the rules, as the signed plan is the model; a build with tract-onnx (the full toolchain)
/// also checks that they are what the signed TOML text compiles to.
fn read_manifest(f: &Frame) -> Result<(Manifest, Rules), BundleError> {
    #[cfg(feature = "text-rules")]
    let (manifest, rules) = if f.version == FORMAT_JSON {
        let manifest = json_manifest(f.manifest)?;
        let rules = Rules::from_toml(&manifest.rules_toml).map_err(|e| BundleError::BadRules(e.to_string()))?;
        (manifest, rules)
    } else {
        binary::decode(f.manifest)?
    };
    // `frame` refused format 1 already: a lean build reads format 2 only.
    #[cfg(not(feature = "text-rules"))]
    let (manifest, rules) = binary::decode(f.manifest)?;
    #[cfg(feature = "tract")]
    if f.version != FORMAT_JSON && Rules::from_toml(&manifest.rules_toml).as_ref() != Ok(&rules) {
        return Err(BundleError::BadRules("the compiled rules are not the signed TOML's".into()));
    }
    Ok((manifest, rules))
}

/// Format 1's manifest.
fn json_manifest(bytes: &[u8]) -> Result<Manifest, BundleError> {
    serde_json::from_slice(bytes).map_err(|e| BundleError::Malformed(e.to_string()))
}

/// Format 2's manifest bytes of `manifest`, its rules TOML compiled (refused as
/// `bundle_bad_rules` if they do not compile): what `BundleSigner::sign_exact` signs.
#[cfg(feature = "text-rules")]
pub fn binary_manifest(manifest: &Manifest) -> Result<Vec<u8>, BundleError> {
    let rules = Rules::from_toml(&manifest.rules_toml).map_err(|e| BundleError::BadRules(e.to_string()))?;
    binary::write::encode(manifest, &rules)
}

/// The format version of a framed bundle (signature NOT checked).
pub fn format_of(bytes: &[u8]) -> Result<u16, BundleError> {
    Ok(frame(bytes)?.version)
}

/// The model bytes of a framed bundle (signature NOT checked: verify it first).
pub fn model_bytes(bytes: &[u8]) -> Result<&[u8], BundleError> {
    Ok(frame(bytes)?.model)
}

/// The manifest and sizes of a bundle whose signature is NOT checked (for `inspect`).
pub fn inspect_unverified(bytes: &[u8]) -> Result<(Manifest, usize), BundleError> {
    let f = frame(bytes)?;
    let manifest = match f.version {
        FORMAT_JSON => json_manifest(f.manifest)?,
        _ => binary::decode(f.manifest)?.0,
    };
    Ok((manifest, f.model.len()))
}

/// The bundle built from `models/`, compiled in so the first request needs no network.
pub const DEFAULT_BUNDLE: &[u8] = include_bytes!("../../../../models/default.epb");
/// The public half of the key that signed it.
pub const DEFAULT_PUBLIC_KEY: &str = include_str!("../../../../models/default.pub.json");

// `DEFAULT_KEY_ID` and `DEFAULT_KEY`: `models/default.pub.json` as code, written by build.rs
// after it checked that key against `DEFAULT_BUNDLE`'s signature (trusting it parses no JSON
// and decodes no hex at load).
include!(concat!(env!("OUT_DIR"), "/default_key.rs"));

/// Trusted keys holding only the default bundle's key. (Never `Err` since build.rs checks
/// the key; a `Result` still, as every other way of trusting a key is.)
pub fn default_keys() -> Result<TrustedKeys, BundleError> {
    let mut keys = TrustedKeys::default();
    keys.add_built_in(DEFAULT_KEY_ID, DEFAULT_KEY);
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_key_is_the_key_file() {
        let file: PublicKeyFile = serde_json::from_str(DEFAULT_PUBLIC_KEY).unwrap();
        assert_eq!(file.key_id, DEFAULT_KEY_ID);
        assert_eq!(Some(DEFAULT_KEY), digits::unhex::<32>(&file.public_key));
        let (manifest, _) = inspect_unverified(DEFAULT_BUNDLE).unwrap();
        assert_eq!(manifest.key_id, DEFAULT_KEY_ID);
    }

    #[test]
    fn a_signature_checked_elsewhere_is_over_the_bytes_before_the_last_64_with_the_named_key() {
        let signer = BundleSigner::from_secret("elsewhere-test", &[7; 32]);
        let mut keys = TrustedKeys::default();
        keys.add_json(serde_json::to_string(&signer.public_file()).unwrap().as_bytes()).unwrap();
        let (manifest, _) = inspect_unverified(DEFAULT_BUNDLE).unwrap();
        let bytes = signer.sign_exact(&manifest, frame(DEFAULT_BUNDLE).unwrap().model).unwrap();
        let now = parse_time("2026-06-01T00:00:00Z").unwrap();

        // What a platform's Ed25519 is handed: the key, the last 64 bytes, the bytes before.
        let key = signing_key(&bytes, &keys).unwrap();
        let (signed, signature) = bytes.split_at(bytes.len() - 64);
        let key = ed25519_dalek::VerifyingKey::from_bytes(&key).unwrap();
        assert!(key.verify(signed, &Signature::from_bytes(signature.try_into().unwrap())).is_ok());
        let (ours, elsewhere) =
            (verify(&bytes, &keys, now, None).unwrap(), verify_signed_elsewhere(&bytes, &keys, now, None).unwrap());
        assert_eq!(ours.manifest().policy_version, elsewhere.manifest().policy_version);
        assert_eq!(ours.rules(), elsewhere.rules());

        // The key must be trusted, and everything after the signature is still checked.
        let code = |r: Result<VerifiedBundle, BundleError>| r.err().map(|e| e.code());
        assert_eq!(signing_key(&bytes, &default_keys().unwrap()).err().map(|e| e.code()), Some("bundle_unknown_key"));
        assert_eq!(
            code(verify_signed_elsewhere(&bytes, &default_keys().unwrap(), now, None)),
            Some("bundle_unknown_key")
        );
        let expired = parse_time(&manifest.expires).unwrap();
        assert_eq!(code(verify_signed_elsewhere(&bytes, &keys, expired, None)), Some("bundle_expired"));
        let live = Some(manifest.policy_version);
        assert_eq!(code(verify_signed_elsewhere(&bytes, &keys, now, live)), Some("bundle_downgrade"));
        assert_eq!(
            code(verify_signed_elsewhere(&bytes[..bytes.len() - 1], &keys, now, None)),
            Some("bundle_truncated")
        );
    }

    #[test]
    fn the_plan_decides_what_a_build_without_tract_can_run() {
        let (manifest, _) = inspect_unverified(DEFAULT_BUNDLE).unwrap();
        let text = manifest.plan.clone().expect("the default bundle carries its plan");
        let model = frame(DEFAULT_BUNDLE).unwrap().model;
        let signer = BundleSigner::from_secret("plan-test", &[9; 32]);
        let mut keys = TrustedKeys::default();
        keys.add_json(serde_json::to_string(&signer.public_file()).unwrap().as_bytes()).unwrap();
        let now = parse_time("2026-06-01T00:00:00Z").unwrap();
        let with_plan = |plan: Option<Vec<u8>>| {
            let mut m = manifest.clone();
            m.plan = plan;
            signer.sign_exact(&m, model).unwrap()
        };
        let mut other = Plan::from_bytes(&text).unwrap();
        other.hidden[0].q.iter_mut().for_each(|q| *q = 0);
        let code = |b: &[u8]| verify(b, &keys, now, None).err().map(|e| e.code());
        let (no_plan, wrong_plan) = (with_plan(None), with_plan(Some(other.to_bytes())));
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
        assert_eq!(code(&with_plan(Some(b"not a plan".to_vec()))), Some("bundle_model_mismatch"));
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
