//! The offline side's integration tests, one binary, on the real data set: the shipped
//! model's quality and its fast path against tract (`model`, `plan`), training (`train`),
//! and the learning loop's simulation and off-policy evaluation (`evaluation`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod evaluation;
mod model;
mod plan;
mod train;

/// The data set's rows (README, "Data").
pub fn read_rows() -> Vec<edgeprice_learn::dataset::Row> {
    edgeprice_learn::dataset::parse(&edgeprice_testkit::train_text()).unwrap()
}
