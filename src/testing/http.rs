//! The mock server's request handler: the auth gateway (when one is required), the heartbeat
//! route, the server's model of a body, then the recorded report answered as scripted.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::model::{HeartbeatBody, Rejection, Reply, Report};
use super::state::Backend;

/// The largest heartbeat body the mock server reads (a real report is well under 4 KiB).
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every request must carry in `Authorization`, as an auth gateway in front of the server
/// checks it: the scheme (`Bearer`, `Basic`) and the credentials (a token, or
/// `base64(user:password)`).
#[derive(Clone)]
pub(super) struct Credentials(pub(super) &'static str, pub(super) String);

impl fmt::Debug for Credentials {
    // A test's log must not show the credentials it set up.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(<redacted>)", self.0)
    }
}

impl Credentials {
    /// Checks an `Authorization` value: the scheme case-insensitive (RFC 9110), the credentials
    /// exact. Neither the reason nor the challenge repeats what was sent.
    fn check(&self, authorization: Option<&[u8]>) -> Result<(), Refusal> {
        let Credentials(scheme, expected) = self;
        let sent = authorization
            .and_then(|value| std::str::from_utf8(value).ok())
            .and_then(|value| value.trim().split_once(' '))
            .filter(|(s, _)| s.eq_ignore_ascii_case(scheme))
            .map(|(_, credentials)| credentials.trim_start());
        let reason = match sent {
            Some(credentials) if credentials == expected => return Ok(()),
            Some(_) => format!("wrong {scheme} credentials"),
            None if authorization.is_some() => format!("no {scheme} credentials"),
            None => "no Authorization header".to_owned(),
        };
        let challenge = match (*scheme, sent) {
            ("Basic", _) => r#"Basic realm="vortex", charset="UTF-8""#,
            (_, Some(_)) => r#"Bearer realm="vortex", error="invalid_token""#,
            (_, None) => r#"Bearer realm="vortex""#,
        };
        Err(Refusal(401, reason, Some(challenge)))
    }
}

/// Why a request is refused: the status, a reason for the test's eyes, and for a 401 the
/// `WWW-Authenticate` challenge.
#[derive(Debug)]
struct Refusal(u16, String, Option<&'static str>);

fn refusal(status: u16, reason: impl Into<String>) -> Refusal {
    Refusal(status, reason.into(), None)
}

/// Answers one request; a refused one is recorded as a [`Rejection`] and answered
/// `{"error": reason}`.
pub(super) async fn handle(
    backend: Arc<Backend>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = Limited::new(body, MAX_BODY_BYTES).collect().await;
    let body = body.ok().map(|collected| collected.to_bytes());
    let Refusal(status, reason, challenge) = match accept(&backend, &parts, body.as_deref()) {
        Ok(report) => {
            let (reply, answer) = backend.heartbeat(report);
            return Ok(render(reply, answer).await);
        }
        Err(refused) => refused,
    };
    let answer = serde_json::json!({ "error": reason }).to_string();
    backend.reject(Rejection {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        status,
        reason,
        body: lossy(body.as_deref().unwrap_or_default()),
    });
    let mut headers = vec![(CONTENT_TYPE, "application/json")];
    headers.extend(challenge.map(|challenge| (WWW_AUTHENTICATE, challenge)));
    Ok(respond(status, answer, &headers))
}

/// Checks a request as the gateway and then the server would; `body` is `None` when it was
/// over `MAX_BODY_BYTES` or cut.
fn accept(backend: &Backend, parts: &Parts, body: Option<&[u8]>) -> Result<Report, Refusal> {
    if let Some(required) = &backend.credentials {
        required.check(parts.headers.get(AUTHORIZATION).map(HeaderValue::as_bytes))?;
    }
    let path = parts.uri.path();
    let (app, profile) = route(&parts.method, path, &backend.prefix)?;
    let too_large = || format!("the body is larger than {MAX_BODY_BYTES} bytes, or was cut");
    let body = body.ok_or_else(|| refusal(413, too_large()))?;
    let content_type = parts.headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes);
    let json = content_type.and_then(|t| t.trim_ascii_start().get(..16));
    if !json.is_some_and(|t| t.eq_ignore_ascii_case(b"application/json")) {
        return Err(refusal(415, "the Content-Type is not application/json"));
    }
    let parsed = parse_body(body)?;
    let received_at = tokio::time::Instant::now();
    let headers = parts.headers.iter();
    let headers = headers.map(|(name, value)| (name.to_string(), lossy(value.as_bytes())));
    Ok(Report {
        app,
        profile,
        instance_id: parsed.instance_id,
        config_version: parsed.config_version,
        health: parsed.health,
        metadata: parsed.metadata,
        path: path.to_owned(),
        headers: headers.collect(),
        body: lossy(body),
        received_at,
        received_at_utc: backend.utc(received_at),
    })
}

/// The app and profile of `POST {prefix}/api/drift/heartbeat/{app}/{profile}`, decoded; any
/// other path is 404, another method 405.
fn route(method: &Method, path: &str, prefix: &str) -> Result<(String, String), Refusal> {
    let not_found = || refusal(404, format!("no route for {path}"));
    let (app, profile) = path
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix("/api/drift/heartbeat/"))
        .and_then(|rest| rest.split_once('/'))
        .filter(|(app, profile)| !app.is_empty() && !profile.is_empty() && !profile.contains('/'))
        .ok_or_else(not_found)?;
    let decode = |raw: &str| match percent_decode_str(raw).decode_utf8() {
        Ok(decoded) => Ok(decoded.into_owned()),
        Err(_) => Err(refusal(400, format!("{raw:?} does not decode to UTF-8"))),
    };
    let names = (decode(app)?, decode(profile)?);
    if method != Method::POST {
        return Err(refusal(405, format!("{path} takes POST, not {method}")));
    }
    Ok(names)
}

/// Checks a body against the server's model: 400 when it is not JSON, 422 when it is JSON of
/// the wrong shape (a missing or mistyped member, an unknown `health`).
fn parse_body(body: &[u8]) -> Result<HeartbeatBody, Refusal> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| refusal(400, format!("the body is not JSON: {e}")))?;
    // serde reads a struct from an array too, by position (`["i-1","v9"]` would register
    // instance `i-1` on `v9`); the server's model takes objects only. (`custom` is a map,
    // which serde never reads from an array.)
    let array = value.is_array() || value.get("metadata").is_some_and(Value::is_array);
    let unfit = "the body does not fit the server's model";
    if array {
        return Err(refusal(
            422,
            format!("{unfit}: an array where an object belongs"),
        ));
    }
    serde_json::from_value(value).map_err(|e| refusal(422, format!("{unfit}: {e}")))
}

/// Answers as the reply says; `answer` is the contract's JSON.
async fn render(reply: Reply, answer: String) -> Response<Full<Bytes>> {
    let json = [(CONTENT_TYPE, "application/json")];
    match reply {
        Reply::Accept => respond(200, answer, &json),
        Reply::Delay(delay) => {
            tokio::time::sleep(delay).await;
            respond(200, answer, &json)
        }
        Reply::Status(code) => respond(code, "", &[]),
        Reply::RetryAfter(code, value) => respond(code, "", &[(RETRY_AFTER, &value)]),
        Reply::Raw(code, body) => respond(code, body, &[]),
        Reply::Redirect(code, location) => respond(code, "", &[(LOCATION, &location)]),
        Reply::Hang => std::future::pending().await,
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A response with this status (500 if it is not a valid one), body and headers (a value that
/// is not a valid header value is left out).
fn respond(
    status: u16,
    body: impl Into<Bytes>,
    headers: &[(HeaderName, &str)],
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(name.clone(), value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::base64;
    use crate::Health;

    #[test]
    fn bearer_tokens_are_checked_exactly() {
        let required = Credentials("Bearer", "t0k".into());
        assert!(required.check(Some(b"Bearer t0k")).is_ok());
        assert!(required.check(Some(b"bearer  t0k")).is_ok());
        for wrong in [
            &b"Bearer t0K"[..],
            b"Bearer t0k2",
            b"Bearer",
            b"Basic t0k",
            b"\xff",
        ] {
            assert!(required.check(Some(wrong)).is_err(), "{wrong:?}");
        }
        let missing = required.check(None).unwrap_err();
        assert_eq!(missing.1, "no Authorization header");
        assert_eq!(missing.2, Some(r#"Bearer realm="vortex""#));
        let wrong = required.check(Some(b"Bearer nope")).unwrap_err();
        assert!(wrong.2.is_some_and(|c| c.contains("invalid_token")));
        assert!(!wrong.1.contains("nope"));
    }

    #[test]
    fn basic_credentials_are_user_and_password_encoded() {
        let required = Credentials("Basic", base64(b"Aladdin:open sesame"));
        assert!(required
            .check(Some(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="))
            .is_ok());
        let wrong = required.check(Some(b"Basic QWxhZGRpbjpvcGVu")).unwrap_err();
        assert_eq!(wrong.1, "wrong Basic credentials");
        assert!(wrong.2.is_some_and(|c| c.starts_with("Basic ")));
        assert_eq!(format!("{required:?}"), "Basic(<redacted>)", "never shown");
    }

    #[test]
    fn only_the_heartbeat_route_is_served() {
        let post = |path, prefix| route(&Method::POST, path, prefix).map_err(|r| r.0);
        let path = "/api/drift/heartbeat/my%20app%2Fv2/100%25";
        assert_eq!(post(path, ""), Ok(("my app/v2".into(), "100%".into())));
        assert_eq!(
            post("/api/drift/heartbeat/a%2/%zz", ""),
            Ok(("a%2".into(), "%zz".into()))
        );
        let prefixed = post("/config/api/drift/heartbeat/a/p", "/config");
        assert_eq!(prefixed, Ok(("a".into(), "p".into())));
        for missing in ["/api/drift/heartbeat/a", "/api/drift/heartbeat/a/p/x"]
            .into_iter()
            .chain([
                "/api/drift/heartbeat//p",
                "/heartbeat/a/p",
                "/api/drift/drift",
            ])
            .chain(["/config/api/drift/heartbeat/a/p"])
        {
            assert_eq!(post(missing, ""), Err(404), "{missing}");
        }
        assert_eq!(post("/api/drift/heartbeat/%ff/p", ""), Err(400));
        let get = route(&Method::GET, "/api/drift/heartbeat/a/p", "");
        assert_eq!(get.map_err(|r| r.0), Err(405));
    }

    #[test]
    fn the_server_model_is_enforced() {
        let ok = parse_body(br#"{"instance_id":"i","config_version":"v1"}"#).unwrap();
        assert_eq!((ok.health, ok.metadata), (Health::Healthy, None));
        assert_eq!(parse_body(b"{not json").unwrap_err().0, 400);
        assert_eq!(parse_body(b"").unwrap_err().0, 400);
        for wrong in [
            r#"{"config_version":"v1"}"#,
            r#"{"instance_id":"i"}"#,
            r#"{"instance_id":7,"config_version":"v1"}"#,
            r#"{"instance_id":"i","config_version":"v1","health":"sick"}"#,
            r#"{"instance_id":"i","config_version":"v1","metadata":{"custom":{"n":1}}}"#,
            r#"[1,2]"#,
            r#"["i","v1"]"#,
            r#""text""#,
            r#"{"instance_id":"i","config_version":"v1","metadata":["h","10.0.0.1"]}"#,
            r#"{"instance_id":"i","config_version":"v1","metadata":[]}"#,
            r#"{"instance_id":"i","config_version":"v1","metadata":"h"}"#,
            r#"{"instance_id":"i","config_version":"v1","metadata":{"custom":["a"]}}"#,
        ] {
            assert_eq!(parse_body(wrong.as_bytes()).unwrap_err().0, 422, "{wrong}");
        }
    }

    #[test]
    fn unknown_members_are_ignored_like_the_server_does() {
        let body = br#"{"instance_id":"i","config_version":"v1","hostname":"h",
            "metadata":{"team":"platform","custom":{"team":"core"}},"health":"degraded"}"#;
        let parsed = parse_body(body).unwrap();
        let meta = parsed.metadata.unwrap();
        assert_eq!(meta.hostname, None, "a flat hostname is lost");
        assert_eq!(meta.custom.len(), 1);
        assert_eq!(meta.custom["team"], "core");
        assert_eq!(parsed.health, Health::Degraded);
    }
}
