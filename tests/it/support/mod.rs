//! Helpers shared by the integration tests: `both_runtimes!`, the client builder most tests
//! start from (`client`), a loopback port with nothing on it, log capture, mock servers that
//! answer error statuses (`replies`), raw-TCP servers that misbehave, a forward proxy that
//! echoes what it is sent, the examples as processes, and whether the tests run in CI (where a
//! test that cannot run fails instead of skipping).
//!
//! Tests talk to the crate's own mock server (`vortex_client::testing::MockServer`); byte-level
//! faults over raw TCP are in `faults`. The `logs` test binary shares `builders`,
//! `forward_proxy`, `logs` and `ports`.

/// Runs each listed async test fn under a current-thread and a multi-thread runtime.
macro_rules! both_runtimes {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "current_thread")]
            async fn current_thread() {
                super::$name().await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multi_thread() {
                super::$name().await
            }
        }
    )*};
}

mod builders;
mod ci;
pub mod example;
pub mod faults;
pub mod forward_proxy;
pub mod keep_alive;
mod logs;
mod ports;
pub mod replies;
pub mod schedule;

pub use builders::{blocking_client, client};
pub use ci::in_ci;
pub use logs::capture_logs;
pub use ports::dead_port;
