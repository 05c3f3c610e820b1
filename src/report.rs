//! The one owner of a report's path. Every report, the worker's or `report_now()`'s, goes
//! through the [`Engine`], one at a time: it reads the body when it is sent, runs the round
//! over the server URLs, and records the outcome in every place it counts (the status and
//! drift watches, the outage log, the metrics, the worker's schedule), in send order, under
//! one lock. So the server never gets an older version after a newer one was accepted, and no
//! view goes back.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{watch, Mutex, Notify, OnceCell};
use tokio::time::Instant;

use crate::answer::{HeartbeatResponse, Resolved};
use crate::changes::Changes;
use crate::config::HeartbeatConfig;
use crate::error::{Disposition, ReporterError};
use crate::health_check::Monitor;
use crate::metadata::{self, InstanceMetadata};
use crate::plan::{Origin, Outcome, Plan};
use crate::schedule::{RateLimiter, Schedule};
use crate::servers::{Failed, Servers};
use crate::status::DriftState;
use crate::status::HeartbeatStatus;
use crate::telemetry::Telemetry;

/// What every handle and the worker share.
pub(crate) struct Engine {
    pub(crate) config: HeartbeatConfig,
    pub(crate) changes: Changes,
    pub(crate) status: watch::Sender<HeartbeatStatus>,
    /// The drift view of `status`; changes only when one of its facts changes.
    pub(crate) drift: watch::Sender<DriftState>,
    /// The worker's schedule; every outcome moves it here, whoever sent the report.
    pub(crate) plan: parking_lot::Mutex<Plan>,
    /// Wakes the worker when a `report_now()` moved the schedule.
    replanned: Notify,
    /// Held from reading the body to recording the outcome: one report in flight.
    sender: Mutex<Sender>,
    metadata: OnceCell<Arc<InstanceMetadata>>,
    /// Where the route to the preferred server starts, to find the local address from.
    first_hop: Option<reqwest::Url>,
    /// The preferred server's heartbeat URL, without userinfo.
    pub(crate) redacted_url: String,
    health: Option<Monitor>,
}

/// What only the holder of the send lock touches.
struct Sender {
    servers: Servers,
    outage: Outage,
    telemetry: Telemetry,
}

impl Engine {
    pub(crate) fn new(config: HeartbeatConfig, servers: Servers) -> Self {
        let shown: Vec<&str> = servers.shown().collect();
        let telemetry = Telemetry::new(&config.app, &config.profile, &shown);
        Engine {
            changes: Changes::new(&config.config_version, config.health),
            status: watch::Sender::new(HeartbeatStatus::default()),
            drift: watch::Sender::new(DriftState::default()),
            plan: parking_lot::Mutex::new(new_plan(&config)),
            replanned: Notify::new(),
            first_hop: servers.first_hop().cloned(),
            redacted_url: servers.first_redacted().to_owned(),
            sender: Mutex::new(Sender {
                servers,
                outage: Outage::default(),
                telemetry,
            }),
            metadata: OnceCell::new(),
            health: config
                .health_check
                .clone()
                .map(|check| Monitor::new(check, config.health_check_timeout)),
            config,
        }
    }

    /// A fresh schedule for a worker starting now: its first report goes at once.
    pub(crate) fn restart_plan(&self) {
        *self.plan.lock() = new_plan(&self.config);
    }

    /// Completes when a `report_now()` moved the schedule.
    pub(crate) fn replanned(&self) -> tokio::sync::futures::Notified<'_> {
        self.replanned.notified()
    }

    /// The span around the worker and `report_now()`: which client is speaking. Names only,
    /// never the URL or credentials.
    pub(crate) fn span(&self) -> tracing::Span {
        let c = &self.config;
        tracing::info_span!("heartbeat", app = %c.app, profile = %c.profile, instance = %c.instance_id)
    }

    /// The metadata: detected once (on the first report), then cached.
    pub(crate) async fn metadata(&self) -> Arc<InstanceMetadata> {
        self.metadata
            .get_or_init(|| async {
                let mut meta = self.config.metadata.clone();
                if self.config.auto_detect_metadata {
                    // An explicit IP makes the route lookup (and its DNS query) moot.
                    let route = self
                        .first_hop
                        .as_ref()
                        .filter(|_| meta.ip_address.is_none());
                    meta.fill_from(metadata::detect(&self.config.environment, route).await);
                }
                tracing::debug!(metadata = ?meta, "instance metadata");
                Arc::new(meta)
            })
            .await
            .clone()
    }

    /// Asks the application's health check, if any, beside the reports: its answer is set
    /// as the health (a change, reported promptly) whenever it comes.
    pub(crate) fn ask_health(self: &Arc<Self>) {
        if let Some(monitor) = &self.health {
            // Weak: a check that never returns must not keep a dropped client alive.
            let engine = Arc::downgrade(self);
            monitor.ask(move |health| {
                if let Some(engine) = engine.upgrade() {
                    engine.changes.set_health(health);
                }
            });
        }
    }

    /// `report_now()`: one report with the current state, after any report in flight.
    pub(crate) async fn report_now(&self) -> Result<HeartbeatResponse, ReporterError> {
        let metadata = self.metadata().await;
        let mut sender = self.sender.lock().await;
        let result = self.send(&mut sender, &metadata, Origin::ReportNow).await;
        self.replanned.notify_one();
        result
    }

    /// The worker's report, unless a `report_now()` made it unneeded while it waited.
    pub(crate) async fn report_if_due(&self) {
        let metadata = self.metadata().await;
        let mut sender = self.sender.lock().await;
        {
            let mut plan = self.plan.lock();
            let now = Instant::now();
            if plan.due() > now {
                return;
            }
            plan.on_send(now);
        }
        let _ = self.send(&mut sender, &metadata, Origin::Worker).await;
    }

    /// Sends one report with the current state and records its outcome: status, drift,
    /// outage log, metrics and the schedule.
    async fn send(
        &self,
        sender: &mut Sender,
        metadata: &InstanceMetadata,
        origin: Origin,
    ) -> Result<HeartbeatResponse, ReporterError> {
        let Sender {
            servers,
            outage,
            telemetry,
        } = sender;
        let sent = match self.changes.snapshot(&self.config.instance_id, metadata) {
            Ok(snapshot) => {
                let timer = telemetry.attempt_started();
                let sent = servers.send(snapshot.bytes()).await;
                telemetry.attempt_finished(timer);
                sent.map(|ok| (ok, snapshot))
            }
            // Nothing was sent, but the report failed all the same: count it and log it.
            Err(error) => Err(Failed::alone(error)),
        };
        let (result, outcome) = match sent {
            Ok(((answer, by), snapshot)) => {
                self.changes.delivered(&snapshot);
                outage.recovered(by.url);
                let (response, drift) = self.accepted(answer, snapshot.version(), by.shown);
                telemetry.accepted(drift, by.index);
                (Ok(response), Outcome::Accepted { by: origin })
            }
            Err(failed) => {
                let failures = outage.failed(&failed.error, &failed.shown, origin);
                telemetry.failed(failures);
                self.failed(&failed, failures);
                let disposition = failed.error.disposition();
                (
                    Err(failed.error),
                    Outcome::Failed {
                        disposition,
                        failures,
                    },
                )
            }
        };
        let now = Instant::now();
        let mut plan = self.plan.lock();
        plan.on_outcome(now, outcome, self.changes.waiting());
        if let Outcome::Failed { failures, .. } = outcome {
            let delay = plan.due().saturating_duration_since(now);
            tracing::debug!(
                attempt = failures,
                delay_ms = delay_ms(delay),
                "next heartbeat attempt scheduled"
            );
        }
        result
    }

    /// Records a report of `version` that the server URL shown as `by` accepted; returns the
    /// answer as users see it, read against the drift facts known before it, and the verdict.
    fn accepted(
        &self,
        answer: crate::answer::Answer,
        version: &str,
        by: &str,
    ) -> (HeartbeatResponse, Option<bool>) {
        let now = SystemTime::now();
        let Resolved { response, drift } = {
            let known = self.drift.borrow();
            answer.resolve(known.expected_version.as_deref(), version)
        };
        let expected = &response.expected_version;
        self.status.send_modify(|s| {
            s.last_success = Some(now);
            s.last_attempt = Some(now);
            s.consecutive_failures = 0;
            s.last_error = None;
            s.reports_accepted += 1;
            s.drift.update(expected, drift, version);
            // The steady state (same server) copies nothing: no allocation per report.
            if s.server_url.as_deref() != Some(by) {
                s.server_url = Some(by.to_owned());
            }
        });
        self.drift
            .send_if_modified(|d| d.update(expected, drift, version));
        tracing::debug!(version = %version, drift = ?drift, expected = ?response.expected_version, "heartbeat accepted");
        (response, drift)
    }

    /// Records a failed report (nothing sent, or no acceptable answer).
    fn failed(&self, failed: &Failed, failures: u32) {
        let now = SystemTime::now();
        self.status.send_modify(|s| {
            s.last_attempt = Some(now);
            s.consecutive_failures = failures;
            s.last_error = Some(failed.shown.clone());
            s.reports_failed += 1;
        });
    }
}

/// Milliseconds, for log fields.
pub(crate) fn delay_ms(delay: std::time::Duration) -> u64 {
    u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)
}

/// The worker's schedule for `config`, its first report due now.
fn new_plan(config: &HeartbeatConfig) -> Plan {
    let schedule = Schedule::new(
        config.interval,
        config.initial_retry_delay,
        config.max_retry_delay,
    );
    let limiter = RateLimiter::new(config.report_burst, config.min_report_gap);
    Plan::new(schedule, limiter, Instant::now())
}

/// Failure bookkeeping behind the log discipline: warn once per outage, debug for repeats,
/// info on recovery with the outage's length.
#[derive(Default)]
struct Outage {
    since: Option<Instant>,
    failed_attempts: u32,
    /// The kind of the last permanent error logged, so a repeat is not logged again.
    logged_permanent: Option<(std::mem::Discriminant<ReporterError>, Option<u16>)>,
}

impl Outage {
    /// A success: logs the recovery when an outage was announced, and forgets it.
    fn recovered(&mut self, url: &str) {
        if let Some(since) = self.since {
            tracing::info!(
                outage_secs = since.elapsed().as_secs_f64(),
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
                if self.logged_permanent == Some(kind) {
                    tracing::debug!(error = %text, "heartbeat rejected again");
                } else {
                    tracing::error!(error = %text, "heartbeat rejected; fix the configuration (keeping the normal interval)");
                    self.logged_permanent = Some(kind);
                }
            }
            _ if first => tracing::warn!(error = %text, "heartbeat failed; retrying with backoff"),
            _ => {
                tracing::debug!(error = %text, attempt = self.failed_attempts, "heartbeat failed again")
            }
        }
        self.failed_attempts
    }
}
