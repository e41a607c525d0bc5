//! Wall-clock helpers shared by every backend.
//!
//! Invariants:
//! - Durations in responses (`prompt_ms`, `generation_ms`, `total_ms`) are milliseconds as
//!   `f64`, measured with [`Instant`] (monotonic), never the system clock.

use std::time::Instant;

/// Milliseconds elapsed since `t`.
pub(crate) fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
