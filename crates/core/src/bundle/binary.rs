//! Format 2's manifest: the same contents as format 1's JSON, with the rules compiled when
//! the bundle is signed, so that loading one parses neither JSON nor TOML. The rules' TOML
//! text travels too, verbatim, for people (`inspect`, the console) and for `reissue`.
//!
//! Layout (`wire` primitives, in this order; manifest encoding version = bundle format 2):
//! policy version u64 | key id | created | expires | schema (transform version u32, inputs)
//! | rules (compiled) | page values (name, value)* | population curve (ratios, purchase
//! probabilities) | rules TOML | metrics (a JSON value, tagged) | plan (0, or 1 and bytes).
//! Every enum is one byte whose values below are fixed: new variants take new values.
//! Invariant: `decode(encode(m, r)) == (m, r)` for every manifest and every valid rule set
//! (the tests check it on the shipped bundle and on rule sets made to use every field).

use std::collections::BTreeMap;

use super::BundleError;
use super::manifest::Manifest;
use super::metrics::Metrics;
use super::wire::Reader;
use crate::features::{FeatureSchema, Input};
use crate::pricing::curve::PopulationCurve;
use crate::pricing::disclosure::{Disclosure, Jurisdiction, Personalize};
use crate::pricing::rules::{
    ControlPrice, Exploration, ExplorationMode, Guardrails, Inventory, Objective, Personalization, Promotion, Rounding,
    Rules,
};
use crate::session::{Categorical, Numeric};

fn bad(what: &str) -> BundleError {
    BundleError::Malformed(format!("binary manifest: {what}"))
}

/// Reads a manifest and its compiled rules, validated as `Rules::from_toml` validates them.
pub(super) fn decode(bytes: &[u8]) -> Result<(Manifest, Rules), BundleError> {
    let mut r = Reader::new(bytes);
    let policy_version = r.u64()?;
    let key_id = r.string()?;
    let (created, expires) = (r.string()?, r.string()?);
    let schema = read_schema(&mut r)?;
    let mut rules = read_rules(&mut r)?;
    // Inserted one by one, not collected: collecting a BTreeMap sorts, and the sort's code
    // would be compiled into the lean module for a table that is already in key order.
    let mut page_values = BTreeMap::new();
    for (name, value) in r.list(12, |r| Ok((r.string()?, r.f64()?)))? {
        page_values.insert(name, value);
    }
    let population_curve = PopulationCurve { ratios: r.f64s()?, purchase_probability: r.f64s()? };
    let rules_toml = r.string()?;
    let start = r.at();
    skip_json(&mut r, 0)?;
    let metrics = Metrics::wire(r.since(start).to_vec());
    let plan = match r.u8()? {
        0 => None,
        1 => Some(r.bytes()?.to_vec()),
        _ => return Err(bad("the plan's tag is neither 0 nor 1")),
    };
    r.finish()?;
    rules.validate().map_err(|e| BundleError::BadRules(e.to_string()))?;
    let manifest = Manifest {
        policy_version,
        key_id,
        created,
        expires,
        schema,
        rules_toml,
        page_values,
        population_curve,
        metrics,
        plan,
    };
    Ok((manifest, rules))
}

/// One byte per enum value, looked up in a fixed table (the table's order is the format).
fn pick<T: Copy>(table: &[T], byte: u8, what: &str) -> Result<T, BundleError> {
    table.get(byte as usize).copied().ok_or_else(|| bad(&format!("unknown {what} {byte}")))
}

const OBJECTIVES: [Objective; 2] = [Objective::Profit, Objective::Revenue];
const MODES: [ExplorationMode; 2] = [ExplorationMode::Epsilon, ExplorationMode::Softmax];
const CONTROLS: [ControlPrice; 2] = [ControlPrice::Uniform, ControlPrice::List];
const PERSONALIZE: [Personalize; 3] = [Personalize::On, Personalize::Uniform, Personalize::List];

fn read_schema(r: &mut Reader) -> Result<FeatureSchema, BundleError> {
    let transform_version = r.u32()?;
    let inputs = r.list(1, |r| {
        let kind = r.u8()?;
        Ok(match kind {
            0 | 1 => {
                let column = pick(&Numeric::ALL, r.u8()?, "numeric column")?;
                let (max, mean, std) = (r.f64()?, r.f64()?, r.f64()?);
                if kind == 0 {
                    Input::Log1p { column, max, mean, std }
                } else {
                    Input::Linear { column, max, mean, std }
                }
            }
            2 => Input::Positive { column: pick(&Numeric::ALL, r.u8()?, "numeric column")? },
            3 => Input::Weekend,
            4 => Input::OneHot {
                column: pick(&Categorical::ALL, r.u8()?, "categorical column")?,
                vocabulary: r.strings()?,
            },
            other => return Err(bad(&format!("unknown input kind {other}"))),
        })
    })?;
    Ok(FeatureSchema { transform_version, inputs })
}

/// Metrics nest at most this deep (the trainer's are 2 levels): a bound on the reader's
/// recursion, so a hostile manifest cannot exhaust the stack.
const MAX_DEPTH: usize = 16;

/// The metrics `skip_json` accepted, as JSON (`Metrics::value`).
pub(super) fn read_metrics(bytes: &[u8]) -> Result<serde_json::Value, BundleError> {
    let mut r = Reader::new(bytes);
    let value = read_json(&mut r, 0)?;
    r.finish()?;
    Ok(value)
}

/// Steps over an encoded JSON value, refusing exactly what `read_json` refuses (the same
/// tags, depth bound, list counts and UTF-8 checks) without building it: verification
/// reads the metrics this way, and JSON is made of them only when asked for (`Metrics`).
fn skip_json(r: &mut Reader, depth: usize) -> Result<(), BundleError> {
    if depth > MAX_DEPTH {
        return Err(bad("metrics nest too deep"));
    }
    match r.u8()? {
        0..=2 => {}
        3..=5 => {
            r.u64()?;
        }
        6 => {
            r.str()?;
        }
        7 => {
            for _ in 0..r.count(1)? {
                skip_json(r, depth + 1)?;
            }
        }
        8 => {
            for _ in 0..r.count(5)? {
                r.str()?;
                skip_json(r, depth + 1)?;
            }
        }
        other => return Err(bad(&format!("unknown metrics value tag {other}"))),
    }
    Ok(())
}

fn read_json(r: &mut Reader, depth: usize) -> Result<serde_json::Value, BundleError> {
    use serde_json::Value;
    if depth > MAX_DEPTH {
        return Err(bad("metrics nest too deep"));
    }
    Ok(match r.u8()? {
        0 => Value::Null,
        1 => Value::Bool(false),
        2 => Value::Bool(true),
        3 => Value::from(r.u64()?),
        4 => Value::from(r.i64()?),
        // A non-finite float has no JSON form: it reads as null, as serde_json writes it.
        5 => serde_json::Number::from_f64(r.f64()?).map_or(Value::Null, Value::Number),
        6 => Value::String(r.string()?),
        7 => Value::Array(r.list(1, |r| read_json(r, depth + 1))?),
        8 => {
            let mut map = serde_json::Map::new();
            for (k, v) in r.list(5, |r| Ok((r.string()?, read_json(r, depth + 1)?)))? {
                map.insert(k, v); // one by one, as page values are (`decode`)
            }
            Value::Object(map)
        }
        other => return Err(bad(&format!("unknown metrics value tag {other}"))),
    })
}

fn read_opt_u64(r: &mut Reader) -> Result<Option<u64>, BundleError> {
    let present = r.bool()?;
    let v = r.u64()?;
    Ok(present.then_some(v))
}

fn read_rules(r: &mut Reader) -> Result<Rules, BundleError> {
    let objective = pick(&OBJECTIVES, r.u8()?, "objective")?;
    let ladder = r.f64s()?;
    let guardrails = Guardrails { min_margin: r.f64()?, max_discount: r.f64()?, allow_above_reference: r.bool()? };
    let inventory =
        Inventory { low_stock: read_opt_u64(r)?, overstock: read_opt_u64(r)?, overstock_extra_discount: r.f64()? };
    let promotions = r.list(28, |r| {
        Ok(Promotion {
            name: r.string()?,
            start: r.string()?,
            end: r.string()?,
            categories: r.strings()?,
            tags: r.strings()?,
            extra_discount: r.f64()?,
            window: (0, 0), // set by `validate`, as for rules read from TOML
        })
    })?;
    let has_ending = r.bool()?;
    let ending = r.i64()?;
    let rounding = Rounding { ending: has_ending.then_some(ending) };
    let personalization = Personalization { cap: r.f64()? };
    let exploration = Exploration {
        mode: pick(&MODES, r.u8()?, "exploration mode")?,
        epsilon: r.f64()?,
        temperature: r.f64()?,
        control_share: r.f64()?,
        control: pick(&CONTROLS, r.u8()?, "control price")?,
    };
    let text = r.string()?;
    let jurisdictions = r.list(14, |r| {
        Ok(Jurisdiction {
            name: r.string()?,
            countries: r.strings()?,
            regions: r.strings()?,
            text: r.opt_string()?,
            personalization: pick(&PERSONALIZE, r.u8()?, "personalization")?,
        })
    })?;
    Ok(Rules {
        objective,
        ladder,
        guardrails,
        inventory,
        promotions,
        rounding,
        personalization,
        exploration,
        disclosure: Disclosure { text, jurisdictions },
    })
}

/// The writing side, only where bundles are signed (rules compiled from their text).
#[cfg(feature = "text-rules")]
pub(super) mod write {
    use super::*;
    use crate::bundle::wire::Writer;

    /// Writes a manifest and its compiled rules.
    pub fn encode(m: &Manifest, rules: &Rules) -> Result<Vec<u8>, BundleError> {
        let mut w = Writer::default();
        w.u64(m.policy_version);
        w.str(&m.key_id)?;
        w.str(&m.created)?;
        w.str(&m.expires)?;
        schema(&mut w, &m.schema)?;
        compiled_rules(&mut w, rules)?;
        w.len(m.page_values.len())?;
        for (name, value) in &m.page_values {
            w.str(name)?;
            w.f64(*value);
        }
        w.f64s(&m.population_curve.ratios)?;
        w.f64s(&m.population_curve.purchase_probability)?;
        w.str(&m.rules_toml)?;
        json_value(&mut w, &m.metrics.value(), 0)?;
        match &m.plan {
            Some(plan) => {
                w.u8(1);
                w.bytes(plan)?;
            }
            None => w.u8(0),
        }
        Ok(w.out)
    }

    /// The byte of an enum value: its place in the table that `pick` reads.
    fn index<T: PartialEq>(table: &[T], value: &T) -> u8 {
        table.iter().position(|t| t == value).unwrap_or(0) as u8
    }

    fn schema(w: &mut Writer, s: &FeatureSchema) -> Result<(), BundleError> {
        w.u32(s.transform_version);
        w.len(s.inputs.len())?;
        for input in &s.inputs {
            match input {
                Input::Log1p { column, max, mean, std } | Input::Linear { column, max, mean, std } => {
                    w.u8(if matches!(input, Input::Log1p { .. }) { 0 } else { 1 });
                    w.u8(index(&Numeric::ALL, column));
                    [*max, *mean, *std].iter().for_each(|x| w.f64(*x));
                }
                Input::Positive { column } => {
                    w.u8(2);
                    w.u8(index(&Numeric::ALL, column));
                }
                Input::Weekend => w.u8(3),
                Input::OneHot { column, vocabulary } => {
                    w.u8(4);
                    w.u8(index(&Categorical::ALL, column));
                    w.strs(vocabulary)?;
                }
            }
        }
        Ok(())
    }

    /// A JSON value without JSON text: a tag byte (0 null, 1 false, 2 true, 3 u64, 4 i64,
    /// 5 f64, 6 string, 7 array, 8 object) and its contents.
    pub(super) fn json_value(w: &mut Writer, v: &serde_json::Value, depth: usize) -> Result<(), BundleError> {
        use serde_json::Value;
        if depth > MAX_DEPTH {
            return Err(bad("metrics nest too deep"));
        }
        match v {
            Value::Null => w.u8(0),
            Value::Bool(b) => w.u8(1 + u8::from(*b)),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => {
                    w.u8(3);
                    w.u64(u);
                }
                (None, Some(i), _) => {
                    w.u8(4);
                    w.i64(i);
                }
                (None, None, f) => {
                    w.u8(5);
                    w.f64(f.unwrap_or(f64::NAN));
                }
            },
            Value::String(t) => {
                w.u8(6);
                w.str(t)?;
            }
            Value::Array(items) => {
                w.u8(7);
                w.len(items.len())?;
                items.iter().try_for_each(|item| json_value(w, item, depth + 1))?;
            }
            Value::Object(map) => {
                w.u8(8);
                w.len(map.len())?;
                for (k, item) in map {
                    w.str(k)?;
                    json_value(w, item, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    fn opt_u64(w: &mut Writer, v: Option<u64>) {
        w.u8(u8::from(v.is_some()));
        w.u64(v.unwrap_or(0));
    }

    fn compiled_rules(w: &mut Writer, rules: &Rules) -> Result<(), BundleError> {
        w.u8(index(&OBJECTIVES, &rules.objective));
        w.f64s(&rules.ladder)?;
        let g = &rules.guardrails;
        w.f64(g.min_margin);
        w.f64(g.max_discount);
        w.bool(g.allow_above_reference);
        opt_u64(w, rules.inventory.low_stock);
        opt_u64(w, rules.inventory.overstock);
        w.f64(rules.inventory.overstock_extra_discount);
        w.len(rules.promotions.len())?;
        for p in &rules.promotions {
            w.str(&p.name)?;
            w.str(&p.start)?;
            w.str(&p.end)?;
            w.strs(&p.categories)?;
            w.strs(&p.tags)?;
            w.f64(p.extra_discount);
        }
        w.u8(u8::from(rules.rounding.ending.is_some()));
        w.i64(rules.rounding.ending.unwrap_or(0));
        w.f64(rules.personalization.cap);
        let x = &rules.exploration;
        w.u8(index(&MODES, &x.mode));
        w.f64(x.epsilon);
        w.f64(x.temperature);
        w.f64(x.control_share);
        w.u8(index(&CONTROLS, &x.control));
        w.str(&rules.disclosure.text)?;
        w.len(rules.disclosure.jurisdictions.len())?;
        for j in &rules.disclosure.jurisdictions {
            w.str(&j.name)?;
            w.strs(&j.countries)?;
            w.strs(&j.regions)?;
            w.opt_str(j.text.as_deref())?;
            w.u8(index(&PERSONALIZE, &j.personalization));
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "text-rules"))]
mod tests {
    use super::*;
    use crate::bundle::wire::Writer;

    /// What each reader makes of `bytes`: refused, or how many bytes it read.
    fn outcomes(bytes: &[u8]) -> (Option<usize>, Option<usize>) {
        let (mut skip, mut read) = (Reader::new(bytes), Reader::new(bytes));
        let skipped = skip_json(&mut skip, 0).ok().map(|()| skip.at());
        let made = read_json(&mut read, 0).ok().map(|_| read.at());
        (skipped, made)
    }

    #[test]
    fn metrics_are_skipped_exactly_where_they_would_be_read() {
        let value = serde_json::json!({
            "auc": 0.91, "n": 12330, "delta": -4, "ok": true, "no": false, "none": null,
            "name": "é", "folds": [[1, 2.5], {"x": []}, "", 1e300], "empty": {}
        });
        let mut w = Writer::default();
        write::json_value(&mut w, &value, 0).unwrap();
        let bytes = w.out;
        assert_eq!(outcomes(&bytes), (Some(bytes.len()), Some(bytes.len())));
        assert_eq!(read_metrics(&bytes).unwrap(), value);
        assert_eq!(Metrics::wire(bytes.clone()).value(), value);
        // Every truncation, and every byte set to values that break tags, counts, lengths
        // and UTF-8: both refuse, or both read the same number of bytes.
        for end in 0..bytes.len() {
            assert_eq!(outcomes(&bytes[..end]).0, outcomes(&bytes[..end]).1, "truncated at {end}");
        }
        for at in 0..bytes.len() {
            for v in [0u8, 1, 5, 7, 8, 9, 0x7f, 0xc3, 0xff] {
                let mut bent = bytes.clone();
                bent[at] = v;
                let (skipped, made) = outcomes(&bent);
                assert_eq!(skipped, made, "byte {at} set to {v}");
            }
        }
        // Nesting past the bound is refused by both.
        let deep = [7u8, 1, 0, 0, 0].repeat(MAX_DEPTH + 2);
        assert_eq!(outcomes(&[deep, vec![0]].concat()), (None, None));
    }
}
