//! Refresh on drift: the application reacts when the server expects another configuration
//! version.
//!
//! The crate's mock server (`vortex_client::testing::MockServer`, feature `testing`) stands in
//! for the Vortex server on 127.0.0.1. Once the application has reported `v1`, the "operator"
//! releases `v2`: the server starts expecting it. The next heartbeat comes back with drift; the
//! application "refreshes" its configuration, reports `v2`, and the drift clears.
//!
//! ```text
//! cargo run --example refresh_on_drift
//! ```

use std::time::Duration;

use vortex_client::testing::MockServer;
use vortex_client::HeartbeatClient;

const APP: &str = "payment-service";
const PROFILE: &str = "production";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The stand-in server.
    let server = MockServer::start().await?;

    // The application.
    let client = HeartbeatClient::builder()
        .server_url(server.url())
        .app(APP)
        .profile(PROFILE)
        .config_version("v1")
        .interval(Duration::from_millis(500)) // short, for the demo
        .build()?;
    let mut drift = client.subscribe_drift();
    client.start().await;

    let refresh_loop = async {
        while drift.changed().await.is_ok() {
            let state = drift.borrow_and_update().clone();
            println!(
                "app: reported {:?}, server expects {:?}, drift={:?}",
                state.reported_version, state.expected_version, state.drift_detected
            );
            if let Some(version) = state.refresh_to() {
                println!("app: refreshing configuration to {version} ...");
                // (load the new configuration here)
                client.set_config_version(version);
            } else if state.expected_version.is_none() {
                println!("operator: releasing v2");
                server.set_expected_version(APP, PROFILE, "v2");
            } else {
                println!("app: in sync with the server again");
                return true;
            }
        }
        false
    };
    let in_sync = tokio::time::timeout(Duration::from_secs(10), refresh_loop).await;
    client.stop().await;
    for report in server.reports() {
        println!(
            "  server saw: {}/{} instance {} runs {} ({:?})",
            report.app, report.profile, report.instance_id, report.config_version, report.health
        );
    }
    match in_sync {
        Ok(true) => Ok(()),
        _ => Err("the drift did not clear within 10 s".into()),
    }
}
