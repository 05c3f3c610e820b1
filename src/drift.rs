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
/// assert!(!state.drift_detected);
/// assert_eq!(state.refresh_to(), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DriftState {
    /// The version the server expects for this app and profile (`None` while it has no
    /// expectation, and before the first accepted report).
    pub expected_version: Option<String>,
    /// Whether the server saw drift in the last accepted report.
    pub drift_detected: bool,
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
        if self.drift_detected {
            self.expected_version.as_deref()
        } else {
            None
        }
    }
}
