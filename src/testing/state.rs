//! What the mock server holds between requests, behind one lock, and what a test sets and reads
//! there: expected versions, scripted replies, reports and rejections.

use std::collections::{HashMap, VecDeque};
use std::time::SystemTime;

use parking_lot::{Condvar, Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::http::Credentials;
use super::model::{Rejection, Reply, Report};
use super::MockServer;

/// Everything under the lock.
#[derive(Debug, Default)]
pub(super) struct State {
    /// Every well-formed heartbeat, in arrival order.
    pub(super) reports: Vec<Report>,
    /// How many reports the waits have taken.
    pub(super) cursor: usize,
    rejections: Vec<Rejection>,
    script: VecDeque<Reply>,
    default_reply: Reply,
    /// The expected version by app and profile.
    expected: HashMap<(String, String), String>,
}

/// Shared by the server's tasks and the test's handle: the state, the signals that wake
/// waiting tests, and the server's fixed options.
#[derive(Debug)]
pub(super) struct Backend {
    state: Mutex<State>,
    /// Wakes async waiters when a request was recorded.
    pub(super) arrived: Notify,
    /// Wakes blocking waiters when a request was recorded.
    pub(super) arrived_sync: Condvar,
    /// The server's start on tokio's clock and on the wall clock.
    started: (Instant, SystemTime),
    pub(super) prefix: String,
    pub(super) credentials: Option<Credentials>,
}

impl Backend {
    pub(super) fn new(prefix: String, credentials: Option<Credentials>) -> Self {
        Backend {
            state: Mutex::default(),
            arrived: Notify::new(),
            arrived_sync: Condvar::new(),
            started: (Instant::now(), SystemTime::now()),
            prefix,
            credentials,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// The wall-clock time of a tokio instant: paused time moves it too.
    pub(super) fn utc(&self, at: Instant) -> SystemTime {
        self.started.1 + at.duration_since(self.started.0)
    }

    /// Records a well-formed heartbeat; returns its reply (the next scripted one, else the
    /// default) and the contract's answer, drift decided against its expected version.
    pub(super) fn heartbeat(&self, report: Report) -> (Reply, String) {
        let mut state = self.lock();
        let reply = state.script.pop_front();
        let reply = reply.unwrap_or_else(|| state.default_reply.clone());
        let key = (report.app.clone(), report.profile.clone());
        let expected = state.expected.get(&key);
        let answer = serde_json::json!({
            "registered": true,
            "expected_version": expected,
            "drift_detected": expected.is_some_and(|e| *e != report.config_version),
        });
        state.reports.push(report);
        drop(state);
        self.wake();
        (reply, answer.to_string())
    }

    /// Records a refused request.
    pub(super) fn reject(&self, rejection: Rejection) {
        self.lock().rejections.push(rejection);
        self.wake();
    }

    fn wake(&self) {
        self.arrived.notify_waiters();
        self.arrived_sync.notify_all();
    }
}

impl MockServer {
    /// Sets the version the server expects for an app/profile: later heartbeats of another
    /// version are answered with `drift_detected: true`.
    pub fn set_expected_version(&self, app: &str, profile: &str, version: impl Into<String>) {
        let key = (app.to_owned(), profile.to_owned());
        self.backend.lock().expected.insert(key, version.into());
    }

    /// Removes the expectation for an app/profile: answers carry `expected_version: null` and
    /// no drift.
    pub fn clear_expected_version(&self, app: &str, profile: &str) {
        let key = (app.to_owned(), profile.to_owned());
        self.backend.lock().expected.remove(&key);
    }

    /// The version the server expects for an app/profile, if any.
    #[must_use]
    pub fn expected_version(&self, app: &str, profile: &str) -> Option<String> {
        let key = (app.to_owned(), profile.to_owned());
        self.backend.lock().expected.get(&key).cloned()
    }

    /// Queues replies for the next well-formed heartbeats, one each, in order; after them the
    /// default reply applies again.
    ///
    /// ```
    /// # use vortex_client::{testing::{MockServer, Reply}, Environment, HeartbeatClient};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = MockServer::start().await?;
    /// # let client = HeartbeatClient::builder()
    /// #     .environment(Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .max_retries(1)
    /// #     .build()?;
    /// // A short outage: one failure, then back to normal.
    /// server.script([Reply::Status(503)]);
    /// assert_eq!(client.report_now().await.unwrap_err().status(), Some(503));
    /// assert!(client.report_now().await?.registered);
    /// assert_eq!(server.report_count(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.backend.lock().script.extend(replies);
    }

    /// The reply when no scripted one is queued ([`Reply::Accept`] at first), e.g. a server
    /// that is down for the whole test.
    pub fn set_default_reply(&self, reply: Reply) {
        self.backend.lock().default_reply = reply;
    }

    /// Every well-formed heartbeat received so far, in order, whatever it was answered.
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

    /// Every refused request so far (see [`Rejection`]). A client that follows the contract,
    /// with the right credentials, leaves this empty.
    #[must_use]
    pub fn rejections(&self) -> Vec<Rejection> {
        self.backend.lock().rejections.clone()
    }
}
