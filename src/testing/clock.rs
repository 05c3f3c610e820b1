//! Time: tokio's clock for every rule (so paused time drives the mock server too), and wall-clock
//! times derived from it (written as RFC 3339 in UTC by `crate::timestamp`).

use std::time::SystemTime;

use tokio::time::Instant;

/// Maps tokio's clock onto the wall clock from one reading taken at start: under paused time,
/// the timestamps a test sees move with virtual time, consistent with the rules.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    instant: Instant,
    utc: SystemTime,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            instant: Instant::now(),
            utc: SystemTime::now(),
        }
    }
}

impl Clock {
    /// The wall-clock time of a tokio instant.
    pub(super) fn utc(&self, at: Instant) -> SystemTime {
        let mapped = match at.checked_duration_since(self.instant) {
            Some(later) => self.utc.checked_add(later),
            None => self
                .utc
                .checked_sub(self.instant.saturating_duration_since(at)),
        };
        mapped.unwrap_or(self.utc)
    }
}
