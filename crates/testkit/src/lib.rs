//! Fixtures shared by the integration tests of every crate: paths in the repository, the
//! data set (outside the repo, README "Data"), a throwaway signer with the keys that trust
//! it, fixed times, and the shipped default bundle re-signed at another policy version.
//! Test-only code: it panics on anything unexpected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use edgeprice_core::bundle::{self, BundleSigner, DEFAULT_BUNDLE, TrustedKeys, inspect_unverified};
use edgeprice_core::pricing::rules::parse_time;

/// The workspace root (two levels above this crate).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn models() -> PathBuf {
    repo().join("models")
}

/// Bytes of a file under `models/`.
pub fn model_file(name: &str) -> Vec<u8> {
    let path = models().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `../shared/data/online_shoppers_train.csv`, or `EDGEPRICE_DATA` when set.
pub fn train_csv() -> PathBuf {
    std::env::var_os("EDGEPRICE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data/online_shoppers_train.csv"))
}

/// The data set's text (parse it with `edgeprice_learn::dataset::parse`).
pub fn train_text() -> String {
    let path = train_csv();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Unix seconds of an RFC 3339 time.
pub fn at(rfc3339: &str) -> i64 {
    parse_time(rfc3339).unwrap()
}

/// A fixed "now" inside the shipped default bundle's validity window.
pub fn now() -> i64 {
    at("2026-11-28T12:00:00Z")
}

/// A throwaway signer (secret: 32 bytes of `seed`) and keys that trust only it.
pub fn signer(key_id: &str, seed: u8) -> (BundleSigner, TrustedKeys) {
    let signer = BundleSigner::from_secret(key_id, &[seed; 32]);
    let keys = signer.own_keys().unwrap();
    (signer, keys)
}

/// Keys that trust the default bundle's key and `signer`'s.
pub fn default_keys_and(signer: &BundleSigner) -> TrustedKeys {
    let mut keys = bundle::default_keys().unwrap();
    keys.add(&signer.key_id, &signer.public_bytes()).unwrap();
    keys
}

/// The default bundle's manifest and model, re-signed by `signer` as `policy_version`.
pub fn resigned_default(signer: &BundleSigner, policy_version: u64) -> Vec<u8> {
    let (mut manifest, _) = inspect_unverified(DEFAULT_BUNDLE).unwrap();
    manifest.policy_version = policy_version;
    signer.sign(&manifest, &model_file("behaviour.int8.onnx")).unwrap()
}
