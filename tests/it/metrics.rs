//! The `metrics` feature: what a recorder sees after successes, drift and failures.
#![cfg(feature = "metrics")]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::support::client;
use crate::support::replies::statuses;
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use parking_lot::Mutex;
use vortex_client::testing::MockServer;

/// A recorder that keeps every value, keyed by `name{label=value,...}`.
#[derive(Default, Clone)]
pub(crate) struct TestRecorder(Arc<Store>);

#[derive(Default)]
struct Store {
    counters: Mutex<BTreeMap<String, u64>>,
    gauges: Mutex<BTreeMap<String, f64>>,
    histograms: Mutex<BTreeMap<String, Vec<f64>>>,
    /// name -> (unit, description)
    descriptions: Mutex<BTreeMap<String, (Option<Unit>, String)>>,
}

struct Handle {
    key: String,
    store: Arc<Store>,
}

fn key_text(key: &Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    if labels.is_empty() {
        key.name().to_owned()
    } else {
        format!("{}{{{}}}", key.name(), labels.join(","))
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        *self
            .store
            .counters
            .lock()
            .entry(self.key.clone())
            .or_default() += value;
    }
    fn absolute(&self, value: u64) {
        let mut counters = self.store.counters.lock();
        let slot = counters.entry(self.key.clone()).or_default();
        *slot = (*slot).max(value);
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        *self
            .store
            .gauges
            .lock()
            .entry(self.key.clone())
            .or_default() += value;
    }
    fn decrement(&self, value: f64) {
        *self
            .store
            .gauges
            .lock()
            .entry(self.key.clone())
            .or_default() -= value;
    }
    fn set(&self, value: f64) {
        self.store.gauges.lock().insert(self.key.clone(), value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        self.store
            .histograms
            .lock()
            .entry(self.key.clone())
            .or_default()
            .push(value);
    }
}

impl TestRecorder {
    fn describe(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.0
            .descriptions
            .lock()
            .insert(name.as_str().to_owned(), (unit, text.to_string()));
    }
    fn description(&self, name: &str) -> Option<(Option<Unit>, String)> {
        self.0.descriptions.lock().get(name).cloned()
    }
    fn handle(&self, key: &Key) -> Arc<Handle> {
        Arc::new(Handle {
            key: key_text(key),
            store: self.0.clone(),
        })
    }
    fn counter(&self, key: &str) -> u64 {
        self.0.counters.lock().get(key).copied().unwrap_or(0)
    }
    pub(crate) fn gauge(&self, key: &str) -> Option<f64> {
        self.0.gauges.lock().get(key).copied()
    }
    fn histogram(&self, key: &str) -> Vec<f64> {
        self.0
            .histograms
            .lock()
            .get(key)
            .cloned()
            .unwrap_or_default()
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe(name, unit, text);
    }
    fn describe_gauge(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe(name, unit, text);
    }
    fn describe_histogram(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe(name, unit, text);
    }
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle(key))
    }
}

/// Runs `test` on a current-thread runtime on this thread, with `metrics`' recorder set to a
/// `TestRecorder` for this thread only: it sees the client's metrics and no other test's.
/// Returns the recorder.
pub(crate) fn with_recorder<F>(test: impl FnOnce(TestRecorder) -> F) -> TestRecorder
where
    F: Future<Output = ()>,
{
    let recorder = TestRecorder::default();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(test(recorder.clone()))
    });
    recorder
}

const SUCCESS: &str = "vortex_heartbeat_reports_total{app=app,profile=prod,outcome=accepted}";
const ERROR: &str = "vortex_heartbeat_reports_total{app=app,profile=prod,outcome=failed}";
const DURATION: &str = "vortex_heartbeat_request_duration_seconds{app=app,profile=prod}";
const DRIFT: &str = "vortex_heartbeat_drift{app=app,profile=prod}";
const FAILURES: &str = "vortex_heartbeat_consecutive_failures{app=app,profile=prod}";

/// Every attempt is counted and timed, the failures gauge follows the failures in a row, and
/// the drift gauge the last answer (a failure keeps it).
#[test]
fn attempts_successes_failures_and_drift_are_recorded() {
    with_recorder(|recorder| async move {
        let receiver = MockServer::start().await.unwrap();
        let client = client(&receiver.url()).max_retries(1).build().unwrap();

        // In sync: success, no drift.
        client.report_now().await.unwrap();
        assert_eq!(recorder.counter(SUCCESS), 1);
        assert_eq!(recorder.gauge(DRIFT), Some(0.0));
        assert_eq!(recorder.gauge(FAILURES), Some(0.0));

        // The server expects another version: drift.
        receiver.set_expected_version("app", "prod", "v2");
        client.report_now().await.unwrap();
        assert_eq!(recorder.gauge(DRIFT), Some(1.0));

        // Two failures in a row.
        receiver.script(statuses([500, 503]));
        client.report_now().await.unwrap_err();
        assert_eq!(recorder.gauge(FAILURES), Some(1.0));
        client.report_now().await.unwrap_err();
        assert_eq!(recorder.counter(ERROR), 2);
        assert_eq!(recorder.gauge(FAILURES), Some(2.0));
        assert_eq!(
            recorder.gauge(DRIFT),
            Some(1.0),
            "a failure keeps the last drift fact"
        );

        // Recovery in sync: failures reset, drift clears.
        client.set_config_version("v2");
        client.report_now().await.unwrap();
        assert_eq!(recorder.counter(SUCCESS), 3);
        assert_eq!(recorder.counter(ERROR), 2);
        assert_eq!(recorder.gauge(FAILURES), Some(0.0));
        assert_eq!(recorder.gauge(DRIFT), Some(0.0));

        // One duration per attempt, each plausible (under the 5 s timeout).
        let durations = recorder.histogram(DURATION);
        assert_eq!(durations.len(), 5, "{durations:?}");
        assert!(
            durations.iter().all(|d| (0.0..5.0).contains(d)),
            "{durations:?}"
        );
    });
}

/// A connection failure is an attempt too: timed and counted as an error.
#[test]
fn connection_failures_are_timed_and_counted() {
    with_recorder(|recorder| async move {
        let dead = crate::support::dead_port().await;
        let client = client(&format!("http://{dead}"))
            .max_retries(1)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        client.report_now().await.unwrap_err();
        assert_eq!(recorder.counter(ERROR), 1);
        assert_eq!(recorder.counter(SUCCESS), 0);
        assert_eq!(recorder.gauge(FAILURES), Some(1.0));
        assert_eq!(recorder.gauge(DRIFT), None, "no report was accepted yet");
        assert_eq!(recorder.histogram(DURATION).len(), 1);
    });
}

/// Two clients in one process keep their own series, and every metric is described once
/// with its unit.
#[test]
fn clients_are_labelled_and_metrics_described() {
    let recorder = with_recorder(|recorder| async move {
        let receiver = MockServer::start().await.unwrap();
        receiver.set_expected_version("app", "prod", "v1");
        receiver.set_expected_version("other-app", "prod", "v1");
        let build = |app: &str| client(&receiver.url()).app(app).build().unwrap();
        let (a, b) = (build("app"), build("other-app"));
        a.report_now().await.unwrap();
        b.set_config_version("v0");
        b.report_now().await.unwrap();
        assert_eq!(recorder.gauge(DRIFT), Some(0.0));
        assert_eq!(
            recorder.gauge("vortex_heartbeat_drift{app=other-app,profile=prod}"),
            Some(1.0),
            "the second client does not overwrite the first one's gauge"
        );
    });
    let expected = [
        ("vortex_heartbeat_reports_total", Some(Unit::Count)),
        (
            "vortex_heartbeat_request_duration_seconds",
            Some(Unit::Seconds),
        ),
        ("vortex_heartbeat_drift", None),
        ("vortex_heartbeat_consecutive_failures", Some(Unit::Count)),
    ];
    for (name, unit) in expected {
        let (got_unit, text) = recorder
            .description(name)
            .unwrap_or_else(|| panic!("{name} is not described"));
        assert_eq!(got_unit, unit, "{name}");
        assert!(text.len() > 20, "{name}: {text:?}");
    }
}
