//! Timing policy of the background worker, observed over real loopback HTTP under tokio's
//! paused clock: virtual time only moves when every task waits on a timer, so the gaps seen by
//! the receiver are the schedule's delays, whatever the machine's load.

use std::time::Duration;

use crate::support;
use crate::support::replies::{answering, failures};
use crate::support::schedule::{jitter, nominal_retry_delay};
use tokio::time::Instant;
use vortex_client::testing::{MockServer, Reply, Report};
use vortex_client::{HeartbeatBuilder, HeartbeatClient};

const S: fn(u64) -> Duration = Duration::from_secs;
const WAIT: Duration = Duration::from_secs(600);

/// The schedule these tests measure against: a 30 s interval, backoff from 1 s up to 60 s.
fn client(url: &str) -> HeartbeatBuilder<HeartbeatClient> {
    support::client(url)
        .interval(S(30))
        .initial_retry_delay(S(1))
        .max_retry_delay(S(60))
}

fn gaps(reports: &[Report]) -> Vec<Duration> {
    reports
        .windows(2)
        .map(|w| w[1].received_at - w[0].received_at)
        .collect()
}

fn within(d: Duration, lo: Duration, hi: Duration) -> bool {
    // A few virtual milliseconds of slack for the request itself.
    d + Duration::from_millis(50) >= lo && d <= hi + Duration::from_millis(50)
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_with_jitter_then_the_interval_resumes() {
    let rx = MockServer::start().await.unwrap();
    rx.script(failures(503, 8));
    let c = client(&rx.url()).build().unwrap();
    c.start().await;
    let reports = rx.wait_for_reports(10, WAIT).await.unwrap();
    let gaps = gaps(&reports);
    for (i, gap) in gaps.iter().take(8).enumerate() {
        let nominal = nominal_retry_delay(i as u32 + 1, S(1), S(60));
        assert!(
            within(*gap, nominal / 2, nominal.mul_f64(1.5).min(S(60))),
            "gap {i} = {gap:?}, nominal {nominal:?}; all gaps {gaps:?}"
        );
    }
    // After the first success, the normal (jittered) interval.
    assert!(within(gaps[8], S(27), S(33)), "{gaps:?}");
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let rx = MockServer::start().await.unwrap();
    rx.script([
        Reply::RetryAfter(429, "20".into()),
        Reply::RetryAfter(503, "7".into()),
    ]);
    let c = client(&rx.url()).build().unwrap();
    c.start().await;
    let gaps = gaps(&rx.wait_for_reports(3, WAIT).await.unwrap());
    // Never earlier than asked; at most the jitter's upper end later.
    let most = jitter::RETRY_AFTER.1;
    assert!(within(gaps[0], S(20), S(20).mul_f64(most)), "{gaps:?}");
    // The second failure's backoff (nominal 2 s) is shorter than Retry-After 7 s: 7 s wins.
    assert!(within(gaps[1], S(7), S(7).mul_f64(most)), "{gaps:?}");
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_keep_the_normal_interval() {
    let rx = answering(404).await;
    let c = client(&rx.url()).build().unwrap();
    c.start().await;
    let gaps = gaps(&rx.wait_for_reports(4, WAIT).await.unwrap());
    // No hammering: every gap is the normal interval.
    for gap in &gaps {
        assert!(within(*gap, S(27), S(33)), "{gaps:?}");
    }
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_successful_report_restarts_the_interval() {
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url()).build().unwrap();
    c.start().await;
    rx.wait_for_reports(2, WAIT).await.unwrap();
    tokio::time::sleep(S(10)).await;
    c.set_config_version("v2");
    let on_demand = rx.wait_for_version("v2", WAIT).await.unwrap();
    let reports = rx.wait_for_reports(4, WAIT).await.unwrap();
    let next = &reports[3];
    let gap = next.received_at - on_demand.received_at;
    // The countdown restarts with a fresh phase (the first delay's range), so that a fleet
    // that reported a config push in the same second does not stay in lockstep.
    let (lo, hi) = jitter::FIRST;
    assert!(
        within(gap, S(30).mul_f64(lo), S(30).mul_f64(hi)),
        "next periodic {gap:?} after the on-demand report"
    );
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn on_demand_reports_are_rate_limited_with_a_burst() {
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url())
        .config_version("v0")
        .report_burst(3)
        .min_report_gap(S(1))
        .build()
        .unwrap();
    c.start().await;
    rx.wait_for_reports(1, WAIT).await.unwrap();
    let t0 = Instant::now();
    // Ten changes, 100 ms apart: the burst goes out at once, then one per gap.
    for i in 1..=10 {
        c.set_config_version(format!("v{i}"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = rx.wait_for_version("v10", WAIT).await.unwrap();
    let on_demand: Vec<_> = rx.reports().into_iter().skip(1).collect();
    assert!(
        on_demand.len() <= 3 + 2,
        "10 changes in 1 s at burst 3, gap 1 s: at most 5 reports, got {}",
        on_demand.len()
    );
    assert!(
        last.received_at - t0 <= S(3),
        "the last value is not held back for long"
    );
    // Never more than the burst plus one per elapsed gap, in any window.
    for i in 0..on_demand.len() {
        for j in i..on_demand.len() {
            let span = (on_demand[j].received_at - on_demand[i].received_at).as_secs_f64() + 0.05;
            let allowed = 3 + span.floor() as usize;
            assert!(j - i < allowed, "{:?}", gaps(&on_demand));
        }
    }
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn stop_in_backoff_takes_no_time() {
    let rx = answering(503).await;
    let c = client(&rx.url()).build().unwrap();
    c.start().await;
    rx.wait_for_reports(3, WAIT).await.unwrap();
    let before = Instant::now();
    c.stop().await;
    assert_eq!(
        Instant::now() - before,
        Duration::ZERO,
        "stop() waited on a timer"
    );
    let n = rx.report_count();
    tokio::time::sleep(S(600)).await;
    assert_eq!(rx.report_count(), n, "nothing is sent after stop()");
}

#[tokio::test(start_paused = true)]
async fn stop_gives_a_request_in_flight_exactly_the_grace() {
    let rx = MockServer::start().await.unwrap();
    rx.set_default_reply(Reply::Hang);
    let c = client(&rx.url()).stop_grace(S(1)).build().unwrap();
    c.start().await;
    rx.wait_for_reports(1, WAIT).await.unwrap();
    let before = Instant::now();
    c.stop().await;
    let took = Instant::now() - before;
    assert!(
        took >= S(1) && took <= Duration::from_millis(1100),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn changes_during_backoff_ride_on_the_next_attempt() {
    let rx = MockServer::start().await.unwrap();
    rx.script(failures(500, 4));
    let c = client(&rx.url()).build().unwrap();
    c.start().await;
    rx.wait_for_reports(2, WAIT).await.unwrap();
    for i in 2..=20 {
        c.set_config_version(format!("v{i}"));
    }
    let reports = rx.wait_for_reports(5, WAIT).await.unwrap();
    // No extra requests against the failing server: the gaps stay the backoff's.
    let gaps = gaps(&reports);
    for (i, gap) in gaps.iter().take(4).enumerate() {
        let nominal = nominal_retry_delay(i as u32 + 1, S(1), S(60));
        assert!(within(*gap, nominal / 2, nominal.mul_f64(1.5)), "{gaps:?}");
    }
    assert_eq!(reports[2].config_version, "v20");
    assert_eq!(reports[4].config_version, "v20");
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_late_answer_to_an_older_version_does_not_roll_the_status_back() {
    let rx = MockServer::start().await.unwrap();
    rx.set_expected_version("app", "prod", "v2");
    // The first request (v1) is answered 3 s late (within the timeout); the second (v2) at once.
    rx.script([Reply::Delay(S(3)), Reply::Accept]);
    let c = client(&rx.url()).build().unwrap();
    let slow = c.report_now();
    let fast = async {
        rx.wait_for_reports(1, WAIT).await.unwrap();
        c.set_config_version("v2");
        c.report_now().await
    };
    let (slow, fast) = tokio::join!(slow, fast);
    assert!(slow.unwrap().drift_detected, "v1 drifted from v2");
    assert!(!fast.unwrap().drift_detected);
    let s = c.status();
    assert_eq!(s.reports_accepted, 2);
    assert_eq!(s.drift.reported_version.as_deref(), Some("v2"));
    assert_eq!(
        s.drift.drift_detected,
        Some(false),
        "the late answer about v1 won: {s:?}"
    );
    assert_eq!(c.status().drift.drift_detected, Some(false));
}
