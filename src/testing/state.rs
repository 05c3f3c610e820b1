//! What the mock server holds between requests: reports received, the script, the expected
//! versions and the read side, behind one lock, with the signals that wake waiting tests.

use std::collections::VecDeque;

use parking_lot::{Condvar, Mutex, MutexGuard};
use tokio::sync::Notify;

use super::clock::Clock;
use super::fleet::{Fleet, Now, Rules};
use super::model::{Rejection, Report};
use super::reply::Reply;
use super::views::{DriftReport, DriftSummary, InstanceList};

/// The server's answer to a registered heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MockAnswer {
    pub(super) expected_version: Option<String>,
    pub(super) drift_detected: bool,
}

impl MockAnswer {
    /// The contract's JSON: `{registered, expected_version, drift_detected}`.
    pub(super) fn to_json(&self) -> Vec<u8> {
        serde_json::json!({
            "registered": true,
            "expected_version": self.expected_version,
            "drift_detected": self.drift_detected,
        })
        .to_string()
        .into_bytes()
    }
}

/// Everything under the lock.
#[derive(Debug, Default)]
pub(super) struct State {
    /// Every well-formed heartbeat, in arrival order.
    pub(super) reports: Vec<Report>,
    /// How many reports `next_report` and `wait_for_version` have consumed.
    pub(super) cursor: usize,
    pub(super) rejections: Vec<Rejection>,
    pub(super) script: VecDeque<Reply>,
    pub(super) default_reply: Reply,
    pub(super) fleet: Fleet,
    pub(super) rules: Rules,
}

/// The mock server's backend: the state and the signals, shared by the server's tasks and the
/// test's handle.
#[derive(Debug, Default)]
pub(super) struct Backend {
    state: Mutex<State>,
    /// Wakes async waiters when a request was recorded.
    arrived: Notify,
    /// Wakes blocking waiters when a request was recorded.
    arrived_sync: Condvar,
    clock: Clock,
}

impl Backend {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    pub(super) fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(super) fn arrived(&self) -> &Notify {
        &self.arrived
    }

    pub(super) fn arrived_sync(&self) -> &Condvar {
        &self.arrived_sync
    }

    /// Records a well-formed heartbeat and decides its reply: the next scripted one, else the
    /// default. A 2xx reply registers it for the read side. Returns the reply and the answer
    /// (drift decided against the expected version of its app/profile).
    pub(super) fn heartbeat(&self, report: Report) -> (Reply, MockAnswer) {
        let mut state = self.state.lock();
        let reply = state
            .script
            .pop_front()
            .unwrap_or_else(|| state.default_reply.clone());
        let expected = state.fleet.expected(&report.app, &report.profile);
        let answer = MockAnswer {
            drift_detected: expected
                .as_deref()
                .is_some_and(|e| e != report.config_version),
            expected_version: expected,
        };
        if reply.registers() {
            state.fleet.register(&report);
        }
        state.reports.push(report);
        drop(state);
        self.wake();
        (reply, answer)
    }

    /// Records a refused request.
    pub(super) fn reject(&self, rejection: Rejection) {
        self.state.lock().rejections.push(rejection);
        self.wake();
    }

    /// The drift report of an app/profile, now.
    pub(super) fn drift_report(&self, app: &str, profile: &str) -> DriftReport {
        let mut state = self.state.lock();
        let (now, rules) = (Now::read(&self.clock), state.rules);
        state.fleet.sweep(&rules, now);
        state.fleet.drift_report(app, profile, &rules, now)
    }

    /// The summary over every app/profile, now.
    pub(super) fn drift_summary(&self) -> DriftSummary {
        let mut state = self.state.lock();
        let (now, rules) = (Now::read(&self.clock), state.rules);
        state.fleet.sweep(&rules, now);
        state.fleet.summary(&rules, now)
    }

    /// The live instances of an app/profile, now.
    pub(super) fn instances(&self, app: &str, profile: &str) -> InstanceList {
        let mut state = self.state.lock();
        let (now, rules) = (Now::read(&self.clock), state.rules);
        state.fleet.sweep(&rules, now);
        state.fleet.instances(app, profile, &rules, now)
    }

    fn wake(&self) {
        self.arrived.notify_waiters();
        self.arrived_sync.notify_all();
    }
}
