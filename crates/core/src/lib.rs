//! edgeprice's platform-free core: bytes and values in, values out. No I/O, no clock
//! (callers pass `now`), no panics on input; it builds for wasm32-unknown-unknown and
//! imports no other edgeprice crate (the workspace's manifests make that a compile error).
//!
//! A decision flows `session` -> `tracker` -> `features` -> `model` (tract or the int8 fast
//! path in `model::plan`) -> `pricing` (candidates, then the decision) under the signed
//! rules and model of a `bundle`; `engine` ties them together. `feedback` is the wire
//! format of the events the edge sends to the origin; `webhook` signs and verifies the
//! origin's policy pushes.

pub mod bundle;
pub mod engine;
pub mod features;
pub mod feedback;
pub mod model;
pub mod pricing;
pub mod rng;
pub mod secret;
pub mod session;
pub mod tracker;
pub mod webhook;

// Static constructors on wasm (see the module): the wasm adapters call `run_once` before
// they load a model.
#[cfg(target_arch = "wasm32")]
pub mod ctors;
