//! Checks, when the crate is built, that the bundle compiled into it (`models/default.epb`)
//! is signed by the key compiled into it (`models/default.pub.json`), and writes that key as
//! code (`$OUT_DIR/default_key.rs`). A build whose built-in bundle does not verify fails
//! here, so the library need not check that signature again at every cold start
//! (`bundle::built_in`): bytes and key are one artefact, and whoever could change one could
//! change the other.

use std::path::Path;

#[path = "src/bundle/digits.rs"]
mod digits;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};

const BUNDLE: &str = "../../models/default.epb";
const KEY_FILE: &str = "../../models/default.pub.json";

fn main() {
    println!("cargo:rerun-if-changed={BUNDLE}");
    println!("cargo:rerun-if-changed={KEY_FILE}");
    if let Err(why) = check_and_write() {
        panic!("the built-in bundle: {why}");
    }
}

fn check_and_write() -> Result<(), String> {
    let bundle = std::fs::read(BUNDLE).map_err(|e| format!("{BUNDLE}: {e}"))?;
    let file = std::fs::read_to_string(KEY_FILE).map_err(|e| format!("{KEY_FILE}: {e}"))?;
    let (key_id, hex) = (string_field(&file, "key_id")?, string_field(&file, "public_key")?);
    let key = digits::unhex::<32>(hex).ok_or(format!("{KEY_FILE}: public_key is not 64 hex digits"))?;
    // The frame (bundle::frame): "EPB1", u16 version, u8 key id length, key id, ...; the
    // signature is the last 64 bytes and covers all before it.
    let framed_id = bundle.get(6).and_then(|&n| bundle.get(7..7 + n as usize));
    if bundle.get(..4) != Some(b"EPB1".as_slice()) || framed_id != Some(key_id.as_bytes()) {
        return Err(format!("{BUNDLE} is not an EPB1 bundle framed with key id {key_id:?}"));
    }
    let (signed, signature) = bundle.split_at(bundle.len().saturating_sub(64));
    let signature = Signature::from_slice(signature).map_err(|e| format!("{BUNDLE}: {e}"))?;
    let verifying = VerifyingKey::from_bytes(&key).map_err(|e| format!("{KEY_FILE}: {e}"))?;
    verifying.verify(signed, &signature).map_err(|_| format!("{BUNDLE} is not signed by {KEY_FILE}'s key"))?;
    let code = format!(
        "/// The built-in bundle's key id (`models/default.pub.json`).\n\
         pub const DEFAULT_KEY_ID: &str = {key_id:?};\n\
         /// Its public key, checked against the built-in bundle's signature when built.\n\
         const DEFAULT_KEY: [u8; 32] = {key:?};\n"
    );
    let out = std::env::var("OUT_DIR").map_err(|e| e.to_string())?;
    std::fs::write(Path::new(&out).join("default_key.rs"), code).map_err(|e| e.to_string())
}

/// The string value of `"name": "..."` in a flat JSON object of plain strings (the key file).
fn string_field<'a>(json: &'a str, name: &str) -> Result<&'a str, String> {
    let missing = || format!("{KEY_FILE} has no string field {name:?}");
    let after = json.split_once(&format!("\"{name}\"")).ok_or_else(missing)?.1;
    let value = after.trim_start().strip_prefix(':').ok_or_else(missing)?.trim_start();
    let value = value.strip_prefix('"').ok_or_else(missing)?;
    value.split_once('"').map(|(v, _)| v).filter(|v| !v.contains('\\')).ok_or_else(missing)
}
