//! The one sender of a client: every report, from the worker or from `report_now()`, goes
//! through [`Shared::send`], one at a time.
//!
//! The send lock is taken before the body is read and held until the answer is recorded, so
//! the bodies leave in the order of the changes, an older version is never sent after a newer
//! one was accepted, and answers are recorded (status, drift view, the schedule's last outcome)
//! in send order: neither view can go back.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{watch, Notify, OnceCell};
use tokio::time::Instant;

use crate::answer::{Answer, HeartbeatResponse, Resolved};
use crate::config::HeartbeatConfig;
use crate::drift::DriftState;
use crate::error::{Disposition, ReporterError};
use crate::metadata::{self, InstanceMetadata};
use crate::plan::{Origin, Outcome};
use crate::status::HeartbeatStatus;
use crate::transport::Reporter;
use crate::wire::Health;
use crate::wire::HeartbeatRequest;

/// The last recorded outcome, numbered in send order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub(crate) seq: u64,
    pub(crate) outcome: Outcome,
}

/// What every handle and the worker share.
pub(crate) struct Shared {
    pub(crate) config: HeartbeatConfig,
    pub(crate) reporter: Reporter,
    changes: Mutex<Changes>,
    /// A version or health change waits to be reported. `notify_one` stores one permit, so a
    /// burst of changes coalesces into one wake-up.
    pub(crate) changed: Notify,
    /// Held from reading the body to recording the answer: one report in flight.
    sending: tokio::sync::Mutex<Ledger>,
    pub(crate) status: watch::Sender<HeartbeatStatus>,
    /// The drift view of `status`; changes only when one of its facts changes.
    pub(crate) drift: watch::Sender<DriftState>,
    /// The outcome of the last report, whoever sent it: the worker's schedule follows it.
    pub(crate) outcomes: watch::Sender<Option<Recorded>>,
    metadata: OnceCell<Arc<InstanceMetadata>>,
}

/// The state users change, and what of it the server has.
struct Changes {
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

/// Bookkeeping of the sends, kept under the send lock.
struct Ledger {
    seq: u64,
    outage: Outage,
    #[cfg(feature = "metrics")]
    telemetry: crate::telemetry::Telemetry,
}

/// Failure bookkeeping behind the log discipline: warn once per outage, debug for repeats,
/// info on recovery with the outage's length.
#[derive(Default)]
struct Outage {
    since: Option<Instant>,
    failed_attempts: u32,
    /// The kind of the last permanent error logged, so a repeat is not logged again.
    logged_permanent: Option<String>,
}

impl Shared {
    pub(crate) fn new(config: HeartbeatConfig, reporter: Reporter) -> Self {
        let version: Arc<str> = Arc::from(config.config_version.as_str());
        let ledger = Ledger {
            seq: 0,
            outage: Outage::default(),
            #[cfg(feature = "metrics")]
            telemetry: crate::telemetry::Telemetry::new(&config.app, &config.profile),
        };
        Self {
            changes: Mutex::new(Changes {
                version,
                health: config.health,
                generation: 0,
                delivered: None,
                body: None,
            }),
            reporter,
            config,
            changed: Notify::new(),
            sending: tokio::sync::Mutex::new(ledger),
            status: watch::Sender::new(HeartbeatStatus::default()),
            drift: watch::Sender::new(DriftState::default()),
            outcomes: watch::Sender::new(None),
            metadata: OnceCell::new(),
        }
    }

    /// The span around the worker and `report_now()`: which client is speaking. Names only,
    /// never the URL or credentials.
    pub(crate) fn span(&self) -> tracing::Span {
        let c = &self.config;
        tracing::info_span!(
            "heartbeat",
            app = %c.app,
            profile = %c.profile,
            instance = %c.instance_id
        )
    }

    pub(crate) fn version(&self) -> Arc<str> {
        self.changes.lock().version.clone()
    }

    pub(crate) fn health(&self) -> Health {
        self.changes.lock().health
    }

    /// Sets the version; a change wakes the worker.
    pub(crate) fn set_version(&self, version: String) {
        self.change(|c| {
            if &*c.version == version.as_str() {
                false
            } else {
                c.version = Arc::from(version);
                true
            }
        });
    }

    /// Sets the health; a change wakes the worker.
    pub(crate) fn set_health(&self, health: Health) {
        self.change(|c| std::mem::replace(&mut c.health, health) != health);
    }

    fn change(&self, apply: impl FnOnce(&mut Changes) -> bool) {
        let changed = {
            let mut changes = self.changes.lock();
            let changed = apply(&mut changes);
            if changed {
                changes.generation += 1;
                changes.body = None;
            }
            changed
        };
        if changed {
            self.changed.notify_one();
        }
    }

    /// True while a change has not been accepted by the server yet.
    pub(crate) fn change_waiting(&self) -> bool {
        let changes = self.changes.lock();
        changes.delivered != Some(changes.generation)
    }

    /// The metadata: detected once (on the first report), then cached.
    pub(crate) async fn metadata(&self) -> Arc<InstanceMetadata> {
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

    /// Sends one report with the current state and records its outcome, after any report in
    /// flight. Returns the answer and the outcome as recorded.
    pub(crate) async fn send(
        &self,
        origin: Origin,
    ) -> (Result<HeartbeatResponse, ReporterError>, Recorded) {
        let metadata = self.metadata().await;
        let mut ledger = self.sending.lock().await;
        let body = match self.body(&metadata) {
            Ok(body) => body,
            Err(error) => {
                // Nothing was sent, but the report failed all the same: count it and log it.
                let recorded = self.record_failure(&mut ledger, &error, origin);
                return (Err(error), recorded);
            }
        };
        #[cfg(feature = "metrics")]
        let started = std::time::Instant::now();
        let result = self.reporter.send(body.bytes.clone()).await;
        #[cfg(feature = "metrics")]
        ledger.telemetry.attempt_finished(started.elapsed());
        match result {
            Ok(answer) => {
                let (response, recorded) = self.record_success(&mut ledger, &body, answer, origin);
                (Ok(response), recorded)
            }
            Err(error) => {
                let recorded = self.record_failure(&mut ledger, &error, origin);
                (Err(error), recorded)
            }
        }
    }

    /// The current body, serialised once per change of version or health.
    fn body(&self, metadata: &InstanceMetadata) -> Result<Body, ReporterError> {
        let mut changes = self.changes.lock();
        if let Some(body) = changes
            .body
            .as_ref()
            .filter(|b| b.generation == changes.generation)
        {
            return Ok(body.clone());
        }
        let bytes = HeartbeatRequest {
            instance_id: &self.config.instance_id,
            config_version: &changes.version,
            metadata,
            health: changes.health,
        }
        .to_bytes()?;
        let body = Body {
            generation: changes.generation,
            bytes,
            version: changes.version.clone(),
        };
        changes.body = Some(body.clone());
        Ok(body)
    }

    /// Records an accepted report; returns the answer as users see it. The answer is read
    /// against the drift facts known before it (see [`Answer::resolve`]).
    fn record_success(
        &self,
        ledger: &mut Ledger,
        body: &Body,
        answer: Answer,
        origin: Origin,
    ) -> (HeartbeatResponse, Recorded) {
        self.changes.lock().delivered = Some(body.generation);
        ledger.outage.recovered(self.reporter.redacted_url());
        let now = SystemTime::now();
        let version = &body.version;
        let Resolved { response, drift } = {
            let known = self.drift.borrow();
            answer.resolve(known.expected_version.as_deref(), version)
        };
        self.status.send_modify(|s| {
            s.last_success = Some(now);
            s.last_attempt = Some(now);
            s.consecutive_failures = 0;
            s.last_error = None;
            s.reports_accepted += 1;
            s.expected_version.clone_from(&response.expected_version);
            s.drift_detected = drift;
            // Steady state (same answer, same version) copies nothing: no allocation per report.
            if s.last_response.as_ref() != Some(&response) {
                s.last_response = Some(response.clone());
            }
            if s.reported_version.as_deref() != Some(&**version) {
                s.reported_version = Some(version.to_string());
            }
        });
        #[cfg(feature = "metrics")]
        ledger.telemetry.accepted(drift);
        self.drift.send_if_modified(|d| {
            let changed = d.expected_version != response.expected_version
                || d.drift_detected != drift
                || d.reported_version.as_deref() != Some(&**version);
            if changed {
                *d = DriftState {
                    expected_version: response.expected_version.clone(),
                    drift_detected: drift,
                    reported_version: Some(version.to_string()),
                };
            }
            changed
        });
        tracing::debug!(
            version = %version,
            drift = ?drift,
            expected = ?response.expected_version,
            "heartbeat accepted"
        );
        (
            response,
            self.publish(ledger, Outcome::Accepted { by: origin }),
        )
    }

    fn record_failure(
        &self,
        ledger: &mut Ledger,
        error: &ReporterError,
        origin: Origin,
    ) -> Recorded {
        let text = error.to_string();
        let failures = ledger.outage.failed(error, &text, origin);
        let now = SystemTime::now();
        self.status.send_modify(|s| {
            s.last_attempt = Some(now);
            s.consecutive_failures = failures;
            s.last_error = Some(text);
            s.reports_failed += 1;
        });
        #[cfg(feature = "metrics")]
        ledger.telemetry.failed(failures);
        let outcome = Outcome::Failed {
            disposition: error.disposition(),
            failures,
        };
        self.publish(ledger, outcome)
    }

    /// Numbers the outcome and hands it to the worker's schedule, still under the send lock.
    fn publish(&self, ledger: &mut Ledger, outcome: Outcome) -> Recorded {
        ledger.seq += 1;
        let recorded = Recorded {
            seq: ledger.seq,
            outcome,
        };
        self.outcomes.send_replace(Some(recorded));
        recorded
    }
}

impl Outage {
    /// A success: logs the recovery when an outage was announced, and forgets it.
    fn recovered(&mut self, url: &str) {
        if self.since.is_some() {
            let outage = self.since.map(|since| since.elapsed()).unwrap_or_default();
            tracing::info!(
                outage_secs = outage.as_secs_f64(),
                failed_attempts = self.failed_attempts,
                url = %url,
                "heartbeat recovered"
            );
        }
        *self = Outage::default();
    }

    /// A failure: logs it by the discipline above; returns the consecutive failures.
    /// `report_now()` returns its error to the caller, so its failures are logged at debug
    /// only and do not count as an announced outage.
    fn failed(&mut self, error: &ReporterError, text: &str, origin: Origin) -> u32 {
        self.failed_attempts = self.failed_attempts.saturating_add(1);
        if origin == Origin::ReportNow {
            tracing::debug!(error = %text, "report_now() failed");
            return self.failed_attempts;
        }
        let first = self.since.is_none();
        if first {
            self.since = Some(Instant::now());
        }
        match error.disposition() {
            Disposition::Permanent => {
                let kind = error.kind();
                if self.logged_permanent.as_deref() == Some(kind.as_str()) {
                    tracing::debug!(error = %text, "heartbeat rejected again");
                } else {
                    tracing::error!(error = %text, "heartbeat rejected; fix the configuration (keeping the normal interval)");
                    self.logged_permanent = Some(kind);
                }
            }
            _ if first => tracing::warn!(error = %text, "heartbeat failed; retrying with backoff"),
            _ => tracing::debug!(
                error = %text,
                attempt = self.failed_attempts,
                "heartbeat failed again"
            ),
        }
        self.failed_attempts
    }
}
