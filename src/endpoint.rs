//! Where reports go: the server URL, parsed and checked once, and the heartbeat URL built
//! from it (`{server_url}/api/drift/heartbeat/{app}/{profile}`).

use reqwest::Url;

use crate::error::{invalid, ConfigError};
use crate::limits::MAX_URL_LEN;
use crate::redact::{excerpt, redact_url};
use crate::validate::{check_text, ensure};

const FIELD: &str = "server_url";

/// Parses and checks `server_url`: bounded, http(s), a host, no query or fragment, and no `@`
/// outside the userinfo (an unencoded `/` in a password would otherwise leak it into the path).
pub(crate) fn parse_server_url(raw: &str) -> Result<Url, ConfigError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ConfigError::MissingField(FIELD));
    }
    check_text(FIELD, raw, MAX_URL_LEN)?;
    let shown = excerpt(&redact_url(raw));
    let url = Url::parse(raw).map_err(|e| {
        let reason = format!("{shown} is not a URL ({e}); expected e.g. http://vortex-config:8888");
        invalid(FIELD, reason)
    })?;
    check_scheme(&url, &shown)?;
    let host = url.host_str().is_some_and(|host| !host.is_empty());
    ensure(host, FIELD, format!("{shown} has no host"))?;
    // `shown` has neither: a query often carries a token.
    for (part, present) in [("query", url.query()), ("fragment", url.fragment())] {
        let reason = format!(
            "{shown} has a {part} (not shown: it may carry a secret); give only the base URL"
        );
        ensure(present.is_none(), FIELD, reason)?;
    }
    let reason = format!("{shown} has an `@` in its path; in a user name or password, percent-encode `/`, `?`, `#` and `@` (e.g. `/` as %2F)");
    ensure(!url.path().contains('@'), FIELD, reason)?;
    check_not_endpoint(&url, &shown)?;
    Ok(url)
}

/// The server URL is the base the SDK appends `/api/drift/heartbeat/{app}/{profile}` to: a URL
/// that already holds that path (the endpoint copied from a log or the server's docs) would
/// send every report to a doubled path and get 404s.
fn check_not_endpoint(url: &Url, shown: &str) -> Result<(), ConfigError> {
    let path = url.path();
    let trimmed = path.trim_end_matches('/');
    let at = path.find("/api/drift/heartbeat").or_else(|| {
        trimmed
            .ends_with("/api/drift")
            .then(|| trimmed.len() - "/api/drift".len())
    });
    let Some(at) = at else {
        return Ok(());
    };
    let mut base = url.clone();
    base.set_path(&path[..at]);
    Err(invalid(
        FIELD,
        format!(
            "{shown} holds the heartbeat path {}: give the server's base address, e.g. {}; the SDK appends /api/drift/heartbeat/{{app}}/{{profile}} itself",
            excerpt(&path[at..]),
            redact_url(base.as_str()),
        ),
    ))
}

/// True for the schemes the client speaks.
pub(crate) fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

fn check_scheme(url: &Url, shown: &str) -> Result<(), ConfigError> {
    match url.scheme() {
        "https" if !cfg!(any(feature = "rustls", feature = "rustls-ring")) => {
            // Not an `InvalidValue`: its hint (call .server_url(..) or set VORTEX_URL) does
            // not fix this; the build's features do.
            Err(ConfigError::Http(format!(
                "server_url {shown} uses https, but vortex-client was built without a TLS feature: enable its `rustls` feature (the default) or `rustls-ring`, or drop `default-features = false`"
            )))
        }
        // The scheme is not echoed: in `user:password@host` the parser takes `user` for it.
        _ => {
            let reason = format!("{shown} does not start with http:// or https://; only http and https are supported");
            ensure(is_http(url), FIELD, reason)
        }
    }
}

/// True when the URL carries a user name or password (sent as HTTP Basic authentication).
pub(crate) fn has_userinfo(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// Appends `api/drift/heartbeat/{app}/{profile}` to a parsed server URL with exactly one `/`
/// whatever run of trailing slashes the prefix has (`/gw`, `/gw/` and `/gw//` all give
/// `/gw/api/...`), `app` and `profile` percent-encoded as single segments. A `//` inside the
/// prefix (`/a//b/`) is kept as written: a gateway may route on it. `app` and `profile` must
/// have passed `check_segment`: whatever passes travels as exactly one segment and
/// percent-decodes back to itself.
pub(crate) fn join_heartbeat_path(
    mut server: Url,
    app: &str,
    profile: &str,
) -> Result<Url, ConfigError> {
    let path = server.path();
    let trailing = path.len() - path.trim_end_matches('/').len();
    let mut segments = server
        .path_segments_mut()
        .map_err(|()| invalid(FIELD, "cannot carry a path"))?;
    for _ in 0..trailing {
        segments.pop_if_empty();
    }
    segments
        .extend(["api", "drift", "heartbeat"])
        .push(app)
        .push(profile);
    drop(segments);
    Ok(server)
}

/// True for `invalid` and names under it (RFC 6761 section 6.4): they never resolve, so no
/// DNS query is made for them.
pub(crate) fn is_reserved_invalid(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "invalid" || host.ends_with(".invalid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::check_segment;

    /// Builds the heartbeat URL from unchecked parts: parses `server_url`, checks `app` and
    /// `profile` as the configuration does, and joins them.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `server_url` is not an http(s) URL with a host, or `app` or `profile`
    /// is empty, blank, too long, holds control characters, or is `.` or `..`.
    fn heartbeat_url(server_url: &str, app: &str, profile: &str) -> Result<Url, ConfigError> {
        let server = parse_server_url(server_url)?;
        check_segment("app", app)?;
        check_segment("profile", profile)?;
        join_heartbeat_path(server, app, profile)
    }

    #[test]
    fn the_path_keeps_a_gateway_prefix_and_encodes_each_name() {
        let url = heartbeat_url("http://gw.example/config/", "my app", "a/b").unwrap();
        assert_eq!(
            url.as_str(),
            "http://gw.example/config/api/drift/heartbeat/my%20app/a%2Fb"
        );
    }

    #[test]
    fn server_url_rules() {
        assert!(parse_server_url("http://h:1").is_ok());
        assert!(parse_server_url("http://gw/prefix/").is_ok());
        for bad in [
            "h:1",
            "ftp://h",
            "http://h/?a=1",
            "http://h/#x",
            "not a url",
            "http://",
        ] {
            assert!(parse_server_url(bad).is_err(), "{bad}");
        }
        let err = parse_server_url("ftp://user:hunter2@h")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        // `@` outside the userinfo is rejected, so accepted URLs lose only that when redacted.
        assert!(parse_server_url("http://h:1/x@y").is_err());
        let err = parse_server_url("http://us/er:hunter2@h").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn urls_join_prefixes_and_encode_segments() {
        let cases = [
            (
                "http://h:8080",
                "a",
                "p",
                "http://h:8080/api/drift/heartbeat/a/p",
            ),
            (
                "http://h:8080/",
                "a",
                "p",
                "http://h:8080/api/drift/heartbeat/a/p",
            ),
            (
                "http://h/cfg",
                "a",
                "p",
                "http://h/cfg/api/drift/heartbeat/a/p",
            ),
            (
                "http://h/cfg/",
                "a",
                "p",
                "http://h/cfg/api/drift/heartbeat/a/p",
            ),
            (
                "http://h/cfg//",
                "a",
                "p",
                "http://h/cfg/api/drift/heartbeat/a/p",
            ),
            (
                "http://h/cfg///",
                "a",
                "p",
                "http://h/cfg/api/drift/heartbeat/a/p",
            ),
            ("http://h//", "a", "p", "http://h/api/drift/heartbeat/a/p"),
            (
                "http://h/a//b/",
                "a",
                "p",
                "http://h/a//b/api/drift/heartbeat/a/p",
            ),
            (
                "http://h",
                "a b",
                "x/y",
                "http://h/api/drift/heartbeat/a%20b/x%2Fy",
            ),
            (
                "http://h",
                "100%",
                "...",
                "http://h/api/drift/heartbeat/100%25/...",
            ),
            (
                "http://h",
                "?#",
                "é",
                "http://h/api/drift/heartbeat/%3F%23/%C3%A9",
            ),
        ];
        for (base, app, profile, want) in cases {
            let got = heartbeat_url(base, app, profile).unwrap();
            assert_eq!(got.as_str(), want, "{base} {app} {profile}");
        }
    }

    #[test]
    fn a_heartbeat_endpoint_is_not_a_server_url() {
        for (url, part, base) in [
            (
                "http://h:8888/api/drift/heartbeat/svc/prod",
                "/api/drift/heartbeat/svc/prod",
                "http://h:8888/",
            ),
            (
                "http://u:pw@h/gw/api/drift/heartbeat",
                "/api/drift/heartbeat",
                "http://***@h/gw",
            ),
            ("http://h/api/drift/", "/api/drift/", "http://h/"),
        ] {
            let err = parse_server_url(url).unwrap_err().to_string();
            assert!(err.contains(part), "{err}");
            assert!(err.contains(&format!("e.g. {base};")), "{err}");
            assert!(!err.contains("pw"), "{err}");
        }
        assert!(parse_server_url("http://h/api/driftwood/").is_ok());
        assert!(parse_server_url("http://h/api/").is_ok());
    }

    #[test]
    fn a_refused_query_or_fragment_is_not_echoed() {
        let err = parse_server_url("http://h/gw?token=s3cr3t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"http://h/gw\" has a query"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        let err = parse_server_url("http://h/gw#s3cr3t")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("has a fragment") && !err.contains("s3cr3t"),
            "{err}"
        );
    }

    /// Without a TLS feature, https is refused with what fixes it: a feature, not a setter.
    #[cfg(not(any(feature = "rustls", feature = "rustls-ring")))]
    #[test]
    fn https_without_a_tls_feature_names_the_features() {
        let err = parse_server_url("https://h").unwrap_err().to_string();
        assert!(
            err.contains("`rustls`") && err.contains("`rustls-ring`"),
            "{err}"
        );
        assert!(err.contains("default-features = false"), "{err}");
        assert!(!err.contains("VORTEX_URL"), "{err}");
        assert!(!err.contains(".server_url(..)"), "{err}");
    }

    #[test]
    fn reserved_invalid_names() {
        for host in ["invalid", "x.invalid", "a.b.INVALID", "x.invalid."] {
            assert!(is_reserved_invalid(host), "{host}");
        }
        for host in ["invalid.example", "xinvalid", "localhost", "127.0.0.1"] {
            assert!(!is_reserved_invalid(host), "{host}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::heartbeat_url;
        use crate::error::ConfigError;
        use crate::limits::MAX_NAME_LEN;

        /// Decodes a percent-encoded path segment; panics on a malformed escape (the encoder
        /// must never produce one).
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

        /// Strings that stress URL encoding: anything at all, the characters URLs care about,
        /// the dot segments in all their spellings, and lengths around the limit.
        fn name() -> impl Strategy<Value = String> {
            prop_oneof![
                4 => any::<String>(),
                4 => "[./%?#\\\\ a-z0-9\t\n\r@:;=&+$,\u{0}\u{7f}\u{85}é🦀]{0,12}",
                1 => prop::sample::select(vec![
                    ".", "..", "%2e", "%2e%2e", ".%2E", "%2E.", "...", "./", "/..", "\\..", "%",
                    "%zz", "%00", " ", "", "a/../b", "?", "#", "\u{feff}", "\u{202e}",
                ])
                .prop_map(str::to_owned),
                1 => (MAX_NAME_LEN - 2..MAX_NAME_LEN + 3)
                    .prop_map(|n| "é".repeat(n / 2) + &"x".repeat(n % 2)),
            ]
        }

        /// A server URL with 0..4 prefix segments, with or without a trailing slash, and its
        /// segments.
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

            /// Whatever app and profile hold, the heartbeat path is the prefix plus exactly
            /// five segments, each of which percent-decodes back to its input; or the input
            /// breaks a documented rule and the answer is a ConfigError naming it.
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
        }
    }
}
