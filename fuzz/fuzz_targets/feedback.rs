//! The origin's feedback batch decoder (JSON array or NDJSON): every event is stored or
//! rejected with its index, never both, never a panic.
#![no_main]

use edgeprice::feedback::parse_batch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((events, rejected)) = parse_batch(data) {
        let mut indexes: Vec<usize> = rejected.iter().map(|r| r.index).collect();
        indexes.dedup();
        assert_eq!(indexes.len(), rejected.len());
        for e in &events {
            assert!(!e.event_id.is_empty() && e.event_id.len() <= 128, "{e:?}");
            if let Some(p) = e.propensity {
                assert!(p > 0.0 && p <= 1.0, "{e:?}");
            }
        }
    }
});
