//! The checks on what a user (or the environment) hands the client: names, free text,
//! versions, extra headers and the bearer token. Pure functions; each error says what to fix
//! and never echoes a header value or token.

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};

use crate::error::{invalid, ConfigError};
use crate::limits::{MAX_HEADERS, MAX_HEADER_VALUE_LEN, MAX_NAME_LEN, MAX_VERSION_LEN};
use crate::redact::excerpt;

/// Headers the client sets itself or that control the HTTP framing: `header()` cannot override
/// them.
const RESERVED_HEADERS: &[&str] = &[
    "accept",
    "connection",
    "content-length",
    "content-type",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
];

/// Checks a name that becomes a path segment or an id.
pub(crate) fn check_name(
    field: &'static str,
    value: &str,
    allow_empty: bool,
) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return if allow_empty && value.is_empty() {
            Ok(())
        } else if value.is_empty() {
            Err(ConfigError::MissingField(field))
        } else {
            Err(invalid(field, "must not be blank"))
        };
    }
    check_text(field, value, MAX_NAME_LEN)
}

/// Checks `app` or `profile`, which travel as one percent-encoded path segment.
pub(crate) fn check_segment(field: &'static str, value: &str) -> Result<(), ConfigError> {
    check_name(field, value, false)?;
    // URL parsers resolve these as relative path segments (the `%2E` forms are safe: `%` is
    // encoded as `%25`), so they cannot travel as a segment without changing the path's shape.
    if value == "." || value == ".." {
        return Err(invalid(
            field,
            format!("{value:?} cannot be used as a path segment"),
        ));
    }
    Ok(())
}

/// A warning for a name that the server accepts but that is probably a typo: one holding
/// whitespace (`"my service"`). It is sent percent-encoded and registered under exactly that
/// name, so the instance shows under an app nobody watches. Names the first such character
/// and its position (in characters, from 1).
pub(crate) fn name_warning(field: &str, value: &str) -> Option<String> {
    let (index, c) = value.chars().enumerate().find(|(_, c)| c.is_whitespace())?;
    let what = if c == ' ' {
        "a space".to_owned()
    } else {
        format!("{c:?} (U+{:04X})", u32::from(c))
    };
    Some(format!(
        "{field} {} holds {what} at position {}: it is sent percent-encoded and the server registers the instance under exactly this name; check that it is the {field} the server's configuration knows",
        excerpt(value),
        index + 1
    ))
}

/// Bounded length and no control characters.
pub(crate) fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), ConfigError> {
    check_len(field, "", value.len(), max)?;
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// At most `max` bytes; the error names `subject` (empty for the setting itself).
pub(crate) fn check_len(
    field: &'static str,
    subject: &str,
    len: usize,
    max: usize,
) -> Result<(), ConfigError> {
    if len > max {
        return Err(invalid(
            field,
            format!("{subject}is {len} bytes long; at most {max} are allowed"),
        ));
    }
    Ok(())
}

/// Checks a configuration version (builder value or `set_config_version`).
pub(crate) fn check_version(value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(invalid("config_version", "must not be empty or blank"));
    }
    check_text("config_version", value, MAX_VERSION_LEN)
}

/// Checks `headers` and `bearer_token`: valid, bounded, not overriding what the client sets,
/// and at most one source for the `Authorization` header (`userinfo`: the server URL carries
/// a user name or password, which becomes Basic authentication).
pub(crate) fn check_credentials(
    headers: &[(String, String)],
    bearer_token: Option<&str>,
    userinfo: bool,
) -> Result<(), ConfigError> {
    let authorization_header = check_headers(headers)?;
    if let Some(token) = bearer_token {
        check_token(token)?;
        if authorization_header {
            return Err(invalid(
                "bearer_token",
                "an Authorization header is also set with header(): set one or the other",
            ));
        }
    }
    if userinfo && (bearer_token.is_some() || authorization_header) {
        return Err(invalid(
            "server_url",
            "carries a user name or password, which is sent as HTTP Basic authentication in the Authorization header, and a bearer_token or Authorization header is set too: keep one",
        ));
    }
    Ok(())
}

/// Checks the extra headers; true when one of them is `Authorization`.
fn check_headers(headers: &[(String, String)]) -> Result<bool, ConfigError> {
    if headers.len() > MAX_HEADERS {
        return Err(invalid(
            "headers",
            format!(
                "{} extra headers; at most {MAX_HEADERS} are allowed",
                headers.len()
            ),
        ));
    }
    let mut authorization = false;
    for (name, value) in headers {
        let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            invalid(
                "headers",
                format!(
                    "{} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only: no spaces, colons or control characters)",
                    excerpt(name)
                ),
            )
        })?;
        if RESERVED_HEADERS.contains(&parsed.as_str()) {
            return Err(invalid(
                "headers",
                format!("{parsed} is set by the client itself and cannot be overridden"),
            ));
        }
        // Never echo a header value: it may be a secret.
        let subject = format!("the value of {parsed} ");
        check_len("headers", &subject, value.len(), MAX_HEADER_VALUE_LEN)?;
        if HeaderValue::from_str(value).is_err() {
            return Err(invalid(
                "headers",
                format!("the value of {parsed} is not a valid header value (control characters such as a newline?)"),
            ));
        }
        authorization |= parsed == AUTHORIZATION;
    }
    Ok(authorization)
}

fn check_token(token: &str) -> Result<(), ConfigError> {
    if token.trim().is_empty() {
        return Err(invalid("bearer_token", "must not be empty or blank"));
    }
    check_len("bearer_token", "", token.len(), MAX_HEADER_VALUE_LEN)?;
    // `Bearer ` plus a valid value is a valid value: the transport's header cannot fail.
    if HeaderValue::from_str(token).is_err() {
        return Err(invalid(
            "bearer_token",
            "is not a valid header value (control characters such as a trailing newline?)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_whitespace_get_a_warning_naming_it() {
        let warning = name_warning("app", "my service").unwrap();
        assert!(
            warning.contains("\"my service\" holds a space at position 3"),
            "{warning}"
        );
        let warning = name_warning("profile", "prod\u{a0}").unwrap();
        assert!(
            warning.contains("'\\u{a0}' (U+00A0) at position 5"),
            "{warning}"
        );
        assert_eq!(name_warning("app", "my-service"), None);
        assert_eq!(name_warning("app", "a/b%c"), None);
    }
}
