//! Shared paths for the integration tests: the shipped model and the data set, which
//! lives outside the repo (see README, "Data").
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn models() -> PathBuf {
    repo().join("models")
}

/// `../shared/data/online_shoppers_train.csv`, or `EDGEPRICE_DATA` when set.
pub fn train_csv() -> PathBuf {
    std::env::var_os("EDGEPRICE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data/online_shoppers_train.csv"))
}

pub fn read_rows() -> Vec<edgeprice::dataset::Row> {
    let path = train_csv();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    edgeprice::dataset::parse(&text).unwrap()
}
