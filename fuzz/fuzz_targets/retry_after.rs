//! Any header value as `Retry-After`: parsing never panics, whatever the clock says.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use vortex_client::fuzzing::parse_retry_after;

fuzz_target!(|input: (&str, u32)| {
    let (value, now) = input;
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(now));
    let _ = parse_retry_after(value, now);
});
