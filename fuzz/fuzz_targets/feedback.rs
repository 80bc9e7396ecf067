//! The origin's feedback batch decoder (JSON array or NDJSON): every event is stored or
//! rejected with its index, never both, never a panic; a stored event's fields are in range
//! whatever its kind, and its wire form reads back as the same event (a crash here once found an outcome with propensity 5.86 stored).
#![no_main]

use edgeprice_core::feedback::parse_batch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((events, rejected)) = parse_batch(data) {
        let mut indexes: Vec<usize> = rejected.iter().map(|r| r.index).collect();
        indexes.dedup();
        assert_eq!(indexes.len(), rejected.len());
        for e in &events {
            assert!(!e.event_id().is_empty() && e.event_id().len() <= 128, "{e:?}");
            let c = e.columns();
            if let Some(p) = c.propensity {
                assert!(p > 0.0 && p <= 1.0, "{e:?}");
            }
            let revenue = c.revenue;
            for amount in [c.price, c.cost, revenue].into_iter().flatten() {
                assert!(amount.is_finite() && amount >= 0.0, "{e:?}");
            }
            // The wire form reads back as the same event (the store relies on it).
            let again = edgeprice_core::feedback::from_value(e.to_json());
            assert_eq!(again.as_ref().ok(), Some(e), "{e:?}");
        }
    }
});
