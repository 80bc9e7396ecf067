//! The compact int8 fast path against tract-onnx, the reference runtime: it lowers exactly
//! the shipped model family, refuses anything else, and gives the same heads on real
//! sessions within float rounding.

use edgeprice_core::features::FeatureSchema;
use edgeprice_core::model::BehaviourModel;
use edgeprice_core::model::plan::Plan;

#[test]
fn the_shipped_int8_model_lowers_and_agrees_with_tract() {
    let onnx = std::fs::read(edgeprice_testkit::models().join("behaviour.int8.onnx")).unwrap();
    let schema =
        FeatureSchema::from_json(&std::fs::read(edgeprice_testkit::models().join("schema.json")).unwrap()).unwrap();
    let plan = Plan::lower(&onnx).expect("the shipped int8 model is in the fast path's family");
    assert!(plan.head_c.is_some(), "the shipped model has the ceiling head (price-response form 2)");
    assert_eq!(plan.width(), schema.width());
    assert_eq!(plan.hidden.iter().map(|l| l.outputs).collect::<Vec<_>>(), [64, 32]);
    let tract = BehaviourModel::load(&onnx, schema.width()).unwrap();
    let rows = crate::read_rows();
    let mut worst = 0f32;
    for r in rows.iter().step_by(3) {
        let x = schema.transform(&r.session);
        let (want, got) = (tract.reference_heads(&x).unwrap(), plan.heads(&x).unwrap());
        for (w, g) in [(want.a, got.a), (want.b, got.b), (want.c, got.c)] {
            let rel = (w - g).abs() / w.abs().max(1.0);
            worst = worst.max(rel);
        }
    }
    println!("fast path vs tract-onnx on {} sessions: largest relative difference {worst:.2e}", rows.len().div_ceil(3));
    assert!(worst < 1e-5, "{worst}");
    assert!(plan.heads(&[0.0; 3]).is_none(), "wrong width");
    assert_eq!(tract.runtime(), "int8_fast_path", "the engine serves the shipped model with the fast path");
    let fp32 = BehaviourModel::load(
        &std::fs::read(edgeprice_testkit::models().join("behaviour.onnx")).unwrap(),
        schema.width(),
    );
    assert_eq!(fp32.unwrap().runtime(), "tract_onnx", "anything else runs on tract-onnx");
}

#[test]
fn other_graphs_and_bad_bytes_are_not_lowered() {
    let fp32 = std::fs::read(edgeprice_testkit::models().join("behaviour.onnx")).unwrap();
    assert!(Plan::lower(&fp32).is_none(), "fp32 weights are not the int8 family");
    let int8 = std::fs::read(edgeprice_testkit::models().join("behaviour.int8.onnx")).unwrap();
    for cut in [0, 10, int8.len() / 2, int8.len() - 1] {
        assert!(Plan::lower(&int8[..cut]).is_none(), "truncated at {cut}");
    }
    assert!(Plan::lower(b"not a model at all").is_none());
}

#[test]
fn the_plan_round_trips_through_bytes_and_refuses_damage() {
    let onnx = std::fs::read(edgeprice_testkit::models().join("behaviour.int8.onnx")).unwrap();
    let plan = Plan::lower(&onnx).unwrap();
    let bytes = plan.to_bytes();
    assert_eq!(Plan::from_bytes(&bytes), Some(plan.clone()));
    println!("plan: {} bytes (the int8 ONNX file: {} bytes)", bytes.len(), onnx.len());
    for cut in 0..bytes.len() {
        assert!(Plan::from_bytes(&bytes[..cut]).is_none(), "truncated at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Plan::from_bytes(&longer).is_none());
    let mut nan = bytes.clone();
    let n = nan.len();
    nan[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(Plan::from_bytes(&nan).is_none(), "a non-finite bias");
}
