//! What an edge worker needs beyond pricing, kept platform-free so it is tested natively
//! and fuzzed like the core: the signed visit cookie (`visit`), the policy cache with its
//! refresh and staleness clock (`policy`), and the feedback outbox with retry and backoff
//! (`outbox`). Times are Unix seconds passed in by the adapter; nothing here does I/O.

pub mod outbox;
pub mod policy;
pub mod visit;
