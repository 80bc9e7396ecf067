//! The decision hash: stable across platforms and versions, so the same (session, sku,
//! policy version) gets the same arm and the same exploration draw everywhere.
//! Invariant: changing anything here means bumping `HASH_VERSION`.

/// Version of the hash below (FNV-1a 64 over length-prefixed fields, SplitMix64 finalizer).
pub const HASH_VERSION: u32 = 1;

/// Hashes fields with their lengths, so ("ab", "c") and ("a", "bc") differ.
pub fn hash_fields(fields: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    let mut eat = |byte: u8| {
        h ^= byte as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    };
    for f in fields {
        for b in (f.len() as u64).to_le_bytes() {
            eat(b);
        }
        for &b in *f {
            eat(b);
        }
    }
    // SplitMix64 finalizer: spreads FNV's weak low bits over the whole word.
    let mut z = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in [0, 1) for one purpose (`salt`) of one decision.
pub fn uniform(salt: &str, session_id: &str, sku: &str, policy_version: u64) -> f64 {
    let h = hash_fields(&[salt.as_bytes(), session_id.as_bytes(), sku.as_bytes(), &policy_version.to_le_bytes()]);
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_values() {
        // Pinned (values from an independent Python implementation) so that an accidental
        // change of the hash fails here, not in production.
        assert_eq!(format!("{:016x}", hash_fields(&[])), "c3817c016ba4ff30");
        assert_eq!(format!("{:016x}", hash_fields(&[b"session-1", b"sku-1"])), "bb96bf990db1c2d6");
        assert_ne!(hash_fields(&[b"ab", b"c"]), hash_fields(&[b"a", b"bc"]));
    }

    #[test]
    fn uniform_is_uniform() {
        let n = 20_000;
        let below = (0..n).filter(|i| uniform("arm", &format!("s{i}"), "sku", 1) < 0.1).count();
        assert!((1_800..2_200).contains(&below), "{below}");
    }
}
