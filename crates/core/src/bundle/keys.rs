//! Public keys trusted to verify bundles, and their JSON key files (hex).

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::BundleError;
use super::digits::unhex;

/// Public keys trusted to sign bundles, by key id.
#[derive(Clone, Debug, Default)]
pub struct TrustedKeys {
    keys: Vec<(String, Key)>,
}

/// A trusted key: checked (decompressed) when added, or the built-in key, which build.rs
/// checked and which is decompressed only when a bundle is verified with it: a worker's
/// first request reads its settings, trusted keys included, and most find no bundle to
/// verify (a curve point's decompression is a square root: 250 field squarings).
#[derive(Clone, Debug)]
enum Key {
    Checked(VerifyingKey),
    BuiltIn([u8; 32]),
}

/// A public key file: `{"key_id": "...", "public_key": "<64 hex>"}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PublicKeyFile {
    pub key_id: String,
    pub public_key: String,
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TrustedKeys {
    pub fn add(&mut self, key_id: &str, public_key: &[u8; 32]) -> Result<(), BundleError> {
        let key = decompress(public_key)?;
        self.keys.push((key_id.to_string(), Key::Checked(key)));
        Ok(())
    }

    /// The key `key_id` names, as kept (`bytes` and `get` read it).
    fn find(&self, key_id: &str) -> Option<&Key> {
        self.keys.iter().find(|(id, _)| id == key_id).map(|(_, k)| k)
    }

    /// Adds the built-in key (`super::default_keys`), decompressed when first used.
    pub(super) fn add_built_in(&mut self, key_id: &str, public_key: [u8; 32]) {
        self.keys.push((key_id.to_string(), Key::BuiltIn(public_key)));
    }

    /// Adds a key from its JSON key file.
    pub fn add_json(&mut self, json: &[u8]) -> Result<(), BundleError> {
        let file: PublicKeyFile = serde_json::from_slice(json).map_err(|e| BundleError::Malformed(e.to_string()))?;
        let bytes = unhex::<32>(&file.public_key)
            .ok_or_else(|| BundleError::Malformed("public key is not 64 hex digits".into()))?;
        self.add(&file.key_id, &bytes)
    }

    /// The 32 bytes of the key `key_id` names, if trusted (for an Ed25519 other than ours:
    /// `super::signing_key`).
    pub(super) fn bytes(&self, key_id: &str) -> Option<[u8; 32]> {
        self.find(key_id).map(|k| match k {
            Key::Checked(key) => key.to_bytes(),
            Key::BuiltIn(bytes) => *bytes,
        })
    }

    /// The key `key_id` names, if trusted.
    pub(super) fn get(&self, key_id: &str) -> Option<Result<VerifyingKey, BundleError>> {
        self.find(key_id).map(|k| match k {
            Key::Checked(key) => Ok(*key),
            Key::BuiltIn(bytes) => decompress(bytes),
        })
    }
}

/// A public key's curve point, or `bundle_malformed` if the bytes are not one.
fn decompress(public_key: &[u8; 32]) -> Result<VerifyingKey, BundleError> {
    VerifyingKey::from_bytes(public_key).map_err(|_| BundleError::Malformed("invalid public key".into()))
}
