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
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start().await?;
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// server.set_expected_version("billing", "test", "v2");
    /// // The operator rolled the expectation back: no version is expected, so no drift.
    /// server.clear_expected_version("billing", "test");
    /// let answer = client.report_now().await?;
    /// assert_eq!((answer.expected_version, answer.drift_detected), (None, false));
    /// # Ok(())
    /// # }
    /// ```
    pub fn clear_expected_version(&self, app: &str, profile: &str) {
        let now = tokio::time::Instant::now();
        self.backend
            .lock()
            .fleet
            .set_expected(app, profile, None, now);
    }

    /// The version the server expects for an app/profile, if any.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start().await?;
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// server.set_expected_version("billing", "test", "v2");
    /// // E.g. to assert what a test fixture set up:
    /// assert_eq!(server.expected_version("billing", "test").as_deref(), Some("v2"));
    /// # Ok(())
    /// # }
    /// ```
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
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start().await?;
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// use vortex_client::testing::Reply;
    ///
    /// // A server that is down for the whole test, not just for a few reports:
    /// server.set_default_reply(Reply::Status(503));
    /// assert!(client.report_now().await.is_err());
    /// assert!(client.status().consecutive_failures > 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_default_reply(&self, reply: Reply) {
        self.backend.lock().default_reply = reply;
    }

    /// How long the server remembers an instance after its last report (5 minutes by default,
    /// as the real server).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start().await?;
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// // Test instance expiry without waiting the server's 5 minutes.
    /// server.set_ttl(Duration::from_millis(50));
    /// client.report_now().await?;
    /// assert_eq!(server.instances("billing", "test").count, 1);
    /// tokio::time::sleep(Duration::from_millis(100)).await;
    /// assert_eq!(server.instances("billing", "test").count, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_ttl(&self, ttl: Duration) {
        self.backend.lock().rules.ttl = ttl;
    }

    /// How long after the expected version changed an instance on another version starts to
    /// count as drifted in the drift report (60 s by default, as the real server). Set it to
    /// zero, or run the test on tokio's paused clock, so that a test need not wait.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start().await?;
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// // Count drift in the drift report at once, as an operator would see it after 60 s.
    /// server.set_drift_grace(Duration::ZERO);
    /// server.set_expected_version("billing", "test", "v2");
    /// client.report_now().await?;
    /// assert_eq!(server.drift_report("billing", "test").drifted, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_drift_grace(&self, grace: Duration) {
        self.backend.lock().rules.grace = grace;
    }

    /// The drift percentage at or above which the drift report raises an alert (10 by
    /// default); an alert also needs at least 5 live instances.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start().await?;
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// // Alert as soon as any instance drifts (an alert also needs 5 live instances).
    /// server.set_alert_threshold(0.0);
    /// client.report_now().await?;
    /// assert_eq!(server.drift_summary().apps_alerting, 0); // one instance only
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_alert_threshold(&self, percent: f64) {
        self.backend.lock().rules.threshold = percent;
    }

    /// Every well-formed heartbeat received so far, in order (whatever it was answered).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start().await?;
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// client.report_now().await?;
    /// client.set_config_version("v2");
    /// client.report_now().await?;
    /// // Everything the server got, in order: e.g. to check that no older version came after a newer.
    /// let versions: Vec<_> = server.reports().into_iter().map(|r| r.config_version).collect();
    /// assert_eq!(versions, ["v1", "v2"]);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn reports(&self) -> Vec<Report> {
        self.backend.lock().reports.clone()
    }

    /// How many well-formed heartbeats were received.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start().await?;
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// client.report_now().await?;
    /// // E.g. to check that a stopped client sends nothing more:
    /// client.stop().await;
    /// assert_eq!(server.report_count(), 1);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn report_count(&self) -> usize {
        self.backend.lock().reports.len()
    }

    /// The last well-formed heartbeat received.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start().await?;
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// client.set_config_version("v2");
    /// client.report_now().await?;
    /// // What the server saw last, typed:
    /// let last = server.last_report().ok_or("no report")?;
    /// assert_eq!(last.config_version, "v2");
    /// assert_eq!(last.app, "billing");
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn last_report(&self) -> Option<Report> {
        self.backend.lock().reports.last().cloned()
    }

    /// Every refused request so far: malformed heartbeats (400, 413, 415, 422), requests for
    /// routes the server does not have (404, 405), and, when the server requires credentials
    /// ([`MockServerBuilder::require_bearer_token`](super::MockServerBuilder::require_bearer_token)),
    /// requests without the right ones (401). A client that follows the contract, with the
    /// right credentials, leaves this empty.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start().await?;
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// client.report_now().await?;
    /// // Every body the client sent fit the server's model:
    /// assert!(server.rejections().is_empty());
    /// # Ok(())
    /// # }
    /// ```
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
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start().await?;
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// server.set_drift_grace(Duration::ZERO);
    /// server.set_expected_version("billing", "test", "v2");
    /// client.report_now().await?;
    /// // The fleet-wide view an operator's dashboard shows:
    /// let summary = server.drift_summary();
    /// assert_eq!((summary.total_instances, summary.total_drifted), (1, 1));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn drift_summary(&self) -> DriftSummary {
        self.backend.drift_summary()
    }

    /// The live instances of an app/profile, as `GET /api/drift/instances/{app}/{profile}`
    /// answers it now.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start().await?;
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// client.report_now().await?;
    /// // The instance is listed under the id the client generated:
    /// let list = server.instances("billing", "test");
    /// assert_eq!(list.count, 1);
    /// assert_eq!(list.instances[0].instance_id, client.config().instance_id);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn instances(&self, app: &str, profile: &str) -> InstanceList {
        self.backend.instances(app, profile)
    }
}
