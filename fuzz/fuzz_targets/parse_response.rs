//! Any bytes as a 2xx body: the lenient parser never panics, and what it reports is
//! consistent (no drift facts from a body that is not a JSON object).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vortex_client::fuzzing::parse_response;

fuzz_target!(|body: &[u8]| {
    let parsed = parse_response(body);
    let is_object = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if !is_object {
        assert!(parsed.registered);
        assert_eq!(parsed.expected_version, None);
        assert!(!parsed.drift_detected);
    }
});
