//! Heartbeat metrics through the `metrics` facade (feature `metrics`); the metrics and why they
//! are shaped so are in `docs/observability.md`.
//!
//! Each client registers its handles, and describes the metrics, when it records its first
//! report, so a recorder installed after the client was built still gets them; after that a
//! report allocates nothing. Without the feature, `Telemetry` is a zero-sized twin whose methods
//! do nothing: callers need no `cfg` of their own.

#[cfg(feature = "metrics")]
pub(crate) use self::on::Telemetry;

#[cfg(feature = "metrics")]
mod on {
    use std::cell::LazyCell;
    use std::time::Instant;

    use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram, Unit};

    const REPORTS: &str = "vortex_heartbeat_reports_total";
    const DURATION: &str = "vortex_heartbeat_request_duration_seconds";
    const DRIFT: &str = "vortex_heartbeat_drift";
    const FAILURES: &str = "vortex_heartbeat_consecutive_failures";
    const SERVER: &str = "vortex_heartbeat_server";

    /// When an attempt started.
    pub(crate) struct Timer(Instant);

    /// One client's metrics, labelled with its app and profile.
    pub(crate) struct Telemetry {
        handles: LazyCell<Handles, Box<dyn FnOnce() -> Handles + Send>>,
        /// The server whose gauge is 1.
        current: Option<usize>,
    }

    struct Handles {
        accepted: Counter,
        failed: Counter,
        duration: Histogram,
        drift: Gauge,
        failures: Gauge,
        /// One per server URL, in list order.
        servers: Vec<Gauge>,
    }

    impl Telemetry {
        /// `servers`: the server URLs as shown, in list order (the `server` label).
        pub(crate) fn new(app: &str, profile: &str, servers: &[&str]) -> Self {
            let labels = [("app", app.to_owned()), ("profile", profile.to_owned())];
            let servers: Vec<String> = servers.iter().map(|s| (*s).to_owned()).collect();
            let register = move || {
                describe();
                let with = |key, value: String| [labels.to_vec(), vec![(key, value)]].concat();
                let server = |url| gauge!(SERVER, &with("server", url));
                Handles {
                    accepted: counter!(REPORTS, &with("outcome", "accepted".into())),
                    failed: counter!(REPORTS, &with("outcome", "failed".into())),
                    duration: histogram!(DURATION, &labels),
                    drift: gauge!(DRIFT, &labels),
                    failures: gauge!(FAILURES, &labels),
                    servers: servers.into_iter().map(server).collect(),
                }
            };
            Self {
                handles: LazyCell::new(Box::new(register)),
                current: None,
            }
        }

        /// Starts timing one HTTP attempt.
        pub(crate) fn attempt_started(&self) -> Timer {
            Timer(Instant::now())
        }

        /// One HTTP attempt finished, successful or not.
        pub(crate) fn attempt_finished(&mut self, timer: Timer) {
            self.handles
                .duration
                .record(timer.0.elapsed().as_secs_f64());
        }

        /// The server URL `server` (its index) accepted a report; `drift` is its verdict,
        /// `None` when unknown.
        pub(crate) fn accepted(&mut self, drift: Option<bool>, server: usize) {
            let previous = self.current.replace(server);
            let handles = &*self.handles;
            handles.accepted.increment(1);
            handles.failures.set(0.0);
            if let Some(drift) = drift {
                handles.drift.set(f64::from(u8::from(drift)));
            }
            // Only a move touches the server gauges (and the first answer sets them all).
            if previous != Some(server) {
                for (i, gauge) in handles.servers.iter().enumerate() {
                    gauge.set(f64::from(u8::from(i == server)));
                }
            }
        }

        /// An attempt failed; `failures` since the last success, this one included.
        pub(crate) fn failed(&mut self, failures: u32) {
            self.handles.failed.increment(1);
            self.handles.failures.set(f64::from(failures));
        }
    }

    /// Descriptions and units; a recorder keeps one per name, so describing again is harmless.
    fn describe() {
        metrics::describe_counter!(
            REPORTS,
            Unit::Count,
            "Heartbeat reports finished, by outcome (accepted by the server, or failed)"
        );
        metrics::describe_histogram!(
            DURATION,
            Unit::Seconds,
            "Time of one heartbeat HTTP attempt"
        );
        metrics::describe_gauge!(
            DRIFT,
            "1 when the server saw configuration drift in the last accepted report, else 0"
        );
        metrics::describe_gauge!(
            SERVER,
            "1 for the server URL that accepted the last accepted heartbeat, 0 for the other configured URLs"
        );
        metrics::describe_gauge!(
            FAILURES,
            Unit::Count,
            "Failed heartbeat attempts since the last accepted report"
        );
    }
}

/// Nothing to time without the feature.
#[cfg(not(feature = "metrics"))]
pub(crate) struct Timer;

/// No metrics without the feature: the same methods, doing nothing.
#[cfg(not(feature = "metrics"))]
pub(crate) struct Telemetry;

#[cfg(not(feature = "metrics"))]
impl Telemetry {
    pub(crate) fn new(_app: &str, _profile: &str, _servers: &[&str]) -> Self {
        Self
    }
    pub(crate) fn attempt_started(&self) -> Timer {
        Timer
    }
    pub(crate) fn attempt_finished(&mut self, _timer: Timer) {}
    pub(crate) fn accepted(&mut self, _drift: Option<bool>, _server: usize) {}
    pub(crate) fn failed(&mut self, _failures: u32) {}
}
