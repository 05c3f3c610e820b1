//! The blocking client, for programs without an async runtime: the same builder, then
//! `start()`, `stop()`, `report_now()`, `set_config_version()`, `set_health()`, `status()` ...,
//! all plain functions.
//!
//! Each client owns one thread, `vortex-heartbeat`, running a current-thread tokio runtime
//! that hosts an async client; build errors come back to [`HeartbeatClient::new`] through a
//! start-up handshake. Setters and getters never wait for that thread; `start()`, `stop()`,
//! `report_now()` and [`DriftReceiver::wait_for_change`] hand their work to it and wait,
//! each for a bounded time. So the client can be created, used and dropped anywhere, a tokio
//! runtime's thread included, without panicking or deadlocking; but a blocking call there
//! holds that runtime thread while it waits: in async code prefer the async client.
//!
//! ```no_run
//! use vortex_client::{blocking::HeartbeatClient, Health};
//!
//! fn main() -> Result<(), vortex_client::ConfigError> {
//!     let client = HeartbeatClient::builder()
//!         .server_url("http://vortex-config:8888")
//!         .app("payment-service")
//!         .profile("production")
//!         .config_version("v2.3.4")
//!         .health_check(|| Health::Healthy) // a plain function, which may block
//!         .build()?;
//!     client.start(); // returns at once; the first report goes out in the background
//!     client.set_config_version("v2.3.5"); // after a reload: reported promptly
//!     client.stop(); // or drop the client
//!     Ok(())
//! }
//! ```

mod thread;

use std::fmt;
use std::future::Future;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::answer::HeartbeatResponse;
use crate::builder::HeartbeatBuilder;
use crate::config::HeartbeatConfig;
use crate::error::{ConfigError, ReporterError};
use crate::health_check::HealthCheck;
use crate::schedule::Schedule;
use crate::status::DriftState;
use crate::wire::Health;
use crate::HeartbeatStatus;

use thread::Thread;

/// How much longer than [`HeartbeatConfig::stop_grace`] `stop()` and `Drop` may take.
const STOP_MARGIN: Duration = Duration::from_millis(500);

/// How much longer than the work's own bound a call waits for the client's thread.
const MARGIN: Duration = Duration::from_secs(1);

/// The blocking heartbeat client. Cheap to clone; dropping the last handle stops and joins
/// its thread (within `stop_grace` plus half a second). Install a `tracing` subscriber: the
/// SDK reports its problems only through `tracing`.
#[derive(Clone)]
pub struct HeartbeatClient {
    engine: Arc<Engine>,
}

/// The async client on its thread, owned by every handle; the last one to go stops the thread.
struct Engine {
    client: crate::HeartbeatClient,
    runtime: Handle,
    thread: Mutex<Option<Thread>>,
}

impl HeartbeatClient {
    /// A builder; `build()` validates and returns the client (not started).
    ///
    /// ```
    /// let client = vortex_client::blocking::HeartbeatClient::builder()
    ///     .server_url("http://vortex-config:8888")
    ///     .app("billing")
    ///     .profile("production")
    ///     .build()?; // its thread runs; nothing sent until start()
    /// assert!(!client.is_running());
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    pub fn builder() -> HeartbeatBuilder<HeartbeatClient> {
        HeartbeatBuilder::new()
    }

    /// Creates a client from a configuration: starts its thread and, on it, a runtime and an
    /// async client. Touches no network and does not start reporting.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid setting or an HTTP client that cannot be built, and
    /// [`ConfigError::Runtime`] when the thread or its runtime cannot be started.
    ///
    /// ```
    /// use vortex_client::{blocking::HeartbeatClient, HeartbeatConfig};
    ///
    /// let client = HeartbeatClient::new(HeartbeatConfig {
    ///     server_url: "http://vortex-config:8888".into(),
    ///     app: "billing".into(),
    ///     profile: "production".into(),
    ///     ..Default::default()
    /// })?;
    /// assert!(!client.is_running());
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    pub fn new(config: HeartbeatConfig) -> Result<Self, ConfigError> {
        let (thread, client, runtime) = Thread::start(config)?;
        Ok(HeartbeatClient {
            engine: Arc::new(Engine {
                client,
                runtime,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Starts reporting in the background and returns at once, also when the server is down.
    /// Idempotent; works again after [`stop()`](Self::stop).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url()).app("billing").profile("test").config_version("v1")
    /// #     .build()?;
    /// client.start(); // at once, even with the server down
    /// let first = server.next_report_blocking(std::time::Duration::from_secs(10))?;
    /// assert_eq!(first.config_version, "v1");
    /// # Ok(())
    /// # }
    /// ```
    pub fn start(&self) {
        let client = self.engine.client.clone();
        let started = self.call(MARGIN, async move { client.spawn_worker() });
        if started != Ok(true) {
            tracing::error!(
                "the heartbeat thread did not start the worker; no heartbeats will be sent"
            );
        }
    }

    /// Stops reporting, within `stop_grace` plus half a second: a request in flight gets
    /// `stop_grace` to finish. After `stop()` returns nothing more is sent until started
    /// again, whatever the health check does. Idempotent.
    ///
    /// ```
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// client.start();
    /// client.stop(); // nothing is sent from here on
    /// assert!(!client.is_running());
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    pub fn stop(&self) {
        // Signalled from this thread, so that the worker starts nothing new even while the
        // client's thread is busy; then the wait for its end is bounded.
        let Some((_, abort)) = self.engine.client.signal_stop() else {
            return;
        };
        let client = self.engine.client.clone();
        let bound = self.engine.client.config().stop_grace + STOP_MARGIN;
        if self
            .call(bound, async move { client.stop().await })
            .is_err()
        {
            abort.abort();
            tracing::warn!(
                ?bound,
                "the heartbeat worker did not confirm its stop in time; it was cancelled"
            );
        }
    }

    /// Sends one report now and returns the server's answer, as the async client's
    /// [`report_now`](crate::HeartbeatClient::report_now) does, blocking the calling thread:
    /// at most `(max_retries + 1) × server URLs × timeout` (a report already in flight goes
    /// first) plus the backoff between attempts (about 25 s with the defaults and one URL),
    /// plus one second; past that it gives up with [`ReporterError::Timeout`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url()).app("billing").profile("test").config_version("v1")
    /// #     .build()?;
    /// server.set_expected_version("billing", "test", "v2");
    /// let answer = client.report_now()?; // e.g. right after a reload
    /// assert_eq!(answer.expected_version.as_deref(), Some("v2"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The last attempt's [`ReporterError`]; [`ReporterError::NoRuntime`] if the client's
    /// thread is gone.
    pub fn report_now(&self) -> Result<HeartbeatResponse, ReporterError> {
        let client = self.engine.client.clone();
        let bound = report_now_bound(self.config());
        match self.call(bound, async move { client.report_now().await }) {
            Ok(result) => result,
            Err(RecvTimeoutError::Disconnected) => Err(ReporterError::NoRuntime(
                "the heartbeat thread has stopped".into(),
            )),
            Err(RecvTimeoutError::Timeout) => Err(ReporterError::Timeout {
                url: self.engine.client.redacted_url().to_owned(),
                timeout: bound,
                elapsed: bound,
            }),
        }
    }

    /// Sets the configuration version the instance runs now; a change is reported promptly.
    /// An invalid version is not sent (a warning is logged): see
    /// [`crate::HeartbeatClient::set_config_version`].
    ///
    /// ```
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// client.set_config_version("v2"); // after a reload
    /// assert_eq!(client.config_version(), "v2");
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    pub fn set_config_version(&self, version: impl Into<String>) {
        self.engine.client.set_config_version(version);
    }

    /// Like [`set_config_version`](Self::set_config_version), returning an invalid version's
    /// error.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidValue`] for an empty, blank, over-long or control-character version.
    ///
    /// ```
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// assert!(client.try_set_config_version("").is_err());
    /// assert_eq!(client.config_version(), "v1"); // unchanged
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    pub fn try_set_config_version(&self, version: impl Into<String>) -> Result<(), ConfigError> {
        self.engine.client.try_set_config_version(version)
    }

    /// The configuration version reported now.
    ///
    /// ```
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// assert_eq!(client.config_version(), "v1");
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    #[must_use]
    pub fn config_version(&self) -> String {
        self.engine.client.config_version()
    }

    /// Sets the health reported with every heartbeat; a change is reported promptly.
    ///
    /// ```
    /// use vortex_client::Health;
    ///
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// client.set_health(Health::Degraded);
    /// assert_eq!(client.health(), Health::Degraded);
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    pub fn set_health(&self, health: Health) {
        self.engine.client.set_health(health);
    }

    /// The health reported now.
    ///
    /// ```
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// assert_eq!(client.health(), vortex_client::Health::Healthy); // the default
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    #[must_use]
    pub fn health(&self) -> Health {
        self.engine.client.health()
    }

    /// True between `start()` and `stop()`: the worker is alive and not told to stop.
    ///
    /// ```
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// assert!(!client.is_running()); // built, not started
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.engine.client.is_running()
    }

    /// What the client knows: the server's last answer, drift, and why reports fail.
    ///
    /// ```
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// assert_eq!(client.status().reports_accepted, 0); // nothing sent yet
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    #[must_use]
    pub fn status(&self) -> HeartbeatStatus {
        self.engine.client.status()
    }

    /// A receiver that waits, blocking, for the drift facts to change: see [`DriftReceiver`].
    #[must_use]
    pub fn subscribe_drift(&self) -> DriftReceiver {
        DriftReceiver {
            drift: Some(self.engine.client.subscribe_drift()),
            runtime: self.engine.runtime.clone(),
        }
    }

    /// The configuration in use (with the generated `instance_id` filled in).
    ///
    /// ```
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// assert_eq!(client.config().profile, "prod");
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    #[must_use]
    pub fn config(&self) -> &HeartbeatConfig {
        self.engine.client.config()
    }

    /// Runs `work` on the client's thread and waits at most `bound` for its output (past it
    /// the work is cancelled). Never needs a runtime on the calling thread.
    fn call<T, F>(&self, bound: Duration, work: F) -> Result<T, RecvTimeoutError>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let task = self.engine.runtime.spawn(tracing::Instrument::instrument(
            async move {
                let _ = tx.send(work.await);
            },
            tracing::Span::current(),
        ));
        let output = rx.recv_timeout(bound);
        if output.is_err() {
            task.abort();
        }
        output
    }
}

impl fmt::Debug for HeartbeatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("blocking::HeartbeatClient")
            .field(&self.engine.client)
            .finish()
    }
}

impl HeartbeatBuilder<HeartbeatClient> {
    /// Validates and returns the client, its thread started (not reporting).
    ///
    /// # Errors
    ///
    /// As [`HeartbeatClient::new`].
    pub fn build(self) -> Result<HeartbeatClient, ConfigError> {
        self.finish(HeartbeatClient::new)
    }

    /// A health check as a plain function, which may block (a synchronous database ping, say):
    /// asked at each periodic report (and the first), on a thread of its own, one evaluation
    /// at a time, beside the reports. Its answer becomes the reported health; past
    /// [`health_check_timeout`](Self::health_check_timeout) it counts as [`Health::Degraded`]
    /// until it answers, and a panic counts as [`Health::Unhealthy`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use vortex_client::{blocking::HeartbeatClient, Health};
    ///
    /// # fn database_ping() -> bool { true }
    /// let client = HeartbeatClient::builder()
    ///     .server_url("http://vortex-config:8888")
    ///     .app("payment-service")
    ///     .profile("production")
    ///     .health_check(|| if database_ping() { Health::Healthy } else { Health::Unhealthy })
    ///     .health_check_timeout(Duration::from_secs(2))
    ///     .build()?;
    /// # drop(client);
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    pub fn health_check<F>(self, check: F) -> Self
    where
        F: Fn() -> Health + Send + Sync + 'static,
    {
        self.with_health_check(HealthCheck::blocking(check))
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.get_mut().take() {
            thread.stop(self.client.config().stop_grace + STOP_MARGIN);
        }
    }
}

/// The longest a `report_now()` can take, `(max_retries + 1) × server URLs × timeout` (the
/// report already in flight, then every attempt a round of timeouts) plus the longest backoff
/// the schedule can draw between attempts, plus a margin.
fn report_now_bound(c: &HeartbeatConfig) -> Duration {
    let schedule = Schedule::with_seed(c.interval, c.initial_retry_delay, c.max_retry_delay, 0);
    let urls = u32::try_from(c.fallback_urls.len())
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    c.timeout
        .saturating_mul(urls)
        .saturating_mul(c.max_retries.saturating_add(1))
        .saturating_add(schedule.longest_backoff(c.max_retries))
        .saturating_add(MARGIN)
}

/// Waits, blocking, for the drift facts of a [`HeartbeatClient`] to change: a refresh loop
/// for a program without a runtime. Facts already known when it is made count as a change,
/// so the first wait returns them at once; a busy program skips intermediate states but never
/// misses the last one.
///
/// ```no_run
/// use std::time::Duration;
/// # fn run(client: vortex_client::blocking::HeartbeatClient) {
/// let mut drift = client.subscribe_drift();
/// while !drift.is_closed() {
///     if let Some(state) = drift.wait_for_change(Duration::from_secs(1)) {
///         if let Some(version) = state.refresh_to() {
///             client.set_config_version(version); // after loading `version`
///         }
///     }
/// }
/// # }
/// ```
pub struct DriftReceiver {
    /// `None` once the client's thread is gone.
    drift: Option<watch::Receiver<DriftState>>,
    runtime: Handle,
}

impl DriftReceiver {
    /// The facts, once they differ from those last returned; `None` when `timeout` passes
    /// first, or when the client is gone.
    pub fn wait_for_change(&mut self, timeout: Duration) -> Option<DriftState> {
        let mut drift = self.drift.take()?;
        let (tx, rx) = mpsc::sync_channel(1);
        // The wait runs on the client's thread and hands the receiver back with its answer.
        self.runtime.spawn(async move {
            let changed = tokio::time::timeout(timeout, drift.changed()).await;
            let state = matches!(changed, Ok(Ok(()))).then(|| drift.borrow_and_update().clone());
            let _ = tx.send((drift, state));
        });
        let (drift, state) = rx.recv_timeout(timeout.saturating_add(MARGIN)).ok()?;
        self.drift = Some(drift);
        state
    }

    /// The facts now, which a next wait then does not return again.
    pub fn current(&mut self) -> DriftState {
        self.drift
            .as_mut()
            .map(|d| d.borrow_and_update().clone())
            .unwrap_or_default()
    }

    /// True once the client is gone: no change will come.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.drift.as_ref().is_none_or(|d| d.has_changed().is_err())
    }
}

impl fmt::Debug for DriftReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriftReceiver")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<HeartbeatClient>();
        fn check_send<T: Send + 'static>() {}
        check_send::<DriftReceiver>();
    }

    #[test]
    fn report_now_bound_covers_attempts_and_backoff() {
        let c = HeartbeatConfig::default();
        // (1 in flight + 3) x 5 s + 1.5 s + 3 s + 1 s
        assert_eq!(report_now_bound(&c), Duration::from_millis(25_500));
        let c = HeartbeatConfig {
            max_retries: 1,
            ..HeartbeatConfig::default()
        };
        assert_eq!(report_now_bound(&c), Duration::from_secs(11));
        // Two URLs: each attempt may wait out two timeouts.
        let c = HeartbeatConfig {
            max_retries: 1,
            fallback_urls: vec!["http://b:1".into()],
            ..HeartbeatConfig::default()
        };
        assert_eq!(report_now_bound(&c), Duration::from_secs(21));
    }

    #[test]
    fn report_now_bound_saturates_instead_of_panicking() {
        let c = HeartbeatConfig {
            max_retries: u32::MAX,
            timeout: Duration::MAX,
            max_retry_delay: Duration::MAX,
            ..HeartbeatConfig::default()
        };
        assert_eq!(report_now_bound(&c), Duration::MAX);
    }
}
