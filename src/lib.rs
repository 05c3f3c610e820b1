//! # vortex-client
//!
//! The heartbeat SDK for the Vortex Config server. A service embeds a [`HeartbeatClient`]; the
//! client tells the server, in the background, which configuration version this instance runs,
//! so that the server can flag drift between what it expects and what runs.
//!
//! ```no_run
//! use std::time::Duration;
//! use vortex_client::HeartbeatClient;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let client = HeartbeatClient::builder()
//!         .server_url("http://vortex-config:8080")
//!         .app("payment-service")
//!         .profile("production")
//!         .interval(Duration::from_secs(30))
//!         .metadata("team", "platform")
//!         .config_version("v2.3.4")
//!         .build()?;
//!
//!     client.start().await; // never waits on the network
//!
//!     // When the application loads a new configuration:
//!     client.set_config_version("v2.3.5"); // reported within moments
//!
//!     // On shutdown:
//!     client.stop().await;
//!     Ok(())
//! }
//! ```
//!
//! What the client guarantees:
//!
//! - `start()` returns at once, also when the server is down; the first report goes out
//!   immediately in the background.
//! - Reports repeat every `interval` (jittered, so a fleet started together spreads out).
//! - A version or health change is reported promptly, coalesced and rate-limited.
//! - Failures back off exponentially with jitter (1 s, 2 s, 4 s ... capped at 60 s), honour
//!   `Retry-After`, and never stop the loop; permanent errors (404, 401, ...) are logged once
//!   and keep the normal interval.
//! - Every attempt, retries included, carries the current version.
//! - `stop()` is prompt; dropping the last handle stops the worker.
//!
//! Cargo features choose the TLS stack (measured in `BENCHMARKS.md`):
//!
//! | feature | default | HTTPS through |
//! |---|---|---|
//! | `rustls-ring` | yes | rustls on ring, with the platform's certificate verifier |
//! | `rustls` | no | rustls on aws-lc-rs (reqwest's default provider), with the platform's verifier |
//! | neither (`default-features = false`) | | no TLS: `http://` only, e.g. behind a mesh sidecar |
//!
//! The wire format is the server's contract: `POST {server_url}/api/drift/heartbeat/{app}/{profile}`
//! (see the README).

#![deny(missing_docs, missing_debug_implementations)]
#![warn(unreachable_pub)]

pub mod blocking;
mod client;
mod config;
mod drift;
mod env;
mod metadata;
mod plan;
pub mod reporter;
pub mod schedule;
mod sender;
mod status;
#[cfg(feature = "metrics")]
mod telemetry;
mod timestamp;
mod worker;

pub use client::HeartbeatClient;
pub use config::{
    ConfigError, HeartbeatBuilder, HeartbeatConfig, MAX_DURATION, MAX_HEADERS,
    MAX_HEADER_VALUE_LEN, MAX_LABELS, MAX_LABEL_KEY_LEN, MAX_LABEL_VALUE_LEN, MAX_NAME_LEN,
    MAX_URL_LEN, MAX_VERSION_LEN, MIN_PERIOD,
};
pub use drift::DriftState;
pub use env::Environment;
pub use metadata::InstanceMetadata;
pub use reporter::{Disposition, Health, HeartbeatResponse, ReporterError};
pub use status::HeartbeatStatus;

/// A [`HeartbeatBuilder`] that builds a [`HeartbeatConfig`].
pub type HeartbeatConfigBuilder = HeartbeatBuilder<HeartbeatConfig>;
/// A [`HeartbeatBuilder`] that builds a [`HeartbeatClient`].
pub type HeartbeatClientBuilder = HeartbeatBuilder<HeartbeatClient>;

/// Compiles the README's Rust examples as doctests, so they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
