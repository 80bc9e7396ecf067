//! Hex digits to bytes: key files carry keys as hex. Also compiled into `build.rs`, which
//! reads the built-in key file when the crate is built (so this file uses nothing else of
//! the crate).

/// Exactly `2 * N` hex digits (surrounding whitespace ignored) as `N` bytes.
pub(crate) fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
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
