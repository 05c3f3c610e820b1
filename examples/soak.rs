//! Soak: one client against an in-process server that answers about half the requests with a
//! random fault (5xx, 4xx, 429/503 with Retry-After, resets, hangs, dripping and 50 MB bodies,
//! garbage), at a fast interval, for a given number of reports. Prints the process's resident
//! memory (Linux: /proc/self/statm) and the reports sent as it goes; memory must stay flat.
//!
//! ```text
//! cargo run --release --example soak               # 10,000 attempts
//! cargo run --release --example soak -- 100000     # more
//! ```
//!
//! Exits with 1 when resident memory grew by more than 8 MiB after the first tenth (the
//! warm-up: allocator arenas, connection pool, TLS roots), or when the loop stopped.

// The soak uses a few of the fault servers' helpers.
#[allow(dead_code)]
#[path = "../tests/it/support/faults.rs"]
mod faults;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use faults::FaultServer;
use vortex_client::{Environment, HeartbeatClient};

const MIB: f64 = 1024.0 * 1024.0;
const ALLOWED_GROWTH: u64 = 8 << 20;

fn rss() -> String {
    faults::rss_bytes().map_or_else(
        || "n/a".to_owned(),
        |b| format!("{:.1} MiB", b as f64 / MIB),
    )
}

#[tokio::main]
async fn main() {
    let target: u64 = match std::env::args().nth(1).map(|a| a.replace('_', "").parse()) {
        None => 10_000,
        Some(Ok(n)) if n >= 10 => n,
        Some(_) => {
            eprintln!("usage: soak [ATTEMPTS (at least 10)]");
            std::process::exit(2);
        }
    };
    let healthy = Arc::new(AtomicBool::new(false));
    let server = FaultServer::start_with(faults::random_faults(2024, healthy.clone())).await;
    let client = match HeartbeatClient::builder()
        .environment(Environment::empty())
        .server_url(server.url())
        .app("soak")
        .profile("test")
        .instance_id("soak-1")
        .config_version("v0")
        .interval(Duration::from_millis(5))
        .timeout(Duration::from_millis(50))
        .initial_retry_delay(Duration::from_millis(1))
        .max_retry_delay(Duration::from_millis(20))
        .min_report_gap(Duration::from_millis(5))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            eprintln!("cannot build the client: {e}");
            std::process::exit(2);
        }
    };
    let mut status = client.subscribe();
    client.start().await;

    println!(
        "soak: {target} attempts, about half of them faulty; RSS at start {}",
        rss()
    );
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>12}",
        "elapsed", "attempts", "sent", "failed", "RSS"
    );
    let started = Instant::now();
    let step = (target / 10).max(1);
    let mut next_print = step;
    let mut warm_rss = None;
    let mut version = 0u64;
    let mut next_change = 25;
    while status.changed().await.is_ok() {
        let s = status.borrow_and_update().clone();
        let attempts = s.reports_accepted + s.reports_failed;
        if attempts >= next_change {
            // Changes keep coming: bodies are rebuilt and on-demand reports mix in.
            version += 1;
            client.set_config_version(format!("v{version}"));
            next_change += 25;
        }
        if attempts >= next_print {
            println!(
                "{:>7.1}s {attempts:>10} {:>10} {:>10} {:>12}",
                started.elapsed().as_secs_f64(),
                s.reports_accepted,
                s.reports_failed,
                rss()
            );
            if warm_rss.is_none() {
                warm_rss = faults::rss_bytes();
            }
            next_print += step;
        }
        if attempts >= target {
            break;
        }
    }
    let running = client.is_running();

    // The server heals: the latest version must arrive.
    healthy.store(true, Ordering::SeqCst);
    let latest = format!("v{version}");
    let delivered = tokio::time::timeout(Duration::from_secs(10), async {
        while status.changed().await.is_ok() {
            let s = status.borrow_and_update().clone();
            if s.consecutive_failures == 0 && s.drift.reported_version.as_deref() == Some(&latest) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    client.stop().await;

    let growth = match (warm_rss, faults::rss_bytes()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    println!(
        "server read {} requests; the loop {}; after healing, {latest} {}",
        server.requests(),
        if running { "kept going" } else { "STOPPED" },
        if delivered {
            "was delivered"
        } else {
            "was NOT delivered"
        },
    );
    match growth {
        Some(g) => println!(
            "RSS growth after warm-up: {:.2} MiB (allowed {:.0} MiB)",
            g as f64 / MIB,
            ALLOWED_GROWTH as f64 / MIB
        ),
        None => println!("RSS growth after warm-up: n/a (no /proc/self/statm)"),
    }
    if !running || !delivered || growth.is_some_and(|g| g > ALLOWED_GROWTH) {
        std::process::exit(1);
    }
}
