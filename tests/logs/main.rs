//! The tests that read the SDK's log output and need every test around them to log too:
//! hostile input, secrets, TLS and tracing spans. A binary of its own, because the log
//! subscriber is process-wide state.
//!
//! Every test in this binary installs the global log subscriber (`capture_logs`) before it
//! does anything else, also those that assert nothing about logs. tracing caches per call site
//! whether any subscriber listens; a test in the same process that logs before the subscriber
//! is installed can cache "nobody listens" for a call site, and a capturing test then misses
//! that call site's events. In the main binary (`tests/it/`) most tests never capture.

#[path = "../it/support"]
mod support {
    //! The parts of the main binary's `support` that these tests use.

    mod builders;
    pub mod forward_proxy;
    mod logs;
    mod ports;

    pub use builders::client;
    pub use logs::capture_logs;
    pub use ports::dead_port;
}

mod hostile;
mod secrets;
mod tls;
mod tracing;
