//! Property tests: whatever the input, URLs keep their shape, backoff stays within its bounds,
//! and nothing a server sends can panic the client.
//!
//! Case counts are modest (the whole file runs in a few seconds); raise them locally with
//! `PROPTEST_CASES=10000 cargo test --test it properties::`.

use std::io::{Read, Write};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use tokio::time::Instant;
use vortex_client::reporter::{heartbeat_url, parse_retry_after, MAX_RESPONSE_BYTES};
use vortex_client::schedule::{nominal_retry_delay, RateLimiter, Schedule, MAX_RETRY_AFTER};
use vortex_client::{
    ConfigError, Environment, HeartbeatClient, HeartbeatConfig, HeartbeatResponse, ReporterError,
    MAX_DURATION, MAX_NAME_LEN,
};

/// Decodes a percent-encoded path segment; panics on a malformed escape (the encoder must
/// never produce one).
fn percent_decode(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ASCII escape");
            out.push(u8::from_str_radix(hex, 16).expect("two hex digits after %"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The documented rule for `app` and `profile`.
fn valid_segment(s: &str) -> bool {
    !s.trim().is_empty()
        && s.len() <= MAX_NAME_LEN
        && !s.chars().any(char::is_control)
        && s != "."
        && s != ".."
}

/// Strings that stress URL encoding: anything at all, the characters URLs care about, the
/// dot segments in all their spellings, and lengths around the limit.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        4 => "[./%?#\\\\ a-z0-9\t\n\r@:;=&+$,\u{0}\u{7f}\u{85}é🦀]{0,12}",
        1 => prop::sample::select(vec![
            ".", "..", "%2e", "%2e%2e", ".%2E", "%2E.", "...", "./", "/..", "\\..", "%", "%zz",
            "%00", " ", "", "a/../b", "?", "#", "\u{feff}", "\u{202e}",
        ])
        .prop_map(str::to_owned),
        1 => (MAX_NAME_LEN - 2..MAX_NAME_LEN + 3).prop_map(|n| "é".repeat(n / 2) + &"x".repeat(n % 2)),
    ]
}

/// A server URL with 0..4 prefix segments, with or without a trailing slash, and its segments.
fn server_url() -> impl Strategy<Value = (String, Vec<String>)> {
    (
        prop::collection::vec("[a-zA-Z0-9_~-]{1,6}", 0..4),
        any::<bool>(),
        prop::sample::select(if cfg!(feature = "rustls") {
            vec!["http", "https"]
        } else {
            vec!["http"]
        }),
    )
        .prop_map(|(prefix, slash, scheme)| {
            let mut url = format!("{scheme}://127.0.0.1:8080");
            for p in &prefix {
                url.push('/');
                url.push_str(p);
            }
            if slash {
                url.push('/');
            }
            (url, prefix)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever app and profile hold, the heartbeat path is the prefix plus exactly five
    /// segments, each of which percent-decodes back to its input; or the input breaks a
    /// documented rule and the answer is a ConfigError naming it.
    #[test]
    fn heartbeat_path_keeps_its_shape((base, prefix) in server_url(), app in name(), profile in name()) {
        match heartbeat_url(&base, &app, &profile) {
            Ok(url) => {
                prop_assert!(valid_segment(&app) && valid_segment(&profile));
                prop_assert!(url.query().is_none() && url.fragment().is_none());
                let segments: Vec<&str> = url.path_segments().expect("a base URL").collect();
                let n = prefix.len();
                prop_assert_eq!(segments.len(), n + 5, "{}", url);
                prop_assert_eq!(&segments[..n], &prefix[..]);
                prop_assert_eq!(&segments[n..n + 3], &["api", "drift", "heartbeat"]);
                for (segment, input) in [(segments[n + 3], &app), (segments[n + 4], &profile)] {
                    prop_assert!(segment.is_ascii());
                    prop_assert!(!segment.contains(['/', '?', '#', '\\']), "{}", segment);
                    prop_assert_eq!(percent_decode(segment), input.as_bytes().to_vec());
                }
                // The serialised form parses back to the same URL.
                prop_assert_eq!(url.join(url.as_str()).expect("reparse"), url.clone());
            }
            Err(e) => {
                prop_assert!(!valid_segment(&app) || !valid_segment(&profile), "{e}");
                let field = match &e {
                    ConfigError::MissingField(f) | ConfigError::InvalidValue { field: f, .. } => *f,
                    other => return Err(TestCaseError::fail(format!("unexpected {other:?}"))),
                };
                let bad = if valid_segment(&app) { "profile" } else { "app" };
                prop_assert_eq!(field, bad);
                prop_assert!(e.to_string().len() < 512, "error messages stay short");
            }
        }
    }

    /// The builder applies the same rules to app, profile and instance_id (an empty
    /// instance_id means "generate one").
    #[test]
    fn builder_accepts_exactly_the_documented_names(app in name(), profile in name(), instance in name()) {
        let result = HeartbeatConfig::builder()
            .environment(Environment::empty())
            .server_url("http://127.0.0.1:8080/cfg/")
            .app(app.clone())
            .profile(profile.clone())
            .instance_id(instance.clone())
            .build();
        let instance_ok = instance.is_empty()
            || (!instance.trim().is_empty()
                && instance.len() <= MAX_NAME_LEN
                && !instance.chars().any(char::is_control));
        prop_assert_eq!(
            result.is_ok(),
            valid_segment(&app) && valid_segment(&profile) && instance_ok,
            "{:?}", result
        );
        if let Ok(config) = result {
            // Accepted values are kept verbatim: nothing trimmed, truncated or rewritten.
            prop_assert_eq!(config.app, app);
            prop_assert_eq!(config.profile, profile);
            if instance.is_empty() {
                // build() fills in the generated id.
                prop_assert!(!config.instance_id.is_empty());
            } else {
                prop_assert_eq!(config.instance_id, instance);
            }
        }
    }

    /// Realistic settings (up to the 24 h limit): every delay within its documented bounds.
    #[test]
    fn backoff_delays_stay_within_their_bounds(
        initial_ns in 1u64..=MAX_DURATION.as_nanos() as u64,
        cap_fraction in 0.0f64..=1.0,
        interval_ns in 1u64..=MAX_DURATION.as_nanos() as u64,
        failures in prop::collection::vec(any::<u32>(), 1..16),
        retry_after_s in prop::option::of(0u64..=u64::MAX),
        seed in any::<u64>(),
    ) {
        let initial = Duration::from_nanos(initial_ns);
        let cap = initial + (MAX_DURATION - initial).mul_f64(cap_fraction);
        let interval = Duration::from_nanos(interval_ns);
        let slack = Duration::from_micros(1);
        let mut schedule = Schedule::with_seed(interval, initial, cap, seed);
        let mut previous = Duration::ZERO;
        for n in 0..40u32 {
            let nominal = nominal_retry_delay(n, initial, cap);
            prop_assert!(nominal <= cap);
            prop_assert!(nominal >= previous, "nominal delays never shrink");
            if n >= 1 {
                prop_assert!(nominal >= initial);
            }
            previous = nominal;
        }
        for &n in &failures {
            let nominal = nominal_retry_delay(n, initial, cap);
            let d = schedule.after_failure(n);
            prop_assert!(d <= cap, "{d:?} above the cap {cap:?}");
            prop_assert!(d + slack >= nominal / 2, "{d:?} below half of {nominal:?}");
            prop_assert!(d <= nominal.mul_f64(1.5) + slack, "{d:?} above 1.5 x {nominal:?}");
            let ok = schedule.after_success();
            prop_assert!(ok + slack >= interval.mul_f64(0.9) && ok <= interval.mul_f64(1.1) + slack);
            let first = schedule.first_delay();
            prop_assert!(first + slack >= interval.mul_f64(0.1) && first <= interval + slack);
            if let Some(s) = retry_after_s {
                let asked = Duration::from_secs(s);
                let t = schedule.after_throttle(n, asked);
                let honoured = asked.min(MAX_RETRY_AFTER);
                prop_assert!(t >= honoured, "waits at least what the server asked (capped)");
                prop_assert!(t <= honoured.mul_f64(1.2).max(cap) + slack);
            }
        }
    }

    /// Absurd settings through the public schedule API (which does not validate): no panic,
    /// and the cap still holds.
    #[test]
    fn schedule_never_panics_on_absurd_durations(
        interval in any::<(u64, u32)>(),
        initial in any::<(u64, u32)>(),
        cap in any::<(u64, u32)>(),
        failures in any::<u32>(),
        retry_after in any::<(u64, u32)>(),
        burst in any::<u32>(),
        gap in any::<(u64, u32)>(),
        steps in prop::collection::vec(any::<u64>(), 0..8),
    ) {
        let d = |(s, n): (u64, u32)| Duration::new(s, n % 1_000_000_000);
        let (interval, initial, cap) = (d(interval), d(initial), d(cap));
        let mut schedule = Schedule::with_seed(interval, initial, cap, 1);
        let _ = schedule.first_delay();
        let _ = schedule.after_success();
        prop_assert!(schedule.after_failure(failures) <= cap.max(initial));
        let _ = schedule.after_throttle(failures, d(retry_after));
        let _ = nominal_retry_delay(failures, initial, cap);
        let mut limiter = RateLimiter::new(burst, d(gap));
        let mut now = Instant::now();
        for step in steps {
            let _ = limiter.check(now);
            now = now.checked_add(Duration::from_nanos(step)).unwrap_or(now);
        }
    }

    /// Arbitrary bytes as a 2xx body: the lenient parser never panics, and anything that is
    /// not a JSON object with the contract's types counts as delivered without drift facts.
    #[test]
    fn response_parser_never_panics(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let parsed = HeartbeatResponse::parse_lenient(&body);
        if serde_json::from_slice::<serde_json::Value>(&body).map_or(true, |v| !v.is_object()) {
            prop_assert_eq!(parsed, HeartbeatResponse {
                registered: true,
                expected_version: None,
                drift_detected: false,
            });
        }
    }

    /// JSON-shaped bodies with members of any type: never a panic; each well-typed member is read
    /// alone.
    #[test]
    fn response_parser_reads_well_typed_members(
        registered in prop::option::of(prop_oneof![any::<bool>().prop_map(serde_json::Value::from), any::<i64>().prop_map(serde_json::Value::from)]),
        expected in prop::option::of(prop_oneof![any::<String>().prop_map(serde_json::Value::from), Just(serde_json::Value::Null), any::<f64>().prop_map(serde_json::Value::from)]),
        drift in prop::option::of(any::<bool>()),
        extra in prop::collection::btree_map("[a-z_]{1,8}", any::<String>(), 0..4),
    ) {
        let mut object = serde_json::Map::new();
        for (k, v) in extra {
            object.insert(k, v.into());
        }
        if let Some(r) = &registered { object.insert("registered".into(), r.clone()); }
        if let Some(e) = &expected { object.insert("expected_version".into(), e.clone()); }
        if let Some(d) = drift { object.insert("drift_detected".into(), d.into()); }
        let body = serde_json::to_vec(&object).expect("serialise");
        let parsed = HeartbeatResponse::parse_lenient(&body);
        // Each well-typed member is read, whatever the types of the others.
        prop_assert_eq!(parsed.registered, registered.and_then(|r| r.as_bool()).unwrap_or(true));
        prop_assert_eq!(parsed.expected_version, expected.and_then(|e| e.as_str().map(str::to_owned)));
        prop_assert_eq!(parsed.drift_detected, drift.unwrap_or(false));
    }

    /// Any Retry-After string: no panic; digits are seconds; an HTTP date never yields more
    /// than the distance to it.
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

/// A loopback server that answers every request with whatever the current test case scripts:
/// a status line, and raw body bytes (with Content-Length). Runs on a thread of its own.
struct RawServer {
    addr: std::net::SocketAddr,
    next: std::sync::Arc<parking_lot::Mutex<(u16, Vec<u8>)>>,
}

impl RawServer {
    fn start() -> RawServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let next = std::sync::Arc::new(parking_lot::Mutex::new((200, Vec::new())));
        let script = next.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (status, body) = script.lock().clone();
                let _ = read_request(&mut stream);
                let mut response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                response.extend_from_slice(&body);
                let _ = stream.write_all(&response);
            }
        });
        RawServer { addr, next }
    }
}

/// Reads one request's head and its Content-Length body.
fn read_request(stream: &mut std::net::TcpStream) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(data);
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while data.len() < end + 4 + length {
                let n = stream.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
            }
            return Ok(data);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any status (200..=999) with any body bytes, over real HTTP: the client never panics;
    /// a 2xx is delivered, anything else is an error whose message is short and free of
    /// control characters.
    #[test]
    fn any_status_and_body_never_panics_the_client(
        status in 200u16..=999,
        body in prop::collection::vec(any::<u8>(), 0..1024),
    ) {
        thread_local! {
            static FIXTURE: (RawServer, tokio::runtime::Runtime, HeartbeatClient) = {
                let server = RawServer::start();
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let client = HeartbeatClient::builder()
                    .environment(Environment::empty())
                    .disable_auto_detect()
                    .server_url(format!("http://{}", server.addr))
                    .app("a")
                    .profile("p")
                    .max_retries(1)
                    .build()
                    .unwrap();
                (server, runtime, client)
            };
        }
        FIXTURE.with(|(server, runtime, client)| {
            *server.next.lock() = (status, body.clone());
            let result = runtime.block_on(client.report_now());
            match (status, result) {
                (200..=299, Ok(_)) => Ok(()),
                (200..=299, Err(e)) => Err(TestCaseError::fail(format!("{status}: {e}"))),
                (_, Ok(r)) => Err(TestCaseError::fail(format!("{status} delivered: {r:?}"))),
                (_, Err(e)) => {
                    let text = e.to_string();
                    prop_assert!(!text.chars().any(char::is_control), "{text:?}");
                    prop_assert!(text.len() < 2048, "{}", text.len());
                    prop_assert_eq!(e.status(), Some(status));
                    if let ReporterError::Status { body: snippet, .. } = &e {
                        prop_assert!(snippet.chars().count() <= 259);
                    }
                    Ok(())
                }
            }
        })?;
    }
}

#[test]
fn response_cap_is_the_documented_one() {
    // Guards the table in docs/readme-security.md.
    assert_eq!(MAX_RESPONSE_BYTES, 64 * 1024);
}
