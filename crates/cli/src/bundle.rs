//! `keygen`, `verify`, `inspect`, `resign` and `push-secret`: signing keys and signed policy
//! bundles (`bundle`, which builds one, is `sign`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use edgeprice_core::bundle::{self, BundleSigner};
use edgeprice_core::pricing::rules::Rules;

use crate::files::{self, keys, now_or, read};

#[derive(Args)]
pub struct KeygenArgs {
    #[arg(long)]
    pub out: PathBuf,
    /// Key id written into bundles (default: derived from the public key).
    #[arg(long)]
    pub key_id: Option<String>,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[arg(long)]
    pub bundle: PathBuf,
    /// Public key file (default: the key of the built-in default bundle).
    #[arg(long)]
    pub public_key: Option<PathBuf>,
    /// Time to check validity at, RFC 3339 UTC (default: now).
    #[arg(long)]
    pub now: Option<String>,
}

#[derive(Args)]
pub struct ResignArgs {
    /// The bundle to sign again; it must verify first.
    #[arg(long)]
    pub bundle: PathBuf,
    /// Public key file it verifies with (default: the key of the built-in default bundle).
    #[arg(long)]
    pub public_key: Option<PathBuf>,
    /// The secret key file to sign with (`keygen`).
    #[arg(long)]
    pub key: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// Time to check validity at, RFC 3339 UTC (default: now).
    #[arg(long)]
    pub now: Option<String>,
}

#[derive(Args)]
pub struct InspectArgs {
    #[arg(long)]
    pub bundle: PathBuf,
}

pub fn keygen(a: KeygenArgs) -> Result<()> {
    let (out, key_id) = (&a.out, a.key_id);
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    let probe = BundleSigner::from_secret("", &secret);
    let id = key_id.unwrap_or_else(|| format!("ep-{}", &probe.public_file().public_key[..12]));
    let signer = BundleSigner::from_secret(&id, &secret);
    files::write(out, signer.secret_json().as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o600))?;
    }
    let public = serde_json::to_string_pretty(&signer.public_file())?;
    let mut pub_path = out.as_os_str().to_owned();
    pub_path.push(".pub.json");
    std::fs::write(&pub_path, format!("{public}\n"))?;
    println!("{public}");
    Ok(())
}

/// Prints a new push secret: 32 random bytes in the Standard Webhooks `whsec_` form.
pub fn push_secret() -> Result<()> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    println!("{}", edgeprice_core::webhook::Secret::encode(&key));
    Ok(())
}

pub fn verify(a: VerifyArgs) -> Result<()> {
    let (path, public_key, now) = (&a.bundle, a.public_key, a.now);
    let bytes = read(path)?;
    match bundle::verify(&bytes, &keys(public_key.as_deref())?, now_or(now.as_deref())?, None) {
        Ok(b) => {
            // Engines trust the signed plan; here tract-onnx checks it against the ONNX too.
            #[cfg(feature = "full")]
            if let Err(e) = b.model().check_reference() {
                eprintln!("bundle_model_mismatch: {e}");
                std::process::exit(2);
            }
            println!(
                "ok: policy version {}, key {}, expires {}, model run by {} (checked against tract-onnx)",
                b.manifest().policy_version,
                b.manifest().key_id,
                b.manifest().expires,
                b.model().runtime()
            );
            Ok(())
        }
        Err(e) => {
            eprintln!("{}: {e}", e.code());
            std::process::exit(2);
        }
    }
}

/// The same policy (version, validity, rules, plan, model) signed with another key in the
/// current format: how a format-1 bundle becomes format 2, and how a rotated key takes
/// over a bundle. The output is verified with the new key before it is written.
pub fn resign(a: ResignArgs) -> Result<()> {
    let now = now_or(a.now.as_deref())?;
    let bytes = read(&a.bundle)?;
    let old = bundle::verify(&bytes, &keys(a.public_key.as_deref())?, now, None)?;
    let signer = BundleSigner::from_json(&read(&a.key)?)?;
    let model = bundle::model_bytes(&bytes)?;
    let out = signer.sign_exact(old.manifest(), model)?;
    let new = bundle::verify(&out, &signer.own_keys()?, now, None)?;
    files::write(&a.out, &out)?;
    println!(
        "signed policy version {} with key {} (format {}, {} bytes; was {} bytes)",
        new.manifest().policy_version,
        signer.key_id,
        bundle::FORMAT_VERSION,
        out.len(),
        bytes.len()
    );
    Ok(())
}

pub fn inspect(a: InspectArgs) -> Result<()> {
    let path = &a.bundle;
    let (manifest, model_bytes) = bundle::inspect_unverified(&read(path)?)?;
    let rules = Rules::from_toml(&manifest.rules_toml).map(|r| serde_json::to_value(r).unwrap_or_default());
    let out = serde_json::json!({
        "signature_checked": false,
        "manifest": manifest,
        "model_bytes": model_bytes,
        "rules": rules.unwrap_or_else(|e| serde_json::json!({"error": e.to_string()})),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
