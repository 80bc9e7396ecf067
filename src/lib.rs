//! edgeprice: real-time personalized pricing at the edge.
//!
//! The core (`session`, `tracker`, `dataset`, `features`, `market`, `model`, `metrics`,
//! `pricing`, `bundle`, `engine`, `feedback` (the origin's feedback wire format), and `edge`: the worker's cookie, policy cache and feedback
//! outbox) is platform-free: bytes and values in, values out, no I/O,
//! no clock, no panics on input. It builds for wasm32-unknown-unknown. `train` (feature
//! `train`) is native only.

pub mod bundle;
pub mod dataset;
pub mod edge;
pub mod engine;
pub mod features;
pub mod feedback;
pub mod learn;
pub mod market;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod pricing;
pub mod rng;
pub mod session;
pub mod tracker;

#[cfg(feature = "origin")]
pub mod origin;
#[cfg(feature = "train")]
pub mod train;

// `web-lean` is the JavaScript API without tract-onnx; `web` adds tract (Cargo.toml).
#[cfg(feature = "web-lean")]
pub mod web;
// `worker-lean` is the worker without tract-onnx; `worker` adds tract (Cargo.toml).
#[cfg(feature = "worker-lean")]
pub mod worker;

// Static constructors on wasm (see the module); only the wasm adapters need them.
#[cfg(all(target_arch = "wasm32", any(feature = "web-lean", feature = "worker-lean")))]
mod ctors;
