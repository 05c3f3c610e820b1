//! `Retry-After`: delay-seconds or an HTTP date (RFC 9110 section 10.2.3), turned into a wait.
//! Written here rather than taken from a crate: no date crate is in a default build's tree,
//! and the three date forms fit in a page.

use std::time::{Duration, SystemTime};

/// Parses a `Retry-After` value: delay-seconds or an HTTP date, relative to `now`.
/// A date in the past gives zero; anything unparsable gives `None`.
#[must_use]
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Longer than u64 seconds is "forever": the cap applies downstream.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses the IMF-fixdate form (`Sun, 06 Nov 1994 08:49:37 GMT`), and the obsolete RFC 850
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`) forms.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let (day, month, year, time) = match parts.as_slice() {
        // IMF-fixdate
        [_, day, month, year, time, "GMT"] => (*day, *month, year.parse::<i64>().ok()?, *time),
        // RFC 850
        [_, date, time, "GMT"] => {
            let mut it = date.split('-');
            let (d, m, y) = (it.next()?, it.next()?, it.next()?);
            let y: i64 = y.parse().ok()?;
            (
                d,
                m,
                if y < 70 {
                    2000 + y
                } else if y < 100 {
                    1900 + y
                } else {
                    y
                },
                *time,
            )
        }
        // asctime
        [_, month, day, time, year] => (*day, *month, year.parse::<i64>().ok()?, *time),
        _ => return None,
    };
    if !(1..=9999).contains(&year) {
        return None;
    }
    let day: i64 = day.parse().ok()?;
    let month = month_number(month)?;
    let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if !(1..=31).contains(&day)
        || !(0..24).contains(&h)
        || !(0..60).contains(&m)
        || !(0..=60).contains(&s)
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days.checked_mul(86_400)? + h * 3600 + m * 60 + s;
    let secs = u64::try_from(secs).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

fn month_number(name: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let index = MONTHS.iter().position(|m| *m == name)?;
    i64::try_from(index + 1).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = at(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:47 1994", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in [
            "",
            "-5",
            "1.5",
            "soon",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            // Years that would overflow the date arithmetic.
            "Sun, 06 Nov 9223372036854775807 08:49:37 GMT",
            "Sun, 06 Nov -9223372036854775808 08:49:37 GMT",
            "Sun Nov  6 08:49:37 99999999999",
            "Sun, 06 Nov 0 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
        assert!(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now).is_some());
    }

    #[test]
    fn a_year_out_of_range_is_garbage() {
        assert_eq!(
            parse_retry_after(
                "Sun, 06 Nov -9223372036854775808 08:49:37 GMT",
                SystemTime::now()
            ),
            None
        );
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
