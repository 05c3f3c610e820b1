//! Waiting for reports with a deadline, from async code (tokio's clock, so paused time works)
//! or from a plain thread, without polling and without sleeps.

use std::time::Duration;

use super::state::{Backend, State};

/// A wait for reports that ended without them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The deadline passed first.
    #[error(
        "{waited_for} did not arrive within {timeout:?}; config versions received so far: {received:?}"
    )]
    Timeout {
        /// What the test waited for, in words.
        waited_for: String,
        /// How long it waited.
        timeout: Duration,
        /// The `config_version` of every report received so far, in order.
        received: Vec<String>,
    },
}

fn timed_out(state: &State, waited_for: &str, timeout: Duration) -> WaitError {
    WaitError::Timeout {
        waited_for: waited_for.to_owned(),
        timeout,
        received: state
            .reports
            .iter()
            .map(|r| r.config_version.clone())
            .collect(),
    }
}

impl Backend {
    /// Waits until `pick` finds what it looks for in the state (checked now and after each
    /// request), at most `timeout` on tokio's clock.
    pub(super) async fn wait<T>(
        &self,
        waited_for: &str,
        timeout: Duration,
        mut pick: impl FnMut(&mut State) -> Option<T>,
    ) -> Result<T, WaitError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = pick(&mut self.lock()) {
                return Ok(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let mut state = self.lock();
                return match pick(&mut state) {
                    Some(found) => Ok(found),
                    None => Err(timed_out(&state, waited_for, timeout)),
                };
            }
        }
    }

    /// [`Backend::wait`] for a plain thread: blocks it, at most `timeout` of wall-clock time.
    pub(super) fn wait_blocking<T>(
        &self,
        waited_for: &str,
        timeout: Duration,
        mut pick: impl FnMut(&mut State) -> Option<T>,
    ) -> Result<T, WaitError> {
        let deadline = std::time::Instant::now().checked_add(timeout);
        let mut state = self.lock();
        loop {
            if let Some(found) = pick(&mut state) {
                return Ok(found);
            }
            let expired = match deadline {
                Some(deadline) => self
                    .arrived_sync()
                    .wait_until(&mut state, deadline)
                    .timed_out(),
                None => {
                    self.arrived_sync().wait(&mut state);
                    false
                }
            };
            if expired {
                return pick(&mut state).ok_or_else(|| timed_out(&state, waited_for, timeout));
            }
        }
    }
}

/// Takes the first unread report.
pub(super) fn next_unread(state: &mut State) -> Option<super::Report> {
    let report = state.reports.get(state.cursor)?.clone();
    state.cursor += 1;
    Some(report)
}

/// Takes the first unread report that `matches`, skipping the unread ones before it.
pub(super) fn next_matching(
    state: &mut State,
    matches: &mut impl FnMut(&super::Report) -> bool,
) -> Option<super::Report> {
    let offset = state
        .reports
        .get(state.cursor..)?
        .iter()
        .position(matches)?;
    let index = state.cursor + offset;
    state.cursor = index + 1;
    state.reports.get(index).cloned()
}

/// All reports, once there are at least `n`.
pub(super) fn at_least(state: &mut State, n: usize) -> Option<Vec<super::Report>> {
    (state.reports.len() >= n).then(|| state.reports.clone())
}

impl super::MockServer {
    /// Waits for the next report not yet taken by a wait (the first one, on the first call),
    /// at most `timeout` on tokio's clock.
    ///
    /// Reports are read in order through a cursor: each report is returned once by
    /// [`next_report`](Self::next_report) and [`wait_for_version`](Self::wait_for_version)
    /// together, so a report that arrived before the call is not missed.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # async fn run(server: vortex_client::testing::MockServer) -> Result<(), vortex_client::testing::WaitError> {
    /// let first = server.next_report(Duration::from_secs(5)).await?;
    /// assert_eq!(first.health, vortex_client::Health::Healthy);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when no report came in time (it lists the versions received).
    pub async fn next_report(&self, timeout: Duration) -> Result<super::Report, WaitError> {
        self.backend
            .wait("the next report", timeout, next_unread)
            .await
    }

    /// Waits for a report with this `config_version`, skipping the unread reports before it,
    /// at most `timeout` on tokio's clock.
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
    /// client.start().await;
    /// client.set_config_version("v2"); // what the service's reload logic does
    /// // The test waits for the server to hear of it, with a deadline instead of a sleep:
    /// let report = server.wait_for_version("v2", Duration::from_secs(10)).await?;
    /// assert_eq!(report.config_version, "v2");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when no such report came in time.
    pub async fn wait_for_version(
        &self,
        version: &str,
        timeout: Duration,
    ) -> Result<super::Report, WaitError> {
        let what = format!("a report with config_version {version:?}");
        let mut matches = |r: &super::Report| r.config_version == version;
        self.backend
            .wait(&what, timeout, |state| next_matching(state, &mut matches))
            .await
    }

    /// Waits for the next unread report that `matches`, skipping the unread reports before it,
    /// at most `timeout` on tokio's clock: e.g. the first report that says `Degraded`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # async fn run(server: vortex_client::testing::MockServer) -> Result<(), vortex_client::testing::WaitError> {
    /// use vortex_client::Health;
    ///
    /// let degraded = server
    ///     .wait_for_report(|r| r.health == Health::Degraded, Duration::from_secs(5))
    ///     .await?;
    /// # let _ = degraded;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when no such report came in time.
    pub async fn wait_for_report(
        &self,
        mut matches: impl FnMut(&super::Report) -> bool,
        timeout: Duration,
    ) -> Result<super::Report, WaitError> {
        self.backend
            .wait("a matching report", timeout, |state| {
                next_matching(state, &mut matches)
            })
            .await
    }

    /// Waits until at least `n` reports arrived in all (cursor aside); returns all of them.
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
    /// client.start().await;
    /// server.next_report(Duration::from_secs(10)).await?;
    /// client.set_config_version("v2");
    /// // At least the first report and the one the change caused:
    /// let reports = server.wait_for_reports(2, Duration::from_secs(10)).await?;
    /// assert_eq!(reports[0].config_version, "v1");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when fewer came in time.
    pub async fn wait_for_reports(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<super::Report>, WaitError> {
        let what = format!("{n} reports");
        self.backend
            .wait(&what, timeout, |state| at_least(state, n))
            .await
    }

    /// [`next_report`](Self::next_report) for code without a runtime: blocks the thread, at
    /// most `timeout`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// client.start();
    /// // A plain #[test], no runtime: block until the first report arrives.
    /// let first = server.next_report_blocking(Duration::from_secs(10))?;
    /// assert_eq!(first.config_version, "v1");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when no report came in time.
    pub fn next_report_blocking(&self, timeout: Duration) -> Result<super::Report, WaitError> {
        self.backend
            .wait_blocking("the next report", timeout, next_unread)
    }

    /// [`wait_for_version`](Self::wait_for_version) for code without a runtime.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// client.start();
    /// client.set_config_version("v2");
    /// let report = server.wait_for_version_blocking("v2", Duration::from_secs(10))?;
    /// assert_eq!(report.app, "billing");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when no such report came in time.
    pub fn wait_for_version_blocking(
        &self,
        version: &str,
        timeout: Duration,
    ) -> Result<super::Report, WaitError> {
        let what = format!("a report with config_version {version:?}");
        let mut matches = |r: &super::Report| r.config_version == version;
        self.backend
            .wait_blocking(&what, timeout, |state| next_matching(state, &mut matches))
    }

    /// [`wait_for_report`](Self::wait_for_report) for code without a runtime.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// use vortex_client::Health;
    ///
    /// client.start();
    /// client.set_health(Health::Degraded);
    /// // The first report that says the service is degraded:
    /// let report = server.wait_for_report_blocking(|r| r.health == Health::Degraded, Duration::from_secs(10))?;
    /// assert_eq!(report.config_version, "v1");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when no such report came in time.
    pub fn wait_for_report_blocking(
        &self,
        mut matches: impl FnMut(&super::Report) -> bool,
        timeout: Duration,
    ) -> Result<super::Report, WaitError> {
        self.backend
            .wait_blocking("a matching report", timeout, |state| {
                next_matching(state, &mut matches)
            })
    }

    /// [`wait_for_reports`](Self::wait_for_reports) for code without a runtime.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// client.start();
    /// server.next_report_blocking(Duration::from_secs(10))?;
    /// client.set_config_version("v2"); // reported promptly: a second report
    /// let reports = server.wait_for_reports_blocking(2, Duration::from_secs(10))?;
    /// assert!(reports.len() >= 2);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when fewer came in time.
    pub fn wait_for_reports_blocking(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<super::Report>, WaitError> {
        let what = format!("{n} reports");
        self.backend
            .wait_blocking(&what, timeout, |state| at_least(state, n))
    }
}
