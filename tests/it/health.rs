//! The health check callback: asked at each periodic report, on a thread of its own and beside
//! the reports; its answer is reported like a `set_health` call. A panicking, slow, blocking or
//! hung check counts as a documented health and never stops the worker, delays a report, or
//! holds more than one thread. Checks answer in real time (their thread is not the runtime's),
//! so these tests wait for what is reported, never for how fast.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{self, capture_logs};
use tokio::time::Instant;
use vortex_client::testing::MockServer;
use vortex_client::{Health, HeartbeatBuilder, HeartbeatClient};

const S: fn(u64) -> Duration = Duration::from_secs;
const MS: fn(u64) -> Duration = Duration::from_millis;
const WAIT: Duration = Duration::from_secs(10);

/// The check is asked at each periodic report: these tests want one every 50 ms.
fn client(url: &str) -> HeartbeatBuilder<HeartbeatClient> {
    support::client(url).interval(MS(50)).min_report_gap(MS(1))
}

fn health_of(code: u8) -> Health {
    match code {
        0 => Health::Healthy,
        1 => Health::Degraded,
        _ => Health::Unhealthy,
    }
}

#[tokio::test]
async fn the_checks_answer_is_reported() {
    let server = MockServer::start().await.unwrap();
    let state = Arc::new(AtomicU8::new(0));
    let asked = Arc::new(AtomicUsize::new(0));
    let c = client(&server.url())
        .health_check({
            let (state, asked) = (state.clone(), asked.clone());
            move || {
                asked.fetch_add(1, Ordering::SeqCst);
                let health = health_of(state.load(Ordering::SeqCst));
                async move { health }
            }
        })
        .build()
        .unwrap();
    c.start().await;
    server.wait_for_reports(3, WAIT).await.unwrap();
    state.store(1, Ordering::SeqCst);
    let degraded = server
        .wait_for_report(|r| r.health == Health::Degraded, WAIT)
        .await
        .unwrap();
    assert_eq!(c.health(), Health::Degraded);
    c.stop().await;
    let reports = server.reports();
    assert!(
        reports
            .iter()
            .all(|r| r.health == Health::Healthy || r.received_at >= degraded.received_at),
        "nothing said Degraded before the check did"
    );
    let periodic = reports.len();
    let asked = asked.load(Ordering::SeqCst);
    assert!(
        (2..=periodic).contains(&asked),
        "asked {asked} times for {periodic} reports"
    );
}

#[tokio::test]
async fn set_health_works_between_checks_and_the_next_check_wins() {
    let server = MockServer::start().await.unwrap();
    let c = client(&server.url())
        .interval(MS(200))
        .health_check(|| async { Health::Healthy })
        .build()
        .unwrap();
    c.start().await;
    server.wait_for_reports(1, WAIT).await.unwrap();
    c.set_health(Health::Unhealthy); // pushed: reported at once
    let pushed = server
        .wait_for_report(|r| r.health == Health::Unhealthy, WAIT)
        .await
        .unwrap();
    let after = server
        .wait_for_report(
            |r| r.received_at > pushed.received_at && r.health == Health::Healthy,
            WAIT,
        )
        .await;
    c.stop().await;
    assert!(after.is_ok(), "the next check's answer replaces it");
}

#[tokio::test]
async fn a_panicking_check_counts_as_unhealthy_and_the_worker_goes_on() {
    let server = MockServer::start().await.unwrap();
    let c = client(&server.url())
        .health_check(|| async { panic!("the check's own bug") })
        .build()
        .unwrap();
    c.start().await;
    let first = server
        .wait_for_report(|r| r.health == Health::Unhealthy, WAIT)
        .await
        .unwrap();
    let later = server
        .wait_for_report(|r| r.received_at > first.received_at, WAIT)
        .await
        .unwrap();
    assert_eq!(later.health, Health::Unhealthy);
    assert!(c.is_running());
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_check_slower_than_its_bound_counts_as_degraded_at_the_bound() {
    let server = MockServer::start().await.unwrap();
    let c = client(&server.url())
        .interval(S(30))
        .health_check(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Health::Healthy
        })
        .health_check_timeout(MS(500))
        .build()
        .unwrap();
    let started = Instant::now();
    c.start().await;
    let reports = server.wait_for_reports(2, S(600)).await.unwrap();
    assert_eq!(
        reports[0].health,
        Health::Healthy,
        "the first report does not wait"
    );
    assert_eq!(reports[1].health, Health::Degraded);
    let at = reports[1].received_at - started;
    assert!(
        (MS(500)..=MS(550)).contains(&at),
        "degraded reported after {at:?}"
    );
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn stop_does_not_wait_for_a_hung_check() {
    let server = MockServer::start().await.unwrap();
    let entered = Arc::new(tokio::sync::Notify::new());
    let c = client(&server.url())
        .health_check({
            let entered = entered.clone();
            move || {
                let entered = entered.clone();
                async move {
                    entered.notify_one();
                    std::future::pending().await
                }
            }
        })
        .health_check_timeout(S(60))
        .build()
        .unwrap();
    c.start().await;
    entered.notified().await; // the check is running, and will never answer
    let t = Instant::now();
    c.stop().await;
    assert!(t.elapsed() < MS(50), "{:?}", t.elapsed());
}

#[tokio::test(flavor = "current_thread")]
async fn a_hung_check_is_logged_once_and_its_answer_once() {
    let (logs, _guard) = capture_logs();
    let server = MockServer::start().await.unwrap();
    let (open, gate) = tokio::sync::watch::channel(false);
    let c = client(&server.url())
        .interval(MS(10))
        .health_check(move || {
            let mut gate = gate.clone();
            async move {
                let _ = gate.wait_for(|open| *open).await;
                Health::Healthy
            }
        })
        .health_check_timeout(MS(20))
        .build()
        .unwrap();
    c.start().await;
    server
        .wait_for_report(|r| r.health == Health::Degraded, WAIT)
        .await
        .unwrap();
    // Many periodic reports while it hangs: no new evaluation, no new line.
    let hung = server.report_count();
    server.wait_for_reports(hung + 10, WAIT).await.unwrap();
    let _ = open.send(true);
    let opened = Instant::now();
    server
        .wait_for_report(
            |r| r.received_at >= opened && r.health == Health::Healthy,
            WAIT,
        )
        .await
        .unwrap();
    c.stop().await;
    assert_eq!(
        logs.lines("WARN", "has not answered within its bound")
            .len(),
        1,
        "{}",
        logs.text()
    );
    assert_eq!(
        logs.lines("INFO", "answers again").len(),
        1,
        "{}",
        logs.text()
    );
}

// ---------------------------------------------------------------------------------------------
// A check is a guest: it may block its thread for ever, and the host must not notice.

/// A gate a check can block on (synchronously, as a database ping without a timeout does)
/// until the test opens it, and that tells the test how many evaluations entered it.
#[derive(Clone, Default)]
struct Gate {
    open: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    entered: Arc<AtomicUsize>,
}

impl Gate {
    /// Blocks the calling thread until the gate opens.
    fn pass(&self) -> Health {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let (open, opened) = &*self.open;
        let mut is_open = open.lock().unwrap();
        while !*is_open {
            is_open = opened.wait(is_open).unwrap();
        }
        Health::Healthy
    }

    fn open(&self) {
        let (open, opened) = &*self.open;
        *open.lock().unwrap() = true;
        opened.notify_all();
    }

    fn entered(&self) -> usize {
        self.entered.load(Ordering::SeqCst)
    }

    /// Waits (in real time) until an evaluation is inside the gate.
    fn wait_entered(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.entered() == 0 {
            assert!(std::time::Instant::now() < deadline, "the check never ran");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// An async check whose body blocks its thread on `gate`.
fn blocking_body(gate: &Gate) -> impl Fn() -> std::future::Ready<Health> + Send + Sync + 'static {
    let gate = gate.clone();
    move || std::future::ready(gate.pass())
}

/// A plain function that blocks its thread on `gate`: the blocking client's check.
fn blocking_fn(gate: &Gate) -> impl Fn() -> Health + Send + Sync + 'static {
    let gate = gate.clone();
    move || gate.pass()
}

/// A multi-thread runtime whose blocking pool has two threads, as a host may configure it.
fn small_blocking_pool() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_check_that_never_returns_holds_one_thread_and_starves_nothing() {
    let gate = Gate::default();
    small_blocking_pool().block_on(async {
        let server = MockServer::start().await.unwrap();
        // By host name, and a new connection per report: each report resolves `localhost`,
        // which tokio does on the blocking pool.
        let by_name = server.url().replace("127.0.0.1", "localhost");
        let c = client(&by_name)
            .interval(Duration::from_millis(20))
            .connection_max_age(Duration::from_millis(1))
            .health_check(blocking_body(&gate))
            .health_check_timeout(Duration::from_millis(50))
            .build()
            .unwrap();
        c.start().await;
        let reports = server.wait_for_reports(12, Duration::from_secs(20)).await;
        let host =
            tokio::time::timeout(Duration::from_secs(10), tokio::task::spawn_blocking(|| 42)).await;
        let evaluations = gate.entered();
        gate.open();
        c.stop().await;
        assert!(reports.is_ok(), "reports stopped: {reports:?}");
        assert!(
            matches!(host, Ok(Ok(42))),
            "the host's blocking pool is starved"
        );
        assert_eq!(evaluations, 1, "one evaluation in flight at most");
    });
}

#[test]
fn the_blocking_client_sends_nothing_after_stop_whatever_the_check_does() {
    let server = MockServer::start_blocking().unwrap();
    let gate = Gate::default();
    let c = support::blocking_client(&server.url())
        .interval(Duration::from_millis(50))
        .health_check(blocking_fn(&gate))
        .build()
        .unwrap();
    c.start();
    gate.wait_entered();
    c.stop();
    let running = c.is_running();
    let sent = server.report_count();
    gate.open();
    // Ten intervals to misbehave in.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!running, "is_running() after stop()");
    assert_eq!(server.report_count(), sent, "reports after stop() returned");
}

/// A change goes out while the check is still running: it never waits for the check.
async fn a_change_never_waits_for_the_check() {
    let server = MockServer::start().await.unwrap();
    let (open, gate) = tokio::sync::watch::channel(false);
    let entered = Arc::new(tokio::sync::Notify::new());
    let c = client(&server.url())
        .health_check({
            let entered = entered.clone();
            move || {
                let (entered, mut gate) = (entered.clone(), gate.clone());
                async move {
                    entered.notify_one();
                    let _ = gate.wait_for(|open| *open).await;
                    Health::Healthy
                }
            }
        })
        .health_check_timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    c.start().await;
    entered.notified().await;
    c.set_config_version("v2");
    let reported = server.wait_for_version("v2", Duration::from_secs(10)).await;
    let _ = open.send(true);
    c.stop().await;
    assert!(reported.is_ok(), "v2 waited for the check: {reported:?}");
}

both_runtimes!(a_change_never_waits_for_the_check);

#[test]
fn the_blocking_clients_check_may_block_and_its_bound_still_holds() {
    let server = MockServer::start_blocking().unwrap();
    let gate = Gate::default();
    let c = support::blocking_client(&server.url())
        .health_check(blocking_fn(&gate))
        .health_check_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    c.start();
    let degraded =
        server.wait_for_report_blocking(|r| r.health == Health::Degraded, Duration::from_secs(10));
    let blocked = gate.entered() == 1;
    gate.open();
    c.stop();
    assert!(
        degraded.is_ok(),
        "no report said Degraded while the check overran its bound"
    );
    assert!(blocked);
}

/// A check that panics when called, before it returns its future, counts as unhealthy too.
async fn a_check_that_panics_when_called_counts_as_unhealthy() {
    fn panicking_check() -> std::future::Ready<Health> {
        panic!("a poisoned lock in the application's check")
    }
    let server = MockServer::start().await.unwrap();
    let c = client(&server.url())
        .health_check(panicking_check)
        .build()
        .unwrap();
    c.start().await;
    let unhealthy = server
        .wait_for_report(|r| r.health == Health::Unhealthy, WAIT)
        .await;
    assert!(c.is_running(), "the worker goes on");
    c.stop().await;
    assert!(unhealthy.is_ok(), "{unhealthy:?}");
}

both_runtimes!(a_check_that_panics_when_called_counts_as_unhealthy);

/// A check that blocks its thread when called, or in its future, is degraded at its bound
/// while it still blocks, on either runtime flavour.
async fn a_check_that_blocks_when_called_or_in_its_future_is_bounded() {
    for in_future in [false, true] {
        let server = MockServer::start().await.unwrap();
        let gate = Gate::default();
        let check = {
            let gate = gate.clone();
            move || {
                let gate = gate.clone();
                let blocked = (!in_future).then(|| gate.pass());
                async move { blocked.unwrap_or_else(|| gate.pass()) }
            }
        };
        let c = client(&server.url())
            .health_check(check)
            .health_check_timeout(MS(100))
            .build()
            .unwrap();
        c.start().await;
        let degraded = server
            .wait_for_report(|r| r.health == Health::Degraded, WAIT)
            .await;
        let still_blocked = gate.entered() == 1;
        gate.open();
        c.stop().await;
        assert!(degraded.is_ok(), "in_future {in_future}: {degraded:?}");
        assert!(still_blocked, "in_future {in_future}");
    }
}

both_runtimes!(a_check_that_blocks_when_called_or_in_its_future_is_bounded);
