//! Text that may be shown in logs, errors and `Debug`: URLs without userinfo, credentials
//! replaced, values shortened. The one place that decides what a secret looks like in print.

use std::borrow::Cow;

use crate::limits::MAX_QUOTED_CHARS;

/// A URL as it may be printed: what may be its userinfo (`user:password@`) replaced with
/// `***@`, and its query and fragment cut off (a query often carries a token).
///
/// Conservative, so that it also protects malformed input: everything between `://` and the
/// *last* `@` is hidden (everything before the last `@` when there is no `://` before it), and
/// the query is looked for only after that. A well-formed URL loses exactly its userinfo,
/// query and fragment, since validation rejects `@` anywhere else.
pub(crate) fn redact_url(url: &str) -> String {
    let (userinfo_masked, rest) = match url.rfind('@') {
        Some(at) => {
            let start = url[..at].find("://").map_or(0, |i| i + 3);
            (format!("{}***@", &url[..start]), &url[at + 1..])
        }
        None => (String::new(), url),
    };
    let rest = rest.find(['?', '#']).map_or(rest, |end| &rest[..end]);
    format!("{userinfo_masked}{rest}")
}

/// The first `max` characters of `text`, when it has more.
fn head(text: &str, max: usize) -> Option<&str> {
    text.char_indices().nth(max).map(|(end, _)| &text[..end])
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub(crate) fn prefix_within(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

/// At most `max` characters of `text`, with `...` when it was longer.
pub(crate) fn shorten(text: &str, max: usize) -> Cow<'_, str> {
    head(text, max).map_or(Cow::Borrowed(text), |head| Cow::Owned(format!("{head}...")))
}

/// At most 64 characters of `value`, quoted, for an error message that must stay short.
pub(crate) fn excerpt(value: &str) -> String {
    match head(value, MAX_QUOTED_CHARS) {
        Some(head) => format!("{head:?}... ({} bytes)", value.len()),
        None => format!("{value:?}"),
    }
}

/// Decodes `%XX` escapes; invalid escapes and invalid UTF-8 are kept as they are (lossy).
pub(crate) fn percent_decode_lossy(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Replaces every secret in `text` with `<redacted>`. With `cut` (the text was cut short),
/// also drops a trailing start of a secret, which the cut may have split. `secrets` is
/// ordered longest first, so that a secret containing another is replaced whole.
pub(crate) fn scrub(text: &str, secrets: &[String], cut: bool) -> String {
    let mut text = text.to_owned();
    for secret in secrets {
        text = text.replace(secret.as_str(), "<redacted>");
    }
    for secret in secrets.iter().filter(|_| cut) {
        let split = |k: &usize| secret.is_char_boundary(*k) && text.ends_with(&secret[..*k]);
        if let Some(k) = (1..secret.len()).rev().find(split) {
            text.truncate(text.len() - k);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_userinfo() {
        assert_eq!(redact_url("http://u:p@h:1/x"), "http://***@h:1/x");
        assert_eq!(redact_url("http://h:1/x"), "http://h:1/x");
        assert_eq!(redact_url("nonsense"), "nonsense");
        // Malformed input: more is hidden, never less.
        assert_eq!(redact_url("http://u:p/w@h:1/x"), "http://***@h:1/x");
        assert_eq!(redact_url("http://u:p@w@h"), "http://***@h");
        assert_eq!(redact_url("u:pw@h:1"), "***@h:1");
        assert_eq!(redact_url("http://h:1/x@y"), "http://***@y");
    }

    #[test]
    fn urls_lose_their_query_and_fragment() {
        assert_eq!(redact_url("http://h/gw?token=t"), "http://h/gw");
        assert_eq!(redact_url("http://u:p@h/gw?token=t#f"), "http://***@h/gw");
        assert_eq!(redact_url("http://h/gw#access_token=t"), "http://h/gw");
        // A `?` in a malformed userinfo is hidden with it, never taken for a query.
        assert_eq!(redact_url("http://u:p?w@h/x?q"), "http://***@h/x");
    }

    #[test]
    fn secrets_are_scrubbed_whole_and_when_cut() {
        let secrets = vec!["tok-s3cret".to_owned(), "pass".to_owned()];
        assert_eq!(
            scrub("bad token tok-s3cret, pass?", &secrets, false),
            "bad token <redacted>, <redacted>?"
        );
        // A body cut inside a secret loses the secret's start.
        assert_eq!(scrub("bad token tok-s3", &secrets, true), "bad token ");
        assert_eq!(
            scrub("bad token tok-s3", &secrets, false),
            "bad token tok-s3"
        );
    }

    #[test]
    fn text_is_shortened_by_characters() {
        assert_eq!(shorten("abcdef", 3), "abc...");
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("héllo", 2), "hé...");
        assert_eq!(excerpt("short"), "\"short\"");
        let long = "x".repeat(100);
        assert_eq!(
            excerpt(&long),
            format!("{:?}... (100 bytes)", "x".repeat(64))
        );
    }

    #[test]
    fn byte_prefixes_respect_char_boundaries() {
        assert_eq!(prefix_within("héllo", 2), "h");
        assert_eq!(prefix_within("héllo", 3), "hé");
        assert_eq!(prefix_within("abc", 10), "abc");
    }

    #[test]
    fn percent_decoding_is_lossy() {
        assert_eq!(percent_decode_lossy("p%40ss%2Fw%zz%"), "p@ss/w%zz%");
        assert_eq!(percent_decode_lossy("%ff"), "\u{fffd}");
    }
}
