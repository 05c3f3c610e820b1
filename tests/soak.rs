//! Memory, measured in a process of its own.
//!
//! A short soak: a few hundred reports against a server that answers with a random fault about
//! half the time. The loop must keep going, memory must stay flat, and once the server heals
//! the latest version must arrive. (`examples/soak.rs` is the long version.) And answers of
//! 50 MB: the client reads a bounded prefix of each, so they leave memory flat (`faults.rs` in
//! the main binary checks the rest of what becomes of them).
//!
//! Memory is checked on Linux, where `/proc` gives the resident memory; the check does not
//! exist elsewhere. Runs on tokio's paused clock, so timeouts and backoff cost virtual time
//! only.
//!
//! A binary of its own, apart from `tests/it/`: it measures the process's resident memory,
//! which is process-wide, and tests running beside it in one process would grow it. For the
//! same reason its own tests take turns (`ALONE`).

#[path = "it/support/builders.rs"]
mod builders;
// These tests use a few of the fault servers' helpers.
#[allow(dead_code)]
#[path = "it/support/faults.rs"]
mod faults;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use faults::{Attempts, FaultServer};
use tokio::sync::Mutex;

const ATTEMPTS: usize = 400;
#[cfg(target_os = "linux")]
const WARM_UP: usize = 100;
#[cfg(target_os = "linux")]
const MIB: u64 = 1 << 20;

/// Held by each test for its whole run: one test's memory must not count against another's.
static ALONE: Mutex<()> = Mutex::const_new(());

#[tokio::test(start_paused = true)]
async fn a_few_hundred_reports_through_random_faults_keep_memory_flat() {
    let _alone = ALONE.lock().await;
    let healthy = Arc::new(AtomicBool::new(false));
    let server = FaultServer::start_with(faults::random_faults(7, healthy.clone())).await;
    let c = builders::client(&server.url())
        .config_version("v0")
        .interval(Duration::from_secs(1))
        .timeout(Duration::from_millis(500))
        .initial_retry_delay(Duration::from_millis(100))
        .max_retry_delay(Duration::from_secs(1))
        .build()
        .unwrap();
    let attempts = Attempts::watch(&c);
    c.start().await;

    let within = Duration::from_secs(24 * 3600);
    #[cfg(target_os = "linux")]
    let mut rss_after_warm_up = 0;
    let mut version = 0;
    for n in (10..=ATTEMPTS).step_by(10) {
        attempts.wait(n, within).await;
        // Changes keep coming, so bodies are rebuilt and on-demand reports mix in.
        version += 1;
        c.set_config_version(format!("v{version}"));
        #[cfg(target_os = "linux")]
        if n == WARM_UP {
            rss_after_warm_up = faults::rss_bytes().expect("resident memory from /proc/self/statm");
        }
    }
    assert!(c.is_running(), "the loop stopped");
    let log = attempts.log();
    let last = &log.last().unwrap().1;
    assert!(last.reports_accepted > 50, "{last:?}");
    assert!(last.reports_failed > 50, "{last:?}");
    assert!(server.requests() >= ATTEMPTS as u64);

    // Resident memory is read from /proc: this check exists on Linux only.
    #[cfg(target_os = "linux")]
    {
        let rss = faults::rss_bytes().expect("resident memory from /proc/self/statm");
        let growth = rss.saturating_sub(rss_after_warm_up);
        assert!(
            growth < 8 * MIB,
            "RSS grew by {:.1} MiB over {} attempts after warm-up",
            growth as f64 / MIB as f64,
            ATTEMPTS - WARM_UP
        );
    }

    // The server heals: the latest version arrives and stays.
    healthy.store(true, Ordering::SeqCst);
    let latest = format!("v{version}");
    let log = attempts.wait_success(within).await;
    let log = attempts.wait(log.len() + 2, within).await;
    for (_, s) in &log[log.len() - 3..] {
        assert_eq!(s.consecutive_failures, 0);
        assert_eq!(s.drift.reported_version.as_deref(), Some(latest.as_str()));
    }
    c.stop().await;
}

/// Answers of 50 MB, announced in `Content-Length` or chunked: after two to warm up, ten more
/// leave resident memory flat, since the client reads a bounded prefix of each and drops the
/// connection.
#[cfg(target_os = "linux")]
#[tokio::test(start_paused = true)]
async fn answers_of_50_mb_keep_memory_flat() {
    use faults::Fault;
    use vortex_client::ReporterError;

    let _alone = ALONE.lock().await;
    for fault in [Fault::Huge(50 << 20), Fault::HugeChunked(50 << 20)] {
        let server = FaultServer::start(fault.clone()).await;
        let c = builders::client(&server.url())
            .timeout(Duration::from_secs(2))
            .max_retries(1)
            .build()
            .unwrap();
        for _ in 0..2 {
            let _ = c.report_now().await;
        }
        let rss_before = faults::rss_bytes().expect("resident memory from /proc/self/statm");
        for _ in 0..10 {
            let err = c.report_now().await.unwrap_err();
            assert!(
                matches!(err, ReporterError::ResponseTooLarge { .. }),
                "{fault:?}: {err:?}"
            );
        }
        let rss = faults::rss_bytes().expect("resident memory from /proc/self/statm");
        let growth = rss.saturating_sub(rss_before);
        assert!(
            growth < 16 * MIB,
            "{fault:?}: RSS grew by {} MiB",
            growth / MIB
        );
    }
}
