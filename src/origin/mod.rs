//! The origin service (native): publishes and serves signed policy bundles and stores the
//! edge's feedback. `app` builds the whole HTTP API as a router, testable without a socket;
//! `edgeprice serve` binds it. The store is SQLite or PostgreSQL (`store`).

pub mod feedback;
pub mod http;
pub mod report;
pub mod store;

pub use http::{AppState, app};
