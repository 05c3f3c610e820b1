//! Property tests through the public API: whatever the input, the builder accepts exactly the
//! documented names, backoff stays within its bounds, and nothing a server sends can panic the
//! client. The parsers' own properties (heartbeat URL, `Retry-After`, the answer) are unit
//! tests beside them in `src/`.
//!
//! Case counts are modest (the whole file runs in a few seconds); raise them locally with
//! `PROPTEST_CASES=10000 cargo test --test it properties::`.

use std::io::{Read, Write};

use proptest::prelude::*;
use vortex_client::{Environment, HeartbeatClient, HeartbeatConfig, ReporterError};

/// The longest `app`, `profile` or `instance_id` (docs/security.md, validation limits).
const MAX_NAME_LEN: usize = 253;

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

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

    /// A raw comma in a `VORTEX_URL` user name or password, among whatever other items: an
    /// error, and no 4 characters in a row of the user or password in its message or `Debug`.
    /// Both are drawn from characters no error text holds 4 of in a row (no lowercase, no
    /// `0 1 8 9`), plus `/ : @ ,` and digits that make a half look like a port or a path.
    #[test]
    fn a_comma_cut_userinfo_never_shows_in_the_error(
        user in prop::collection::vec("[QJKZ2-7/:@,]{1,6}", 1..3),
        password in prop::collection::vec("[QJKZ2-7/:@,]{0,6}", 2..4),
        before in prop::collection::vec(other_item(), 0..3),
        after in prop::collection::vec(other_item(), 0..3),
    ) {
        let (user, password) = (user.join(""), password.join(","));
        let url = format!("http://{user}:{password}@vortex.invalid:8888/gw");
        let list = [before, vec![url], after].concat().join(",");
        let env = Environment::from_vars([
            ("VORTEX_URL", list.as_str()),
            ("VORTEX_APP", "app"),
            ("VORTEX_PROFILE", "prod"),
        ]);
        let error = match HeartbeatConfig::builder().environment(env).build() {
            Ok(config) => return Err(TestCaseError::fail(format!("{list} accepted: {config:?}"))),
            Err(error) => error,
        };
        let shown = format!("{error}\n{error:?}\n{error:#?}");
        for secret in [&user, &password] {
            let secret: Vec<char> = secret.chars().collect();
            for piece in secret.windows(4) {
                let piece: String = piece.iter().collect();
                prop_assert!(!shown.contains(&piece), "{:?} of {:?} in {}", piece, list, shown);
            }
        }
    }
}

/// A list item beside the one with credentials: good, malformed, or empty.
fn other_item() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "http://a.invalid:81",
        "https://b.invalid/gw/",
        "ftp://c.invalid",
        "not a url",
        "http://d.invalid:99999",
        "",
    ])
    .prop_map(str::to_owned)
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
                let client = crate::support::client(&format!("http://{}", server.addr))
                    .disable_auto_detect()
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
