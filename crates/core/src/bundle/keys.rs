//! Public keys trusted to verify bundles, and their JSON key files (hex).

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::BundleError;

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

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
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

/// 64 hex digits as 32 bytes, in a constant's evaluation: a text that is not exactly that
/// stops the build there.
pub(super) const fn unhex_const(text: &str) -> [u8; 32] {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("not a hex digit"),
        }
    }
    let text = text.as_bytes();
    assert!(text.len() == 64, "not 64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = digit(text[2 * i]) << 4 | digit(text[2 * i + 1]);
        i += 1;
    }
    out
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

    pub(super) fn get(&self, key_id: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|(id, _)| id == key_id).map(|(_, k)| k)
    }
}
