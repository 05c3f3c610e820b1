//! Credentials the mock server requires, as an auth gateway in front of the server would: the
//! check of a request's `Authorization` and the 401 challenge.

use std::fmt;

use crate::proxy::base64;

/// What every request must carry in `Authorization`.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Required {
    /// `Bearer <token>`.
    Bearer(String),
    /// `Basic <base64(user:password)>`, held encoded.
    Basic(String),
}

impl fmt::Debug for Required {
    // A test's log must not show the credentials it set up.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Required::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Required::Basic(_) => f.write_str("Basic(<redacted>)"),
        }
    }
}

/// A request without the required credentials: why, and the `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unauthorized {
    pub(super) reason: String,
    pub(super) challenge: String,
}

impl Required {
    pub(super) fn basic(user: &str, password: &str) -> Self {
        Required::Basic(base64(format!("{user}:{password}").as_bytes()))
    }

    /// Checks a request's `Authorization` value: the scheme case-insensitive (RFC 9110), the
    /// credentials exact. Neither the reason nor the challenge repeats what was sent.
    pub(super) fn check(&self, authorization: Option<&[u8]>) -> Result<(), Unauthorized> {
        let (scheme, expected) = match self {
            Required::Bearer(token) => ("Bearer", token),
            Required::Basic(credentials) => ("Basic", credentials),
        };
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
        let challenge = match (self, sent) {
            (Required::Bearer(_), Some(_)) => r#"Bearer realm="vortex", error="invalid_token""#,
            (Required::Bearer(_), None) => r#"Bearer realm="vortex""#,
            (Required::Basic(_), _) => r#"Basic realm="vortex", charset="UTF-8""#,
        };
        Err(Unauthorized {
            reason,
            challenge: challenge.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_checked_exactly() {
        let required = Required::Bearer("t0k".into());
        assert_eq!(required.check(Some(b"Bearer t0k")), Ok(()));
        assert_eq!(required.check(Some(b"bearer  t0k")), Ok(()));
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
        assert_eq!(missing.reason, "no Authorization header");
        assert_eq!(missing.challenge, r#"Bearer realm="vortex""#);
        let wrong = required.check(Some(b"Bearer nope")).unwrap_err();
        assert!(wrong.challenge.contains("invalid_token"));
        assert!(!wrong.reason.contains("nope"));
    }

    #[test]
    fn basic_credentials_are_user_and_password_encoded() {
        let required = Required::basic("Aladdin", "open sesame");
        assert_eq!(
            required.check(Some(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")),
            Ok(())
        );
        let wrong = required.check(Some(b"Basic QWxhZGRpbjpvcGVu")).unwrap_err();
        assert_eq!(wrong.reason, "wrong Basic credentials");
        assert!(wrong.challenge.starts_with("Basic "));
        assert_eq!(format!("{required:?}"), "Basic(<redacted>)", "never shown");
    }
}
