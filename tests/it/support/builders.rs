//! The builder most tests start from, so that the settings they share live in one place.

use vortex_client::{blocking, Environment, HeartbeatBuilder, HeartbeatClient};

/// A client builder for `url` that reads nothing from the process (`Environment::empty()`),
/// with app `app`, profile `prod`, instance id `i-1` and configuration version `v1`. A test
/// chains the settings it is about.
pub fn client(url: &str) -> HeartbeatBuilder<HeartbeatClient> {
    shared(url)
}

/// [`client`] for the blocking client.
#[allow(dead_code)] // the `logs` binary builds no blocking client
pub fn blocking_client(url: &str) -> HeartbeatBuilder<blocking::HeartbeatClient> {
    shared(url)
}

fn shared<T>(url: &str) -> HeartbeatBuilder<T> {
    HeartbeatBuilder::new()
        .environment(Environment::empty())
        .server_url(url)
        .app("app")
        .profile("prod")
        .instance_id("i-1")
        .config_version("v1")
}
