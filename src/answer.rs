//! The server's answer to a report, read member by member: a member of the wrong type is
//! ignored alone, and the others still count.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The server's answer to a report.
///
/// Parsed leniently, member by member: unknown members are ignored; a member of the wrong type
/// is ignored alone (logged at debug) while the others count; a missing or `null`
/// `expected_version` means the server has no expectation. When `drift_detected` is missing or
/// of the wrong type, the client applies the server's own rule (drift = the expected version
/// differs from the reported one); with no expected version, there is no drift. A 2xx with an
/// empty or non-JSON body counts as delivered, with no drift facts: the client's status then
/// keeps the last known expected version, and shows drift as unknown when it has none.
///
/// Users read it; it is `#[non_exhaustive]` so that a member the server adds can become a field.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HeartbeatResponse {
    /// The server registered the report.
    pub registered: bool,
    /// The version the server expects for this app and profile, if it has an expectation.
    pub expected_version: Option<String>,
    /// The reported version differs from the expected one.
    pub drift_detected: bool,
}

impl HeartbeatResponse {
    /// Parses a 2xx body leniently (see the type's docs), with nothing known beforehand: a
    /// missing verdict reads as no drift. Never fails, never panics. For tests and the fuzz
    /// targets: the client itself resolves the answer against what it knew.
    #[cfg(any(test, fuzzing))]
    #[must_use]
    pub(crate) fn parse_lenient(body: &[u8]) -> HeartbeatResponse {
        let answer = Answer::parse(body);
        HeartbeatResponse {
            registered: answer.registered(),
            expected_version: answer.expected_version.known().cloned(),
            drift_detected: answer.drift_detected.known().copied().unwrap_or(false),
        }
    }
}

/// One member of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Member<T> {
    /// Missing, or `null`.
    Absent,
    /// Present with the wrong type (or the body was no JSON object): says nothing.
    Ignored,
    /// Present with the contract's type.
    Given(T),
}

impl<T> Member<T> {
    /// A member as parsed: missing or `null` is absent; a value `pick` does not take, ignored.
    fn read(value: Option<Value>, pick: impl FnOnce(Value) -> Option<T>) -> Self {
        value.map_or(Member::Absent, |v| {
            pick(v).map_or(Member::Ignored, Member::Given)
        })
    }

    fn known(&self) -> Option<&T> {
        match self {
            Member::Given(value) => Some(value),
            _ => None,
        }
    }
}

/// An answer as parsed, before it meets what the client knew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The body was a JSON object, the contract's shape.
    object: bool,
    registered: Member<bool>,
    expected_version: Member<String>,
    drift_detected: Member<bool>,
}

/// What an answer means for the client: the response users get, and the drift verdict
/// (`None` while unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) response: HeartbeatResponse,
    pub(crate) drift: Option<bool>,
}

/// The members of the contract, each as whatever JSON it holds (`null` reads as missing), so
/// that one of the wrong type fails alone. Unknown members are skipped without being stored.
#[derive(Deserialize)]
struct Members {
    registered: Option<Value>,
    expected_version: Option<Value>,
    drift_detected: Option<Value>,
}

impl Answer {
    /// Reads a 2xx body. Never fails: what cannot be read is ignored.
    pub(crate) fn parse(body: &[u8]) -> Answer {
        // Only an object is the contract's shape (serde would also read a struct from an
        // array such as `[false]`).
        let is_object = body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{');
        let members = is_object
            .then(|| serde_json::from_slice::<Members>(body).ok())
            .flatten();
        let Some(m) = members else {
            return Answer {
                object: false,
                registered: Member::Ignored,
                expected_version: Member::Ignored,
                drift_detected: Member::Ignored,
            };
        };
        let answer = Answer {
            object: true,
            registered: Member::read(m.registered, |v| v.as_bool()),
            expected_version: Member::read(m.expected_version, |v| match v {
                Value::String(version) => Some(version),
                _ => None,
            }),
            drift_detected: Member::read(m.drift_detected, |v| v.as_bool()),
        };
        for (name, ignored) in [
            ("registered", answer.registered == Member::Ignored),
            (
                "expected_version",
                answer.expected_version == Member::Ignored,
            ),
            ("drift_detected", answer.drift_detected == Member::Ignored),
        ] {
            if ignored {
                tracing::debug!(
                    member = name,
                    "ignoring a member of the server's answer with the wrong type"
                );
            }
        }
        answer
    }

    fn registered(&self) -> bool {
        self.registered.known().copied().unwrap_or(true)
    }

    /// The answer's meaning, given the expected version known before it and the version the
    /// report carried. An ignored `expected_version` keeps the known one; a missing verdict
    /// follows the server's rule (drift = expected differs from reported).
    pub(crate) fn resolve(self, known_expected: Option<&str>, reported: &str) -> Resolved {
        let registered = self.registered();
        let expected = match self.expected_version {
            Member::Given(version) => Some(version),
            Member::Absent => None,
            Member::Ignored => known_expected.map(str::to_owned),
        };
        let drift = match self.drift_detected {
            Member::Given(drift) => Some(drift),
            _ => match &expected {
                Some(expected) => Some(expected != reported),
                // The server spoke the contract and has no expectation: no drift.
                None if self.object => Some(false),
                None => None,
            },
        };
        Resolved {
            response: HeartbeatResponse {
                registered,
                expected_version: expected,
                drift_detected: drift.unwrap_or(false),
            },
            drift,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(body: &[u8], known: Option<&str>, reported: &str) -> (Option<String>, Option<bool>) {
        let r = Answer::parse(body).resolve(known, reported);
        (r.response.expected_version, r.drift)
    }

    fn facts(expected: Option<&str>, drift: Option<bool>) -> (Option<String>, Option<bool>) {
        (expected.map(str::to_owned), drift)
    }

    #[test]
    fn well_typed_answers_are_read_as_they_are() {
        let full =
            br#"{"registered":true,"expected_version":"v2","drift_detected":true,"extra":1}"#;
        assert_eq!(resolve(full, None, "v1"), facts(Some("v2"), Some(true)));
        let none = br#"{"registered":true,"expected_version":null,"drift_detected":false}"#;
        assert_eq!(resolve(none, Some("v9"), "v1"), facts(None, Some(false)));
    }

    #[test]
    fn a_wrongly_typed_member_is_ignored_alone() {
        let body = br#"{"registered":"yes","expected_version":"v2","drift_detected":true}"#;
        assert_eq!(resolve(body, None, "v1"), facts(Some("v2"), Some(true)));
        // The verdict of the wrong type: the server's rule decides.
        let body = br#"{"expected_version":"v2","drift_detected":"true"}"#;
        assert_eq!(resolve(body, None, "v1"), facts(Some("v2"), Some(true)));
        assert_eq!(resolve(body, None, "v2"), facts(Some("v2"), Some(false)));
        // The expected version of the wrong type keeps the known one.
        let body = br#"{"expected_version":2,"drift_detected":true}"#;
        assert_eq!(
            resolve(body, Some("v2"), "v1"),
            facts(Some("v2"), Some(true))
        );
    }

    #[test]
    fn a_missing_verdict_follows_the_servers_rule() {
        assert_eq!(
            resolve(br#"{"expected_version":"v2"}"#, None, "v1"),
            facts(Some("v2"), Some(true))
        );
        assert_eq!(resolve(b"{}", Some("v2"), "v1"), facts(None, Some(false)));
    }

    #[test]
    fn a_body_without_facts_keeps_the_known_expectation() {
        for body in [
            &b""[..],
            b"not json",
            b"[1,2]",
            br#"[false, "v9", true]"#,
            b"\xff\xfe",
        ] {
            assert_eq!(resolve(body, None, "v1"), facts(None, None), "{body:?}");
            assert_eq!(
                resolve(body, Some("v2"), "v1"),
                facts(Some("v2"), Some(true))
            );
            assert!(Answer::parse(body).resolve(None, "v1").response.registered);
        }
    }

    #[test]
    fn parse_lenient_reads_each_member_alone() {
        let plain = |expected: Option<&str>, drift| HeartbeatResponse {
            registered: true,
            expected_version: expected.map(str::to_owned),
            drift_detected: drift,
        };
        assert_eq!(
            HeartbeatResponse::parse_lenient(b"not json"),
            plain(None, false)
        );
        assert_eq!(
            HeartbeatResponse::parse_lenient(br#"{"registered":1,"expected_version":"v2"}"#),
            plain(Some("v2"), false)
        );
        let not_registered = HeartbeatResponse::parse_lenient(br#"{"registered":false}"#);
        assert!(!not_registered.registered);
    }

    #[test]
    fn a_wrongly_typed_registered_leaves_the_drift_facts() {
        let answer = HeartbeatResponse::parse_lenient(
            br#"{"registered":"yes","expected_version":"v2","drift_detected":true}"#,
        );
        assert_eq!(answer.expected_version.as_deref(), Some("v2"));
        assert!(answer.drift_detected);
    }

    mod properties {
        use proptest::prelude::*;

        use crate::answer::HeartbeatResponse;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Arbitrary bytes as a 2xx body: the lenient parser never panics, and anything
            /// that is not a JSON object with the contract's types counts as delivered without
            /// drift facts.
            #[test]
            fn response_parser_never_panics(body in prop::collection::vec(any::<u8>(), 0..2048)) {
                let parsed = HeartbeatResponse::parse_lenient(&body);
                if serde_json::from_slice::<serde_json::Value>(&body).map_or(true, |v| !v.is_object()) {
                    prop_assert_eq!(parsed, HeartbeatResponse {
                        registered: true,
                        expected_version: None,
                        drift_detected: false,
                    });
                }
            }

            /// JSON-shaped bodies with members of any type: never a panic; each well-typed
            /// member is read alone.
            #[test]
            fn response_parser_reads_well_typed_members(
                registered in prop::option::of(prop_oneof![any::<bool>().prop_map(serde_json::Value::from), any::<i64>().prop_map(serde_json::Value::from)]),
                expected in prop::option::of(prop_oneof![any::<String>().prop_map(serde_json::Value::from), Just(serde_json::Value::Null), any::<f64>().prop_map(serde_json::Value::from)]),
                drift in prop::option::of(any::<bool>()),
                extra in prop::collection::btree_map("[a-z_]{1,8}", any::<String>(), 0..4),
            ) {
                let mut object = serde_json::Map::new();
                for (k, v) in extra {
                    object.insert(k, v.into());
                }
                if let Some(r) = &registered { object.insert("registered".into(), r.clone()); }
                if let Some(e) = &expected { object.insert("expected_version".into(), e.clone()); }
                if let Some(d) = drift { object.insert("drift_detected".into(), d.into()); }
                let body = serde_json::to_vec(&object).expect("serialise");
                let parsed = HeartbeatResponse::parse_lenient(&body);
                // Each well-typed member is read, whatever the types of the others.
                prop_assert_eq!(parsed.registered, registered.and_then(|r| r.as_bool()).unwrap_or(true));
                prop_assert_eq!(parsed.expected_version, expected.and_then(|e| e.as_str().map(str::to_owned)));
                prop_assert_eq!(parsed.drift_detected, drift.unwrap_or(false));
            }
        }
    }
}
