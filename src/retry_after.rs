//! `Retry-After`: delay-seconds or an HTTP date (RFC 9110 section 10.2.3), turned into a wait.
//! The dates are read by the `httpdate` crate (the parser hyper uses).

use std::time::{Duration, SystemTime};

/// Parses a `Retry-After` value: delay-seconds or an HTTP date (IMF-fixdate, RFC 850 or
/// asctime, exactly as RFC 9110 writes them), relative to `now`. A date in the past gives
/// zero; anything unparsable gives `None`.
#[must_use]
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Longer than u64 seconds is "forever": the cap applies downstream.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        let cases = [
            ("120", Some(120)),
            (" 0 ", Some(0)),
            ("99999999999999999999999", Some(u64::MAX)),
            ("Sun, 06 Nov 1994 08:50:07 GMT", Some(30)),
            ("Sunday, 06-Nov-94 08:50:37 GMT", Some(60)),
            ("Sun Nov  6 08:49:47 1994", Some(10)),
            ("Sun, 06 Nov 1994 08:00:00 GMT", Some(0)),
            (
                "Fri, 31 Dec 9999 23:59:59 GMT",
                Some(253_402_300_799 - 784_111_777),
            ),
            ("", None),
            ("-5", None),
            ("1.5", None),
            ("soon", None),
            ("Sun, 32 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 Foo 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 9223372036854775807 08:49:37 GMT", None),
            ("Sun Nov  6 08:49:37 99999999999", None),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("Wed, 31 Dec 1969 23:59:59 GMT", None),
        ];
        for (value, secs) in cases {
            assert_eq!(
                parse_retry_after(value, now),
                secs.map(Duration::from_secs),
                "{value}"
            );
        }
    }

    mod properties {
        use std::time::{Duration, SystemTime};

        use proptest::prelude::*;

        use super::super::parse_retry_after;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any Retry-After string: no panic; digits are seconds; an HTTP date never yields
            /// more than the distance to it.
            #[test]
            fn retry_after_never_panics(value in prop_oneof![
                any::<String>(),
                "[0-9]{1,30}",
                (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>(), prop::sample::select(vec!["Jan", "Feb", "Dec", "Foo"]))
                    .prop_map(|(d, y, h, m, s, mon)| format!("Sun, {d} {mon} {y} {h}:{m}:{s} GMT")),
                (0u32..40, 0i64..10_000, 0u32..30, 0u32..70, 0u32..70)
                    .prop_map(|(d, y, h, m, s)| format!("Sun, {d:02} Nov {y} {h:02}:{m:02}:{s:02} GMT")),
                (0u32..40, 0u32..100).prop_map(|(d, y)| format!("Sunday, {d:02}-Nov-{y:02} 08:49:37 GMT")),
                (0u32..40, any::<i64>()).prop_map(|(d, y)| format!("Sun Nov {d:2} 08:49:37 {y}")),
            ], now_s in 0u64..=4_000_000_000) {
                let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now_s);
                let parsed = parse_retry_after(&value, now);
                let trimmed = value.trim();
                if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
                    let expected = trimmed.parse::<u64>().map_or(Duration::from_secs(u64::MAX), Duration::from_secs);
                    prop_assert_eq!(parsed, Some(expected));
                } else if let Some(d) = parsed {
                    // 9999-12-31 is the latest accepted date.
                    prop_assert!(d <= Duration::from_secs(253_402_300_800));
                }
            }
        }
    }
}
