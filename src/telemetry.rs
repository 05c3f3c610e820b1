//! Heartbeat metrics through the `metrics` facade (feature `metrics`).
//!
//! | metric | kind | unit | meaning |
//! |---|---|---|---|
//! | `vortex_heartbeat_reports_total{app,profile,outcome="accepted"\|"failed"}` | counter | reports | finished attempts |
//! | `vortex_heartbeat_request_duration_seconds{app,profile}` | histogram | seconds | time of one HTTP attempt |
//! | `vortex_heartbeat_drift{app,profile}` | gauge | | 1 when the last accepted report showed drift, 0 when it showed none; not set while unknown |
//! | `vortex_heartbeat_consecutive_failures{app,profile}` | gauge | attempts | failed attempts since the last success |
//!
//! They go to whatever recorder the application installed (e.g. a Prometheus exporter); with
//! none installed they cost next to nothing. Each client registers its handles, and describes
//! the metrics, when it records its first report, so a recorder installed after the client was
//! built still gets them; after that a report costs no allocation.
//!
//! Without the feature, `Telemetry` is a zero-sized type with the same methods, each doing
//! nothing: callers never need a `cfg` of their own.

#[cfg(feature = "metrics")]
pub(crate) use self::on::{Telemetry, Timer};

#[cfg(not(feature = "metrics"))]
pub(crate) use self::off::{Telemetry, Timer};

#[cfg(feature = "metrics")]
mod on {
    use std::time::Instant;

    use metrics::{Counter, Gauge, Histogram, Label, Unit};

    const REPORTS: &str = "vortex_heartbeat_reports_total";
    const DURATION: &str = "vortex_heartbeat_request_duration_seconds";
    const DRIFT: &str = "vortex_heartbeat_drift";
    const FAILURES: &str = "vortex_heartbeat_consecutive_failures";

    /// When an attempt started.
    pub(crate) struct Timer(Instant);

    /// One client's metrics, labelled with its app and profile.
    pub(crate) struct Telemetry {
        labels: [Label; 2],
        handles: Option<Handles>,
    }

    struct Handles {
        accepted: Counter,
        failed: Counter,
        duration: Histogram,
        drift: Gauge,
        failures: Gauge,
    }

    impl Telemetry {
        pub(crate) fn new(app: &str, profile: &str) -> Self {
            Self {
                labels: [
                    Label::new("app", app.to_owned()),
                    Label::new("profile", profile.to_owned()),
                ],
                handles: None,
            }
        }

        fn handles(&mut self) -> &Handles {
            let labels = &self.labels;
            self.handles.get_or_insert_with(|| {
                describe();
                let with_outcome = |outcome: &'static str| {
                    let mut all = labels.to_vec();
                    all.push(Label::new("outcome", outcome));
                    all
                };
                Handles {
                    accepted: metrics::counter!(REPORTS, with_outcome("accepted")),
                    failed: metrics::counter!(REPORTS, with_outcome("failed")),
                    duration: metrics::histogram!(DURATION, labels.iter()),
                    drift: metrics::gauge!(DRIFT, labels.iter()),
                    failures: metrics::gauge!(FAILURES, labels.iter()),
                }
            })
        }

        /// Starts timing one HTTP attempt.
        pub(crate) fn attempt_started(&self) -> Timer {
            Timer(Instant::now())
        }

        /// One HTTP attempt finished, successful or not.
        pub(crate) fn attempt_finished(&mut self, timer: Timer) {
            self.handles()
                .duration
                .record(timer.0.elapsed().as_secs_f64());
        }

        /// The server accepted a report; `drift` is its verdict, `None` when unknown.
        pub(crate) fn accepted(&mut self, drift: Option<bool>) {
            let handles = self.handles();
            handles.accepted.increment(1);
            handles.failures.set(0.0);
            if let Some(drift) = drift {
                handles.drift.set(if drift { 1.0 } else { 0.0 });
            }
        }

        /// An attempt failed; `failures` since the last success, this one included.
        pub(crate) fn failed(&mut self, failures: u32) {
            let handles = self.handles();
            handles.failed.increment(1);
            handles.failures.set(f64::from(failures));
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
            FAILURES,
            Unit::Count,
            "Failed heartbeat attempts since the last accepted report"
        );
    }
}

/// The same methods, doing nothing: what a client records without the feature.
#[cfg(not(feature = "metrics"))]
mod off {
    /// Nothing to time.
    pub(crate) struct Timer;

    /// No metrics.
    pub(crate) struct Telemetry;

    impl Telemetry {
        pub(crate) fn new(_app: &str, _profile: &str) -> Self {
            Self
        }

        #[inline]
        pub(crate) fn attempt_started(&self) -> Timer {
            Timer
        }

        #[inline]
        pub(crate) fn attempt_finished(&mut self, _timer: Timer) {}

        #[inline]
        pub(crate) fn accepted(&mut self, _drift: Option<bool>) {}

        #[inline]
        pub(crate) fn failed(&mut self, _failures: u32) {}
    }
}
