//! What a test sets on the mock server (expected versions, scripted replies, the read side's
//! rules) and what it reads back (reports, rejections, the operator's view).

use std::time::Duration;

use super::model::{Rejection, Report};
use super::reply::Reply;
use super::views::{DriftReport, DriftSummary, InstanceList};
use super::MockServer;

impl MockServer {
    /// Sets the version the server expects for an app/profile: later heartbeats of another
    /// version are answered with `drift_detected: true`, and the drift report counts them as
    /// drifted once the grace period has passed (see [`set_drift_grace`](Self::set_drift_grace)).
    ///
    /// ```
    /// # async fn run(server: vortex_client::testing::MockServer) {
    /// server.set_expected_version("payment-service", "production", "v2.3.5");
    /// assert_eq!(
    ///     server.expected_version("payment-service", "production").as_deref(),
    ///     Some("v2.3.5")
    /// );
    /// # }
    /// ```
    pub fn set_expected_version(&self, app: &str, profile: &str, version: impl Into<String>) {
        let now = tokio::time::Instant::now();
        self.backend
            .lock()
            .fleet
            .set_expected(app, profile, Some(version.into()), now);
    }

    /// Removes the expectation for an app/profile: answers carry `expected_version: null` and
    /// no drift.
    pub fn clear_expected_version(&self, app: &str, profile: &str) {
        let now = tokio::time::Instant::now();
        self.backend
            .lock()
            .fleet
            .set_expected(app, profile, None, now);
    }

    /// The version the server expects for an app/profile, if any.
    #[must_use]
    pub fn expected_version(&self, app: &str, profile: &str) -> Option<String> {
        self.backend.lock().fleet.expected(app, profile)
    }

    /// Queues replies for the next well-formed heartbeats, one each, in order; after them the
    /// default reply applies again.
    ///
    /// ```
    /// use vortex_client::testing::Reply;
    /// # async fn run(server: vortex_client::testing::MockServer) {
    /// // A short outage: two failures, then a throttle, then back to normal.
    /// server.script([Reply::Status(503), Reply::Status(502), Reply::RetryAfter(429, "1".into())]);
    /// # }
    /// ```
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.backend.lock().script.extend(replies);
    }

    /// The reply for heartbeats when no scripted reply is queued ([`Reply::Accept`] at first).
    pub fn set_default_reply(&self, reply: Reply) {
        self.backend.lock().default_reply = reply;
    }

    /// How long the server remembers an instance after its last report (5 minutes by default,
    /// as the real server).
    pub fn set_ttl(&self, ttl: Duration) {
        self.backend.lock().rules.ttl = ttl;
    }

    /// How long after the expected version changed an instance on another version starts to
    /// count as drifted in the drift report (60 s by default, as the real server). Set it to
    /// zero, or run the test on tokio's paused clock, so that a test need not wait.
    pub fn set_drift_grace(&self, grace: Duration) {
        self.backend.lock().rules.grace = grace;
    }

    /// The drift percentage at or above which the drift report raises an alert (10 by
    /// default); an alert also needs at least 5 live instances.
    pub fn set_alert_threshold(&self, percent: f64) {
        self.backend.lock().rules.threshold = percent;
    }

    /// Every well-formed heartbeat received so far, in order (whatever it was answered).
    #[must_use]
    pub fn reports(&self) -> Vec<Report> {
        self.backend.lock().reports.clone()
    }

    /// How many well-formed heartbeats were received.
    #[must_use]
    pub fn report_count(&self) -> usize {
        self.backend.lock().reports.len()
    }

    /// The last well-formed heartbeat received.
    #[must_use]
    pub fn last_report(&self) -> Option<Report> {
        self.backend.lock().reports.last().cloned()
    }

    /// Every refused request so far: malformed heartbeats (400, 413, 415, 422), requests for
    /// routes the server does not have (404, 405), and, when the server requires credentials
    /// ([`MockServerBuilder::require_bearer_token`](super::MockServerBuilder::require_bearer_token)),
    /// requests without the right ones (401). A client that follows the contract, with the
    /// right credentials, leaves this empty.
    #[must_use]
    pub fn rejections(&self) -> Vec<Rejection> {
        self.backend.lock().rejections.clone()
    }

    /// The drift report of an app/profile, as `GET /api/drift/drift/{app}/{profile}` answers
    /// it now.
    ///
    /// ```
    /// # async fn run(server: vortex_client::testing::MockServer) {
    /// let report = server.drift_report("payment-service", "production");
    /// assert_eq!(report.drifted, 0);
    /// # }
    /// ```
    #[must_use]
    pub fn drift_report(&self, app: &str, profile: &str) -> DriftReport {
        self.backend.drift_report(app, profile)
    }

    /// The summary over every app/profile, as `GET /api/drift/drift` answers it now.
    #[must_use]
    pub fn drift_summary(&self) -> DriftSummary {
        self.backend.drift_summary()
    }

    /// The live instances of an app/profile, as `GET /api/drift/instances/{app}/{profile}`
    /// answers it now.
    #[must_use]
    pub fn instances(&self, app: &str, profile: &str) -> InstanceList {
        self.backend.instances(app, profile)
    }
}
