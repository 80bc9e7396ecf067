//! Signing bundles: a key id and 32 secret bytes frame and sign a manifest and a model.
//! The core signs only with keys it is given; generating keys is the CLI's job.

use ed25519_dalek::{Signer, SigningKey};
use serde::Deserialize;

use super::digits::unhex;
use super::keys::{PublicKeyFile, TrustedKeys, hex};
#[cfg(feature = "text-rules")]
use super::manifest::Manifest;
use super::{BundleError, FORMAT_JSON, MAGIC};
#[cfg(feature = "text-rules")]
use super::{FORMAT_VERSION, binary_manifest};
#[cfg(feature = "tract")]
use crate::model::BehaviourModel;

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

    /// Keys that trust this signer alone: how a signer checks what it just signed.
    pub fn own_keys(&self) -> Result<TrustedKeys, BundleError> {
        let mut keys = TrustedKeys::default();
        keys.add(&self.key_id, &self.public_bytes())?;
        Ok(keys)
    }

    pub fn public_file(&self) -> PublicKeyFile {
        PublicKeyFile { key_id: self.key_id.clone(), public_key: hex(self.key.verifying_key().as_bytes()) }
    }

    /// Writes and signs a bundle. The manifest's key id is set to the signer's.
    #[cfg(feature = "text-rules")]
    pub fn sign(&self, manifest: &Manifest, model: &[u8]) -> Result<Vec<u8>, BundleError> {
        // The fast path's plan, lowered now and kept only if the model agrees with
        // tract-onnx on the load-time test vectors (`BehaviourModel::load`). A build without
        // tract-onnx signs the plan it is given.
        #[cfg(feature = "tract")]
        let manifest = &Manifest {
            plan: BehaviourModel::load(model, manifest.schema.width())
                .ok()
                .and_then(|m| m.fast_plan().map(|p| p.to_bytes())),
            ..manifest.clone()
        };
        self.sign_exact(manifest, model)
    }

    /// Signs the manifest exactly as given (no plan lowered or replaced), in format 2: the
    /// rules TOML is compiled now, and rules that do not compile are not signed. For tests
    /// and for tools that bring their own plan.
    #[cfg(feature = "text-rules")]
    pub fn sign_exact(&self, manifest: &Manifest, model: &[u8]) -> Result<Vec<u8>, BundleError> {
        let mut manifest = manifest.clone();
        manifest.key_id = self.key_id.clone();
        self.sign_format(FORMAT_VERSION, &binary_manifest(&manifest)?, model)
    }

    /// Frames and signs format-1 manifest bytes exactly as given, valid JSON or not: how
    /// tests and the fuzz targets reach the checks behind the signature of a format-1 bundle.
    pub fn sign_manifest_bytes(&self, json: &[u8], model: &[u8]) -> Result<Vec<u8>, BundleError> {
        self.sign_format(FORMAT_JSON, json, model)
    }

    /// Frames manifest bytes exactly as given under a format version, any version, and
    /// signs them (tests and fuzzing; `sign` is how bundles are made).
    pub fn sign_format(&self, version: u16, manifest: &[u8], model: &[u8]) -> Result<Vec<u8>, BundleError> {
        let key_id = self.key_id.as_bytes();
        let key_len = u8::try_from(key_id.len()).map_err(|_| BundleError::Malformed("key id too long".into()))?;
        let mut out = Vec::with_capacity(manifest.len() + model.len() + 128);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&version.to_le_bytes());
        out.push(key_len);
        out.extend_from_slice(key_id);
        for part in [manifest, model] {
            let len = u32::try_from(part.len()).map_err(|_| BundleError::Malformed("part too large".into()))?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(part);
        }
        let signature = self.key.sign(&out);
        out.extend_from_slice(&signature.to_bytes());
        Ok(out)
    }
}
