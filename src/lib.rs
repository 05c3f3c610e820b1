//! # vortex-client
//!
//! The heartbeat SDK for the Vortex Config server. A service embeds a [`HeartbeatClient`]; the
//! client tells the server, in the background, which configuration version this instance runs,
//! so that the server can flag drift between what it expects and what runs.
//!
//! ```toml
//! [dependencies]
//! # Until the crate is published on crates.io, depend on the repository (or a local path):
//! vortex-client = { git = "https://github.com/vortex-config/vortex-client" }
//! # Once it is published:
//! # vortex-client = "0.1"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! tracing-subscriber = "0.3"
//! ```
//!
//! **Install a `tracing` subscriber.** The SDK reports its problems (a wrong URL, a rejected
//! token, an outage) only through [`tracing`](https://docs.rs/tracing) and installs no
//! subscriber: without one in the application, a 404 or a 401 fails in silence.
//!
//! ```no_run
//! use std::time::Duration;
//! use vortex_client::HeartbeatClient;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     tracing_subscriber::fmt::init(); // else the SDK's errors are invisible
//!
//!     let client = HeartbeatClient::builder()
//!         .server_url("http://vortex-config:8888")
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
//! # First steps
//!
//! 1. **Build** a client with [`HeartbeatClient::builder`]: `server_url`, `app` and `profile`
//!    are required (or `VORTEX_URL`, `VORTEX_APP`, `VORTEX_PROFILE`: the table on
//!    [`HeartbeatBuilder`]). [`build`](HeartbeatBuilder::build) validates and returns a
//!    [`ConfigError`] that says what to fix.
//! 2. **Start** it with [`HeartbeatClient::start`] inside a tokio runtime, and keep the client
//!    (or a clone) as long as the service runs: dropping the last handle stops reporting.
//! 3. **Change**: call [`HeartbeatClient::set_config_version`] after each configuration
//!    reload, and [`HeartbeatClient::set_health`] when the health changes.
//! 4. **Stop** with [`HeartbeatClient::stop`] on shutdown.
//!
//! Then:
//!
//! - **Status and drift**: [`HeartbeatClient::status`] says what the server said last and why
//!   a report failed; [`HeartbeatClient::subscribe_drift`] wakes when the server expects
//!   another version ([`DriftState::refresh_to`]).
//! - **Errors**: [`ConfigError`] at build time; [`ReporterError`] from
//!   [`report_now`](HeartbeatClient::report_now) and in the status, with a
//!   [`Disposition`] that says whether retrying can help.
//! - **Without an async runtime**: [`blocking::HeartbeatClient`], the same API as plain
//!   functions.
//! - **Testing your service**: the `testing` feature's `testing::MockServer` stands in for
//!   the server in your tests
//!   ([README](https://github.com/vortex-config/vortex-client/blob/main/README.md#testing-your-service-with-the-mock-server)),
//!   and [`Environment`] keeps the process environment out of them.
//!
//! # What the client guarantees
//!
//! - `start()` returns at once, also when the server is down; the first report goes out
//!   immediately in the background.
//! - Reports repeat every `interval` (jittered, so a fleet started together spreads out).
//! - A version or health change is reported promptly, coalesced and rate-limited.
//! - Failures back off exponentially with jitter (1 s, 2 s, 4 s ... capped at 60 s), honour
//!   `Retry-After`, and never stop the loop; permanent errors (404, 401, ...) are logged once
//!   and keep the normal interval.
//! - Every attempt, retries included, carries the current version.
//! - `stop()` is prompt; dropping the last handle stops the worker (with a warning).
//! - One report at a time per client, whoever asks (the worker, `report_now()` from any task):
//!   the server never gets an older version after a newer one, `status()` and the drift watch
//!   never go back, and a change made while a report is in flight is sent right after it.
//!
//! # Features
//!
//! Cargo features choose the TLS stack (measured in
//! [BENCHMARKS.md](https://github.com/vortex-config/vortex-client/blob/main/BENCHMARKS.md)):
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `rustls` | yes | HTTPS through rustls on aws-lc-rs (reqwest's own TLS), with the platform's verifier |
//! | `rustls-ring` | no | HTTPS through rustls on ring; the application must have no reqwest client of its own or install a process-wide rustls `CryptoProvider` first |
//! | neither (`default-features = false`) | | no TLS: `http://` only, e.g. behind a mesh sidecar |
//! | `metrics` | no | heartbeat metrics through the `metrics` facade |
//! | `testing` | no | `vortex_client::testing`: a mock Vortex server for your tests |
//!
//! # More
//!
//! - [README](https://github.com/vortex-config/vortex-client/blob/main/README.md): configuration tables, embedding in an axum service, testing.
//! - [docs/resilience.md](https://github.com/vortex-config/vortex-client/blob/main/docs/resilience.md): faults, backoff, fleet behaviour.
//! - [docs/security.md](https://github.com/vortex-config/vortex-client/blob/main/docs/security.md): validation, redaction, TLS with a private CA,
//!   proxies.
//! - [docs/metadata.md](https://github.com/vortex-config/vortex-client/blob/main/docs/metadata.md): what is detected and from where.
//! - [docs/observability.md](https://github.com/vortex-config/vortex-client/blob/main/docs/observability.md): logs and metrics.
//! - [docs/wire.md](https://github.com/vortex-config/vortex-client/blob/main/docs/wire.md): the contract, `POST
//!   {server_url}/api/drift/heartbeat/{app}/{profile}`.

#![deny(missing_docs, missing_debug_implementations)]
#![warn(unreachable_pub)]

// Modules by layer, bottom first: a module imports only from its own layer or those above
// it here. CONTRIBUTING.md lists each file in import order.
// facts
mod answer;
mod error;
mod limits;
mod redact;
mod sources;
mod status;
mod telemetry;
mod timestamp;
mod wire;
// policy
mod endpoint;
mod failover;
mod plan;
mod proxy;
mod retry_after;
mod schedule;
mod server_list;
mod tls;
mod validate;
// configuration
mod builder;
mod config;
mod env;
mod fallback;
mod health_check;
mod metadata;
// mechanism
mod changes;
mod client_setup;
mod report;
mod servers;
mod transport;
mod worker;
// handles
pub mod blocking;
mod client;
#[cfg(feature = "testing")]
pub mod testing;

pub use answer::HeartbeatResponse;
pub use builder::HeartbeatBuilder;
pub use client::HeartbeatClient;
pub use config::HeartbeatConfig;
pub use env::Environment;
pub use error::{ConfigError, Disposition, ReporterError};
pub use health_check::HealthCheck;
pub use metadata::InstanceMetadata;
pub use proxy::ProxySetting;
pub use status::{DriftState, HeartbeatStatus};
pub use wire::Health;

/// Entry points for the fuzz targets in `fuzz/`. cargo-fuzz builds with `--cfg fuzzing`; no
/// other build has this module, so it is no part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use std::time::{Duration, SystemTime};

    /// Parses a `Retry-After` value as the client does.
    #[must_use]
    pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
        crate::retry_after::parse_retry_after(value, now)
    }

    /// Parses a 2xx body as the client does.
    #[must_use]
    pub fn parse_response(body: &[u8]) -> crate::HeartbeatResponse {
        crate::HeartbeatResponse::parse_lenient(body)
    }
}

/// Compiles the README's Rust examples as doctests, so they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Compiles the Rust examples of `docs/metadata.md` as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/metadata.md")]
pub struct MetadataDocDoctests;
