//! What a client knows about its reports, as users read it.

use std::time::SystemTime;

use serde::Serialize;

use crate::answer::HeartbeatResponse;

/// A snapshot of what the client knows, from [`HeartbeatClient::status`](crate::HeartbeatClient::status).
///
/// Reports are sent one at a time and recorded in the order they were sent, so successive
/// snapshots never go back: `reported_version` only moves to newer versions.
///
/// `drift_detected` is `None` while drift is unknown: before the server accepted a report
/// (the server is down, or answers 404 because it has no drift API), or when its answer
/// carried no verdict. `Some(false)` means the server accepted the last report and sees no
/// drift; with `expected_version: None` it has no expectation for this app and profile.
///
/// It serialises to JSON for a status endpoint, times as RFC 3339 strings in UTC:
///
/// ```
/// let status = vortex_client::HeartbeatStatus::default();
/// let json = serde_json::to_value(&status).unwrap();
/// assert_eq!(json["drift_detected"], serde_json::Value::Null); // unknown, not "no drift"
/// assert_eq!(json["last_success"], serde_json::Value::Null);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HeartbeatStatus {
    /// When the server last accepted a report.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub last_success: Option<SystemTime>,
    /// When the last attempt (successful or not) finished.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub last_attempt: Option<SystemTime>,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// The last error, as text (no secrets), cleared by a success.
    pub last_error: Option<String>,
    /// The server's last answer.
    pub last_response: Option<HeartbeatResponse>,
    /// The version the server expects, from its last answer.
    pub expected_version: Option<String>,
    /// Whether the server saw drift in the last accepted report; `None` while unknown.
    pub drift_detected: Option<bool>,
    /// The configuration version carried by the last accepted report.
    pub reported_version: Option<String>,
    /// Reports the server accepted.
    pub reports_accepted: u64,
    /// Attempts that failed.
    pub reports_failed: u64,
    /// The server URL that accepted the last accepted report, as configured but without
    /// userinfo; `None` until one did. With several URLs
    /// ([`server_urls`](crate::HeartbeatBuilder::server_urls)) it shows which one reports go
    /// to now.
    pub server_url: Option<String>,
}
