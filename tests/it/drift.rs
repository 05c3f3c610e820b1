//! Drift notifications: order, no wake-up without a change, and no missed change, for the
//! async receiver and the blocking one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support;
use tokio::sync::watch;
use vortex_client::testing::{MockServer, Reply};
use vortex_client::{blocking, DriftState, HeartbeatClient};

const HOUR: Duration = Duration::from_secs(3600);

type Facts = (Option<String>, Option<bool>, Option<String>);

fn facts(state: &DriftState) -> Facts {
    (
        state.expected_version.clone(),
        state.drift_detected,
        state.reported_version.clone(),
    )
}

fn f(expected: Option<&str>, drift: bool, reported: &str) -> Facts {
    (
        expected.map(str::to_owned),
        Some(drift),
        Some(reported.to_owned()),
    )
}

/// One attempt per `report_now()` and no periodic report: every notification follows a report
/// the test makes.
fn client(url: &str) -> HeartbeatClient {
    support::client(url)
        .max_retries(1)
        .interval(HOUR)
        .build()
        .unwrap()
}

async fn next(drift: &mut watch::Receiver<DriftState>) -> Facts {
    tokio::time::timeout(Duration::from_secs(10), drift.changed())
        .await
        .expect("a drift notification")
        .expect("client alive");
    facts(&drift.borrow_and_update())
}

/// Each step's report changes the facts once; reports that confirm them, and failures, do not
/// wake the subscriber.
async fn notifications_follow_the_server_in_order() {
    let receiver = MockServer::start().await.unwrap();
    let client = client(&receiver.url());
    let mut drift = client.subscribe_drift();
    assert_eq!(facts(&drift.borrow()), (None, None, None));

    client.report_now().await.unwrap();
    assert_eq!(next(&mut drift).await, f(None, false, "v1"));
    client.report_now().await.unwrap();
    assert!(!drift.has_changed().unwrap(), "same facts, no wake-up");

    receiver.set_expected_version("app", "prod", "v2");
    client.report_now().await.unwrap();
    assert_eq!(next(&mut drift).await, f(Some("v2"), true, "v1"));
    assert_eq!(drift.borrow().refresh_to(), Some("v2"));

    receiver.script([Reply::Status(500)]);
    client.report_now().await.unwrap_err();
    assert!(!drift.has_changed().unwrap(), "a failure keeps the facts");
    assert_eq!(client.status().drift.drift_detected, Some(true));

    client.set_config_version("v2");
    client.report_now().await.unwrap();
    assert_eq!(next(&mut drift).await, f(Some("v2"), false, "v2"));
    assert_eq!(drift.borrow().refresh_to(), None);

    // The server drops its expectation: a change too.
    receiver.clear_expected_version("app", "prod");
    client.report_now().await.unwrap();
    assert_eq!(next(&mut drift).await, f(None, false, "v2"));
}

both_runtimes!(notifications_follow_the_server_in_order);

/// A subscriber that is busy while changes happen is woken at once afterwards, with the
/// latest facts; a change made between reading and awaiting again is not lost.
#[tokio::test(flavor = "current_thread")]
async fn a_busy_subscriber_misses_no_change() {
    let receiver = MockServer::start().await.unwrap();
    let client = client(&receiver.url());
    let mut drift = client.subscribe_drift();
    for expected in ["e1", "e2", "e3"] {
        receiver.set_expected_version("app", "prod", expected);
        client.report_now().await.unwrap();
    }
    assert_eq!(next(&mut drift).await, f(Some("e3"), true, "v1"));
    assert!(!drift.has_changed().unwrap());
    // Changed after the read, before the next await.
    receiver.set_expected_version("app", "prod", "e4");
    client.report_now().await.unwrap();
    assert_eq!(next(&mut drift).await, f(Some("e4"), true, "v1"));
}

/// A subscriber running concurrently with a stream of changes sees them in order, never the
/// same facts twice in a row, and always the last one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_arrive_in_order_and_the_last_is_never_missed() {
    const CHANGES: usize = 30;
    let receiver = MockServer::start().await.unwrap();
    let client = client(&receiver.url());
    let mut drift = client.subscribe_drift();
    let last = f(Some(&format!("e{CHANGES}")), true, "v1");
    let wanted = last.clone();
    let subscriber = tokio::spawn(async move {
        let mut seen = Vec::new();
        while seen.last() != Some(&wanted) {
            seen.push(next(&mut drift).await);
        }
        seen
    });
    let mut sent = Vec::new();
    for i in 1..=CHANGES {
        let expected = format!("e{i}");
        receiver.set_expected_version("app", "prod", &expected);
        client.report_now().await.unwrap();
        sent.push(f(Some(&expected), true, "v1"));
    }
    let seen = subscriber.await.unwrap();
    assert_eq!(seen.last(), Some(&last));
    assert!(seen.windows(2).all(|w| w[0] != w[1]), "{seen:?}");
    // In order: `seen` is a subsequence of `sent`.
    let mut rest = sent.iter();
    for s in &seen {
        assert!(rest.any(|x| x == s), "{s:?} out of order in {seen:?}");
    }
}

async fn recv(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Facts>) -> Facts {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a state within 10 s")
        .expect("the app is running")
}

/// The application's refresh loop against a running worker: the server raises its expected
/// version, the application refreshes and reports it, the drift clears. It sees exactly these
/// three states.
async fn refresh_loop() {
    let receiver = MockServer::start().await.unwrap();
    let client = support::client(&receiver.url())
        .interval(Duration::from_millis(200))
        .build()
        .unwrap();
    let mut drift = client.subscribe_drift();
    client.start().await;
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let app = {
        let client = client.clone();
        tokio::spawn(async move {
            while drift.changed().await.is_ok() {
                let state = drift.borrow_and_update().clone();
                let _ = seen_tx.send(facts(&state));
                if let Some(version) = state.refresh_to() {
                    client.set_config_version(version); // "refreshed"
                }
            }
        })
    };
    assert_eq!(recv(&mut seen_rx).await, f(None, false, "v1"));
    receiver.set_expected_version("app", "prod", "v2");
    assert_eq!(recv(&mut seen_rx).await, f(Some("v2"), true, "v1"));
    assert_eq!(recv(&mut seen_rx).await, f(Some("v2"), false, "v2"));
    // Later heartbeats confirm the same facts: nothing more. Two of them, watched by a receiver
    // of the test's own (the application's may not have run yet).
    let mut later = client.subscribe_drift();
    later.borrow_and_update(); // the facts so far: seen
    let mut status = client.subscribe();
    let accepted = status.borrow_and_update().reports_accepted;
    tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| s.reports_accepted >= accepted + 2),
    )
    .await
    .expect("two more heartbeats")
    .unwrap();
    assert!(!later.has_changed().unwrap(), "same facts, no wake-up");
    client.stop().await;
    assert!(seen_rx.try_recv().is_err());
    app.abort();
}

both_runtimes!(refresh_loop);

/// [`client`], blocking.
fn blocking_client(url: &str) -> blocking::HeartbeatClient {
    support::blocking_client(url)
        .max_retries(1)
        .interval(HOUR)
        .build()
        .unwrap()
}

#[test]
fn blocking_receiver_returns_changes_in_order_and_misses_none() {
    let server = MockServer::start_blocking().unwrap();
    let client = blocking_client(&server.url());
    let mut drift = client.subscribe_drift();
    assert_eq!(drift.wait_for_change(Duration::from_millis(20)), None);
    assert!(!drift.is_closed());

    client.report_now().unwrap();
    let state = drift.wait_for_change(Duration::from_secs(10)).unwrap();
    assert_eq!(facts(&state), f(None, false, "v1"));
    client.report_now().unwrap();
    assert_eq!(drift.wait_for_change(Duration::from_millis(20)), None);

    // Two changes while the application is busy: the next wait returns the latest at once.
    server.set_expected_version("app", "prod", "v2");
    client.report_now().unwrap();
    server.set_expected_version("app", "prod", "v3");
    client.report_now().unwrap();
    let state = drift.wait_for_change(Duration::ZERO).unwrap();
    assert_eq!(facts(&state), f(Some("v3"), true, "v1"));
    assert_eq!(state.refresh_to(), Some("v3"));
    assert_eq!(drift.wait_for_change(Duration::ZERO), None);

    client.set_config_version("v3");
    client.report_now().unwrap();
    let state = drift.wait_for_change(Duration::from_secs(10)).unwrap();
    assert_eq!(facts(&state), f(Some("v3"), false, "v3"));
    assert_eq!(drift.current(), state);
}

/// A thread blocked in wait_for_change() is woken by a change made elsewhere: it returns long
/// before its (deliberately long) timeout.
#[test]
fn blocking_waiter_is_woken_by_a_change() {
    let server = MockServer::start_blocking().unwrap();
    server.set_expected_version("app", "prod", "v2");
    let client = blocking_client(&server.url());
    let mut drift = client.subscribe_drift();
    let waiter = std::thread::spawn(move || {
        let started = Instant::now();
        let state = drift.wait_for_change(Duration::from_secs(60));
        (state, started.elapsed())
    });
    client.start(); // the first report brings the drift
    let (state, waited) = waiter.join().unwrap();
    assert_eq!(facts(&state.unwrap()), f(Some("v2"), true, "v1"));
    assert!(
        waited < Duration::from_secs(30),
        "woken only by the timeout"
    );
}

/// The blocking refresh loop, on its own thread, against a running worker.
#[test]
fn blocking_refresh_loop_sees_drift_and_its_clearing() {
    let server = MockServer::start_blocking().unwrap();
    let client = support::blocking_client(&server.url())
        .interval(Duration::from_millis(200))
        .build()
        .unwrap();
    let mut drift = client.subscribe_drift();
    client.start();
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let shutdown = Arc::new(AtomicBool::new(false));
    let app = {
        let client = client.clone();
        let shutdown = shutdown.clone();
        std::thread::spawn(move || {
            while !shutdown.load(Ordering::Relaxed) {
                if let Some(state) = drift.wait_for_change(Duration::from_millis(50)) {
                    if let Some(version) = state.refresh_to() {
                        client.set_config_version(version); // "refreshed"
                    }
                    if seen_tx.send(facts(&state)).is_err() {
                        return;
                    }
                }
            }
        })
    };
    let within = Duration::from_secs(10);
    assert_eq!(seen_rx.recv_timeout(within).unwrap(), f(None, false, "v1"));
    server.set_expected_version("app", "prod", "v2");
    assert_eq!(
        seen_rx.recv_timeout(within).unwrap(),
        f(Some("v2"), true, "v1")
    );
    assert_eq!(
        seen_rx.recv_timeout(within).unwrap(),
        f(Some("v2"), false, "v2")
    );
    // Later heartbeats confirm the same facts: nothing more. Two of them, watched by a receiver
    // of the test's own (the application's thread may not have run yet).
    let mut later = client.subscribe_drift();
    later.current(); // the facts so far: seen
    let accepted = client.status().reports_accepted;
    let deadline = Instant::now() + within;
    while client.status().reports_accepted < accepted + 2 {
        assert!(Instant::now() < deadline, "two more heartbeats");
        std::thread::sleep(Duration::from_millis(10)); // a poll interval, not a timing
    }
    assert_eq!(
        later.wait_for_change(Duration::ZERO),
        None,
        "same facts, no wake-up"
    );
    client.stop();
    assert!(seen_rx.try_recv().is_err());
    shutdown.store(true, Ordering::Relaxed);
    app.join().unwrap();
    drop(client);
}

#[test]
fn blocking_receiver_closes_with_the_client() {
    let server = MockServer::start_blocking().unwrap();
    let client = blocking_client(&server.url());
    let mut drift = client.subscribe_drift();
    drop(client);
    assert!(drift.is_closed());
    assert_eq!(drift.wait_for_change(Duration::from_millis(10)), None);
}
