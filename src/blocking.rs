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
//!         .server_url("http://vortex-config:8080")
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

use std::fmt;
use std::future::Future;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::runtime::Handle;
use tokio::sync::{oneshot, watch};
use tracing::Instrument;

use crate::config::HeartbeatBuilder;
use crate::schedule::nominal_retry_delay;
use crate::{
    ConfigError, DriftState, Health, HeartbeatConfig, HeartbeatResponse, HeartbeatStatus,
    ReporterError,
};

/// The name of the client's thread.
pub const THREAD_NAME: &str = "vortex-heartbeat";

/// How much longer than [`HeartbeatConfig::stop_grace`] `stop()` and `Drop` may take.
pub const STOP_MARGIN: Duration = Duration::from_millis(500);

/// How long the runtime's shutdown waits for its blocking tasks (e.g. a DNS lookup).
const RUNTIME_SHUTDOWN: Duration = Duration::from_millis(100);

/// How long `start()` waits for the thread to spawn the worker. The thread runs nothing but
/// short async steps, so this is only a safety net.
const START_WAIT: Duration = Duration::from_secs(5);

/// How much longer than its own worst case `report_now()` waits for the thread.
const REPORT_MARGIN: Duration = Duration::from_secs(1);

/// The blocking heartbeat client: reports this instance's configuration version to the Vortex
/// Config server from a thread of its own.
///
/// Cheap to clone: every clone is a handle to the same thread. When the last handle is dropped
/// the thread stops and is joined, within [`HeartbeatConfig::stop_grace`] plus
/// [`STOP_MARGIN`] (1.5 s by default).
///
/// See the [module docs](self) for where it may be used and what blocking means there.
///
/// ```no_run
/// use vortex_client::blocking::HeartbeatClient;
///
/// # fn run() -> Result<(), vortex_client::ConfigError> {
/// let client = HeartbeatClient::builder()
///     .server_url("http://vortex-config:8080")
///     .app("payment-service")
///     .profile("production")
///     .config_version("v2.3.4")
///     .build()?;
/// client.start();
/// client.set_config_version("v2.3.5");
/// match client.report_now() {
///     Ok(answer) if answer.drift_detected => println!("the server expects {:?}", answer.expected_version),
///     Ok(_) => println!("in sync"),
///     Err(e) => eprintln!("heartbeat failed: {e}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HeartbeatClient {
    shared: Arc<Shared>,
}

/// Owned by every handle; the last one to go stops the thread.
struct Shared {
    client: crate::HeartbeatClient,
    runtime: Handle,
    bell: Arc<Bell>,
    thread: Mutex<Option<Worker>>,
    thread_id: ThreadId,
}

struct Worker {
    shutdown: oneshot::Sender<()>,
    finished: mpsc::Receiver<()>,
    join: JoinHandle<()>,
}

/// What the thread hands back once its runtime and client exist.
struct Parts {
    client: crate::HeartbeatClient,
    runtime: Handle,
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
    pub fn builder() -> HeartbeatBuilder<HeartbeatClient> {
        HeartbeatBuilder::new()
    }

    /// Creates a client from a configuration: starts its thread and, on it, a current-thread
    /// runtime and an async client. Does not touch the network and does not start reporting.
    ///
    /// Returns once the thread has answered the start-up handshake (no network involved).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid or the HTTP client cannot be built (as for the
    /// async client), and [`ConfigError::Runtime`] when the thread or its runtime cannot be
    /// started.
    pub fn new(config: HeartbeatConfig) -> Result<Self, ConfigError> {
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let (finished_tx, finished_rx) = mpsc::sync_channel(1);
        let join = thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || run_thread(config, ready_tx, shutdown_rx, finished_tx))
            .map_err(|e| ConfigError::Runtime(format!("cannot spawn a thread: {e}")))?;
        let parts = match ready_rx.recv() {
            Ok(Ok(parts)) => parts,
            Ok(Err(error)) => {
                let _ = join.join();
                return Err(error);
            }
            Err(_) => {
                let _ = join.join();
                return Err(ConfigError::Runtime(
                    "the heartbeat thread exited during start-up".into(),
                ));
            }
        };
        let bell = Arc::new(Bell::default());
        parts
            .runtime
            .spawn(ring_on_drift(parts.client.subscribe_drift(), bell.clone()));
        Ok(HeartbeatClient {
            shared: Arc::new(Shared {
                thread_id: join.thread().id(),
                client: parts.client,
                runtime: parts.runtime,
                bell,
                thread: Mutex::new(Some(Worker {
                    shutdown: shutdown_tx,
                    finished: finished_rx,
                    join,
                })),
            }),
        })
    }

    /// Starts reporting in the background and returns at once, also when the server is down:
    /// it waits for the client's thread to spawn the worker, never for the network. The first
    /// report goes out immediately in the background.
    ///
    /// Idempotent; `start()` works again after [`stop()`](Self::stop).
    pub fn start(&self) {
        let client = self.shared.client.clone();
        let started = self.call(START_WAIT, async move { client.spawn_worker() });
        if !matches!(started, Ok(true)) {
            tracing::error!(
                "the heartbeat thread did not start the worker; no heartbeats will be sent"
            );
        }
    }

    /// Stops reporting. Returns at once when idle or backing off; a request in flight gets
    /// [`HeartbeatConfig::stop_grace`] (default 1 s) to finish, then is cancelled. Either way
    /// it returns within `stop_grace` + [`STOP_MARGIN`]. After `stop()` returns the client
    /// sends nothing more until started again.
    ///
    /// Idempotent. The thread stays up (for `start()`, `report_now()`); dropping the last
    /// handle ends it.
    pub fn stop(&self) {
        let client = self.shared.client.clone();
        let bound = self.shared.client.config().stop_grace + STOP_MARGIN;
        if self
            .call(bound, async move { client.stop().await })
            .is_err()
        {
            tracing::warn!(
                bound = ?bound,
                "the heartbeat worker did not confirm its stop in time"
            );
        }
    }

    /// Sends one report now and returns the server's answer, blocking the calling thread.
    /// Works whether or not the client is started.
    ///
    /// Makes up to [`max_retries`](HeartbeatConfig::max_retries) attempts, as the async
    /// client's [`report_now`](crate::HeartbeatClient::report_now), so it returns within
    /// `max_retries x timeout` plus the backoff delays between attempts (about 20 s with the
    /// defaults), plus one second at most; past that it gives up with
    /// [`ReporterError::Timeout`].
    ///
    /// Called on a tokio runtime's thread it blocks that thread but cannot deadlock, even on a
    /// current-thread runtime: the request runs on the SDK's own thread (see the
    /// [module docs](self)).
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
        let client = self.shared.client.clone();
        let bound = report_now_bound(self.shared.client.config());
        match self.call(bound, async move { client.report_now().await }) {
            Ok(result) => result,
            Err(CallError::TimedOut) => Err(ReporterError::Timeout {
                url: self.shown_url(),
                timeout: bound,
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
    pub fn set_config_version(&self, version: impl Into<String>) {
        self.shared.client.set_config_version(version);
    }

    /// Like [`set_config_version`](Self::set_config_version), returning an invalid version's
    /// error.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidValue`] for an empty, blank, over-long or control-character version.
    pub fn try_set_config_version(&self, version: impl Into<String>) -> Result<(), ConfigError> {
        self.shared.client.try_set_config_version(version)
    }

    /// The configuration version reported now.
    #[must_use]
    pub fn config_version(&self) -> String {
        self.shared.client.config_version()
    }

    /// Sets the health reported with every heartbeat; a change is reported promptly, like a
    /// version change. Never blocks.
    pub fn set_health(&self, health: Health) {
        self.shared.client.set_health(health);
    }

    /// The health reported now.
    #[must_use]
    pub fn health(&self) -> Health {
        self.shared.client.health()
    }

    /// True between `start()` and `stop()`, while the worker is alive.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.shared.client.is_running()
    }

    /// A snapshot of the client's status.
    #[must_use]
    pub fn status(&self) -> HeartbeatStatus {
        self.shared.client.status()
    }

    /// A receiver of every status update. Usable without a runtime through
    /// [`borrow`](watch::Receiver::borrow) and [`has_changed`](watch::Receiver::has_changed).
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<HeartbeatStatus> {
        self.shared.client.subscribe()
    }

    /// The drift facts of the last accepted report.
    #[must_use]
    pub fn drift_state(&self) -> DriftState {
        self.shared.client.drift_state()
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
        DriftReceiver {
            drift: self.shared.client.subscribe_drift(),
            bell: self.shared.bell.clone(),
        }
    }

    /// The configuration in use (with the generated `instance_id` filled in).
    #[must_use]
    pub fn config(&self) -> &HeartbeatConfig {
        self.shared.client.config()
    }

    /// Runs `work` on the client's thread and waits at most `bound` for its output. On a
    /// timeout the work is cancelled. Never needs a runtime on the calling thread.
    fn call<T, F>(&self, bound: Duration, work: F) -> Result<T, CallError>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let task = self.shared.runtime.spawn(
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

    fn shown_url(&self) -> String {
        let c = self.shared.client.config();
        crate::reporter::heartbeat_url(&c.server_url, &c.app, &c.profile)
            .map(|url| crate::config::redact_url(url.as_str()))
            .unwrap_or_default()
    }
}

impl fmt::Debug for HeartbeatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("blocking::HeartbeatClient")
            .field(&self.shared.client)
            .finish()
    }
}

impl HeartbeatBuilder<HeartbeatClient> {
    /// Validates the configuration and creates the blocking client (it does not start it).
    ///
    /// # Errors
    ///
    /// As [`HeartbeatClient::new`], plus a malformed environment variable.
    pub fn build(self) -> Result<HeartbeatClient, ConfigError> {
        HeartbeatClient::new(self.build_config()?)
    }
}

/// The client's thread: build the runtime and the async client, answer the handshake, then
/// drive the runtime until shutdown; stop the worker within its grace and shut the runtime
/// down within a bound.
fn run_thread(
    config: HeartbeatConfig,
    ready: mpsc::SyncSender<Result<Parts, ConfigError>>,
    shutdown: oneshot::Receiver<()>,
    finished: mpsc::SyncSender<()>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(ConfigError::Runtime(format!(
                "cannot build a tokio runtime: {e}"
            ))));
            return;
        }
    };
    // Built within this runtime, so that nothing binds to a runtime of the caller's.
    let client = {
        let _entered = runtime.enter();
        crate::HeartbeatClient::new(config)
    };
    let client = match client {
        Ok(client) => client,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let parts = Parts {
        client: client.clone(),
        runtime: runtime.handle().clone(),
    };
    if ready.send(Ok(parts)).is_err() {
        return;
    }
    runtime.block_on(async {
        // A dropped sender means shutdown too.
        let _ = shutdown.await;
        client.stop().await;
    });
    drop(client);
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    let _ = finished.send(());
}

impl Drop for Shared {
    fn drop(&mut self) {
        let Some(worker) = self.thread.get_mut().take() else {
            return;
        };
        let _ = worker.shutdown.send(());
        if thread::current().id() != self.thread_id {
            let bound = self.client.config().stop_grace + STOP_MARGIN;
            match worker.finished.recv_timeout(bound) {
                Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                    let _ = worker.join.join();
                }
                Err(RecvTimeoutError::Timeout) => {
                    tracing::warn!(
                        bound = ?bound,
                        "the heartbeat thread did not finish in time; leaving it to exit on its own"
                    );
                }
            }
        }
        self.bell.close();
    }
}

/// The longest a `report_now()` can take: every attempt timing out, with the longest jittered
/// backoff delay between attempts.
fn report_now_bound(c: &HeartbeatConfig) -> Duration {
    let attempts = c.timeout.saturating_mul(c.max_retries);
    let mut backoff = Duration::ZERO;
    for failures in 1..c.max_retries {
        let nominal = nominal_retry_delay(failures, c.initial_retry_delay, c.max_retry_delay);
        let longest = nominal.saturating_add(nominal / 2).min(c.max_retry_delay);
        // From the cap on, or once the doubling factor saturates (33 failures), every later
        // delay is the same.
        if nominal >= c.max_retry_delay || failures >= 33 {
            let rest = c.max_retries - failures;
            backoff = backoff.saturating_add(longest.saturating_mul(rest));
            break;
        }
        backoff = backoff.saturating_add(longest);
    }
    attempts
        .saturating_add(backoff)
        .saturating_add(REPORT_MARGIN)
}

/// Wakes blocking drift waiters. The drift watch itself holds the state; the bell only says
/// "look again", rung by a task on the client's runtime after every change.
#[derive(Default)]
struct Bell {
    closed: Mutex<bool>,
    rung: Condvar,
}

impl Bell {
    fn ring(&self) {
        let _guard = self.closed.lock();
        self.rung.notify_all();
    }

    fn close(&self) {
        *self.closed.lock() = true;
        self.rung.notify_all();
    }
}

/// Rings the bell on every drift change, and once more when the client's runtime drops it.
async fn ring_on_drift(mut drift: watch::Receiver<DriftState>, bell: Arc<Bell>) {
    struct RingOnDrop(Arc<Bell>);
    impl Drop for RingOnDrop {
        fn drop(&mut self) {
            self.0.ring();
        }
    }
    let _ring = RingOnDrop(bell.clone());
    while drift.changed().await.is_ok() {
        drift.borrow_and_update();
        bell.ring();
    }
}

/// Waits, blocking, for the drift facts of a [`HeartbeatClient`] to change.
///
/// From [`HeartbeatClient::subscribe_drift`]. Each receiver tracks what it has seen: a change
/// that happens while the application is busy (between two waits) is not missed, and the next
/// [`wait_for_change`](Self::wait_for_change) returns it at once. A receiver that falls behind
/// several changes gets the latest state, not every intermediate one.
///
/// Needs no runtime; usable from any thread, including a runtime's (it blocks that thread).
pub struct DriftReceiver {
    drift: watch::Receiver<DriftState>,
    bell: Arc<Bell>,
}

impl DriftReceiver {
    /// Waits up to `timeout` for the drift facts to change since this receiver last returned
    /// them (or since it was created), and returns the new facts. `None` when nothing changed
    /// within `timeout`.
    ///
    /// Once the client is gone nothing can change: it waits out `timeout` and returns `None`
    /// (so a loop around it does not spin); check [`is_closed`](Self::is_closed) to leave the
    /// loop.
    pub fn wait_for_change(&mut self, timeout: Duration) -> Option<DriftState> {
        let deadline = Instant::now().checked_add(timeout);
        let mut closed = self.bell.closed.lock();
        loop {
            if !*closed {
                if let Ok(true) = self.drift.has_changed() {
                    return Some(self.drift.borrow_and_update().clone());
                }
            }
            match deadline {
                Some(deadline) => {
                    if self.bell.rung.wait_until(&mut closed, deadline).timed_out() {
                        let changed = !*closed && matches!(self.drift.has_changed(), Ok(true));
                        return changed.then(|| self.drift.borrow_and_update().clone());
                    }
                }
                None => self.bell.rung.wait(&mut closed),
            }
        }
    }

    /// The current drift facts, marking them seen.
    pub fn current(&mut self) -> DriftState {
        self.drift.borrow_and_update().clone()
    }

    /// True when the facts changed since this receiver last returned them.
    #[must_use]
    pub fn has_changed(&self) -> bool {
        matches!(self.drift.has_changed(), Ok(true))
    }

    /// True once the client is gone: nothing will change any more.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        *self.bell.closed.lock() || self.drift.has_changed().is_err()
    }
}

impl fmt::Debug for DriftReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriftReceiver")
            .field("state", &*self.drift.borrow())
            .field("closed", &self.is_closed())
            .finish()
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
        // 3 x 5 s + 1.5 s + 3 s + 1 s
        assert_eq!(report_now_bound(&c), Duration::from_millis(20_500));
        let c = HeartbeatConfig {
            max_retries: 1,
            ..HeartbeatConfig::default()
        };
        assert_eq!(report_now_bound(&c), Duration::from_secs(6));
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
