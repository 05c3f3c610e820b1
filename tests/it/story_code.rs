//! The code of the user's story, as its user wrote it: its usage examples and its own tests
//! compile against the crate's API and pass. Each keeps the story's code and differs only
//! where the API's signatures ask (`build()?`, `new(config)?`) and in the server address,
//! which is a loopback receiver here.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use vortex_client::testing::MockServer;
use vortex_client::{Environment, HeartbeatClient, HeartbeatConfig};

/// The story's main usage example.
async fn story_usage_example(server_url: &str) {
    // Create client with minimal config
    let client = HeartbeatClient::builder()
        .server_url(server_url)
        .app("payment-service")
        .profile("production")
        .instance_id("payment-service-7d4f9b8c-abc12")
        .build()
        .expect("Failed to create heartbeat client");

    // Start background reporting
    client.start().await;

    // Update config version when it changes
    client.set_config_version("v2.3.4");

    // Application runs...

    // Graceful shutdown
    client.stop().await;
}

/// The story's lib.rs quick start.
async fn story_quick_start(server_url: &str) {
    let client = HeartbeatClient::builder()
        .server_url(server_url)
        .app("my-service")
        .profile("production")
        .build()
        .expect("Failed to create client");

    // Set initial config version
    client.set_config_version("v1.2.3");

    // Start background reporting
    client.start().await;

    // On shutdown
    client.stop().await;
}

/// The story's integration example (`anyhow::Result` becomes a boxed error; the variables are
/// injected instead of read from the process, and the client is given the same ones).
async fn story_integration_example(
    vars: &[(&str, String)],
) -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    let url = var("VORTEX_URL").ok_or("VORTEX_URL")?;
    // Create heartbeat client
    let heartbeat = HeartbeatClient::builder()
        .environment(Environment::from_vars(vars.iter().cloned()))
        .server_url(url)
        .app("my-service")
        .profile(var("PROFILE").unwrap_or("default".into()))
        .metadata("team", "platform")
        .build()?;

    // Set initial config version
    heartbeat.set_config_version("1.0.0");

    // Start background reporting
    heartbeat.start().await;

    // On shutdown
    heartbeat.stop().await;

    Ok(())
}

#[tokio::test]
async fn story_examples_run_against_a_receiver() {
    let rx = MockServer::start().await.unwrap();
    story_usage_example(&rx.url()).await;
    story_quick_start(&rx.url()).await;
    let vars = [("VORTEX_URL", rx.url()), ("PROFILE", "staging".into())];
    story_integration_example(&vars).await.unwrap();
    // Each example stops right after starting: stop() is immediate when no request is in
    // flight, so the reports that did go out (if any) must have the right shape.
    for r in rx.reports() {
        assert!(r.path.starts_with("/api/drift/heartbeat/"), "{}", r.path);
        assert!(r.json()["instance_id"].is_string());
    }
    assert!(rx.rejections().is_empty(), "{:?}", rx.rejections());
}

#[test]
fn test_config_builder_validates_required_fields() {
    let builder = || HeartbeatClient::builder().environment(Environment::empty());
    let result = builder().build();
    assert!(result.is_err());

    let result = builder().server_url("http://localhost:8080").build();
    assert!(result.is_err()); // Missing app

    let result = builder()
        .server_url("http://localhost:8080")
        .app("myapp")
        .profile("prod")
        .build();
    assert!(result.is_ok());
}

#[test]
fn test_config_generates_instance_id() {
    let client = HeartbeatClient::builder()
        .environment(Environment::empty())
        .server_url("http://localhost:8080")
        .app("myapp")
        .profile("prod")
        .build()
        .unwrap();

    assert!(!client.config().instance_id.is_empty());
}

#[tokio::test]
async fn test_metadata_collector() {
    let client = HeartbeatClient::builder()
        .environment(Environment::empty())
        .server_url("http://127.0.0.1:9")
        .app("myapp")
        .profile("prod")
        .build()
        .unwrap();
    let metadata = client.metadata().await;

    // Hostname should be detected on most systems
    assert!(metadata.hostname.is_some());
}

#[tokio::test]
async fn test_client_start_stop() {
    let config = HeartbeatConfig {
        server_url: "http://127.0.0.1:9".to_string(),
        app: "test".to_string(),
        profile: "test".to_string(),
        instance_id: "test-instance".to_string(),
        interval: Duration::from_secs(60),
        environment: Environment::empty(),
        ..Default::default()
    };

    let client = HeartbeatClient::new(config).unwrap();

    assert!(!client.is_running());

    // Note: start() will fail to connect, but should not panic
    client.start().await;
    assert!(client.is_running());

    client.stop().await;
    assert!(!client.is_running());
}

#[tokio::test]
async fn test_client_config_version() {
    let config = HeartbeatConfig {
        server_url: "http://localhost:8080".to_string(),
        app: "test".to_string(),
        profile: "test".to_string(),
        instance_id: "test-instance".to_string(),
        ..Default::default()
    };

    let client = HeartbeatClient::new(config).unwrap();

    assert_eq!(client.config_version(), "unknown");

    client.set_config_version("v1.2.3");
    assert_eq!(client.config_version(), "v1.2.3");

    client.set_config_version("v2.0.0");
    assert_eq!(client.config_version(), "v2.0.0");
}

/// The story's integration test, with its own axum server and route; it waits for the three
/// heartbeats (initial + 2 intervals) instead of sleeping a fixed 350 ms.
#[tokio::test]
async fn test_heartbeat_sends_to_server() {
    // Start a mock server
    let heartbeat_count = Arc::new(AtomicU32::new(0));
    let count_clone = heartbeat_count.clone();

    let app = Router::new().route(
        "/api/drift/heartbeat/{app}/{profile}",
        post(move |Json(_body): Json<serde_json::Value>| async move {
            count_clone.fetch_add(1, Ordering::SeqCst);
            Json(serde_json::json!({
                "registered": true,
                "expected_version": null,
                "drift_detected": false
            }))
        }),
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();

    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });

    // Create client pointing to mock server
    let config = HeartbeatConfig {
        server_url: format!("http://{}", addr),
        app: "test-app".to_string(),
        profile: "test".to_string(),
        instance_id: "test-instance".to_string(),
        interval: Duration::from_millis(100),
        ..Default::default()
    };

    let client = HeartbeatClient::new(config).unwrap();
    client.set_config_version("v1.0.0");
    client.start().await;

    // Wait for a few heartbeats
    let mut status = client.subscribe();
    tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| s.reports_accepted >= 3),
    )
    .await
    .unwrap()
    .unwrap();

    client.stop().await;

    // Should have sent at least 3 heartbeats (initial + 2 interval)
    assert!(heartbeat_count.load(Ordering::SeqCst) >= 3);
}
