//! Heartbeat metrics through the `metrics` facade (feature `metrics`).
//!
//! | metric | kind | unit | meaning |
//! |---|---|---|---|
//! | `vortex_heartbeat_reports_total{app,profile,outcome="accepted"\|"failed"}` | counter | reports | finished attempts |
//! | `vortex_heartbeat_request_duration_seconds{app,profile}` | histogram | seconds | time of one HTTP attempt |
//! | `vortex_heartbeat_drift{app,profile}` | gauge | | 1 when the last accepted report showed drift, 0 when it showed none; not set while unknown |
//! | `vortex_heartbeat_consecutive_failures{app,profile}` | gauge | attempts | failed attempts since the last success |
//! | `vortex_heartbeat_server{app,profile,server}` | gauge | | 1 for the server URL (as configured, without userinfo) that accepted the last accepted report, 0 for the client's other URLs; not set before one did |
//!
//! Which server answered is a gauge with a `server` label rather than a label on the reports
//! counter: the counter's series stay as they were (dashboards and alerts keep working), and
//! summed over a fleet the gauge says how many instances report to each server, which is what
//! a failover or a rebalancing changes. Its label set is bounded: one series per configured
//! URL, at most `MAX_SERVER_URLS`.
//!
//! They go to whatever recorder the application installed (e.g. a Prometheus exporter); with
//! none installed they cost next to nothing. Each client registers its handles, and describes
//! the metrics, when it records its first report, so a recorder installed after the client was
//! built still gets them; after that a report costs no allocation.
//!
//! Without the feature, `Telemetry` is a zero-sized type with the same methods, each doing
//! nothing: callers never need a `cfg` of their own.

#[cfg(feature = "metrics")]
pub(crate) use self::on::Telemetry;

#[cfg(not(feature = "metrics"))]
pub(crate) use self::off::Telemetry;

#[cfg(feature = "metrics")]
mod on {
    use std::time::Instant;

    use metrics::{Counter, Gauge, Histogram, Label, Unit};

    const REPORTS: &str = "vortex_heartbeat_reports_total";
    const DURATION: &str = "vortex_heartbeat_request_duration_seconds";
    const DRIFT: &str = "vortex_heartbeat_drift";
    const FAILURES: &str = "vortex_heartbeat_consecutive_failures";
    const SERVER: &str = "vortex_heartbeat_server";

    /// When an attempt started.
    pub(crate) struct Timer(Instant);

    /// One client's metrics, labelled with its app and profile.
    pub(crate) struct Telemetry {
        labels: [Label; 2],
        /// The server URLs as shown, in list order: the `server` label.
        servers: Vec<String>,
        handles: Option<Handles>,
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
        pub(crate) fn new(app: &str, profile: &str, servers: &[&str]) -> Self {
            Self {
                labels: [
                    Label::new("app", app.to_owned()),
                    Label::new("profile", profile.to_owned()),
                ],
                servers: servers.iter().map(|s| (*s).to_owned()).collect(),
                handles: None,
                current: None,
            }
        }

        fn handles(&mut self) -> &Handles {
            let labels = &self.labels;
            let servers = &self.servers;
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
                    servers: servers
                        .iter()
                        .map(|server| {
                            let mut all = labels.to_vec();
                            all.push(Label::new("server", server.clone()));
                            metrics::gauge!(SERVER, all)
                        })
                        .collect(),
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

        /// The server URL `server` (its index) accepted a report; `drift` is its verdict,
        /// `None` when unknown.
        pub(crate) fn accepted(&mut self, drift: Option<bool>, server: usize) {
            let previous = self.current.replace(server);
            let handles = self.handles();
            handles.accepted.increment(1);
            handles.failures.set(0.0);
            if let Some(drift) = drift {
                handles.drift.set(if drift { 1.0 } else { 0.0 });
            }
            // Only a move touches the server gauges (and the first answer sets them all).
            if previous != Some(server) {
                for (i, gauge) in handles.servers.iter().enumerate() {
                    gauge.set(if i == server { 1.0 } else { 0.0 });
                }
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

/// The same methods, doing nothing: what a client records without the feature.
#[cfg(not(feature = "metrics"))]
mod off {
    /// Nothing to time.
    pub(crate) struct Timer;

    /// No metrics.
    pub(crate) struct Telemetry;

    impl Telemetry {
        pub(crate) fn new(_app: &str, _profile: &str, _servers: &[&str]) -> Self {
            Self
        }

        #[inline]
        pub(crate) fn attempt_started(&self) -> Timer {
            Timer
        }

        #[inline]
        pub(crate) fn attempt_finished(&mut self, _timer: Timer) {}

        #[inline]
        pub(crate) fn accepted(&mut self, _drift: Option<bool>, _server: usize) {}

        #[inline]
        pub(crate) fn failed(&mut self, _failures: u32) {}
    }
}
