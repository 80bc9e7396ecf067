//! The core's integration tests, one binary: golden decision vectors (shared with the wasm
//! and worker runs), bundle verification against tampering, both bundle formats, bad input at the engine,
//! disclosure by jurisdiction, and pricing properties. Fixtures come from `edgeprice-testkit`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod bundle;
mod disclosure;
mod format;
mod golden;
mod pricing_props;
