//! What a test reads and writes: the recorded reports and refusals, and the scripted replies.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::Health;

/// Defines [`ReportedMetadata`] from the rows of the SDK's metadata table, so the server's model
/// and what the SDK sends cannot part.
macro_rules! reported_metadata {
    ($($(#[doc = $doc:literal])* $field:ident: $otel:literal, [$($var:literal),* $(,)?];)*) => {
        /// The `metadata` of a report, as the server's model reads it.
        ///
        /// Members the server does not know are ignored, so a label missing from
        /// [`custom`](Self::custom) is one the real server would have lost too.
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

/// One heartbeat the mock server accepted as well-formed (whatever it answered).
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
    /// The request path as sent, still percent-encoded.
    pub path: String,
    /// The request headers, names lower-case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body as received (JSON text).
    pub body: String,
    /// When it arrived, on tokio's clock (paused time included).
    pub received_at: tokio::time::Instant,
    /// When it arrived, on the wall clock as of the server's start moved on by tokio's clock
    /// (so paused time moves it too).
    pub received_at_utc: SystemTime,
}

impl Report {
    /// The first value of a header, by case-insensitive name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.as_str())
    }

    /// The body as a JSON value, to check members the typed fields do not show (for example
    /// that nothing was sent outside the server's model).
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

/// A request the mock server refused: a malformed heartbeat (400, 413, 415, 422), a route it
/// does not serve (404, 405), or missing credentials (401).
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
    /// The body as received (lossy UTF-8; empty when over the size limit).
    pub body: String,
}

/// How the mock server answers a well-formed heartbeat: queued with
/// [`MockServer::script`](super::MockServer::script), one per heartbeat, else
/// [`MockServer::set_default_reply`](super::MockServer::set_default_reply). A malformed body
/// gets its 4xx whatever the script says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Reply {
    /// `200` with the contract's answer `{registered, expected_version, drift_detected}`.
    #[default]
    Accept,
    /// This status with an empty body.
    Status(u16),
    /// This status with a `Retry-After` header of this value (seconds, or an HTTP date).
    RetryAfter(u16, String),
    /// This status with this raw body (for example a 200 that is not JSON).
    Raw(u16, Vec<u8>),
    /// This redirect status (301, 302, 307, 308) to this `Location`.
    Redirect(u16, String),
    /// The normal answer, after this delay (on tokio's clock: paused time skips it).
    Delay(Duration),
    /// Never answer: the connection stays open and silent until the client gives up or the
    /// mock server is dropped.
    Hang,
}

impl Reply {
    /// The status this reply answers with (`None` for [`Reply::Hang`]).
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Reply::Accept | Reply::Delay(_) => Some(200),
            Reply::Status(code)
            | Reply::RetryAfter(code, _)
            | Reply::Raw(code, _)
            | Reply::Redirect(code, _) => Some(*code),
            Reply::Hang => None,
        }
    }
}
