//! Where reports go: the server URL, parsed and checked once, and the heartbeat URL built
//! from it (`{server_url}/api/drift/heartbeat/{app}/{profile}`).

use reqwest::Url;

use crate::error::{invalid, ConfigError};
use crate::limits::MAX_URL_LEN;
use crate::redact::{excerpt, redact_url};
use crate::validate::{check_len, check_segment};

/// Parses and checks `server_url`: bounded, http(s), a host, no query or fragment, and no `@`
/// outside the userinfo (an unencoded `/` in a password would otherwise leak it into the path).
pub(crate) fn parse_server_url(raw: &str) -> Result<Url, ConfigError> {
    let trimmed = check_raw(raw)?;
    let shown = excerpt(&redact_url(trimmed));
    let url = Url::parse(trimmed).map_err(|e| {
        invalid(
            "server_url",
            format!("{shown} is not a URL ({e}); expected e.g. http://vortex-config:8888"),
        )
    })?;
    check_scheme(&url, &shown)?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("server_url", format!("{shown} has no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "server_url",
            format!("{shown} must not have a query or fragment: give only the base URL"),
        ));
    }
    if url.path().contains('@') {
        return Err(invalid(
            "server_url",
            format!("{shown} has an `@` in its path; in a user name or password, percent-encode `/`, `?`, `#` and `@` (e.g. `/` as %2F)"),
        ));
    }
    Ok(url)
}

/// The checks that come before parsing: present, bounded, no control characters.
fn check_raw(raw: &str) -> Result<&str, ConfigError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(ConfigError::MissingField("server_url"));
    }
    check_len("server_url", "", trimmed.len(), MAX_URL_LEN)?;
    if trimmed.chars().any(char::is_control) {
        return Err(invalid(
            "server_url",
            "must not contain control characters (a stray newline or tab?)",
        ));
    }
    Ok(trimmed)
}

fn check_scheme(url: &Url, shown: &str) -> Result<(), ConfigError> {
    match url.scheme() {
        "http" => Ok(()),
        "https" if cfg!(any(feature = "rustls", feature = "rustls-ring")) => Ok(()),
        "https" => Err(invalid(
            "server_url",
            format!("{shown} uses https, but the crate was built without a TLS feature; enable the `rustls-ring` or `rustls` feature"),
        )),
        // The scheme is not echoed: in `user:password@host` the parser takes `user` for it.
        _ => Err(invalid(
            "server_url",
            format!("{shown} does not start with http:// or https://; only http and https are supported"),
        )),
    }
}

/// True when the URL carries a user name or password (sent as HTTP Basic authentication).
pub(crate) fn has_userinfo(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// Appends `api/drift/heartbeat/{app}/{profile}` to a parsed server URL, without a double or
/// missing `/`, `app` and `profile` percent-encoded as single segments. They must have passed
/// [`check_segment`]: whatever passes travels as exactly one segment and percent-decodes back
/// to itself.
pub(crate) fn join_heartbeat_path(
    mut server: Url,
    app: &str,
    profile: &str,
) -> Result<Url, ConfigError> {
    server
        .path_segments_mut()
        .map_err(|()| invalid("server_url", "cannot carry a path"))?
        .pop_if_empty()
        .extend(["api", "drift", "heartbeat"])
        .push(app)
        .push(profile);
    Ok(server)
}

/// Builds the heartbeat URL from unchecked parts: parses `server_url`, checks `app` and
/// `profile` as the configuration does, and joins them.
///
/// ```
/// # use vortex_client::reporter::heartbeat_url;
/// let url = heartbeat_url("https://gw.example/config/", "my app", "a/b").unwrap();
/// assert_eq!(url.as_str(), "https://gw.example/config/api/drift/heartbeat/my%20app/a%2Fb");
/// ```
///
/// # Errors
///
/// [`ConfigError`] when `server_url` is not an http(s) URL with a host, or `app` or `profile`
/// is empty, blank, too long, holds control characters, or is `.` or `..`.
#[doc(hidden)]
pub fn heartbeat_url(server_url: &str, app: &str, profile: &str) -> Result<Url, ConfigError> {
    let server = parse_server_url(server_url)?;
    check_segment("app", app)?;
    check_segment("profile", profile)?;
    join_heartbeat_path(server, app, profile)
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
                "http://h/cfg//api/drift/heartbeat/a/p",
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
    fn reserved_invalid_names() {
        for host in ["invalid", "x.invalid", "a.b.INVALID", "x.invalid."] {
            assert!(is_reserved_invalid(host), "{host}");
        }
        for host in ["invalid.example", "xinvalid", "localhost", "127.0.0.1"] {
            assert!(!is_reserved_invalid(host), "{host}");
        }
    }
}
