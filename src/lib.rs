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
//! - `stop()` is prompt; dropping the last handle stops the worker (with a warning).
//! - One report at a time per client, whoever asks (the worker, `report_now()` from any task):
//!   the server never gets an older version after a newer one, `status()` and the drift watch
//!   never go back, and a change made while a report is in flight is sent right after it.
//!
//! Cargo features choose the TLS stack (measured in `BENCHMARKS.md`):
//!
//! | feature | default | HTTPS through |
//! |---|---|---|
//! | `rustls` | yes | rustls on aws-lc-rs (reqwest's own TLS), with the platform's verifier |
//! | `rustls-ring` | no | rustls on ring; the application must have no reqwest client of its own or install a process-wide rustls `CryptoProvider` first |
//! | neither (`default-features = false`) | | no TLS: `http://` only, e.g. behind a mesh sidecar |
//!
//! `metrics` records through the `metrics` facade; `testing` adds `vortex_client::testing`, a
//! mock Vortex server for users' own tests, and the client's schedule for simulations.
//!
//! More in the repository's `docs/`: `resilience.md` (faults, backoff, fleet behaviour),
//! `security.md` (validation, redaction, TLS with a private CA), `metadata.md` (what is
//! detected and from where), `observability.md` (logs and metrics), `wire.md` (the contract);
//! measurements in `BENCHMARKS.md`.
//!
//! The wire format is the server's contract: `POST {server_url}/api/drift/heartbeat/{app}/{profile}`
//! (see the README).
//!
//! # Layout
//!
//! One concern a file; each file imports only from files listed before it (bottom layer first):
//!
//! | layer | files (in import order) |
//! |---|---|
//! | facts | `limits`, `redact`, `sources`, `error`, `timestamp`, `wire`, `answer`, `drift`, `status` |
//! | policy (pure) | `validate`, `endpoint`, `retry_after`, `schedule` (public as `testing::schedule`), `plan`, `tls` (root certificates) |
//! | configuration | `env`, `health_check`, `metadata/`, `config`, `fallback` (settings from the environment and OpenTelemetry), `builder` |
//! | mechanism | `transport`, `telemetry`, `sender` (the one sender), `worker` (the background loop) |
//! | handles | `client`, `blocking/` |
//!
//! `CONTRIBUTING.md` says what each file holds and where a new feature goes.

#![deny(missing_docs, missing_debug_implementations)]
#![warn(unreachable_pub)]

// facts
mod answer;
mod drift;
mod error;
mod limits;
mod redact;
mod sources;
mod status;
mod timestamp;
mod wire;
// policy
mod endpoint;
mod failover;
mod plan;
mod proxy;
mod retry_after;
// Re-exported as `testing::schedule`, for simulations and tests with paused time.
#[cfg_attr(not(feature = "testing"), allow(unreachable_pub, dead_code))]
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
mod recorder;
mod sequencer;
mod servers;
mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
mod transport;
mod worker;
// handles
pub mod blocking;
mod client;

pub use answer::HeartbeatResponse;
pub use builder::{FromConfig, HeartbeatBuilder};
pub use client::HeartbeatClient;
pub use config::HeartbeatConfig;
pub use drift::DriftState;
pub use env::Environment;
pub use error::{Cause, ConfigError, Disposition, ReporterError};
pub use health_check::HealthCheck;
pub use limits::{
    MAX_DURATION, MAX_HEADERS, MAX_HEADER_VALUE_LEN, MAX_LABELS, MAX_LABEL_KEY_LEN,
    MAX_LABEL_VALUE_LEN, MAX_NAME_LEN, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, MAX_RETRY_AFTER,
    MAX_SERVER_URLS, MAX_URL_LEN, MAX_VERSION_LEN, MIN_PERIOD,
};
pub use metadata::InstanceMetadata;
pub use proxy::ProxySetting;
pub use status::HeartbeatStatus;
pub use wire::Health;

/// A [`HeartbeatBuilder`] that builds a [`HeartbeatConfig`].
pub type HeartbeatConfigBuilder = HeartbeatBuilder<HeartbeatConfig>;
/// A [`HeartbeatBuilder`] that builds a [`HeartbeatClient`].
pub type HeartbeatClientBuilder = HeartbeatBuilder<HeartbeatClient>;

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
