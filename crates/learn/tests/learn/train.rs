//! The training recipe on the real train file: reproducible bit for bit with a seed, and
//! its cross-validated metrics meet the targets of the model card.

use edgeprice_learn::train::{TrainConfig, train};

#[test]
fn training_is_reproducible_and_meets_targets() {
    let rows = crate::read_rows();
    let config = TrainConfig::default();
    let a = train(&rows, &config, &mut || {}).unwrap();
    let b = train(&rows, &config, &mut || {}).unwrap();
    assert!(a.fp32 == b.fp32 && a.int8 == b.int8, "same seed, different model bytes");
    assert_eq!(a.schema, b.schema);
    let cv = &a.metrics.cross_validation;
    println!(
        "CV AUC fp32 {:.4} int8 {:.4}; log loss {:.4}; ECE {:.4}; price response MAE {:.4}",
        cv.auc_fp32.mean, cv.auc_int8.mean, cv.log_loss_fp32.mean, cv.ece_fp32.mean, cv.price_response.mean_abs_error
    );
    assert!(cv.auc_fp32.mean >= 0.92, "AUC {}", cv.auc_fp32.mean);
    assert!(cv.int8_auc_drop <= 0.003, "int8 drop {}", cv.int8_auc_drop);
    assert!(cv.price_response.mean_abs_error < 0.05, "price response error {}", cv.price_response.mean_abs_error);
    let shipped = std::fs::read(edgeprice_testkit::models().join("behaviour.onnx")).unwrap();
    println!("retrained fp32 model identical to models/behaviour.onnx: {}", shipped == a.fp32);

    let other = train(&rows, &TrainConfig { seed: 7, ..config }, &mut || {}).unwrap();
    assert_ne!(other.fp32, a.fp32, "the seed has no effect");
}

#[test]
fn unlabelled_rows_are_refused() {
    let mut rows = crate::read_rows();
    rows.truncate(200);
    rows[17].revenue = None;
    let err = train(&rows, &TrainConfig::default(), &mut || {}).err().unwrap();
    assert_eq!(err.to_string(), "row 18 has no Revenue label; training needs labelled sessions");
}
