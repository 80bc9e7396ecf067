//! What an edge worker needs beyond pricing, kept platform-free so it is tested natively
//! and fuzzed like the core: the signed visit cookie (`visit`), the policy cache with its
//! refresh and staleness clock (`policy`), the feedback outbox with retry and backoff
//! (`outbox`), the queue consumer's per-message verdicts (`relay`), the catalog cache's
//! freshness (`catalog`) and a request URL's query parameters (`query`). Times are Unix
//! seconds passed in by the adapter; nothing here does I/O.

pub mod catalog;
pub mod outbox;
pub mod policy;
pub mod query;
pub mod relay;
pub mod visit;
