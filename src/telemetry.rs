//! Heartbeat metrics through the `metrics` facade (feature `metrics`).
//!
//! | metric | kind | meaning |
//! |---|---|---|
//! | `heartbeat_total{status="success"\|"error"}` | counter | finished attempts |
//! | `heartbeat_duration_seconds` | histogram | time of one HTTP attempt |
//! | `heartbeat_drift_detected` | gauge | 1 when the last accepted report showed drift, else 0 |
//! | `heartbeat_consecutive_failures` | gauge | failed attempts since the last success |
//!
//! They go to whatever recorder the application installed (e.g. a Prometheus exporter); with
//! none installed they cost next to nothing.

use std::time::Duration;

/// One HTTP attempt finished, successful or not.
pub(crate) fn attempt_finished(took: Duration) {
    ::metrics::histogram!("heartbeat_duration_seconds").record(took.as_secs_f64());
}

/// The server accepted a report.
pub(crate) fn success(drift_detected: bool) {
    ::metrics::counter!("heartbeat_total", "status" => "success").increment(1);
    ::metrics::gauge!("heartbeat_drift_detected").set(if drift_detected { 1.0 } else { 0.0 });
    ::metrics::gauge!("heartbeat_consecutive_failures").set(0.0);
}

/// An attempt failed; `failures` since the last success, this one included.
pub(crate) fn failure(failures: u32) {
    ::metrics::counter!("heartbeat_total", "status" => "error").increment(1);
    ::metrics::gauge!("heartbeat_consecutive_failures").set(f64::from(failures));
}
