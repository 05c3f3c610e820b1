//! Several server URLs: the list a user gives (builder or a comma-separated `VORTEX_URL`),
//! split, parsed and checked as a whole. Each URL is checked as a single one is
//! ([`parse_server_url`]); this file adds what only a list can get wrong: none, too many, an
//! empty item, a raw comma in a password, the same server twice. Errors name the URL by its
//! 1-based position.

use reqwest::Url;

use crate::endpoint::{is_http, join_heartbeat_path, parse_server_url};
use crate::error::{invalid, ConfigError};
use crate::limits::MAX_SERVER_URLS;
use crate::redact::{excerpt, redact_url};
use crate::validate::ensure;

/// The setting the errors name (and whose variable, `VORTEX_URL`, they point to).
const FIELD: &str = "server_url";

/// Splits a comma-separated list (`VORTEX_URL=http://a:8888,http://b:8888`) into its items,
/// each trimmed. A blank value is an empty list (the URL is then "not set"). An empty item
/// (`a,,b`, a comma at an end) is an error naming its position: a typo, which skipping would
/// hide. In a list of two or more, an item that is not an http(s) URL is an error that does
/// not quote it: a raw comma in a password (which must be `%2C`) cuts the URL in two.
pub(crate) fn split_server_list(value: &str) -> Result<Vec<&str>, ConfigError> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    if items.len() == 1 {
        return Ok(items);
    }
    let http = |item: &str| Url::parse(item).is_ok_and(|url| is_http(&url));
    // A raw comma in a userinfo leaves its rest, up to the `@`, as an item of its own.
    let cut = |item: &&str| item.contains('@') && !http(item);
    if let Some(n) = items.iter().skip(1).position(cut).map(|i| i + 2) {
        let reason = format!("server URL #{n} holds an `@` but is not an http:// or https:// URL: a comma in a user name or password splits the list; percent-encode it as %2C");
        return Err(invalid(FIELD, reason));
    }
    for (n, item) in (1..).zip(&items) {
        ensure(!item.is_empty(), FIELD, empty_item(n))?;
        let reason = format!("server URL #{n} is not an http:// or https:// URL (not quoted: it may be part of a password; percent-encode a comma in one as %2C)");
        ensure(http(item), FIELD, reason)?;
    }
    Ok(items)
}

/// A `VORTEX_URL` value as an error shows it: URL by URL without userinfo, or not at all when
/// it does not split into URLs (a comma may have cut a password in two).
pub(crate) fn shown_list(value: &str) -> String {
    let Ok(items) = split_server_list(value) else {
        return "(not shown: it may hold part of a password)".to_owned();
    };
    let urls: Vec<String> = items.into_iter().map(redact_url).collect();
    urls.join(",")
}

/// Parses and checks a list of server URLs, in order of preference. A list of one has exactly
/// the errors of a single URL; an empty list is [`ConfigError::MissingField`]; more than
/// [`MAX_SERVER_URLS`], a rejected URL or the same server twice is an error naming the URL as
/// `server URL #n`.
pub(crate) fn parse_server_urls<S: AsRef<str>>(raw: &[S]) -> Result<Vec<Url>, ConfigError> {
    match raw {
        [] => return Err(ConfigError::MissingField(FIELD)),
        [one] => return parse_server_url(one.as_ref()).map(|url| vec![url]),
        _ => {}
    }
    let count = raw.len();
    let reason = format!("{count} server URLs were given; at most {MAX_SERVER_URLS} are allowed (each failed round costs one request per URL)");
    ensure(count <= MAX_SERVER_URLS, FIELD, reason)?;
    let mut urls: Vec<Url> = Vec::with_capacity(count);
    let mut servers: Vec<Url> = Vec::with_capacity(count);
    for (n, item) in (1..).zip(raw) {
        let url = parse_server_url(item.as_ref()).map_err(|e| at_position(n, e))?;
        let server = server_of(&url)?;
        if let Some(first) = servers.iter().position(|seen| *seen == server) {
            let shown = excerpt(&redact_url(url.as_str()));
            let reason = format!(
                "server URL #{n} ({shown}) is the same server as #{}: list each server once",
                first + 1
            );
            return Err(invalid(FIELD, reason));
        }
        servers.push(server);
        urls.push(url);
    }
    Ok(urls)
}

/// Puts the position in front of a single URL's error.
fn at_position(n: usize, error: ConfigError) -> ConfigError {
    match error {
        ConfigError::MissingField(_) => invalid(FIELD, empty_item(n)),
        ConfigError::InvalidValue { field, reason } => {
            invalid(field, format!("server URL #{n}: {reason}"))
        }
        other => other,
    }
}

fn empty_item(n: usize) -> String {
    format!("server URL #{n} is empty (two commas in a row, or one at an end?)")
}

/// What tells servers apart: the heartbeat URL a parsed server URL gives, without userinfo.
/// Two URLs with the same one are one server, however written (`/gw//` and `/gw`), whatever
/// the credentials: listed twice, it would get each failed report twice.
fn server_of(url: &Url) -> Result<Url, ConfigError> {
    let mut server = join_heartbeat_path(url.clone(), "app", "profile")?;
    // An http(s) URL has a host, so neither can fail.
    let _ = (server.set_username(""), server.set_password(None));
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(error: ConfigError) -> String {
        match error {
            ConfigError::InvalidValue { field, reason } => {
                assert_eq!(field, "server_url");
                reason
            }
            other => panic!("{other:#?}"),
        }
    }

    #[test]
    fn splits_and_trims() {
        assert_eq!(
            split_server_list(" http://a:1 , http://b:2,http://c ").unwrap(),
            ["http://a:1", "http://b:2", "http://c"]
        );
        assert_eq!(split_server_list("http://a:1").unwrap(), ["http://a:1"]);
        assert!(split_server_list("").unwrap().is_empty());
        assert!(split_server_list("  ").unwrap().is_empty());
    }

    #[test]
    fn an_empty_item_is_named_by_position() {
        for (value, n) in [
            ("http://a,,http://b", 2),
            (",http://a", 1),
            ("http://a,", 2),
            ("http://a, ,http://b", 2),
        ] {
            let text = reason(split_server_list(value).unwrap_err());
            assert!(
                text.starts_with(&format!("server URL #{n} is empty")),
                "{value}: {text}"
            );
        }
    }

    #[test]
    fn parses_a_list_in_order() {
        let urls = parse_server_urls(&["http://a:1", "https://b/cfg", "http://u:p@c"]).unwrap();
        let hosts: Vec<_> = urls.iter().map(|u| u.host_str().unwrap()).collect();
        assert_eq!(hosts, ["a", "b", "c"]);
        assert_eq!(urls[2].password(), Some("p"));
    }

    #[test]
    fn a_list_of_one_keeps_todays_errors() {
        assert_eq!(
            parse_server_urls(&["ftp://h"]).unwrap_err(),
            parse_server_url("ftp://h").unwrap_err()
        );
        assert_eq!(
            parse_server_urls(&[" "]).unwrap_err(),
            ConfigError::MissingField("server_url")
        );
    }

    #[test]
    fn an_empty_list_is_missing() {
        let none: [&str; 0] = [];
        assert_eq!(
            parse_server_urls(&none).unwrap_err(),
            ConfigError::MissingField("server_url")
        );
    }

    #[test]
    fn a_bad_url_is_named_by_position() {
        let text = reason(parse_server_urls(&["http://a", "ftp://u:hunter2@b"]).unwrap_err());
        assert!(text.starts_with("server URL #2: "), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        let text = reason(parse_server_urls(&["http://a", "http://b", ""]).unwrap_err());
        assert!(text.starts_with("server URL #3 is empty"), "{text}");
        let long = format!("http://h/{}", "x".repeat(crate::limits::MAX_URL_LEN));
        let text = reason(parse_server_urls(&["http://a", &long]).unwrap_err());
        assert!(text.starts_with("server URL #2: "), "{text}");
    }

    #[test]
    fn duplicates_are_compared_parsed() {
        for (a, b) in [
            ("http://a:1", "http://a:1"),
            ("http://A:1/", "http://a:1"),
            ("http://a:80", "http://a"),
            ("https://a:443/cfg/", "https://a/cfg"),
            ("http://u:hunter2@a:1", "http://v:other@a:1/"),
            ("http://a/gw//", "http://a/gw"),
        ] {
            let text = reason(parse_server_urls(&["http://z", a, b]).unwrap_err());
            assert!(
                text.starts_with("server URL #3 (") && text.contains("same server as #2"),
                "{a} {b}: {text}"
            );
            assert!(
                !text.contains("hunter2") && !text.contains("other"),
                "{text}"
            );
        }
        for (a, b) in [
            ("http://a:1", "http://a:2"),
            ("http://a", "https://a"),
            ("http://a/x", "http://a/y"),
            ("http://a/x//y", "http://a/x/y"),
            ("http://a", "http://b"),
        ] {
            assert!(parse_server_urls(&[a, b]).is_ok(), "{a} {b}");
        }
    }

    #[test]
    fn too_many_urls() {
        let urls: Vec<String> = (0..=MAX_SERVER_URLS)
            .map(|i| format!("http://h{i}:1"))
            .collect();
        let text = reason(parse_server_urls(&urls).unwrap_err());
        assert!(
            text.contains(&format!("at most {MAX_SERVER_URLS}")),
            "{text}"
        );
        assert!(parse_server_urls(&urls[..MAX_SERVER_URLS]).is_ok());
    }
}
