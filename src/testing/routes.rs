//! The server's routes under `/api/drift`, matched from a method and a raw path.

/// A request the mock server serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    /// `POST /api/drift/heartbeat/{app}/{profile}`
    Heartbeat { app: String, profile: String },
    /// `GET /api/drift/drift/{app}/{profile}`
    DriftReport { app: String, profile: String },
    /// `GET /api/drift/drift`
    Summary,
    /// `GET /api/drift/instances/{app}/{profile}`
    Instances { app: String, profile: String },
}

/// A request the mock server does not serve: the status and why.
pub(super) type Miss = (u16, String);

/// Matches a request. `prefix` is the mock server's path prefix (`""` or `/config`, no trailing
/// slash); `path` is still percent-encoded.
pub(super) fn route(method: &str, path: &str, prefix: &str) -> Result<Route, Miss> {
    let not_found = || (404, format!("no route for {path}"));
    let rest = path
        .strip_prefix(prefix)
        .and_then(|p| p.strip_prefix("/api/drift/"))
        .ok_or_else(not_found)?;
    let segments: Vec<&str> = rest.split('/').collect();
    let (wanted, route) = match segments.as_slice() {
        ["heartbeat", app, profile] => {
            let (app, profile) = names(app, profile)?;
            ("POST", Route::Heartbeat { app, profile })
        }
        ["drift"] => ("GET", Route::Summary),
        ["drift", app, profile] => {
            let (app, profile) = names(app, profile)?;
            ("GET", Route::DriftReport { app, profile })
        }
        ["instances", app, profile] => {
            let (app, profile) = names(app, profile)?;
            ("GET", Route::Instances { app, profile })
        }
        _ => return Err(not_found()),
    };
    if method != wanted {
        return Err((405, format!("{path} takes {wanted}, not {method}")));
    }
    Ok(route)
}

fn names(app: &str, profile: &str) -> Result<(String, String), Miss> {
    Ok((segment(app)?, segment(profile)?))
}

/// Decodes one path segment; an empty one matches no route.
fn segment(raw: &str) -> Result<String, Miss> {
    if raw.is_empty() {
        return Err((404, "an empty path segment".into()));
    }
    String::from_utf8(percent_decode(raw.as_bytes()))
        .map_err(|_| (400, format!("{raw:?} does not decode to UTF-8")))
}

/// Percent-decodes bytes; a `%` not followed by two hex digits stays as it is.
fn percent_decode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        let hex = raw
            .get(i + 1)
            .and_then(|h| hex_value(*h))
            .zip(raw.get(i + 2).and_then(|l| hex_value(*l)));
        match (b, hex) {
            (b'%', Some((high, low))) => {
                out.push(high << 4 | low);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heartbeat(app: &str, profile: &str) -> Route {
        Route::Heartbeat {
            app: app.into(),
            profile: profile.into(),
        }
    }

    #[test]
    fn routes_match_the_contract() {
        let path = "/api/drift/heartbeat/my%20app%2Fv2/100%25";
        assert_eq!(route("POST", path, ""), Ok(heartbeat("my app/v2", "100%")));
        assert_eq!(
            route("POST", "/config/api/drift/heartbeat/a/p", "/config"),
            Ok(heartbeat("a", "p"))
        );
        assert_eq!(route("GET", "/api/drift/drift", ""), Ok(Route::Summary));
        assert!(matches!(
            route("GET", "/api/drift/drift/a/p", ""),
            Ok(Route::DriftReport { .. })
        ));
        assert!(matches!(
            route("GET", "/api/drift/instances/a/p", ""),
            Ok(Route::Instances { .. })
        ));
    }

    #[test]
    fn misses_say_why() {
        let status = |m, p| route(m, p, "").unwrap_err().0;
        assert_eq!(status("GET", "/api/drift/heartbeat/a/p"), 405);
        assert_eq!(status("POST", "/api/drift/drift"), 405);
        assert_eq!(status("POST", "/api/drift/heartbeat/a"), 404);
        assert_eq!(status("POST", "/api/drift/heartbeat/a/p/x"), 404);
        assert_eq!(status("POST", "/api/drift/heartbeat//p"), 404);
        assert_eq!(status("POST", "/heartbeat/a/p"), 404);
        assert_eq!(status("POST", "/api/drift/heartbeat/%ff/p"), 400);
        assert_eq!(
            route("POST", "/config/api/drift/heartbeat/a/p", "")
                .unwrap_err()
                .0,
            404
        );
    }

    #[test]
    fn a_stray_percent_is_kept() {
        assert_eq!(percent_decode(b"a%2"), b"a%2");
        assert_eq!(percent_decode(b"%zz%41"), b"%zzA");
    }
}
