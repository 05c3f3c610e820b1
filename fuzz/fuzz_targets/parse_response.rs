//! Any bytes as a 2xx body: the lenient parser never panics, and what it reports is
//! consistent (no drift facts from a body that is not a JSON object).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vortex_client::HeartbeatResponse;

fuzz_target!(|body: &[u8]| {
    let parsed = HeartbeatResponse::parse_lenient(body);
    let is_object = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if !is_object {
        assert_eq!(
            parsed,
            HeartbeatResponse {
                registered: true,
                expected_version: None,
                drift_detected: false,
            }
        );
    }
});
