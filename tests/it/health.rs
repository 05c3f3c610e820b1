//! The health check callback: asked before each periodic report, its answer is reported; a
//! panicking or slow check counts as a documented health and never stops the worker. Timing
//! runs on tokio's paused clock.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use vortex_client::testing::MockServer;
use vortex_client::{Environment, Health, HeartbeatClient};

const S: fn(u64) -> Duration = Duration::from_secs;
const WAIT: Duration = Duration::from_secs(600);

fn client(url: &str) -> vortex_client::HeartbeatClientBuilder {
    HeartbeatClient::builder()
        .environment(Environment::empty())
        .server_url(url)
        .app("app")
        .profile("prod")
        .instance_id("i-1")
        .interval(S(30))
}

fn health_of(code: u8) -> Health {
    match code {
        0 => Health::Healthy,
        1 => Health::Degraded,
        _ => Health::Unhealthy,
    }
}

#[tokio::test(start_paused = true)]
async fn a_change_of_health_rides_on_the_next_periodic_report() {
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
    let first = server.wait_for_reports(1, WAIT).await.unwrap();
    assert_eq!(first[0].health, Health::Healthy);
    state.store(1, Ordering::SeqCst);
    let reports = server.wait_for_reports(2, WAIT).await.unwrap();
    assert_eq!(
        reports[1].health,
        Health::Degraded,
        "the next report carries it"
    );
    assert_eq!(c.health(), Health::Degraded);
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "asked once per periodic report"
    );
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn set_health_works_between_checks_and_the_next_check_wins() {
    let server = MockServer::start().await.unwrap();
    let c = client(&server.url())
        .health_check(|| async { Health::Healthy })
        .build()
        .unwrap();
    c.start().await;
    server.wait_for_reports(1, WAIT).await.unwrap();
    c.set_health(Health::Unhealthy); // pushed: reported at once
    let reports = server.wait_for_reports(2, WAIT).await.unwrap();
    assert_eq!(reports[1].health, Health::Unhealthy);
    let reports = server.wait_for_reports(3, WAIT).await.unwrap();
    assert_eq!(
        reports[2].health,
        Health::Healthy,
        "the periodic check answers again"
    );
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_check_counts_as_unhealthy_and_the_worker_goes_on() {
    let server = MockServer::start().await.unwrap();
    let c = client(&server.url())
        .health_check(|| async { panic!("the check's own bug") })
        .build()
        .unwrap();
    c.start().await;
    let reports = server.wait_for_reports(2, WAIT).await.unwrap();
    assert!(reports.iter().all(|r| r.health == Health::Unhealthy));
    assert!(c.is_running());
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_check_slower_than_its_bound_counts_as_degraded_within_the_bound() {
    let server = MockServer::start().await.unwrap();
    let c = client(&server.url())
        .health_check(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Health::Healthy
        })
        .health_check_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let started = Instant::now();
    c.start().await;
    let reports = server.wait_for_reports(2, WAIT).await.unwrap();
    assert_eq!(reports[0].health, Health::Degraded);
    let first_after = reports[0].received_at - started;
    assert!(
        first_after <= Duration::from_millis(550),
        "the first report waited {first_after:?} for the check"
    );
    assert_eq!(reports[1].health, Health::Degraded);
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn stop_does_not_wait_for_a_hung_check() {
    let server = MockServer::start().await.unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let c = client(&server.url())
        .health_check({
            let asked = asked.clone();
            move || {
                asked.fetch_add(1, Ordering::SeqCst);
                std::future::pending()
            }
        })
        .health_check_timeout(S(60))
        .build()
        .unwrap();
    c.start().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    // The paused clock moved only once every task waited: the worker waits on the check.
    assert_eq!(asked.load(Ordering::SeqCst), 1, "the check was asked");
    let t = Instant::now();
    c.stop().await;
    assert!(t.elapsed() < Duration::from_millis(50), "{:?}", t.elapsed());
    assert_eq!(server.report_count(), 0);
}
