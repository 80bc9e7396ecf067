//! Pricing: product and rules in, allowed candidate prices out (`candidates`), then the
//! decision among them (`decision`). Platform-free; `now` is always passed in.

pub mod candidates;
pub mod curve;
pub mod decision;
pub mod hash;
pub mod money;
pub mod product;
pub mod rules;
