//! A decision's JSON text written directly, for the answers that carry many of them (a
//! worker's category page writes 100 per request). Invariant: the bytes are exactly what
//! `serde_json::to_vec` writes for the same value (key order, escapes, `null` for an absent
//! or non-finite float, floats as serde_json's shortest round trip); a property test holds
//! it to that, so either may answer any request.
//!
//! Why not serde: one pass without its generic machinery, and a price, list price, rounded
//! discount or propensity (a decimal of at most four places) printed from its integer
//! digits rather than by the general shortest-round-trip algorithm, which only the model's
//! probabilities need. Measured (BENCHMARKS.md, 2026-12-02): a small gain, 0.02-0.46 us per
//! product of a workerd page, 7-8% of `priceJson` and `priceMany` in Node.

use super::decision::{CandidateOutcome, Decision};

/// Appends `d` as JSON to `out`.
pub fn write_decision(out: &mut String, d: &Decision) {
    out.push_str("{\"sku\":");
    string(out, &d.sku);
    out.push_str(",\"price\":");
    float(out, d.price);
    out.push_str(",\"price_minor\":");
    out.push_str(itoa::Buffer::new().format(d.price_minor));
    out.push_str(",\"list_price\":");
    float(out, d.list_price);
    out.push_str(",\"currency\":");
    string(out, &d.currency);
    out.push_str(",\"discount\":");
    float(out, d.discount);
    out.push_str(",\"arm\":\"");
    out.push_str(d.arm.name());
    out.push_str("\",\"propensity\":");
    float(out, d.propensity);
    out.push_str(",\"purchase_probability\":");
    option(out, d.purchase_probability);
    out.push_str(",\"expected_profit\":");
    option(out, d.expected_profit);
    out.push_str(",\"uniform_price\":");
    option(out, d.uniform_price);
    out.push_str(",\"policy_version\":");
    out.push_str(itoa::Buffer::new().format(d.policy_version));
    out.push_str(",\"decision_id\":");
    string(out, &d.decision_id);
    out.push_str(",\"reasons\":");
    array(out, &d.reasons, |out, r| string(out, r));
    out.push_str(",\"personalized\":");
    out.push_str(if d.personalized { "true" } else { "false" });
    out.push_str(",\"hash_version\":");
    out.push_str(itoa::Buffer::new().format(d.hash_version));
    if let Some(j) = &d.jurisdiction {
        out.push_str(",\"jurisdiction\":");
        string(out, j);
    }
    if let Some(t) = &d.disclosure {
        out.push_str(",\"disclosure\":");
        string(out, t);
    }
    if !d.candidates.is_empty() {
        out.push_str(",\"candidates\":");
        array(out, &d.candidates, candidate);
    }
    out.push('}');
}

/// `d`'s JSON text.
pub fn decision_text(d: &Decision) -> String {
    let mut out = String::with_capacity(if d.candidates.is_empty() { 512 } else { 1024 });
    write_decision(&mut out, d);
    out
}

/// `ds` as a JSON array.
pub fn decisions_text(ds: &[Decision]) -> String {
    let mut out = String::with_capacity(2 + 1024 * ds.len());
    array(&mut out, ds, write_decision);
    out
}

/// `items` as a JSON array, each written by `write`.
pub fn array<T>(out: &mut String, items: &[T], write: impl Fn(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(out, item);
    }
    out.push(']');
}

fn candidate(out: &mut String, c: &CandidateOutcome) {
    out.push_str("{\"price\":");
    float(out, c.price);
    out.push_str(",\"price_minor\":");
    out.push_str(itoa::Buffer::new().format(c.price_minor));
    out.push_str(",\"purchase_probability\":");
    option(out, c.purchase_probability);
    out.push_str(",\"expected_profit\":");
    option(out, c.expected_profit);
    out.push_str(",\"propensity\":");
    float(out, c.propensity);
    out.push('}');
}

fn option(out: &mut String, x: Option<f64>) {
    match x {
        Some(x) => float(out, x),
        None => out.push_str("null"),
    }
}

/// A float as serde_json writes it: `null` when not finite, else its shortest round trip.
pub fn float(out: &mut String, x: f64) {
    if !x.is_finite() {
        out.push_str("null");
    } else if !decimal(out, x) {
        out.push_str(zmij::Buffer::new().format_finite(x));
    }
}

/// Writes `x` when it is the f64 nearest a decimal of at most four places with magnitude in
/// [0.001, 1e9) (or +0), and says whether it did. Such a decimal is the shortest string that
/// reads back as `x` (fewer places would be a different f64: below 1e9 the f64s are 1.2e-7
/// apart at most, far closer than 1e-4), and serde_json writes it in plain notation there
/// (exponents -5 to 15) with at least one fractional digit: `120.0`, `0.04`, `47.99`.
fn decimal(out: &mut String, x: f64) -> bool {
    const SCALES: [f64; 5] = [1.0, 10.0, 100.0, 1_000.0, 10_000.0];
    let magnitude = x.abs();
    if x.to_bits() != 0 && !(0.001..1e9).contains(&magnitude) {
        return false;
    }
    for (places, scale) in SCALES.iter().enumerate() {
        let k = (magnitude * scale).round();
        if (k / scale).to_bits() != magnitude.to_bits() {
            continue;
        }
        // Below 1e13, exactly an integer.
        let k = k as u64;
        let pow = 10u64.pow(places as u32);
        if x < 0.0 {
            out.push('-');
        }
        out.push_str(itoa::Buffer::new().format(k / pow));
        out.push('.');
        let mut fraction = k % pow;
        if fraction == 0 {
            out.push('0');
            return true;
        }
        // The fraction's `places` digits, leading zeros kept. Its last digit is not 0: with
        // one place fewer the same decimal would have matched above.
        let mut digits = ['0'; 4];
        for slot in digits[..places].iter_mut().rev() {
            *slot = char::from(b'0' + (fraction % 10) as u8);
            fraction /= 10;
        }
        out.extend(&digits[..places]);
        return true;
    }
    false
}

/// A JSON string with serde_json's escapes: `\"`, `\\`, the five short control escapes,
/// `\u00xx` (lowercase) for the other control bytes; everything else as it is.
pub fn string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `i` is an ASCII byte's index, so both slices end on character boundaries.
        out.push_str(s.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::decision::Arm;
    use proptest::prelude::*;

    fn written(x: f64) -> String {
        let mut out = String::new();
        float(&mut out, x);
        out
    }

    #[test]
    fn money_and_rounded_floats_print_as_serde_json_prints_them() {
        for x in [0.0, -0.0, 0.04, 47.99, 120.0, 0.1251, 1e-3, 9.99e-4, 999_999_999.99, 1e9, 0.1 + 0.2, 1.0, -3.5] {
            assert_eq!(written(x), serde_json::to_string(&x).unwrap_or_default(), "{x}");
        }
        assert_eq!(written(f64::NAN), "null");
        assert_eq!(written(f64::NEG_INFINITY), "null");
        // The decimal path did write these (not the general algorithm).
        assert!(
            decimal(&mut String::new(), 47.99)
                && decimal(&mut String::new(), 120.0)
                && decimal(&mut String::new(), 0.0)
        );
        assert!(!decimal(&mut String::new(), -0.0) && !decimal(&mut String::new(), 0.1 + 0.2));
    }

    fn any_float() -> impl Strategy<Value = f64> {
        prop_oneof![
            // Decimals of 0-6 places, the shapes prices and rounded figures take.
            (any::<i64>(), 0u32..7).prop_map(|(k, p)| (k % 10_000_000_000_000) as f64 / 10f64.powi(p as i32)),
            (-2_000_000i64..2_000_000, 0u32..5).prop_map(|(k, p)| k as f64 / 10f64.powi(p as i32)),
            any::<f64>(),
            (0.0f64..1.0),
            Just(f64::NAN),
            Just(-0.0),
            Just(f64::MIN_POSITIVE / 3.0),
        ]
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9:_-]{0,24}",
            any::<String>(),
            proptest::collection::vec(0u8..0x80, 0..12).prop_map(|b| b.into_iter().map(char::from).collect()),
        ]
    }

    prop_compose! {
        fn any_candidate()(p in any_float(), m in any::<i64>(), q in proptest::option::of(any_float()),
                           e in proptest::option::of(any_float()), r in any_float()) -> CandidateOutcome {
            CandidateOutcome { price: p, price_minor: m, purchase_probability: q, expected_profit: e, propensity: r }
        }
    }

    prop_compose! {
        fn any_decision()(
            texts in proptest::collection::vec(any_text(), 3),
            floats in proptest::collection::vec(any_float(), 4),
            options in proptest::collection::vec(proptest::option::of(any_float()), 3),
            ints in (any::<i64>(), any::<u64>(), any::<u32>(), any::<bool>(), 0usize..4),
            reasons in proptest::collection::vec(any_text(), 0..6),
            place in (proptest::option::of(any_text()), proptest::option::of(any_text())),
            candidates in proptest::collection::vec(any_candidate(), 0..4),
        ) -> Decision {
            Decision {
                sku: texts[0].clone(),
                price: floats[0],
                price_minor: ints.0,
                list_price: floats[1],
                currency: texts[1].clone(),
                discount: floats[2],
                arm: [Arm::Model, Arm::Explore, Arm::Control, Arm::Fallback][ints.4],
                propensity: floats[3],
                purchase_probability: options[0],
                expected_profit: options[1],
                uniform_price: options[2],
                policy_version: ints.1,
                decision_id: texts[2].clone(),
                reasons,
                personalized: ints.3,
                hash_version: ints.2,
                jurisdiction: place.0,
                disclosure: place.1,
                candidates,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn a_float_is_written_as_serde_json_writes_it(x in any_float()) {
            prop_assert_eq!(written(x), serde_json::to_string(&x).unwrap_or_default());
        }

        #[test]
        fn a_decision_is_written_as_serde_json_writes_it(d in any_decision()) {
            let mut out = String::new();
            write_decision(&mut out, &d);
            prop_assert_eq!(&out, &serde_json::to_string(&d).unwrap_or_default());
            prop_assert_eq!(decision_text(&d), out);
            let two = [d.clone(), d];
            prop_assert_eq!(decisions_text(&two), serde_json::to_string(&two).unwrap_or_default());
        }
    }
}
