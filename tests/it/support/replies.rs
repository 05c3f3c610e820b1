//! Scripted status codes: mock servers that answer every report with an error status, and the
//! replies of an outage. The tests' 404, 429, 500 and 503 setups, in one place.
//!
//! 404 is what a server without the drift API answers (a permanent error); 500, 502, 503 and
//! 504 are transient; 429 and 503 with `Retry-After` ask the client to wait.

use vortex_client::testing::{MockServer, Reply};

/// A mock server on loopback that answers every report with `status` and an empty body.
pub async fn answering(status: u16) -> MockServer {
    let server = MockServer::start().await.expect("mock server");
    server.set_default_reply(Reply::Status(status));
    server
}

/// [`answering`], for tests without a runtime.
pub fn answering_blocking(status: u16) -> MockServer {
    let server = MockServer::start_blocking().expect("mock server");
    server.set_default_reply(Reply::Status(status));
    server
}

/// A mock server on loopback that answers every report with `status` and this `Retry-After`.
pub async fn throttling(status: u16, retry_after: &str) -> MockServer {
    let server = MockServer::start().await.expect("mock server");
    server.set_default_reply(Reply::RetryAfter(status, retry_after.to_owned()));
    server
}

/// Replies with these statuses and empty bodies, in order (for `MockServer::script`).
pub fn statuses<const N: usize>(codes: [u16; N]) -> [Reply; N] {
    codes.map(Reply::Status)
}

/// An outage of `attempts` failed attempts in a row, each answered with `status`.
pub fn failures(status: u16, attempts: usize) -> Vec<Reply> {
    vec![Reply::Status(status); attempts]
}
