//! The visit cookie: first byte 0, the rest as a cookie header (MAC check first); first byte
//! 1, the rest as a payload signed with the secret, so the parser behind the MAC is reached.
//! A visit that decodes is sane and survives a round trip.
#![no_main]

use edgeprice_edge::visit::{COOKIE_NAME, decode, encode, from_header, sign_json};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzz-secret-of-at-least-thirty-two-bytes";

fuzz_target!(|data: &[u8]| {
    let value = match data.split_first() {
        Some((1, payload)) => sign_json(payload, SECRET).unwrap(),
        Some((_, rest)) => {
            let Ok(header) = std::str::from_utf8(rest) else { return };
            match from_header(header, COOKIE_NAME) {
                Some(v) => v.to_string(),
                None => header.to_string(),
            }
        }
        None => return,
    };
    if let Some(visit) = decode(&value, SECRET) {
        let again = decode(&encode(&visit, SECRET).unwrap(), SECRET);
        assert_eq!(again.as_ref(), Some(&visit));
        assert!(decode(&value, b"another-secret-of-at-least-thirty-two-bytes").is_none());
    }
});
