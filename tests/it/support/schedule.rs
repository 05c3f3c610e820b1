//! The schedule as docs/resilience.md states it, for tests that check the client's timing
//! against the documentation rather than against its own code.

use std::time::Duration;

/// The nominal backoff after `failures` consecutive failures: `initial` doubling, at most
/// `max`; zero for none.
pub fn nominal_retry_delay(failures: u32, initial: Duration, max: Duration) -> Duration {
    match failures {
        0 => Duration::ZERO,
        n => initial
            .checked_mul(1u32.checked_shl(n - 1).unwrap_or(u32::MAX))
            .unwrap_or(max)
            .min(max),
    }
}

/// The documented jitter ranges, as fractions of the nominal delay.
pub mod jitter {
    /// The second report, after the immediate first: a fresh phase within the interval.
    pub const FIRST: (f64, f64) = (0.1, 1.0);
    /// Each later interval.
    pub const INTERVAL: (f64, f64) = (0.9, 1.1);
    /// A `Retry-After`: a floor, at most 1.5 times.
    pub const RETRY_AFTER: (f64, f64) = (1.0, 1.5);
}
