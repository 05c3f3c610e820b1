//! A mock Vortex Config server for tests of the services that embed the client (feature
//! `testing`).
//!
//! [`MockServer`] serves `POST /api/drift/heartbeat/{app}/{profile}` on a loopback port, as the
//! wire contract says. It checks each body against the server's model (an object of
//! `instance_id` and `config_version` strings, an optional `health` and `metadata`): not JSON
//! is 400, the wrong shape 422, over 64 KiB 413, another `Content-Type` 415. A
//! well-formed heartbeat is recorded as a typed [`Report`] and answered
//! `{registered, expected_version, drift_detected}` against the version set with
//! [`MockServer::set_expected_version`], or as scripted with [`Reply`] (statuses,
//! `Retry-After`, delays, raw bodies, a hang). Optionally an auth gateway stands in front
//! ([`MockServerBuilder::require_bearer_token`]). Nothing else is served: the server's read
//! side (drift reports, instance lists) is the server's, not the SDK's.
//!
//! Tests wait for reports with a deadline ([`MockServer::next_report`],
//! [`MockServer::wait_for_version`]) instead of sleeping; time is tokio's, so under
//! `#[tokio::test(start_paused = true)]` delays pass in virtual time.
//!
//! A test of a service's reload-on-drift logic, with no sleep:
//!
//! ```
//! use std::time::Duration;
//! use vortex_client::{testing::MockServer, HeartbeatClient};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = MockServer::start().await?; // in your #[tokio::test]
//! server.set_expected_version("payment-service", "production", "v2");
//! let client = HeartbeatClient::builder()
//!     .server_url(server.url())
//!     .app("payment-service")
//!     .profile("production")
//!     .config_version("v1")
//!     .build()?;
//! let mut drift = client.subscribe_drift();
//! client.start().await;
//!
//! // The first answer says drift: the watch fires.
//! let within = Duration::from_secs(10);
//! let state = tokio::time::timeout(within, drift.wait_for(|s| s.drift_detected == Some(true)))
//!     .await??
//!     .clone();
//! assert_eq!(state.refresh_to(), Some("v2"));
//!
//! // The service loads v2 and says so: the server hears it, the drift clears.
//! client.set_config_version("v2");
//! server.wait_for_version("v2", within).await?;
//! tokio::time::timeout(within, drift.wait_for(|s| s.drift_detected == Some(false))).await??;
//! assert!(server.rejections().is_empty(), "every body fit the server's model");
//! client.stop().await;
//! # Ok(())
//! # }
//! ```
//!
//! The feature adds `hyper`'s server side (the client already builds hyper through `reqwest`);
//! enable it for tests only:
//!
//! ```toml
//! [dev-dependencies]
//! vortex-client = { version = "0.1", features = ["testing"] }
//! ```

mod http;
mod model;
mod server;
mod state;
mod wait;

pub use model::{Rejection, Reply, Report, ReportedMetadata};
pub use server::{MockServer, MockServerBuilder};
pub use wait::WaitError;
