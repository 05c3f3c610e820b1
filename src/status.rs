//! What a client knows about its reports, as users read it.

use std::time::SystemTime;

use crate::wire::HeartbeatResponse;

/// A snapshot of what the client knows, from [`HeartbeatClient::status`](crate::HeartbeatClient::status).
///
/// Reports are sent one at a time and recorded in the order they were sent, so successive
/// snapshots never go back: `reported_version` only moves to newer versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeartbeatStatus {
    /// When the server last accepted a report.
    pub last_success: Option<SystemTime>,
    /// When the last attempt (successful or not) finished.
    pub last_attempt: Option<SystemTime>,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// The last error, as text (no secrets), cleared by a success.
    pub last_error: Option<String>,
    /// The server's last answer.
    pub last_response: Option<HeartbeatResponse>,
    /// The version the server expects, from its last answer.
    pub expected_version: Option<String>,
    /// Whether the server saw drift in the last accepted report.
    pub drift_detected: bool,
    /// The configuration version carried by the last accepted report.
    pub reported_version: Option<String>,
    /// Reports the server accepted.
    pub reports_sent: u64,
    /// Attempts that failed.
    pub reports_failed: u64,
}
