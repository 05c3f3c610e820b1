//! The async handle: lifecycle (start, stop, drop), changes, `report_now()`, status.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::answer::HeartbeatResponse;
use crate::builder::HeartbeatBuilder;
use crate::config::HeartbeatConfig;
use crate::error::{ConfigError, Disposition, ReporterError};
use crate::health_check::HealthCheck;
use crate::metadata::InstanceMetadata;
use crate::report::{delay_ms, Engine};
use crate::schedule::Schedule;
use crate::servers::Servers;
use crate::status::DriftState;
use crate::status::HeartbeatStatus;
use crate::validate::check_version;
use crate::wire::Health;
use crate::worker;

/// Extra time `stop()` waits beyond the grace before it aborts the worker.
const STOP_SLACK: Duration = Duration::from_millis(100);

/// The heartbeat client: reports this instance's configuration version to the Vortex Config
/// server in the background. Cheap to clone (every clone is a handle to the same worker);
/// dropping the last handle stops it. Install a `tracing` subscriber: the SDK reports its
/// problems only through `tracing`.
///
/// ```no_run
/// # async fn run() -> Result<(), vortex_client::ConfigError> {
/// tracing_subscriber::fmt::init(); // else a wrong URL or token fails in silence
/// let client = vortex_client::HeartbeatClient::builder()
///     .server_url("http://vortex-config:8888")
///     .app("payment-service")
///     .profile("production")
///     .build()?;
/// client.start().await; // returns at once; reports go out in the background
/// client.set_config_version("v2.3.5"); // after a reload: reported promptly
/// client.stop().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HeartbeatClient {
    engine: Arc<Engine>,
    lifecycle: Arc<Lifecycle>,
}

/// The running worker, if any; shared by every handle and dropped with the last one, which
/// stops the worker.
struct Lifecycle {
    worker: Mutex<Option<Worker>>,
}

/// One started worker.
struct Worker {
    stop: watch::Sender<bool>,
    abort: AbortHandle,
    /// Becomes true when the worker's task has ended, however it ended (also when aborted).
    ended: watch::Receiver<bool>,
}

impl Worker {
    fn has_ended(&self) -> bool {
        *self.ended.borrow()
    }
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        let Some(worker) = self.worker.get_mut().take() else {
            return;
        };
        if !worker.has_ended() && !*worker.stop.borrow() {
            // A handle dropped by mistake (`build()?.start().await;` without keeping it) would
            // otherwise end reporting in silence.
            tracing::warn!(
                "heartbeat client stopped because the last handle was dropped; keep the client (or a clone) alive as long as the service runs, and call stop().await on shutdown"
            );
        }
        // Signal only: the worker finishes a request in flight within its grace, detached.
        let _ = worker.stop.send(true);
    }
}

/// Sets `ended` when the worker's future is dropped: at its end, or when aborted.
struct EndGuard(watch::Sender<bool>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

impl HeartbeatClient {
    /// A builder; `build()` validates and returns the client (not started).
    ///
    /// ```
    /// let client = vortex_client::HeartbeatClient::builder()
    ///     .server_url("http://vortex-config:8888")
    ///     .app("billing")
    ///     .profile("production")
    ///     .config_version("v1")
    ///     .build()?; // validated; nothing sent until start()
    /// assert!(!client.is_running());
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    pub fn builder() -> HeartbeatBuilder<HeartbeatClient> {
        HeartbeatBuilder::new()
    }

    /// Creates a client from a configuration (a struct literal, say). Touches no network and
    /// does not start.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid or the HTTP client cannot be built.
    ///
    /// ```
    /// use vortex_client::{HeartbeatClient, HeartbeatConfig};
    ///
    /// let client = HeartbeatClient::new(HeartbeatConfig {
    ///     server_url: "http://vortex-config:8888".into(),
    ///     app: "billing".into(),
    ///     profile: "production".into(),
    ///     ..Default::default()
    /// })?;
    /// assert!(!client.config().instance_id.is_empty()); // generated
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    pub fn new(mut config: HeartbeatConfig) -> Result<Self, ConfigError> {
        // Validated once: the parsed server URLs go on to the transports.
        let urls = config.check()?;
        config.fill_instance_id()?;
        config.warn_if_questionable();
        let servers = Servers::connect(&config, urls)?;
        Ok(HeartbeatClient {
            engine: Arc::new(Engine::new(config, servers)),
            lifecycle: Arc::new(Lifecycle {
                worker: Mutex::new(None),
            }),
        })
    }

    /// Starts reporting in the background and returns at once, also when the server is down:
    /// the first report goes out immediately. Idempotent; works again after `stop()`. Outside
    /// a tokio runtime it logs an error and does nothing.
    ///
    /// ```standalone_crate
    /// # // Own process: try_init sets a process-wide subscriber (not for other doctests).
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start().await?;
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url()).app("billing").profile("test").config_version("v1")
    /// #     .build()?;
    /// let _ = tracing_subscriber::fmt::try_init(); // once, in main: the SDK logs its errors
    /// client.start().await; // at once, even with the server down
    /// let first = server.next_report(std::time::Duration::from_secs(10)).await?;
    /// assert_eq!(first.config_version, "v1");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(&self) {
        self.spawn_worker();
    }

    /// Starts the worker; false when there is no runtime.
    pub(crate) fn spawn_worker(&self) -> bool {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(
                "HeartbeatClient::start() was called outside a tokio runtime: no heartbeats will be sent. Call it from within a runtime, or use vortex_client::blocking::HeartbeatClient"
            );
            return false;
        };
        let mut slot = self.lifecycle.worker.lock();
        // A worker told to stop is on its way out: a start() after that stop() wins, and the
        // new worker shares the one sender with the old one while it finishes.
        if slot
            .as_ref()
            .is_some_and(|w| !w.has_ended() && !*w.stop.borrow())
        {
            return true;
        }
        let (stop, stopped) = watch::channel(false);
        let (ended_tx, ended) = watch::channel(false);
        let engine = self.engine.clone();
        let task = async move {
            let _end = EndGuard(ended_tx);
            worker::run(engine, stopped).await;
        };
        let handle = runtime.spawn(tracing::Instrument::instrument(task, self.engine.span()));
        *slot = Some(Worker {
            stop,
            abort: handle.abort_handle(),
            ended,
        });
        let c = &self.engine.config;
        tracing::info!(
            app = %c.app,
            profile = %c.profile,
            instance = %c.instance_id,
            interval_secs = c.interval.as_secs_f64(),
            url = %self.engine.redacted_url,
            "heartbeat client started"
        );
        true
    }

    /// Stops reporting: at once when idle or backing off; a request in flight gets
    /// [`stop_grace`](HeartbeatConfig::stop_grace) to finish. After `stop()` returns nothing
    /// more is sent, for every caller (concurrent calls all wait for the worker to end).
    /// Idempotent; `start()` works again afterwards.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vortex_client::ConfigError> {
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// client.start().await;
    /// client.stop().await; // nothing is sent from here on
    /// assert!(!client.is_running());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn stop(&self) {
        let Some((mut ended, abort)) = self.signal_stop() else {
            return;
        };
        let has_runtime = tokio::runtime::Handle::try_current().is_ok();
        let bound = self.engine.config.stop_grace.saturating_add(STOP_SLACK);
        if !has_runtime
            || tokio::time::timeout(bound, ended.wait_for(|e| *e))
                .await
                .is_err()
        {
            abort.abort();
            // An aborted task ends at its next await point, which is never far.
            let _ = ended.wait_for(|e| *e).await;
        }
        self.forget_worker(&ended);
        tracing::info!("heartbeat client stopped");
    }

    /// Tells the running worker to stop (from any thread: it starts no new report from here);
    /// returns how to wait for its end, or to abort it.
    pub(crate) fn signal_stop(&self) -> Option<(watch::Receiver<bool>, AbortHandle)> {
        let slot = self.lifecycle.worker.lock();
        let worker = slot.as_ref()?;
        let _ = worker.stop.send(true);
        Some((worker.ended.clone(), worker.abort.clone()))
    }

    /// Clears the slot if it still holds the worker that ended (a new `start()` may have
    /// replaced it meanwhile).
    fn forget_worker(&self, ended: &watch::Receiver<bool>) {
        let mut slot = self.lifecycle.worker.lock();
        if slot.as_ref().is_some_and(|w| w.ended.same_channel(ended)) {
            *slot = None;
        }
    }

    /// True between `start()` and `stop()`: the worker is alive and not told to stop.
    ///
    /// ```
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// assert!(!client.is_running()); // built, not started
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.lifecycle
            .worker
            .lock()
            .as_ref()
            .is_some_and(|w| !w.has_ended() && !*w.stop.borrow())
    }

    /// Sets the configuration version the instance runs now. A change is reported promptly,
    /// coalesced and rate-limited ([`min_report_gap`](HeartbeatBuilder::min_report_gap),
    /// [`report_burst`](HeartbeatBuilder::report_burst)). An invalid version (empty, blank,
    /// over 256 bytes, control characters) is not sent: the previous one stays and a warning
    /// is logged; [`try_set_config_version`](Self::try_set_config_version) returns the error.
    ///
    /// ```
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// client.set_config_version("v2"); // after a reload
    /// assert_eq!(client.config_version(), "v2");
    /// client.set_config_version(""); // invalid: logged, not sent
    /// assert_eq!(client.config_version(), "v2");
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    pub fn set_config_version(&self, version: impl Into<String>) {
        if let Err(e) = self.try_set_config_version(version) {
            tracing::warn!(error = %e, "set_config_version ignored an invalid version");
        }
    }

    /// Like [`set_config_version`](Self::set_config_version), returning an invalid version's
    /// error (for a reload endpoint that must refuse it).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidValue`] for an empty, blank, over-long or control-character version.
    ///
    /// ```
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// assert!(client.try_set_config_version(" ").is_err());
    /// assert_eq!(client.config_version(), "v1"); // unchanged
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    pub fn try_set_config_version(&self, version: impl Into<String>) -> Result<(), ConfigError> {
        let version = version.into();
        check_version(&version)?;
        self.engine.changes.set_version(version);
        Ok(())
    }

    /// The configuration version reported now.
    ///
    /// ```
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// assert_eq!(client.config_version(), "v1");
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    #[must_use]
    pub fn config_version(&self) -> String {
        self.engine.changes.version().to_string()
    }

    /// Sets the health reported with every heartbeat; a change is reported promptly.
    ///
    /// ```
    /// use vortex_client::Health;
    ///
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// client.set_health(Health::Degraded);
    /// assert_eq!(client.health(), Health::Degraded);
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    pub fn set_health(&self, health: Health) {
        self.engine.changes.set_health(health);
    }

    /// The health reported now.
    ///
    /// ```
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// assert_eq!(client.health(), vortex_client::Health::Healthy); // the default
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    #[must_use]
    pub fn health(&self) -> Health {
        self.engine.changes.health()
    }

    /// Sends one report now and returns the server's answer, started or not, after any report
    /// in flight (one at a time per client). Up to [`max_retries`](HeartbeatConfig::max_retries)
    /// attempts with the backoff between them, each with the current version; its outcome
    /// steers the background schedule like the worker's own (a success ends a backoff).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = vortex_client::testing::MockServer::start().await?;
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url(server.url()).app("billing").profile("test").config_version("v1")
    /// #     .build()?;
    /// server.set_expected_version("billing", "test", "v2");
    /// let answer = client.report_now().await?; // e.g. right after a reload
    /// assert!(answer.drift_detected);
    /// assert_eq!(answer.expected_version.as_deref(), Some("v2"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The last attempt's [`ReporterError`]. A permanent or throttled one returns at once
    /// (the wait asked for is in [`ReporterError::retry_after`]).
    pub async fn report_now(&self) -> Result<HeartbeatResponse, ReporterError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ReporterError::NoRuntime(
                "report_now() must be awaited within a tokio runtime".into(),
            ));
        }
        tracing::Instrument::instrument(self.attempts(), self.engine.span()).await
    }

    async fn attempts(&self) -> Result<HeartbeatResponse, ReporterError> {
        let c = &self.engine.config;
        // Seeded from the OS (a system call) only when a retry needs it: the common case, one
        // successful attempt, never draws a delay.
        let mut schedule: Option<Schedule> = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.engine.report_now().await {
                Ok(response) => return Ok(response),
                Err(e) => e,
            };
            if attempt >= c.max_retries || error.disposition() != Disposition::Retryable {
                return Err(error);
            }
            let delay = schedule
                .get_or_insert_with(|| {
                    Schedule::new(c.interval, c.initial_retry_delay, c.max_retry_delay)
                })
                .after_failure(attempt);
            tracing::debug!(
                attempt,
                max_attempts = c.max_retries,
                delay_ms = delay_ms(delay),
                "report_now() retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// What the client knows: the server's last answer and its drift facts, and why reports
    /// fail (for a health or `/drift` endpoint).
    ///
    /// ```
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// let status = client.status();
    /// assert_eq!(status.reports_accepted, 0); // nothing sent yet
    /// assert!(status.last_error.is_none());
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    #[must_use]
    pub fn status(&self) -> HeartbeatStatus {
        self.engine.status.borrow().clone()
    }

    /// A receiver of every status update (each report's outcome), to wait on one.
    ///
    /// ```no_run
    /// # async fn run(client: vortex_client::HeartbeatClient) {
    /// let mut updates = client.subscribe();
    /// while updates.changed().await.is_ok() {
    ///     let status = updates.borrow_and_update().clone();
    ///     if let Some(error) = &status.last_error {
    ///         eprintln!("heartbeat failing: {error}");
    ///     }
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<HeartbeatStatus> {
        self.engine.status.subscribe()
    }

    /// A receiver that wakes only when the drift facts change: the server's `expected_version`,
    /// its `drift_detected` verdict, or the version the last accepted report carried. A
    /// heartbeat that confirms the same facts, and a failed attempt, do not wake it.
    ///
    /// Facts already known when it is made count as a change, so the first `changed()` returns
    /// at once; like every `watch` receiver it holds the latest value, so a subscriber that
    /// falls behind skips intermediate states but never misses the last one.
    ///
    /// ```no_run
    /// # async fn run(client: vortex_client::HeartbeatClient) {
    /// let mut drift = client.subscribe_drift();
    /// while drift.changed().await.is_ok() {
    ///     let state = drift.borrow_and_update().clone();
    ///     if let Some(version) = state.refresh_to() {
    ///         // load configuration `version`, then report it:
    ///         client.set_config_version(version);
    ///     }
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn subscribe_drift(&self) -> watch::Receiver<DriftState> {
        let mut drift = self.engine.drift.subscribe();
        if *drift.borrow() != DriftState::default() {
            drift.mark_changed();
        }
        drift
    }

    /// The configuration in use (with the generated `instance_id` filled in).
    ///
    /// ```
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// assert_eq!(client.config().app, "billing");
    /// assert!(!client.config().instance_id.is_empty()); // generated
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    #[must_use]
    pub fn config(&self) -> &HeartbeatConfig {
        &self.engine.config
    }

    /// The instance metadata every report carries (detected on first use), for a debug
    /// endpoint, say.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vortex_client::ConfigError> {
    /// # let client = vortex_client::HeartbeatClient::builder()
    /// #     .environment(vortex_client::Environment::empty())
    /// #     .server_url("http://127.0.0.1:9").app("billing").profile("prod").config_version("v1")
    /// #     .build()?;
    /// let metadata = client.metadata().await;
    /// println!("reporting as {:?}", metadata.hostname);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn metadata(&self) -> Arc<InstanceMetadata> {
        self.engine.metadata().await
    }

    /// The heartbeat URL of the server last used, without userinfo: what errors may show.
    pub(crate) fn redacted_url(&self) -> &str {
        &self.engine.redacted_url
    }
}

impl fmt::Debug for HeartbeatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.engine.config;
        f.debug_struct("HeartbeatClient")
            .field("url", &self.engine.redacted_url)
            .field("app", &c.app)
            .field("profile", &c.profile)
            .field("instance_id", &c.instance_id)
            .field("config_version", &self.config_version())
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}

impl HeartbeatBuilder<HeartbeatClient> {
    /// Validates and returns the client, not started.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a missing or invalid setting, a malformed environment variable, or
    /// an HTTP client that cannot be built (an unusable root certificate, say).
    pub fn build(self) -> Result<HeartbeatClient, ConfigError> {
        self.finish(HeartbeatClient::new)
    }

    /// An async health check, asked at each periodic report (and the first); its answer
    /// becomes the reported health, as if given to `set_health`, and a change is
    /// reported promptly. It runs beside the reports, on a thread of its own, one
    /// evaluation at a time: a check that blocks or never returns holds that one thread
    /// and delays nothing. Past [`health_check_timeout`](Self::health_check_timeout)
    /// it counts as [`Health::Degraded`] until it answers; a panic counts as
    /// [`Health::Unhealthy`]. The rules: `docs/resilience.md` ("Health checks").
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use vortex_client::{Health, HeartbeatConfig};
    ///
    /// let database_up = Arc::new(AtomicBool::new(true));
    /// let config = HeartbeatConfig::builder()
    ///     .server_url("http://vortex-config:8888")
    ///     .app("payment-service")
    ///     .profile("production")
    ///     .health_check(move || {
    ///         let up = database_up.load(Ordering::Relaxed);
    ///         async move { if up { Health::Healthy } else { Health::Degraded } }
    ///     })
    ///     .build()?;
    /// assert!(config.health_check.is_some());
    /// # Ok::<(), vortex_client::ConfigError>(())
    /// ```
    pub fn health_check<F, Fut>(self, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Health> + Send + 'static,
    {
        self.with_health_check(HealthCheck::new(check))
    }
}
