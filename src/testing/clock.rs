//! Time: tokio's clock for every rule (so paused time drives the mock server too), and wall-clock
//! times derived from it, written as the server writes them (RFC 3339 in UTC).

use std::time::{SystemTime, UNIX_EPOCH};

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

/// Formats a time as RFC 3339 in UTC with milliseconds: `2026-11-30T23:22:03.123Z`. Times
/// before 1970 are written as the epoch.
pub(super) fn rfc3339(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Hinnant's civil algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(951_782_400_250); // a leap day
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.250Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_798_761_599);
        assert_eq!(rfc3339(t), "2026-12-31T23:59:59.000Z");
    }
}
