//! The server's request model: what a heartbeat body must look like, and the typed report a test
//! reads back.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::Health;

/// Defines [`ReportedMetadata`] from the rows of the SDK's metadata table, so the server's model
/// and what the SDK sends cannot part.
macro_rules! reported_metadata {
    ($($(#[doc = $doc:literal])* $field:ident: $otel:literal, [$($var:literal),* $(,)?];)*) => {
        /// The `metadata` of a report, as the server's model reads it.
        ///
        /// Every member is optional; members the server does not know are ignored (and so are
        /// not here): a test that finds a label missing from [`custom`](Self::custom) has found
        /// a label the real server would have lost too.
        ///
        /// ```
        /// use vortex_client::testing::ReportedMetadata;
        ///
        /// let meta: ReportedMetadata =
        ///     serde_json::from_str(r#"{"region": "eu-west-1", "custom": {"team": "platform"}}"#)?;
        /// assert_eq!(meta.region.as_deref(), Some("eu-west-1"));
        /// assert_eq!(meta.custom["team"], "platform");
        /// # Ok::<(), serde_json::Error>(())
        /// ```
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[non_exhaustive]
        pub struct ReportedMetadata {
            $(
                $(#[doc = $doc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<String>,
            )*
            /// User labels.
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub custom: BTreeMap<String, String>,
        }
    };
}

crate::wire::metadata_fields!(reported_metadata);

/// The body of a heartbeat, as the server's model accepts it.
#[derive(Debug, Deserialize)]
pub(super) struct HeartbeatBody {
    pub(super) instance_id: String,
    pub(super) config_version: String,
    #[serde(default)]
    pub(super) metadata: Option<ReportedMetadata>,
    #[serde(default)]
    pub(super) health: Health,
}

/// Why a body was refused: the status the server answers and a reason for the test's eyes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) status: u16,
    pub(super) reason: String,
}

/// Checks a body against the server's model: 400 when it is not JSON, 422 when it is JSON of
/// the wrong shape (a missing or mistyped member, an unknown `health`).
pub(super) fn parse_body(body: &[u8]) -> Result<HeartbeatBody, Refusal> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| Refusal {
        status: 400,
        reason: format!("the body is not JSON: {e}"),
    })?;
    no_array_for_an_object(&value)?;
    serde_json::from_value(value).map_err(|e| Refusal {
        status: 422,
        reason: format!("the body does not fit the server's model: {e}"),
    })
}

/// serde reads a struct from a JSON array too, by position (`["i-1","v9"]` would register
/// instance `i-1` on `v9`); the server's model takes objects only. Arrays are caught here,
/// every other shape is left to serde. `custom` is a map, which serde never reads from an
/// array.
fn no_array_for_an_object(value: &serde_json::Value) -> Result<(), Refusal> {
    let wrong = |what: &str| Refusal {
        status: 422,
        reason: format!(
            "the body does not fit the server's model: {what} is an array, not an object"
        ),
    };
    if value.is_array() {
        return Err(wrong("the body"));
    }
    match value.get("metadata") {
        Some(metadata) if metadata.is_array() => Err(wrong("metadata")),
        _ => Ok(()),
    }
}

/// One heartbeat the mock server accepted as well-formed (whatever it answered).
///
/// Owned and cheap to inspect: the decoded `app` and `profile`, the body's members typed, the
/// request's headers, and when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The application, from the path, percent-decoded.
    pub app: String,
    /// The profile, from the path, percent-decoded.
    pub profile: String,
    /// `instance_id` from the body.
    pub instance_id: String,
    /// `config_version` from the body.
    pub config_version: String,
    /// `health` from the body (`healthy` when absent, as the server reads it).
    pub health: Health,
    /// `metadata` from the body, when present.
    pub metadata: Option<ReportedMetadata>,
    /// The request path as sent, still percent-encoded (e.g.
    /// `/api/drift/heartbeat/my%20app/prod`).
    pub path: String,
    /// The request headers, names lower-case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body as received (JSON text).
    pub body: String,
    /// When it arrived, on tokio's clock (paused time included).
    pub received_at: tokio::time::Instant,
    /// When it arrived, on the wall clock (moved on from the server's start by tokio's clock, so
    /// paused time moves it too).
    pub received_at_utc: SystemTime,
}

impl Report {
    /// The first value of a header, by case-insensitive name.
    ///
    /// ```
    /// # fn check(report: &vortex_client::testing::Report) {
    /// assert_eq!(report.header("Content-Type"), Some("application/json"));
    /// # }
    /// ```
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as a JSON value, to check members the typed fields do not show (for example
    /// that nothing was sent outside the server's model).
    ///
    /// ```
    /// # fn check(report: &vortex_client::testing::Report) {
    /// assert!(report.json().get("hostname").is_none(), "metadata is nested");
    /// # }
    /// ```
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A request the mock server refused: a malformed heartbeat body (400, 422, 413, 415), a
/// request for a route it does not serve (404, 405), or one without the credentials it
/// requires (401).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The request method.
    pub method: String,
    /// The request path as sent.
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// Why, in words.
    pub reason: String,
    /// The body as received (lossy UTF-8, at most the size limit).
    pub body: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_model_is_enforced() {
        let ok = parse_body(br#"{"instance_id":"i","config_version":"v1"}"#).unwrap();
        assert_eq!(ok.health, Health::Healthy);
        assert!(ok.metadata.is_none());
        assert_eq!(parse_body(b"{not json").unwrap_err().status, 400);
        assert_eq!(parse_body(b"").unwrap_err().status, 400);
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
            assert_eq!(
                parse_body(wrong.as_bytes()).unwrap_err().status,
                422,
                "{wrong}"
            );
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
