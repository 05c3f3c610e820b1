//! What a client knows about its reports, as users read it: the status and its drift facts.

use std::time::SystemTime;

use serde::Serialize;

/// What the client knows, from [`HeartbeatClient::status`](crate::HeartbeatClient::status):
/// how its reports go and what the server said about drift. Reports are recorded in the order
/// they were sent, so successive snapshots never go back.
///
/// It serialises to JSON for a status endpoint, times as RFC 3339 strings in UTC:
///
/// ```
/// let status = vortex_client::HeartbeatStatus::default();
/// let json = serde_json::to_value(&status).unwrap();
/// assert_eq!(json["drift"]["drift_detected"], serde_json::Value::Null); // unknown, not "no drift"
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
    /// What the server said about drift in its last answer to an accepted report.
    pub drift: DriftState,
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

/// What the server said about drift in its last answer to an accepted report.
///
/// Obtained from [`HeartbeatClient::subscribe_drift`](crate::HeartbeatClient::subscribe_drift)
/// (async) or [`blocking::HeartbeatClient::subscribe_drift`](crate::blocking::HeartbeatClient::subscribe_drift).
/// It changes only when one of its fields changes: a heartbeat that confirms the same facts
/// does not wake a subscriber. Failed attempts leave it as it was (the last known facts).
///
/// ```
/// use vortex_client::DriftState;
///
/// let state = DriftState::default(); // before the first accepted report
/// assert_eq!(state.drift_detected, None); // unknown, which is not "no drift"
/// assert_eq!(state.refresh_to(), None);
/// assert_eq!(
///     serde_json::to_string(&state).unwrap(),
///     r#"{"expected_version":null,"drift_detected":null,"reported_version":null}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[non_exhaustive]
pub struct DriftState {
    /// The version the server expects for this app and profile (`None` while it has no
    /// expectation, and before the first accepted report).
    pub expected_version: Option<String>,
    /// Whether the server saw drift in the last accepted report: `None` while unknown (no
    /// accepted report yet, or an answer without a verdict), `Some(false)` when the server
    /// sees none.
    pub drift_detected: Option<bool>,
    /// The configuration version carried by the last accepted report.
    pub reported_version: Option<String>,
}

impl DriftState {
    /// The version to refresh to: the server's expected version when it saw drift, else `None`.
    ///
    /// ```no_run
    /// # async fn run(client: vortex_client::HeartbeatClient) {
    /// let mut drift = client.subscribe_drift();
    /// while drift.changed().await.is_ok() {
    ///     let state = drift.borrow_and_update().clone();
    ///     if let Some(version) = state.refresh_to() {
    ///         // load configuration `version`, then:
    ///         client.set_config_version(version);
    ///     }
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn refresh_to(&self) -> Option<&str> {
        if self.drift_detected == Some(true) {
            self.expected_version.as_deref()
        } else {
            None
        }
    }
}

impl DriftState {
    /// Takes the facts of an accepted report; false (and nothing copied) when they are the
    /// ones it holds.
    pub(crate) fn update(
        &mut self,
        expected: &Option<String>,
        drift: Option<bool>,
        version: &str,
    ) -> bool {
        if self.expected_version == *expected
            && self.drift_detected == drift
            && self.reported_version.as_deref() == Some(version)
        {
            return false;
        }
        self.expected_version.clone_from(expected);
        self.drift_detected = drift;
        self.reported_version = Some(version.to_owned());
        true
    }
}
