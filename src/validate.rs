//! The checks on what a user (or the environment) hands the client: text, names, versions,
//! extra headers and the bearer token, each in one place. Every error says what to fix and
//! never echoes a header value or token.

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};

use crate::error::{invalid, ConfigError};
use crate::limits::{MAX_HEADERS, MAX_HEADER_VALUE_LEN, MAX_NAME_LEN, MAX_VERSION_LEN};
use crate::redact::excerpt;

/// What a check gives: nothing, or what to fix.
pub(crate) type Checked = Result<(), ConfigError>;

/// Headers the client sets itself or that control the HTTP framing: `header()` cannot set them.
const RESERVED_HEADERS: &str = "accept connection content-length content-type host keep-alive \
    proxy-connection te trailer transfer-encoding upgrade user-agent";

/// `Ok` when `ok`, else [`ConfigError::InvalidValue`] for `field` with `reason`.
pub(crate) fn ensure(ok: bool, field: &'static str, reason: impl Into<String>) -> Checked {
    ok.then_some(()).ok_or_else(|| invalid(field, reason))
}

/// Checks a name that becomes a path segment or an id: set (unless `allow_empty`), not blank.
pub(crate) fn check_name(field: &'static str, value: &str, allow_empty: bool) -> Checked {
    if value.is_empty() {
        let missing = ConfigError::MissingField(field);
        return allow_empty.then_some(()).ok_or(missing);
    }
    ensure(!value.trim().is_empty(), field, "must not be blank")?;
    check_text(field, value, MAX_NAME_LEN)
}

/// Checks `app` or `profile`, which travel as one percent-encoded path segment.
pub(crate) fn check_segment(field: &'static str, value: &str) -> Checked {
    check_name(field, value, false)?;
    // URL parsers resolve these as relative path segments (the `%2E` forms are safe: `%` is
    // encoded as `%25`), so they cannot travel as a segment without changing the path's shape.
    let reason = format!("{value:?} cannot be used as a path segment");
    ensure(value != "." && value != "..", field, reason)
}

/// A warning for a name that the server accepts but that is probably a typo: one holding
/// whitespace (`"my service"`), registered under exactly that name. Names the first such
/// character and its position (in characters, from 1).
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

/// At most `max` bytes, no control characters.
pub(crate) fn check_text(field: &'static str, value: &str, max: usize) -> Checked {
    check_len(field, "", value.len(), max)?;
    let reason = "must not contain control characters (a stray newline or tab?)";
    ensure(!value.chars().any(char::is_control), field, reason)
}

/// At most `max` bytes; the error names `subject` (empty for the setting itself).
fn check_len(field: &'static str, subject: &str, len: usize, max: usize) -> Checked {
    if len > max {
        let reason = format!("{subject}is {len} bytes long; at most {max} are allowed");
        return Err(invalid(field, reason));
    }
    Ok(())
}

/// Checks a configuration version (builder value or `set_config_version`).
pub(crate) fn check_version(value: &str) -> Checked {
    check_not_blank("config_version", value)?;
    check_text("config_version", value, MAX_VERSION_LEN)
}

fn check_not_blank(field: &'static str, value: &str) -> Checked {
    let blank = value.trim().is_empty();
    ensure(!blank, field, "must not be empty or blank")
}

/// Checks `headers` and `bearer_token`, and that at most one sets the `Authorization` header,
/// or the server URL's `userinfo` (sent as Basic authentication).
pub(crate) fn check_credentials(
    headers: &[(String, String)],
    bearer_token: Option<&str>,
    userinfo: bool,
) -> Checked {
    let authorization_header = check_headers(headers)?;
    if let Some(token) = bearer_token {
        check_not_blank("bearer_token", token)?;
        check_header_value("bearer_token", "", token)?;
        let reason = "an Authorization header is also set with header(): set one or the other";
        ensure(!authorization_header, "bearer_token", reason)?;
    }
    let single = !userinfo || (bearer_token.is_none() && !authorization_header);
    let reason = "carries a user name or password, which is sent as HTTP Basic authentication in the Authorization header, and a bearer_token or Authorization header is set too: keep one";
    ensure(single, "server_url", reason)
}

/// Checks the extra headers; true when one of them is `Authorization`.
fn check_headers(headers: &[(String, String)]) -> Result<bool, ConfigError> {
    let count = headers.len();
    let reason = format!("{count} extra headers; at most {MAX_HEADERS} are allowed");
    ensure(count <= MAX_HEADERS, "headers", reason)?;
    let mut authorization = false;
    for (name, value) in headers {
        let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            let reason = format!("{} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only: no spaces, colons or control characters)", excerpt(name));
            invalid("headers", reason)
        })?;
        let reserved = RESERVED_HEADERS.split_whitespace().any(|h| parsed == h);
        let reason = format!("{parsed} is set by the client itself and cannot be overridden");
        ensure(!reserved, "headers", reason)?;
        check_header_value("headers", &format!("the value of {parsed} "), value)?;
        authorization |= parsed == AUTHORIZATION;
    }
    Ok(authorization)
}

/// A header value or the token: bounded and valid. The error names `subject`, never the value.
fn check_header_value(field: &'static str, subject: &str, value: &str) -> Checked {
    check_len(field, subject, value.len(), MAX_HEADER_VALUE_LEN)?;
    // `Bearer ` plus a valid value is a valid value: the transport's header cannot fail.
    let valid = HeaderValue::from_str(value).is_ok();
    let reason = "is not a valid header value (control characters such as a trailing newline?)";
    ensure(valid, field, format!("{subject}{reason}"))
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
