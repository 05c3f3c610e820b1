//! The drift view of a client's status: what the server expects, what was reported, and whether
//! they differ.

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
