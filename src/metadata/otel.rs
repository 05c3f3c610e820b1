//! `OTEL_RESOURCE_ATTRIBUTES`: OpenTelemetry's resource attributes, parsed strictly (a
//! malformed variable is ignored whole) and mapped onto metadata fields by their `otel_key`.

use super::clean;
use crate::wire::InstanceMetadata;

/// The OpenTelemetry resource attributes variable.
pub(super) const OTEL_VAR: &str = crate::sources::OTEL_RESOURCE_ATTRIBUTES;

/// The metadata fields among `attributes` (each field's `otel_key`), cleaned; `source` names
/// them in the debug log of a dropped value. A later duplicate wins, as it would in a map.
pub(super) fn fields_from_attributes(
    source: &str,
    attributes: impl IntoIterator<Item = (String, String)>,
) -> InstanceMetadata {
    let mut meta = InstanceMetadata::default();
    for (key, value) in attributes {
        if let Some((_, slot)) = meta.fields_mut().find(|(field, _)| field.otel_key == key) {
            *slot = clean(source, value).or(slot.take());
        }
    }
    meta
}

/// Resource attributes, `(key, value)` in the order given.
pub(crate) type Attributes = Vec<(String, String)>;

/// Why `OTEL_RESOURCE_ATTRIBUTES` was ignored: the 1-based entry and the reason, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {entry}: {reason}")]
pub(crate) struct OtelParseError {
    entry: usize,
    reason: &'static str,
}

/// Parses OpenTelemetry's `OTEL_RESOURCE_ATTRIBUTES`: `key1=value1,key2=value2` in the W3C
/// Baggage format without properties. Keys are tokens; values are percent-decoded (`%2C` is a
/// comma; `+` stays a plus) and must be UTF-8. Whitespace around keys, values and separators is
/// trimmed, and empty entries (e.g. a trailing comma) are skipped. Anything else malformed, e.g.
/// an entry without `=`, an empty key, a raw space, quote, semicolon or backslash inside a value,
/// or a broken `%` escape, is an error: the caller then ignores the whole variable.
pub(crate) fn parse_otel_resource_attributes(raw: &str) -> Result<Attributes, OtelParseError> {
    let mut attributes = Vec::new();
    for (entry, text) in (1..).zip(raw.split(',').map(trim_ows)) {
        let error = |reason| OtelParseError { entry, reason };
        let (key, value) = match text.split_once('=') {
            Some((key, value)) => (trim_ows(key), trim_ows(value)),
            None if text.is_empty() => continue,
            None => return Err(error("expected key=value")),
        };
        if key.is_empty() || !key.bytes().all(is_token_char) {
            return Err(error("the key is empty or not a token"));
        }
        attributes.push((key.to_owned(), percent_decode(value).map_err(error)?));
    }
    Ok(attributes)
}

/// Trims optional whitespace (spaces and tabs) as the W3C Baggage grammar allows.
fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// RFC 7230 `tchar`.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Decodes `%XX` escapes; every other byte must be a W3C Baggage `baggage-octet` (printable
/// ASCII but space, `"`, `,`, `;` and `\`), and the result UTF-8.
fn percent_decode(value: &str) -> Result<String, &'static str> {
    let bytes = value.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3);
            if !hex.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                return Err("a % in the value is not followed by two hex digits");
            }
        } else if !matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E) {
            return Err("the value holds a character that must be percent-encoded");
        }
    }
    percent_encoding::percent_decode(bytes)
        .decode_utf8()
        .map(String::from)
        .map_err(|_| "the percent-decoded value is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_LABEL_VALUE_LEN;

    fn parse(raw: &str) -> Result<Vec<(String, String)>, OtelParseError> {
        parse_otel_resource_attributes(raw)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn otel_parses_pairs_and_trims_whitespace() {
        assert_eq!(parse("").unwrap(), pairs(&[]));
        assert_eq!(
            parse("host.name=web-1,cloud.region=eu-west-1").unwrap(),
            pairs(&[("host.name", "web-1"), ("cloud.region", "eu-west-1")])
        );
        assert_eq!(
            parse(" host.name = web-1 ,\tk8s.pod.name=api-0\t").unwrap(),
            pairs(&[("host.name", "web-1"), ("k8s.pod.name", "api-0")])
        );
        // Empty entries (a trailing or doubled comma) are skipped, an empty value is kept.
        assert_eq!(parse("a=1,,b=,").unwrap(), pairs(&[("a", "1"), ("b", "")]));
        // `=` is a baggage octet: only the first one separates key and value.
        assert_eq!(parse("a=b=c").unwrap(), pairs(&[("a", "b=c")]));
    }

    #[test]
    fn otel_percent_decodes_values() {
        assert_eq!(
            parse("service.version=1.0%2Bbuild%2C7,team=a%3Db%20c,host.name=caf%C3%A9").unwrap(),
            pairs(&[
                ("service.version", "1.0+build,7"),
                ("team", "a=b c"),
                ("host.name", "café"),
            ])
        );
        // Percent-decoding is not form-decoding: `+` stays a plus. Hex is case-insensitive.
        assert_eq!(parse("v=1+2%2f%2F").unwrap(), pairs(&[("v", "1+2//")]));
    }

    #[test]
    fn otel_malformed_values_are_errors_naming_the_entry() {
        for (raw, entry) in [
            ("host.name", 1),
            ("a=1,host.name", 2),
            ("=web-1", 1),
            ("a=1, =2", 2),
            ("host name=web-1", 1),
            ("a=1,b=%zz", 2),
            ("a=%4", 1),
            ("a=%", 1),
            ("a=two words", 1),
            ("a=\"quoted\"", 1),
            ("a=v;prop=1", 1),
            ("a=back\\slash", 1),
            ("a=caf\u{e9}", 1),
            ("a=line\nbreak", 1),
            ("a=%FF%FE", 1),
        ] {
            let error = parse(raw).expect_err(raw);
            assert_eq!(error.entry, entry, "{raw}: {error}");
        }
        let shown = parse("a=1,b=s3cret%zz").unwrap_err().to_string();
        assert!(shown.contains("entry 2"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn otel_fields_pick_known_keys_and_drop_unusable_values() {
        let fields = fields_from_attributes(
            OTEL_VAR,
            pairs(&[
                ("host.name", "first"),
                ("host.name", "web-1"),
                ("host.ip", "10.0.0.7"),
                ("cloud.region", "  "),
                ("k8s.pod.name", &"p".repeat(MAX_LABEL_VALUE_LEN + 1)),
                ("k8s.namespace.name", "pay\u{7}ments"),
                ("service.version", "2.0.1"),
                ("service.name", "ignored"),
            ]),
        );
        assert_eq!(
            fields,
            InstanceMetadata {
                hostname: Some("web-1".into()),
                ip_address: Some("10.0.0.7".into()),
                app_version: Some("2.0.1".into()),
                ..InstanceMetadata::default()
            }
        );
    }
}
