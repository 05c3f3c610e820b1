//! Waiting for reports with a deadline instead of a sleep: from async code on tokio's clock (so
//! paused time works), or blocking a plain thread. Each wait is defined once; its async and
//! blocking entry points only pick the engine.

use std::pin::pin;
use std::time::Duration;

use super::model::Report;
use super::state::{Backend, State};
use super::MockServer;

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

/// What a wait looks for, in words, and how it takes it from the state (`None`: not yet).
type Want<F> = (String, F);

/// The first report no wait has taken yet that `matches`; the ones before it are skipped.
fn matching(
    what: String,
    mut matches: impl FnMut(&Report) -> bool,
) -> Want<impl FnMut(&mut State) -> Option<Report>> {
    (what, move |state: &mut State| {
        let untaken = state.reports.get(state.cursor..)?;
        state.cursor += untaken.iter().position(&mut matches)? + 1;
        state.reports.get(state.cursor - 1).cloned()
    })
}

fn next() -> Want<impl FnMut(&mut State) -> Option<Report>> {
    matching("the next report".to_owned(), |_| true)
}

fn with_version(version: &str) -> Want<impl FnMut(&mut State) -> Option<Report>> {
    let what = format!("a report with config_version {version:?}");
    matching(what, move |r| r.config_version == version)
}

/// All reports, once there are at least `n` (the cursor aside).
fn count(n: usize) -> Want<impl FnMut(&mut State) -> Option<Vec<Report>>> {
    (format!("{n} reports"), move |state: &mut State| {
        (state.reports.len() >= n).then(|| state.reports.clone())
    })
}

/// What a wait found, else a last look (a report may have come with the deadline), else the
/// timeout.
fn finish<T>(
    state: &mut State,
    found: Option<T>,
    (what, mut take): Want<impl FnMut(&mut State) -> Option<T>>,
    timeout: Duration,
) -> Result<T, WaitError> {
    found
        .or_else(|| take(state))
        .ok_or_else(|| WaitError::Timeout {
            waited_for: what,
            timeout,
            received: state
                .reports
                .iter()
                .map(|r| r.config_version.clone())
                .collect(),
        })
}

impl Backend {
    /// Looks now and after each request, at most `timeout` on tokio's clock.
    async fn wait<T>(
        &self,
        mut want: Want<impl FnMut(&mut State) -> Option<T>>,
        timeout: Duration,
    ) -> Result<T, WaitError> {
        let looking = async {
            loop {
                let mut arrived = pin!(self.arrived.notified());
                arrived.as_mut().enable();
                let found = (want.1)(&mut self.lock());
                match found {
                    Some(found) => return found,
                    None => arrived.await,
                }
            }
        };
        let found = tokio::time::timeout(timeout, looking).await.ok();
        finish(&mut self.lock(), found, want, timeout)
    }

    /// [`Backend::wait`] blocking the thread, at most `timeout` on the wall clock.
    fn wait_blocking<T>(
        &self,
        mut want: Want<impl FnMut(&mut State) -> Option<T>>,
        timeout: Duration,
    ) -> Result<T, WaitError> {
        let started = std::time::Instant::now();
        let mut state = self.lock();
        let mut found = (want.1)(&mut state);
        while found.is_none() {
            let left = timeout.saturating_sub(started.elapsed());
            if self.arrived_sync.wait_for(&mut state, left).timed_out() {
                break;
            }
            found = (want.1)(&mut state);
        }
        finish(&mut state, found, want, timeout)
    }
}

impl MockServer {
    /// Waits for the next report no wait has taken yet, at most `timeout` on tokio's clock.
    ///
    /// The waits read reports in order through one cursor: each report is taken once by
    /// [`next_report`](Self::next_report), [`wait_for_version`](Self::wait_for_version) and
    /// [`wait_for_report`](Self::wait_for_report) together, so a report that arrived before
    /// the call is not missed.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when none came in time (it lists the versions received).
    pub async fn next_report(&self, timeout: Duration) -> Result<Report, WaitError> {
        self.backend.wait(next(), timeout).await
    }

    /// Waits for a report with this `config_version`, skipping the untaken reports before it,
    /// at most `timeout` on tokio's clock.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use vortex_client::{testing::MockServer, Environment, HeartbeatClient};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = MockServer::start().await?;
    /// # let client = HeartbeatClient::builder()
    /// #     .environment(Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// client.start().await;
    /// client.set_config_version("v2"); // what the service's reload logic does
    /// let report = server.wait_for_version("v2", Duration::from_secs(10)).await?;
    /// assert_eq!(report.app, "billing");
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
    ) -> Result<Report, WaitError> {
        self.backend.wait(with_version(version), timeout).await
    }

    /// Waits for the next untaken report that `matches` (e.g. the first that says
    /// `Degraded`), skipping the untaken reports before it, at most `timeout` on tokio's
    /// clock.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when no such report came in time.
    pub async fn wait_for_report(
        &self,
        matches: impl FnMut(&Report) -> bool,
        timeout: Duration,
    ) -> Result<Report, WaitError> {
        self.backend
            .wait(matching("a matching report".into(), matches), timeout)
            .await
    }

    /// Waits until at least `n` reports arrived in all (the cursor aside); returns them all.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when fewer came in time.
    pub async fn wait_for_reports(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<Report>, WaitError> {
        self.backend.wait(count(n), timeout).await
    }

    /// [`next_report`](Self::next_report) blocking the thread, for code without a runtime.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when none came in time.
    pub fn next_report_blocking(&self, timeout: Duration) -> Result<Report, WaitError> {
        self.backend.wait_blocking(next(), timeout)
    }

    /// [`wait_for_version`](Self::wait_for_version) blocking the thread.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when no such report came in time.
    pub fn wait_for_version_blocking(
        &self,
        version: &str,
        timeout: Duration,
    ) -> Result<Report, WaitError> {
        self.backend.wait_blocking(with_version(version), timeout)
    }

    /// [`wait_for_report`](Self::wait_for_report) blocking the thread.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when no such report came in time.
    pub fn wait_for_report_blocking(
        &self,
        matches: impl FnMut(&Report) -> bool,
        timeout: Duration,
    ) -> Result<Report, WaitError> {
        self.backend
            .wait_blocking(matching("a matching report".into(), matches), timeout)
    }

    /// [`wait_for_reports`](Self::wait_for_reports) blocking the thread.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when fewer came in time.
    pub fn wait_for_reports_blocking(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<Report>, WaitError> {
        self.backend.wait_blocking(count(n), timeout)
    }
}
