//! The blocking client, for services that do not run an async runtime.
//!
//! [`HeartbeatClient`] mirrors the async [`crate::HeartbeatClient`]: the same builder, then
//! `start()`, `stop()`, `report_now()`, `set_config_version()`, `set_health()`, `status()` ...,
//! all plain functions.
//!
//! ```no_run
//! use std::time::Duration;
//! use vortex_client::blocking::HeartbeatClient;
//!
//! fn main() -> Result<(), vortex_client::ConfigError> {
//!     let client = HeartbeatClient::builder()
//!         .server_url("http://vortex-config:8888")
//!         .app("payment-service")
//!         .profile("production")
//!         .config_version("v2.3.4")
//!         .build()?;
//!     client.start(); // returns at once; the first report goes out in the background
//!
//!     // When the application loads a new configuration:
//!     client.set_config_version("v2.3.5"); // reported within moments
//!
//!     // On shutdown (dropping the client does the same):
//!     client.stop();
//!     Ok(())
//! }
//! ```
//!
//! # How it works
//!
//! Each client owns one thread, named `vortex-heartbeat`, that runs a current-thread tokio
//! runtime hosting an async client. The runtime and the async client are built on that thread;
//! their errors come back to [`HeartbeatClient::new`] through a start-up handshake. Setters and
//! getters touch shared state directly and never wait for the thread; `start()`, `stop()` and
//! `report_now()` hand their work to the thread and wait for its answer.
//!
//! Because the runtime lives on its own thread, the client can be created, used and dropped
//! anywhere: in a plain `fn main()`, on a thread of the application's own tokio runtime
//! (current-thread or multi-thread), inside `async` code. Nothing in it panics for being called
//! from a runtime.
//!
//! # Blocking inside a runtime
//!
//! `stop()`, `report_now()` and `Drop` block the calling thread, each for a bounded time (see
//! each method). Called on a runtime's thread they cannot deadlock, not even a current-thread
//! runtime, because the request runs on the SDK's thread and never needs the caller's runtime.
//! But they hold that runtime thread while they wait: on a current-thread runtime every other
//! task waits too (a server hosted on that same runtime cannot answer, so the report times
//! out). In async code prefer the async client, or call the blocking one through
//! `tokio::task::spawn_blocking`.

mod drift;
mod thread;

use std::fmt;
use std::future::Future;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tracing::Instrument;

use crate::answer::HeartbeatResponse;
use crate::builder::{sealed, FromConfig, HeartbeatBuilder};
use crate::config::HeartbeatConfig;
use crate::drift::DriftState;
use crate::error::{ConfigError, ReporterError};
use crate::schedule::Schedule;
use crate::wire::Health;
use crate::HeartbeatStatus;

pub use drift::DriftReceiver;
use drift::{ring_on_drift, Bell};
use thread::Thread;

/// How much longer than [`HeartbeatConfig::stop_grace`] `stop()` and `Drop` may take.
const STOP_MARGIN: Duration = Duration::from_millis(500);

/// How long `start()` waits for the thread to spawn the worker. The thread runs nothing but
/// short async steps, so this is only a safety net.
const START_WAIT: Duration = Duration::from_secs(5);

/// How much longer than its own worst case `report_now()` waits for the thread.
const REPORT_MARGIN: Duration = Duration::from_secs(1);

/// The blocking heartbeat client: reports this instance's configuration version to the Vortex
/// Config server from a thread of its own. Cheap to clone; dropping the last handle stops and
/// joins the thread (within `stop_grace` plus half a second). Install a `tracing` subscriber:
/// the SDK reports its problems only through `tracing`. Where it may be used and what
/// blocking means there: the [module docs](self).
///
/// ```no_run
/// # fn run() -> Result<(), vortex_client::ConfigError> {
/// tracing_subscriber::fmt::init(); // else a wrong URL or token fails in silence
/// let client = vortex_client::blocking::HeartbeatClient::builder()
///     .server_url("http://vortex-config:8888")
///     .app("payment-service")
///     .profile("production")
///     .build()?;
/// client.start(); // returns at once; reports go out in the background
/// client.set_config_version("v2.3.5"); // after a reload: reported promptly
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HeartbeatClient {
    engine: Arc<Engine>,
}

/// The async client on its thread, owned by every handle; the last one to go stops the thread.
struct Engine {
    client: crate::HeartbeatClient,
    runtime: Handle,
    bell: Arc<Bell>,
    thread: Mutex<Option<Thread>>,
}

/// Why work handed to the thread got no answer.
enum CallError {
    /// No answer within the bound (the work is cancelled).
    TimedOut,
    /// The thread is gone.
    Gone,
}

impl HeartbeatClient {
    /// A builder; `build()` validates and returns the client (not started).
    ///
    /// ```
    /// use vortex_client::{blocking::HeartbeatClient, Environment};
    ///
    /// let client = HeartbeatClient::builder()
    ///     .environment(Environment::empty()) // in tests: ignore the process's VORTEX_* variables
    ///     .server_url("http://localhost:8888")
    ///     .app("billing")
    ///     .profile("test")
    ///     .build()?; // a bad setting comes back here, not lost in the thread
    /// assert!(!client.is_running());
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    pub fn builder() -> HeartbeatBuilder<HeartbeatClient> {
        HeartbeatBuilder::new()
    }

    /// Creates a client from a configuration: starts its thread and, on it, a current-thread
    /// runtime and an async client. Does not touch the network and does not start reporting.
    ///
    /// Returns once the thread has answered the start-up handshake (no network involved).
    ///
    /// ```
    /// use vortex_client::{blocking::HeartbeatClient, Environment, HeartbeatConfig};
    ///
    /// // A configuration read once (here from an injected environment), then the client.
    /// let env = Environment::from_vars([
    ///     ("VORTEX_URL", "http://localhost:8888"),
    ///     ("VORTEX_APP", "billing"),
    ///     ("VORTEX_PROFILE", "test"),
    /// ]);
    /// let client = HeartbeatClient::new(HeartbeatConfig::from_environment(env)?)?;
    /// assert_eq!(client.config().profile, "test");
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid or the HTTP client cannot be built (as for the
    /// async client), and [`ConfigError::Runtime`] when the thread or its runtime cannot be
    /// started.
    pub fn new(config: HeartbeatConfig) -> Result<Self, ConfigError> {
        let (thread, parts) = Thread::start(config)?;
        let bell = Arc::new(Bell::default());
        parts
            .runtime
            .spawn(ring_on_drift(parts.client.subscribe_drift(), bell.clone()));
        Ok(HeartbeatClient {
            engine: Arc::new(Engine {
                client: parts.client,
                runtime: parts.runtime,
                bell,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Starts reporting in the background and returns at once, also when the server is down:
    /// it waits for the client's thread to spawn the worker, never for the network. The first
    /// report goes out immediately in the background.
    ///
    /// Idempotent; `start()` works again after [`stop()`](Self::stop).
    ///
    /// ```standalone_crate
    /// # // Own process: try_init sets a process-wide subscriber (not for other doctests).
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// # use std::time::Duration;
    /// let _ = tracing_subscriber::fmt::try_init(); // once, in main: the SDK logs its errors
    /// client.start(); // at once, even with the server down
    /// let first = server.next_report_blocking(Duration::from_secs(10))?;
    /// assert_eq!(first.config_version, "v1");
    /// # Ok(())
    /// # }
    /// ```
    pub fn start(&self) {
        let client = self.engine.client.clone();
        let started = self.call(START_WAIT, async move { client.spawn_worker() });
        if !matches!(started, Ok(true)) {
            tracing::error!(
                "the heartbeat thread did not start the worker; no heartbeats will be sent"
            );
        }
    }

    /// Stops reporting. Returns at once when idle or backing off; a request in flight gets
    /// [`HeartbeatConfig::stop_grace`] (default 1 s) to finish, then is cancelled. Either way
    /// it returns within `stop_grace` plus half a second. After `stop()` returns the client
    /// sends nothing more until started again.
    ///
    /// Idempotent. The thread stays up (for `start()`, `report_now()`); dropping the last
    /// handle ends it.
    ///
    /// ```
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
    /// // On shutdown: a report in flight gets `stop_grace` to finish, nothing is sent after.
    /// client.stop();
    /// assert!(!client.is_running());
    /// # Ok(())
    /// # }
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
                bound = ?bound,
                "the heartbeat worker did not confirm its stop in time; it was cancelled"
            );
        }
    }

    /// Sends one report now and returns the server's answer, blocking the calling thread.
    /// Works whether or not the client is started.
    ///
    /// Makes up to [`max_retries`](HeartbeatConfig::max_retries) attempts, as the async
    /// client's [`report_now`](crate::HeartbeatClient::report_now), after a report already in
    /// flight (one at a time per client), each attempt a round over the server URLs, so it
    /// returns within `(max_retries + 1) × server URLs × timeout` plus the backoff delays
    /// between attempts (about 25 s with the defaults and one URL), plus one second at most;
    /// past that it gives up with [`ReporterError::Timeout`].
    ///
    /// Called on a tokio runtime's thread it blocks that thread but cannot deadlock, even on a
    /// current-thread runtime: the request runs on the SDK's own thread (see the
    /// [module docs](self)).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// server.set_expected_version("billing", "test", "v2");
    /// // E.g. right after a reload, to learn at once whether the server agrees.
    /// let answer = client.report_now()?;
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
        if Handle::try_current().is_ok() {
            tracing::debug!(
                "blocking report_now() called on a tokio runtime thread: the thread waits until it returns"
            );
        }
        let client = self.engine.client.clone();
        let bound = report_now_bound(self.engine.client.config());
        match self.call(bound, async move { client.report_now().await }) {
            Ok(result) => result,
            Err(CallError::TimedOut) => Err(ReporterError::Timeout {
                url: self.engine.client.redacted_url().to_owned(),
                timeout: bound,
                elapsed: bound,
            }),
            Err(CallError::Gone) => Err(ReporterError::NoRuntime(
                "the heartbeat thread has stopped".into(),
            )),
        }
    }

    /// Sets the configuration version the instance runs now; a change is reported promptly in
    /// the background. Never blocks.
    ///
    /// An invalid version is not sent: the previous one stays and a warning is logged (see
    /// [`crate::HeartbeatClient::set_config_version`]).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// # use std::time::Duration;
    /// client.start();
    /// // The application has loaded a new configuration:
    /// client.set_config_version("v2");
    /// server.wait_for_version_blocking("v2", Duration::from_secs(10))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_config_version(&self, version: impl Into<String>) {
        self.engine.client.set_config_version(version);
    }

    /// Like [`set_config_version`](Self::set_config_version), returning an invalid version's
    /// error.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// // A version from an operator's command: refuse a bad one rather than keep the old silently.
    /// assert!(client.try_set_config_version("v2\n").is_err());
    /// client.try_set_config_version("v2")?;
    /// assert_eq!(client.config_version(), "v2");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidValue`] for an empty, blank, over-long or control-character version.
    pub fn try_set_config_version(&self, version: impl Into<String>) -> Result<(), ConfigError> {
        self.engine.client.try_set_config_version(version)
    }

    /// The configuration version reported now.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// // E.g. for a `/version` endpoint: what the server is told now.
    /// assert_eq!(client.config_version(), "v1");
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn config_version(&self) -> String {
        self.engine.client.config_version()
    }

    /// Sets the health reported with every heartbeat; a change is reported promptly, like a
    /// version change. Never blocks.
    ///
    /// ```
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
    /// // A dependency went away: the next report (sent promptly) says so.
    /// client.set_health(Health::Degraded);
    /// client.report_now()?;
    /// assert_eq!(server.last_report().map(|r| r.health), Some(Health::Degraded));
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_health(&self, health: Health) {
        self.engine.client.set_health(health);
    }

    /// The health reported now.
    ///
    /// ```
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
    /// client.set_health(Health::Unhealthy);
    /// assert_eq!(client.health(), Health::Unhealthy);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn health(&self) -> Health {
        self.engine.client.health()
    }

    /// True between `start()` and `stop()`: the worker is alive and not told to stop.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// assert!(!client.is_running()); // built, not started
    /// client.start();
    /// assert!(client.is_running()); // e.g. for a readiness check
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.engine.client.is_running()
    }

    /// A snapshot of the client's status.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// client.report_now()?;
    /// // E.g. for a health endpoint: the last answer, or why reports fail.
    /// let status = client.status();
    /// assert_eq!(status.reports_accepted, 1);
    /// assert_eq!(status.consecutive_failures, 0);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn status(&self) -> HeartbeatStatus {
        self.engine.client.status()
    }

    /// A receiver of every status update. Usable without a runtime through
    /// [`borrow`](watch::Receiver::borrow) and [`has_changed`](watch::Receiver::has_changed).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// let status = client.subscribe();
    /// client.report_now()?;
    /// // Polled from a loop of the application's own, without a runtime:
    /// if status.has_changed().unwrap_or(false) {
    ///     println!("last error: {:?}", status.borrow().last_error);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<HeartbeatStatus> {
        self.engine.client.subscribe()
    }

    /// The drift facts of the last accepted report.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// server.set_expected_version("billing", "test", "v2");
    /// client.report_now()?;
    /// // The version to load, when the server expects another one:
    /// assert_eq!(client.drift_state().refresh_to(), Some("v2"));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn drift_state(&self) -> DriftState {
        self.engine.client.drift_state()
    }

    /// A receiver that waits, blocking, for the drift facts to change: see [`DriftReceiver`].
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// # fn run(client: vortex_client::blocking::HeartbeatClient) {
    /// let mut drift = client.subscribe_drift();
    /// while !drift.is_closed() {
    ///     if let Some(state) = drift.wait_for_change(Duration::from_secs(1)) {
    ///         if let Some(version) = state.refresh_to() {
    ///             // load configuration `version`, then report it:
    ///             client.set_config_version(version);
    ///         }
    ///     }
    ///     // ... check for shutdown ...
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn subscribe_drift(&self) -> DriftReceiver {
        DriftReceiver::new(
            self.engine.client.subscribe_drift(),
            self.engine.bell.clone(),
        )
    }

    /// The configuration in use (with the generated `instance_id` filled in).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start_blocking()?;
    /// # let client = vortex_client::blocking::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url())
    /// #     .app("billing")
    /// #     .profile("test")
    /// #     .config_version("v1")
    /// #     .build()?;
    /// // The generated instance id, e.g. to log it at start:
    /// println!("reporting as {}", client.config().instance_id);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn config(&self) -> &HeartbeatConfig {
        self.engine.client.config()
    }

    /// Runs `work` on the client's thread and waits at most `bound` for its output. On a
    /// timeout the work is cancelled. Never needs a runtime on the calling thread.
    fn call<T, F>(&self, bound: Duration, work: F) -> Result<T, CallError>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let task = self.engine.runtime.spawn(
            async move {
                let _ = tx.send(work.await);
            }
            .instrument(tracing::Span::current()),
        );
        match rx.recv_timeout(bound) {
            Ok(output) => Ok(output),
            Err(RecvTimeoutError::Timeout) => {
                task.abort();
                Err(CallError::TimedOut)
            }
            Err(RecvTimeoutError::Disconnected) => Err(CallError::Gone),
        }
    }
}

impl fmt::Debug for HeartbeatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("blocking::HeartbeatClient")
            .field(&self.engine.client)
            .finish()
    }
}

impl sealed::Sealed for HeartbeatClient {}

impl FromConfig for HeartbeatClient {
    fn from_config(config: HeartbeatConfig) -> Result<Self, ConfigError> {
        HeartbeatClient::new(config)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.get_mut().take() {
            thread.stop(self.client.config().stop_grace + STOP_MARGIN);
            self.bell.close();
        }
    }
}

/// The longest a `report_now()` can take, `(max_retries + 1) × server URLs × timeout` (the
/// report already in flight, then every attempt a round of timeouts) plus the longest backoff
/// the schedule can draw between attempts, plus a margin.
fn report_now_bound(c: &HeartbeatConfig) -> Duration {
    let schedule = Schedule::with_seed(c.interval, c.initial_retry_delay, c.max_retry_delay, 0);
    // An attempt is a round over the server URLs: at worst one timeout each.
    let urls = u32::try_from(c.fallback_urls.len())
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    c.timeout
        .saturating_mul(urls)
        .saturating_mul(c.max_retries.saturating_add(1))
        .saturating_add(schedule.longest_backoff(c.max_retries))
        .saturating_add(REPORT_MARGIN)
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
        let c = HeartbeatConfig {
            max_retries: u32::MAX,
            ..HeartbeatConfig::default()
        };
        assert!(report_now_bound(&c) > Duration::from_secs(60));
    }
}
