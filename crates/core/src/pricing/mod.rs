//! Pricing: product and rules in, allowed candidate prices out (`candidates`), then the
//! decision among them (`decision`), and what a personalized price must disclose where
//! (`disclosure`), and its JSON text written directly (`json`). Platform-free; `now` is
//! always passed in.

pub mod candidates;
pub mod curve;
pub mod decision;
pub mod disclosure;
pub mod hash;
pub mod json;
pub mod money;
pub mod product;
pub mod rules;
