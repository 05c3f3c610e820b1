//! What a client learns from its reports, recorded in the order they were sent: the status,
//! the drift view and the last outcome (three watches), the outage log discipline and the
//! metrics.
//!
//! The recorder is written by one sender at a time (the sequencer, under its send lock), so
//! neither view can go back; its bookkeeping across reports ([`Tally`]) lives under that lock.

use std::time::SystemTime;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::answer::{Answer, HeartbeatResponse, Resolved};
use crate::drift::DriftState;
use crate::error::{Disposition, ReporterError};
use crate::plan::{Origin, Outcome};
use crate::servers::Answered;
use crate::status::HeartbeatStatus;
use crate::telemetry::{Telemetry, Timer};

/// The last recorded outcome, numbered in send order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recorded {
    seq: u64,
    outcome: Outcome,
}

impl Recorded {
    /// `outcome`, numbered `seq` in send order.
    pub(crate) fn new(seq: u64, outcome: Outcome) -> Self {
        Self { seq, outcome }
    }

    /// Its place in send order: a larger number was sent later.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// How the report ended.
    pub(crate) fn outcome(&self) -> Outcome {
        self.outcome
    }
}

/// The watches users and the worker read.
pub(crate) struct Recorder {
    status: watch::Sender<HeartbeatStatus>,
    /// The drift view of `status`; changes only when one of its facts changes.
    drift: watch::Sender<DriftState>,
    /// The outcome of the last report, whoever sent it: the worker's schedule follows it.
    outcomes: watch::Sender<Option<Recorded>>,
}

/// The recorder's bookkeeping across reports, kept by its one writer.
pub(crate) struct Tally {
    outage: Outage,
    telemetry: Telemetry,
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

impl Tally {
    /// The bookkeeping of a client of `app` and `profile` with these server URLs, as shown
    /// (the metrics' labels).
    pub(crate) fn new(app: &str, profile: &str, servers: &[&str]) -> Self {
        Self {
            outage: Outage::default(),
            telemetry: Telemetry::new(app, profile, servers),
        }
    }

    /// An HTTP attempt starts (for its duration metric).
    pub(crate) fn attempt_started(&self) -> Timer {
        self.telemetry.attempt_started()
    }

    /// The HTTP attempt started with `timer` finished, successful or not.
    pub(crate) fn attempt_finished(&mut self, timer: Timer) {
        self.telemetry.attempt_finished(timer);
    }
}

impl Recorder {
    pub(crate) fn new() -> Self {
        Self {
            status: watch::Sender::new(HeartbeatStatus::default()),
            drift: watch::Sender::new(DriftState::default()),
            outcomes: watch::Sender::new(None),
        }
    }

    /// A snapshot of the status.
    pub(crate) fn status(&self) -> HeartbeatStatus {
        self.status.borrow().clone()
    }

    /// Every status update.
    pub(crate) fn subscribe(&self) -> watch::Receiver<HeartbeatStatus> {
        self.status.subscribe()
    }

    /// The drift facts of the last accepted report.
    pub(crate) fn drift_state(&self) -> DriftState {
        self.drift.borrow().clone()
    }

    /// Every change of the drift facts.
    pub(crate) fn subscribe_drift(&self) -> watch::Receiver<DriftState> {
        self.drift.subscribe()
    }

    /// Every recorded outcome (a receiver that falls behind sees the newest).
    pub(crate) fn outcomes(&self) -> watch::Receiver<Option<Recorded>> {
        self.outcomes.subscribe()
    }

    /// Records a report of `version` that the server URL `by` accepted; returns the answer as
    /// users see it and the outcome. The answer is read against the drift facts known before
    /// it (see [`Answer::resolve`]).
    pub(crate) fn accepted(
        &self,
        tally: &mut Tally,
        answer: Answer,
        version: &str,
        origin: Origin,
        by: Answered<'_>,
    ) -> (HeartbeatResponse, Outcome) {
        tally.outage.recovered(by.url);
        let now = SystemTime::now();
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
            if s.reported_version.as_deref() != Some(version) {
                s.reported_version = Some(version.to_owned());
            }
            if s.server_url.as_deref() != Some(by.shown) {
                s.server_url = Some(by.shown.to_owned());
            }
        });
        tally.telemetry.accepted(drift, by.index);
        self.drift.send_if_modified(|d| {
            let changed = d.expected_version != response.expected_version
                || d.drift_detected != drift
                || d.reported_version.as_deref() != Some(version);
            if changed {
                *d = DriftState {
                    expected_version: response.expected_version.clone(),
                    drift_detected: drift,
                    reported_version: Some(version.to_owned()),
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
        (response, Outcome::Accepted { by: origin })
    }

    /// Records a failed report (nothing sent, or no acceptable answer), shown as `text` (what
    /// each server URL answered); returns the outcome.
    pub(crate) fn failed(
        &self,
        tally: &mut Tally,
        error: &ReporterError,
        text: String,
        origin: Origin,
    ) -> Outcome {
        let failures = tally.outage.failed(error, &text, origin);
        let now = SystemTime::now();
        self.status.send_modify(|s| {
            s.last_attempt = Some(now);
            s.consecutive_failures = failures;
            s.last_error = Some(text);
            s.reports_failed += 1;
        });
        tally.telemetry.failed(failures);
        Outcome::Failed {
            disposition: error.disposition(),
            failures,
        }
    }

    /// Hands a numbered outcome to the worker's schedule.
    pub(crate) fn publish(&self, recorded: Recorded) {
        self.outcomes.send_replace(Some(recorded));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn by() -> Answered<'static> {
        Answered {
            index: 0,
            url: "http://x/api/drift/heartbeat/app/prod",
            shown: "http://x",
        }
    }

    fn unavailable() -> ReporterError {
        ReporterError::Status {
            status: 503,
            url: "http://127.0.0.1/x".into(),
            retry_after: None,
            body: String::new(),
        }
    }

    #[test]
    fn outcomes_and_status_follow_what_was_recorded() {
        let recorder = Recorder::new();
        let mut tally = Tally::new("app", "prod", &["http://x"]);
        let mut outcomes = recorder.outcomes();
        let failed = recorder.failed(&mut tally, &unavailable(), String::new(), Origin::Worker);
        assert!(matches!(failed, Outcome::Failed { failures: 1, .. }));
        let failed = recorder.failed(&mut tally, &unavailable(), String::new(), Origin::Worker);
        assert!(matches!(failed, Outcome::Failed { failures: 2, .. }));
        recorder.publish(Recorded::new(2, failed));
        assert_eq!(outcomes.borrow_and_update().map(|r| r.seq()), Some(2));
        let status = recorder.status();
        assert_eq!((status.consecutive_failures, status.reports_failed), (2, 2));
        assert!(status.last_error.is_some());

        let answer = Answer::parse(br#"{"expected_version":"v2","drift_detected":true}"#);
        let (response, outcome) =
            recorder.accepted(&mut tally, answer, "v1", Origin::ReportNow, by());
        assert_eq!(
            outcome,
            Outcome::Accepted {
                by: Origin::ReportNow
            }
        );
        assert_eq!(response.expected_version.as_deref(), Some("v2"));
        let status = recorder.status();
        assert_eq!(
            (status.consecutive_failures, status.reports_accepted),
            (0, 1)
        );
        assert_eq!(status.last_error, None);
        assert_eq!(status.reported_version.as_deref(), Some("v1"));
        assert_eq!(status.server_url.as_deref(), Some("http://x"));
        assert_eq!(recorder.drift_state().drift_detected, Some(true));
    }

    #[test]
    fn the_same_facts_do_not_wake_the_drift_watch() {
        let recorder = Recorder::new();
        let mut tally = Tally::new("app", "prod", &["http://x"]);
        let mut drift = recorder.subscribe_drift();
        let body = br#"{"expected_version":"v1","drift_detected":false}"#;
        recorder.accepted(&mut tally, Answer::parse(body), "v1", Origin::Worker, by());
        assert!(drift.has_changed().unwrap());
        drift.borrow_and_update();
        recorder.accepted(&mut tally, Answer::parse(body), "v1", Origin::Worker, by());
        assert!(!drift.has_changed().unwrap());
        recorder.failed(&mut tally, &unavailable(), String::new(), Origin::Worker);
        assert!(!drift.has_changed().unwrap());
    }
}
