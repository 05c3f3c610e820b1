//! A mock Vortex Config server for tests of the services that embed the client (feature
//! `testing`).
//!
//! [`MockServer`] serves the server's drift API on a loopback port, as the wire contract says:
//!
//! - `POST /api/drift/heartbeat/{app}/{profile}` checks the body against the server's model
//!   (an object of `instance_id` and `config_version` strings, `health` one of `healthy`,
//!   `degraded`, `unhealthy`, an optional `metadata` object with a `custom` map of strings): a
//!   body that is not JSON gets 400, JSON of the wrong shape 422 (an array where the model has
//!   an object included). A well-formed one is recorded as a typed [`Report`]
//!   and answered `{registered, expected_version, drift_detected}`, or as scripted with
//!   [`Reply`] (status codes, `Retry-After`, delays, raw bodies, a connection that hangs).
//! - The read side an operator uses: `GET /api/drift/drift/{app}/{profile}` ([`DriftReport`]),
//!   `GET /api/drift/drift` ([`DriftSummary`]), `GET /api/drift/instances/{app}/{profile}`
//!   ([`InstanceList`]), with the server's TTL (5 min), drift grace period (60 s) and alert
//!   rule (at least 5 instances, at least 10 % drifted), all settable.
//! - Optionally, an auth gateway in front: every request must carry a bearer token
//!   ([`MockServerBuilder::require_bearer_token`]) or Basic credentials
//!   ([`MockServerBuilder::require_basic_auth`]), else 401 with a `WWW-Authenticate` challenge.
//!
//! Tests wait for reports with a deadline ([`MockServer::next_report`],
//! [`MockServer::wait_for_version`]) instead of sleeping. Time is tokio's: under
//! `#[tokio::test(start_paused = true)]` delays, the TTL and the grace period pass in virtual
//! time.
//!
//! A test of a service's reload-on-drift logic, start to end, with no sleep:
//!
//! ```
//! use std::time::Duration;
//! use vortex_client::testing::MockServer;
//! use vortex_client::HeartbeatClient;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In your crate: #[tokio::test] async fn reloads_on_drift() { ... }
//! let server = MockServer::start().await?;
//! server.set_expected_version("payment-service", "production", "v2");
//! server.set_drift_grace(Duration::ZERO); // count drift at once in the drift report
//!
//! let client = HeartbeatClient::builder()
//!     .server_url(server.url())
//!     .app("payment-service")
//!     .profile("production")
//!     .config_version("v1")
//!     .build()?;
//! let mut drift = client.subscribe_drift();
//! client.start().await;
//!
//! // The first report comes back with drift: the watch fires.
//! let within = Duration::from_secs(10);
//! let state = tokio::time::timeout(within, drift.wait_for(|s| s.drift_detected == Some(true)))
//!     .await??
//!     .clone();
//! assert_eq!(state.refresh_to(), Some("v2"));
//! assert_eq!(server.drift_report("payment-service", "production").drifted, 1);
//!
//! // The service loads v2 and says so: the new version is reported, the drift clears.
//! client.set_config_version("v2");
//! server.wait_for_version("v2", within).await?;
//! tokio::time::timeout(within, drift.wait_for(|s| s.drift_detected == Some(false))).await??;
//! assert_eq!(server.drift_report("payment-service", "production").drifted, 0);
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

mod auth;
mod clock;
mod control;
mod fleet;
mod http;
mod model;
mod reply;
mod routes;
mod server;
mod state;
mod views;
mod wait;

pub use http::MAX_BODY_BYTES;
pub use model::{Rejection, Report, ReportedMetadata};
pub use reply::Reply;
pub use server::{MockServer, MockServerBuilder};
pub use views::{
    DriftReport, DriftSummary, DriftedInstance, InstanceList, LiveInstance, ALERT_MIN_INSTANCES,
    DEFAULT_ALERT_THRESHOLD, DEFAULT_DRIFT_GRACE, DEFAULT_TTL,
};
pub use wait::WaitError;
