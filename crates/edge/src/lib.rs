//! What an edge worker needs beyond pricing, kept platform-free so it is tested natively
//! and fuzzed like the core: the signed visit cookie (`visit`), the policy cache with its
//! refresh and staleness clock (`policy`), the feedback outbox with retry and backoff
//! (`outbox`) and the queue consumer's per-message verdicts (`relay`). Times are Unix
//! seconds passed in by the adapter; nothing here does I/O.

pub mod outbox;
pub mod policy;
pub mod relay;
pub mod visit;
