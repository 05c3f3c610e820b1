//! The quickstart: a heartbeat client from start to stop.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Without `VORTEX_URL` it starts the crate's mock server (`vortex_client::testing`, feature
//! `testing`, which the crate's dev-dependencies turn on) on 127.0.0.1 and walks through start,
//! drift detected, version updated, drift cleared, stop, showing at each step what the
//! client's drift watch says and what the mock server recorded. With `VORTEX_URL` (and optionally `VORTEX_APP`, `VORTEX_PROFILE`)
//! it reports to that server; a failure ends the program with a one-line error and a
//! non-zero exit code. `RUST_LOG` sets the log level (`debug`, `warn`, ...; default `info`).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::time::timeout;
use vortex_client::testing::MockServer;
use vortex_client::{HeartbeatClient, HeartbeatStatus};

const APP: &str = "payment-service";
const PROFILE: &str = "production";

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> ExitCode {
    // Without a subscriber the SDK's logs (its errors included) go nowhere.
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .init();

    let outcome = match std::env::var("VORTEX_URL") {
        Ok(url) if !url.trim().is_empty() => against_a_real_server().await,
        _ => walkthrough().await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Display, not Debug: the SDK's errors are written to be read as they are.
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Reports once to the server named by `VORTEX_URL`, then stops.
async fn against_a_real_server() -> Result<(), Error> {
    let mut builder = HeartbeatClient::builder().config_version("quickstart");
    // VORTEX_URL, VORTEX_APP, VORTEX_PROFILE, ... are read by build(); defaults for a demo:
    if std::env::var("VORTEX_APP").is_err() && std::env::var("OTEL_SERVICE_NAME").is_err() {
        builder = builder.app("vortex-quickstart");
    }
    if std::env::var("VORTEX_PROFILE").is_err() && std::env::var("SPRING_PROFILES_ACTIVE").is_err()
    {
        builder = builder.profile("default");
    }
    let client = builder.build()?;
    println!("Reporting to {:?}", client);
    println!("Detected metadata: {:#?}", client.metadata().await);
    let answer = client.report_now().await?;
    println!("Server answered: {answer:?}");
    Ok(())
}

async fn walkthrough() -> Result<(), Error> {
    println!("== vortex-client quickstart ==\n");
    let server = MockServer::start().await?;
    server.set_expected_version(APP, PROFILE, "v2.3.5");
    println!(
        "1. A mock Vortex server runs at {} and expects version v2.3.5.",
        server.url()
    );

    let client = HeartbeatClient::builder()
        .server_url(server.url())
        .app(APP)
        .profile(PROFILE)
        .interval(Duration::from_secs(30))
        .metadata("team", "platform")
        .app_version(env!("CARGO_PKG_VERSION"))
        .config_version("v2.3.4")
        .build()?;
    println!(
        "2. The client is built: instance id {:?}, running config v2.3.4.",
        client.config().instance_id
    );
    println!("   Detected metadata: {:?}", client.metadata().await);

    let t = Instant::now();
    client.start().await;
    println!(
        "3. start() returned in {:?}: it never waits on the network. The first report goes out now, in the background.",
        t.elapsed()
    );

    let mut status = client.subscribe();
    let s = wait_for(&mut status, |s| s.reports_accepted >= 1).await?;
    println!(
        "4. The server answered: expected {:?}, drift detected = {:?}.",
        s.drift.expected_version.as_deref().unwrap_or("-"),
        s.drift.drift_detected
    );
    both_sides(&client, &server);

    println!("5. The application loads v2.3.5 and says so: client.set_config_version(\"v2.3.5\").");
    let t = Instant::now();
    client.set_config_version("v2.3.5");
    let s = wait_for(&mut status, |s| {
        s.drift.reported_version.as_deref() == Some("v2.3.5")
    })
    .await?;
    println!(
        "6. Reported on demand {:?} later (the interval is 30 s): drift detected = {:?}.",
        t.elapsed(),
        s.drift.drift_detected
    );
    both_sides(&client, &server);

    let t = Instant::now();
    client.stop().await;
    println!(
        "7. stop() returned in {:?}; running = {}. Reports accepted: {}, failed: {}.",
        t.elapsed(),
        client.is_running(),
        s.reports_accepted,
        s.reports_failed
    );
    let recorded = server.last_report().map(|r| r.config_version);
    if s.drift.drift_detected != Some(false) || recorded.as_deref() != Some("v2.3.5") {
        return Err("drift should have cleared".into());
    }
    if !server.rejections().is_empty() {
        return Err(format!("the server refused: {:?}", server.rejections()).into());
    }
    println!("\nDone. Point VORTEX_URL at a real server to report there instead.");
    Ok(())
}

/// Prints what the client knows of drift and the last report the mock server recorded.
fn both_sides(client: &HeartbeatClient, server: &MockServer) {
    let drift = client.status().drift;
    match drift.refresh_to() {
        Some(version) => println!("   The client's drift facts: refresh to {version}."),
        None => println!("   The client's drift facts: no drift."),
    }
    if let Some(report) = server.last_report() {
        println!("   The mock server recorded: {}", report.body);
    }
}

/// Waits (at most 5 s) until the client's status satisfies `done`.
async fn wait_for(
    status: &mut tokio::sync::watch::Receiver<HeartbeatStatus>,
    done: impl FnMut(&HeartbeatStatus) -> bool,
) -> Result<HeartbeatStatus, Error> {
    let seen = timeout(Duration::from_secs(5), status.wait_for(done))
        .await
        .map_err(|_| "the server did not answer within 5 s")??;
    Ok(seen.clone())
}
