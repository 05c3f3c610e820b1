//! Refresh on drift: the application reacts when the server expects another configuration
//! version.
//!
//! An embedded receiver implements the server's heartbeat endpoint on 127.0.0.1 (see
//! shared/CONTRACT.md). Once the application has reported `v1`, the "operator" releases `v2`:
//! the receiver starts expecting it. The next heartbeat comes back with drift; the application
//! "refreshes" its configuration, reports `v2`, and the drift clears.
//!
//! ```text
//! cargo run --example refresh_on_drift
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use vortex_client::HeartbeatClient;

/// What the receiver reads from a report (the server ignores what it does not know).
#[derive(Deserialize)]
struct Report {
    instance_id: String,
    config_version: String,
    #[serde(default)]
    health: Option<String>,
}

/// The version the receiver expects; `None` until the operator releases one.
type Expected = Arc<Mutex<Option<String>>>;

/// `POST /api/drift/heartbeat/{app}/{profile}`: register, and decide drift against the
/// expected version.
async fn heartbeat(
    State(expected): State<Expected>,
    Path((app, profile)): Path<(String, String)>,
    Json(report): Json<Report>,
) -> Json<Value> {
    let expected = expected.lock().map(|e| e.clone()).unwrap_or_default();
    let drift = expected
        .as_deref()
        .is_some_and(|e| e != report.config_version);
    println!(
        "  server: {app}/{profile} instance {} runs {} ({}); expects {expected:?} -> drift={drift}",
        report.instance_id,
        report.config_version,
        report.health.as_deref().unwrap_or("healthy"),
    );
    Json(json!({
        "registered": true,
        "expected_version": expected,
        "drift_detected": drift,
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The embedded server.
    let expected: Expected = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = Router::new()
        .route("/api/drift/heartbeat/{app}/{profile}", post(heartbeat))
        .with_state(expected.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    // The application.
    let client = HeartbeatClient::builder()
        .server_url(format!("http://{addr}"))
        .app("payment-service")
        .profile("production")
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
                if let Ok(mut e) = expected.lock() {
                    *e = Some("v2".to_owned());
                }
            } else {
                println!("app: in sync with the server again");
                return true;
            }
        }
        false
    };
    let in_sync = tokio::time::timeout(Duration::from_secs(10), refresh_loop).await;
    client.stop().await;
    match in_sync {
        Ok(true) => Ok(()),
        _ => Err("the drift did not clear within 10 s".into()),
    }
}
