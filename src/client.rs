//! The async client: lifecycle, the background worker, status.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{watch, Notify, OnceCell};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};

use crate::builder::{sealed, FromConfig, HeartbeatBuilder};
use crate::config::HeartbeatConfig;
use crate::drift::DriftState;
use crate::error::{ConfigError, Disposition, ReporterError};
use crate::metadata::{self, InstanceMetadata};
use crate::schedule::{RateLimiter, Schedule};
use crate::transport::Reporter;
use crate::validate::{check_name, check_version};
use crate::wire::{Health, HeartbeatRequest, HeartbeatResponse};

/// Extra time `stop()` waits beyond the grace before it aborts the worker.
const STOP_SLACK: Duration = Duration::from_millis(100);

/// A snapshot of what the client knows, from [`HeartbeatClient::status`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeartbeatStatus {
    /// When the server last accepted a report.
    pub last_success: Option<SystemTime>,
    /// When the last attempt (successful or not) finished.
    pub last_attempt: Option<SystemTime>,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// The last error, as text (no secrets), cleared by a success.
    pub last_error: Option<String>,
    /// The server's last answer.
    pub last_response: Option<HeartbeatResponse>,
    /// The version the server expects, from its last answer.
    pub expected_version: Option<String>,
    /// Whether the server saw drift in the last accepted report.
    pub drift_detected: bool,
    /// The configuration version carried by the last accepted report.
    pub reported_version: Option<String>,
    /// Reports the server accepted.
    pub reports_sent: u64,
    /// Attempts that failed.
    pub reports_failed: u64,
}

/// The heartbeat client: reports this instance's configuration version to the Vortex Config
/// server in the background.
///
/// Cheap to clone: every clone is a handle to the same worker. When the last handle is
/// dropped the worker stops (without blocking the caller).
///
/// ```no_run
/// use vortex_client::HeartbeatClient;
///
/// # async fn run() -> Result<(), vortex_client::ConfigError> {
/// let client = HeartbeatClient::builder()
///     .server_url("http://vortex-config:8080")
///     .app("payment-service")
///     .profile("production")
///     .config_version("v2.3.4")
///     .build()?;
/// client.start().await; // returns at once; the first report goes out in the background
/// client.set_config_version("v2.3.5"); // reported promptly
/// client.stop().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HeartbeatClient {
    inner: Arc<Inner>,
    _owner: Arc<Owner>,
}

/// Dropped with the last handle: stops the worker.
struct Owner(Arc<Inner>);

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(run) = self.0.run.lock().take() {
            // Signal only: the worker finishes a request in flight within its grace, detached.
            let _ = run.cancel.send(true);
        }
    }
}

struct Inner {
    config: HeartbeatConfig,
    reporter: Reporter,
    state: Mutex<State>,
    /// A version or health change waits to be reported. `notify_one` stores one permit, so a
    /// burst of changes coalesces into one wake-up.
    wake: Notify,
    /// Counts accepted reports, so the worker restarts its countdown after a `report_now()`.
    successes: watch::Sender<u64>,
    status: watch::Sender<HeartbeatStatus>,
    /// The drift view of `status`; changes only when one of its facts changes.
    drift: watch::Sender<DriftState>,
    metadata: OnceCell<Arc<InstanceMetadata>>,
    tracker: Mutex<Tracker>,
    run: Mutex<Option<Run>>,
}

struct State {
    version: Arc<str>,
    health: Health,
    /// Bumped on every change of version or health.
    generation: u64,
    /// The generation the server last accepted.
    delivered: Option<u64>,
    /// The serialised body of `generation`, reused until the next change.
    body: Option<Body>,
}

#[derive(Clone)]
struct Body {
    generation: u64,
    bytes: Bytes,
    version: Arc<str>,
}

/// Failure bookkeeping behind the log discipline: warn once per outage, debug for repeats,
/// info on recovery with the outage's length.
#[derive(Default)]
struct Tracker {
    outage_since: Option<Instant>,
    failed_attempts: u32,
    logged_permanent: Option<String>,
}

struct Run {
    cancel: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl HeartbeatClient {
    /// A builder; `build()` validates and returns the client.
    pub fn builder() -> HeartbeatBuilder<HeartbeatClient> {
        HeartbeatBuilder::new()
    }

    /// Creates a client from a configuration. Does not touch the network and does not start.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid or the HTTP client cannot be built.
    pub fn new(mut config: HeartbeatConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        if config.instance_id.is_empty() {
            config.instance_id =
                metadata::default_instance_id(&config.environment, &config.metadata);
            // The pod name or host name comes from the environment: check it like a user value.
            check_name("instance_id", &config.instance_id, false).map_err(|e| {
                ConfigError::InvalidValue {
                    field: "instance_id",
                    reason: format!("the generated id (from the pod name or host name) is unusable ({e}); set instance_id explicitly"),
                }
            })?;
        }
        config.warn_if_questionable();
        let reporter = Reporter::new(&config)?;
        let version: Arc<str> = Arc::from(config.config_version.as_str());
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                version,
                health: config.health,
                generation: 0,
                delivered: None,
                body: None,
            }),
            reporter,
            config,
            wake: Notify::new(),
            successes: watch::Sender::new(0),
            status: watch::Sender::new(HeartbeatStatus::default()),
            drift: watch::Sender::new(DriftState::default()),
            metadata: OnceCell::new(),
            tracker: Mutex::new(Tracker::default()),
            run: Mutex::new(None),
        });
        Ok(HeartbeatClient {
            _owner: Arc::new(Owner(inner.clone())),
            inner,
        })
    }

    /// Starts reporting in the background and returns at once, without touching the network,
    /// also when the server is down. The first report goes out immediately in the background.
    ///
    /// Idempotent: starting a running client does nothing. Must be called within a tokio
    /// runtime; outside one it logs an error and does nothing (it never panics).
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
        let mut run = self.inner.run.lock();
        if run.as_ref().is_some_and(|r| !r.handle.is_finished()) {
            return true;
        }
        let (cancel, cancelled) = watch::channel(false);
        let handle = runtime.spawn(tracing::Instrument::instrument(
            worker(self.inner.clone(), cancelled),
            self.inner.span(),
        ));
        *run = Some(Run { cancel, handle });
        let c = &self.inner.config;
        tracing::info!(
            app = %c.app,
            profile = %c.profile,
            instance = %c.instance_id,
            interval_secs = c.interval.as_secs_f64(),
            url = %self.inner.reporter.shown_url(),
            "heartbeat client started"
        );
        true
    }

    /// Stops reporting. Returns at once when idle or backing off; a request in flight gets
    /// [`HeartbeatConfig::stop_grace`] (default 1 s) to finish, then is cancelled. After
    /// `stop()` returns the worker sends nothing more.
    ///
    /// Idempotent, and `start()` works again afterwards.
    pub async fn stop(&self) {
        let Some(run) = self.inner.run.lock().take() else {
            return;
        };
        let _ = run.cancel.send(true);
        let mut handle = run.handle;
        if tokio::runtime::Handle::try_current().is_ok() {
            let bound = self.inner.config.stop_grace.saturating_add(STOP_SLACK);
            if tokio::time::timeout(bound, &mut handle).await.is_ok() {
                tracing::info!("heartbeat client stopped");
                return;
            }
        }
        handle.abort();
        let _ = handle.await;
        tracing::info!("heartbeat client stopped");
    }

    /// True between `start()` and `stop()`, while the worker is alive.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.inner
            .run
            .lock()
            .as_ref()
            .is_some_and(|r| !r.handle.is_finished())
    }

    /// Sets the configuration version the instance runs now. A change is reported promptly in
    /// the background (coalesced with other changes and rate-limited; see the README).
    ///
    /// An invalid version (empty, blank, longer than 256 bytes, or with control characters) is
    /// not sent: the previous one stays and a warning is logged. It is never truncated or
    /// otherwise altered, and it never panics. Use
    /// [`try_set_config_version`](Self::try_set_config_version) to get the error instead.
    pub fn set_config_version(&self, version: impl Into<String>) {
        if let Err(e) = self.try_set_config_version(version) {
            tracing::warn!(error = %e, "set_config_version ignored an invalid version");
        }
    }

    /// Like [`set_config_version`](Self::set_config_version), returning an invalid version's
    /// error.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidValue`] for an empty, blank, over-long or control-character version.
    pub fn try_set_config_version(&self, version: impl Into<String>) -> Result<(), ConfigError> {
        let version = version.into();
        check_version(&version)?;
        self.inner.change(|state| {
            if &*state.version == version.as_str() {
                false
            } else {
                state.version = Arc::from(version);
                true
            }
        });
        Ok(())
    }

    /// The configuration version reported now.
    #[must_use]
    pub fn config_version(&self) -> String {
        self.inner.state.lock().version.to_string()
    }

    /// Sets the health reported with every heartbeat; a change is reported promptly, like a
    /// version change.
    pub fn set_health(&self, health: Health) {
        self.inner.change(|state| {
            let changed = state.health != health;
            state.health = health;
            changed
        });
    }

    /// The health reported now.
    #[must_use]
    pub fn health(&self) -> Health {
        self.inner.state.lock().health
    }

    /// Sends one report now and returns the server's answer. Works whether or not the client
    /// is started, and never waits for the background schedule.
    ///
    /// Makes up to [`max_retries`](HeartbeatConfig::max_retries) attempts with the backoff
    /// delays (jittered 1 s, 2 s, ...) between them. Every attempt reads the current version.
    ///
    /// # Errors
    ///
    /// The last attempt's [`ReporterError`]. A permanent error returns at once; so does a
    /// throttled one (429/503 with `Retry-After`): its delay is in
    /// [`ReporterError::retry_after`] rather than slept through.
    pub async fn report_now(&self) -> Result<HeartbeatResponse, ReporterError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ReporterError::NoRuntime(
                "report_now() must be awaited within a tokio runtime".into(),
            ));
        }
        let c = &self.inner.config;
        // Seeded from the OS (a system call) only when a retry needs it: the common case, one
        // successful attempt, never draws a delay.
        let mut schedule: Option<Schedule> = None;
        let attempts = async {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let error = match self.inner.attempt().await {
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
        };
        tracing::Instrument::instrument(attempts, self.inner.span()).await
    }

    /// A snapshot of the client's status.
    #[must_use]
    pub fn status(&self) -> HeartbeatStatus {
        self.inner.status.borrow().clone()
    }

    /// A receiver that sees every status update (each finished attempt), e.g. to act when the
    /// server's `expected_version` changes:
    ///
    /// ```no_run
    /// # async fn run(client: vortex_client::HeartbeatClient) {
    /// let mut status = client.subscribe();
    /// while status.changed().await.is_ok() {
    ///     let s = status.borrow_and_update().clone();
    ///     if s.drift_detected {
    ///         // reload configuration, then client.set_config_version(...)
    ///     }
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<HeartbeatStatus> {
        self.inner.status.subscribe()
    }

    /// A receiver that wakes only when the drift facts change: the server's `expected_version`,
    /// its `drift_detected` verdict, or the version the last accepted report carried. A
    /// heartbeat that confirms the same facts, and a failed attempt, do not wake it.
    ///
    /// Like every `watch` receiver it holds the latest value: a subscriber that falls behind
    /// skips intermediate states but never misses the last one, and a change made between
    /// `borrow_and_update()` and the next `changed().await` wakes it.
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
        self.inner.drift.subscribe()
    }

    /// The drift facts of the last accepted report.
    #[must_use]
    pub fn drift_state(&self) -> DriftState {
        self.inner.drift.borrow().clone()
    }

    /// The configuration in use (with the generated `instance_id` filled in).
    #[must_use]
    pub fn config(&self) -> &HeartbeatConfig {
        &self.inner.config
    }

    /// The metadata sent with every report: detected once (on the first report), then cached.
    pub async fn metadata(&self) -> Arc<InstanceMetadata> {
        self.inner.metadata().await
    }
}

impl fmt::Debug for HeartbeatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner.config;
        f.debug_struct("HeartbeatClient")
            .field("url", &self.inner.reporter.shown_url())
            .field("app", &c.app)
            .field("profile", &c.profile)
            .field("instance_id", &c.instance_id)
            .field("config_version", &self.config_version())
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}

/// Milliseconds, for log fields.
fn delay_ms(delay: Duration) -> u64 {
    u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)
}

impl Inner {
    /// The span around the worker and `report_now()`: which client is speaking. Names only,
    /// never the URL or credentials.
    fn span(&self) -> tracing::Span {
        let c = &self.config;
        tracing::info_span!(
            "heartbeat",
            app = %c.app,
            profile = %c.profile,
            instance = %c.instance_id
        )
    }

    /// Applies a change; when it changed something, invalidates the body and wakes the worker.
    fn change(&self, apply: impl FnOnce(&mut State) -> bool) {
        let changed = {
            let mut state = self.state.lock();
            let changed = apply(&mut state);
            if changed {
                state.generation += 1;
                state.body = None;
            }
            changed
        };
        if changed {
            self.wake.notify_one();
        }
    }

    fn has_undelivered_change(&self) -> bool {
        let state = self.state.lock();
        state.delivered != Some(state.generation)
    }

    fn consecutive_failures(&self) -> u32 {
        self.status.borrow().consecutive_failures
    }

    async fn metadata(&self) -> Arc<InstanceMetadata> {
        self.metadata
            .get_or_init(|| async {
                let mut meta = self.config.metadata.clone();
                if self.config.auto_detect_metadata {
                    let detected = metadata::detect(
                        &self.config.environment,
                        // An explicit IP makes the route lookup (and its DNS query) moot.
                        meta.ip_address.is_none().then(|| self.reporter.url()),
                    )
                    .await;
                    meta.fill_from(detected);
                }
                tracing::debug!(metadata = ?meta, "instance metadata");
                Arc::new(meta)
            })
            .await
            .clone()
    }

    /// The current body, serialised once per change of version or health.
    async fn body(&self) -> Result<Body, ReporterError> {
        let metadata = self.metadata().await;
        let mut state = self.state.lock();
        if let Some(body) = state
            .body
            .as_ref()
            .filter(|b| b.generation == state.generation)
        {
            return Ok(body.clone());
        }
        let bytes = HeartbeatRequest {
            instance_id: &self.config.instance_id,
            config_version: &state.version,
            metadata: &metadata,
            health: state.health,
        }
        .to_bytes()?;
        let body = Body {
            generation: state.generation,
            bytes,
            version: state.version.clone(),
        };
        state.body = Some(body.clone());
        Ok(body)
    }

    /// One attempt with the current body; records the outcome.
    async fn attempt(&self) -> Result<HeartbeatResponse, ReporterError> {
        let body = match self.body().await {
            Ok(body) => body,
            Err(error) => {
                // Nothing was sent, but the report failed all the same: count it and log it.
                self.record_failure(&error);
                return Err(error);
            }
        };
        #[cfg(feature = "metrics")]
        let started = std::time::Instant::now();
        let result = self.reporter.send(body.bytes).await;
        #[cfg(feature = "metrics")]
        crate::telemetry::attempt_finished(started.elapsed());
        match &result {
            Ok(response) => self.record_success(body.generation, &body.version, response),
            Err(error) => self.record_failure(error),
        }
        result
    }

    fn record_success(&self, generation: u64, version: &Arc<str>, response: &HeartbeatResponse) {
        // An answer to an older body that arrives after a newer one's (report_now() racing the
        // worker) must not roll the status or the drift view back.
        let fresh = {
            let mut state = self.state.lock();
            let fresh = state.delivered.is_none_or(|d| d <= generation);
            if state.delivered.is_none_or(|d| d < generation) {
                state.delivered = Some(generation);
            }
            fresh
        };
        {
            let mut tracker = self.tracker.lock();
            if tracker.failed_attempts > 0 {
                let outage = tracker
                    .outage_since
                    .map(|since| since.elapsed())
                    .unwrap_or_default();
                tracing::info!(
                    outage_secs = outage.as_secs_f64(),
                    failed_attempts = tracker.failed_attempts,
                    url = %self.reporter.shown_url(),
                    "heartbeat recovered"
                );
            }
            *tracker = Tracker::default();
        }
        let now = SystemTime::now();
        self.status.send_modify(|s| {
            s.last_success = Some(now);
            s.last_attempt = Some(now);
            s.consecutive_failures = 0;
            s.last_error = None;
            s.reports_sent += 1;
            // A stale answer (to an older body) keeps the newer drift facts.
            if !fresh {
                return;
            }
            s.expected_version.clone_from(&response.expected_version);
            s.drift_detected = response.drift_detected;
            // Steady state (same answer, same version) copies nothing: no allocation per report.
            if s.last_response.as_ref() != Some(response) {
                s.last_response = Some(response.clone());
            }
            if s.reported_version.as_deref() != Some(&**version) {
                s.reported_version = Some(version.to_string());
            }
        });
        #[cfg(feature = "metrics")]
        crate::telemetry::success(response.drift_detected);
        if fresh {
            self.drift.send_if_modified(|d| {
                let changed = d.expected_version != response.expected_version
                    || d.drift_detected != response.drift_detected
                    || d.reported_version.as_deref() != Some(&**version);
                if changed {
                    *d = DriftState {
                        expected_version: response.expected_version.clone(),
                        drift_detected: response.drift_detected,
                        reported_version: Some(version.to_string()),
                    };
                }
                changed
            });
        }
        self.successes.send_modify(|n| *n += 1);
        tracing::debug!(
            version = %version,
            drift = response.drift_detected,
            expected = ?response.expected_version,
            "heartbeat accepted"
        );
    }

    fn record_failure(&self, error: &ReporterError) {
        let text = error.to_string();
        let failures = {
            let mut tracker = self.tracker.lock();
            tracker.failed_attempts = tracker.failed_attempts.saturating_add(1);
            let first = tracker.outage_since.is_none();
            if first {
                tracker.outage_since = Some(Instant::now());
            }
            match error.disposition() {
                Disposition::Permanent => {
                    let kind = error.kind();
                    if tracker.logged_permanent.as_deref() != Some(kind.as_str()) {
                        tracing::error!(error = %text, "heartbeat rejected; fix the configuration (keeping the normal interval)");
                        tracker.logged_permanent = Some(kind);
                    } else {
                        tracing::debug!(error = %text, "heartbeat rejected again");
                    }
                }
                _ if first => {
                    tracing::warn!(error = %text, "heartbeat failed; retrying with backoff");
                }
                _ => {
                    tracing::debug!(
                        error = %text,
                        attempt = tracker.failed_attempts,
                        "heartbeat failed again"
                    );
                }
            }
            tracker.failed_attempts
        };
        let now = SystemTime::now();
        self.status.send_modify(|s| {
            s.last_attempt = Some(now);
            s.consecutive_failures = failures;
            s.last_error = Some(text);
            s.reports_failed += 1;
        });
        #[cfg(feature = "metrics")]
        crate::telemetry::failure(failures);
    }
}

/// The background loop: one report at once, then the interval; backoff on failure; prompt,
/// rate-limited reports of changes; exits when cancelled.
async fn worker(inner: Arc<Inner>, mut cancelled: watch::Receiver<bool>) {
    let c = &inner.config;
    let mut schedule = Schedule::new(c.interval, c.initial_retry_delay, c.max_retry_delay);
    let mut limiter = RateLimiter::new(c.report_burst, c.min_report_gap);
    let mut successes = inner.successes.subscribe();
    successes.mark_unchanged();
    let mut next = Instant::now();
    let mut reported_once = false;
    let mut on_demand_booked = false;
    // The worker's own last attempt failed: changes wait for the next scheduled attempt.
    let mut failing = false;
    loop {
        tokio::select! {
            biased;
            _ = cancelled.changed() => return,
            () = inner.wake.notified() => {
                // A change to report, through the rate limiter. While failing, or while an
                // on-demand send is already booked, it rides on the next attempt.
                if !on_demand_booked && !failing && inner.has_undelivered_change() {
                    let now = Instant::now();
                    next = next.min(deadline(now, limiter.reserve(now)));
                    on_demand_booked = true;
                }
                // Due now (an isolated change): send at once rather than through a timer,
                // whose 1 ms granularity would add up to a millisecond.
                if next > Instant::now() {
                    continue;
                }
            }
            Ok(()) = successes.changed() => {
                // report_now() succeeded: restart the countdown, with a fresh phase (below).
                successes.mark_unchanged();
                next = deadline(Instant::now(), schedule.first_delay());
                continue;
            }
            () = sleep_until(next) => {}
        }

        let attempt = inner.attempt();
        tokio::pin!(attempt);
        let result = tokio::select! {
            biased;
            result = &mut attempt => result,
            _ = cancelled.changed() => {
                // Stopping: let the request in flight finish within the grace, then exit.
                let _ = tokio::time::timeout(c.stop_grace, attempt).await;
                return;
            }
        };
        successes.mark_unchanged();
        let on_demand = std::mem::take(&mut on_demand_booked);
        failing = result.is_err();
        let delay = match result {
            // After the first report, and after one that carried a change, the countdown
            // restarts with a fresh phase: a fleet-wide config push makes every instance report
            // in the same second, and a plain interval would keep the fleet in that lockstep
            // (examples/fleet.rs, scenario c: 5x the mean rate for minutes, against 1.2x).
            Ok(_) if !reported_once || on_demand => schedule.first_delay(),
            Ok(_) => schedule.after_success(),
            Err(error) => match error.disposition() {
                Disposition::Throttled(retry_after) => {
                    schedule.after_throttle(inner.consecutive_failures(), retry_after)
                }
                Disposition::Retryable => schedule.after_failure(inner.consecutive_failures()),
                _ => schedule.after_success(),
            },
        };
        if failing {
            tracing::debug!(
                attempt = inner.consecutive_failures(),
                delay_ms = delay_ms(delay),
                "next heartbeat attempt scheduled"
            );
        }
        reported_once = true;
        next = deadline(Instant::now(), delay);
    }
}

/// `now + delay`, saturating far in the future instead of panicking on overflow (validation
/// bounds every delay, so this is a second line of defence).
fn deadline(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay)
        .or_else(|| now.checked_add(FAR_FUTURE))
        .unwrap_or(now)
}

/// About 30 years: later than any deadline the client computes.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

impl sealed::Sealed for HeartbeatClient {}

impl FromConfig for HeartbeatClient {
    fn from_config(config: HeartbeatConfig) -> Result<Self, ConfigError> {
        HeartbeatClient::new(config)
    }
}
