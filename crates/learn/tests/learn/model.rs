//! The shipped model (models/) against its contract: it loads in tract-onnx, matches its
//! schema, is small, ranks sessions well, and int8 stays close to fp32.

use edgeprice_core::features::FeatureSchema;
use edgeprice_core::model::BehaviourModel;
use edgeprice_learn::metrics::auc;

fn load(name: &str) -> (FeatureSchema, BehaviourModel, usize) {
    let schema =
        FeatureSchema::from_json(&std::fs::read(edgeprice_testkit::models().join("schema.json")).unwrap()).unwrap();
    let bytes = std::fs::read(edgeprice_testkit::models().join(name)).unwrap();
    let model = BehaviourModel::load(&bytes, schema.width()).unwrap();
    (schema, model, bytes.len())
}

#[test]
fn shipped_models_load_and_are_small() {
    let (schema, _, fp32) = load("behaviour.onnx");
    let (_, _, int8) = load("behaviour.int8.onnx");
    assert!(int8 < 100 * 1024, "int8 model is {int8} bytes");
    assert!(int8 * 2 < fp32, "int8 {int8} B is not well under fp32 {fp32} B");
    assert_eq!(schema.names().len(), schema.width());
}

#[test]
fn wrong_schema_width_is_rejected() {
    let bytes = std::fs::read(edgeprice_testkit::models().join("behaviour.int8.onnx")).unwrap();
    let err = BehaviourModel::load(&bytes, 7).unwrap_err();
    assert_eq!(err.code(), "model_schema_mismatch", "{err}");
    let (_, model, _) = load("behaviour.int8.onnx");
    assert_eq!(model.heads(&[0.0; 3]).unwrap_err().code(), "model_wrong_width");
}

#[test]
fn truncated_model_is_rejected_not_panicking() {
    let bytes = std::fs::read(edgeprice_testkit::models().join("behaviour.int8.onnx")).unwrap();
    for cut in [1, 10, 100, bytes.len() / 2, bytes.len() - 1] {
        let r = BehaviourModel::load(&bytes[..cut], 44);
        assert!(r.is_err(), "truncated at {cut} loaded");
    }
}

#[test]
fn int8_tracks_fp32_and_ranks_buyers() {
    let rows = crate::read_rows();
    let (schema, fp32, _) = load("behaviour.onnx");
    let (_, int8, _) = load("behaviour.int8.onnx");
    let labels: Vec<bool> = rows.iter().map(|r| r.revenue.unwrap()).collect();
    let mut p32 = Vec::new();
    let mut p8 = Vec::new();
    for row in &rows {
        let x = schema.transform(&row.session);
        let (h32, h8) = (fp32.heads(&x).unwrap(), int8.heads(&x).unwrap());
        assert!(h32.b > 0.0 && h8.b > 0.0, "price sensitivity must be positive");
        p32.push(h32.purchase_probability(1.0));
        p8.push(h8.purchase_probability(1.0));
        // Demand falls as price rises, for every session.
        assert!(h8.purchase_probability(0.8) > h8.purchase_probability(1.0));
    }
    let max_diff = p32.iter().zip(&p8).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let (a32, a8) = (auc(&p32, &labels).unwrap(), auc(&p8, &labels).unwrap());
    println!("in-sample AUC fp32 {a32:.4} int8 {a8:.4}, max |p8 - p32| {max_diff:.5}");
    assert!(max_diff < 0.05, "int8 differs from fp32 by {max_diff}");
    assert!(a32 - a8 <= 0.003, "int8 AUC drop {}", a32 - a8);
    assert!(a8 > 0.92, "in-sample AUC {a8}");
}

#[test]
fn shipped_metrics_meet_the_targets() {
    let text = std::fs::read_to_string(edgeprice_testkit::models().join("metrics.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cv = &m["cross_validation"];
    let auc32 = cv["auc_fp32"]["mean"].as_f64().unwrap();
    let drop = cv["auc_fp32"]["mean"].as_f64().unwrap() - cv["auc_int8"]["mean"].as_f64().unwrap();
    assert!(auc32 >= 0.92, "5-fold AUC {auc32}");
    assert!(drop <= 0.003, "int8 AUC drop {drop}");
    assert_eq!(cv["folds"], 5);
    let int8_bytes = m["model"]["int8_bytes"].as_u64().unwrap();
    let on_disk = std::fs::metadata(edgeprice_testkit::models().join("behaviour.int8.onnx")).unwrap().len();
    assert_eq!(int8_bytes, on_disk, "metrics.json does not describe the shipped int8 model");
}

#[test]
fn model_card_quotes_the_shipped_metrics() {
    let card = std::fs::read_to_string(edgeprice_testkit::models().join("README.md")).unwrap();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(edgeprice_testkit::models().join("metrics.json")).unwrap())
            .unwrap();
    let cv = &m["cross_validation"];
    let thousands = |n: u64| {
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    for quoted in [
        format!("{:.4}", cv["auc_fp32"]["mean"].as_f64().unwrap()),
        format!("{:.4}", cv["log_loss_fp32"]["mean"].as_f64().unwrap()),
        format!("{:.4}", cv["ece_fp32"]["mean"].as_f64().unwrap()),
        format!("{:.4}", cv["price_response"]["mean_abs_error"].as_f64().unwrap()),
        thousands(m["model"]["int8_bytes"].as_u64().unwrap()),
        thousands(m["model"]["fp32_bytes"].as_u64().unwrap()),
        thousands(m["data"]["logged_purchases"].as_u64().unwrap()),
    ] {
        assert!(card.contains(&quoted), "models/README.md does not quote {quoted} from metrics.json");
    }
}
